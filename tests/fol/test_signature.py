import pytest

from neurosym import check_fol
from neurosym.fol import parse_formulas, to_text
from neurosym.fol.signature import Rename, check_signature, repair_signature, signature_of
from neurosym.provers.z3 import Z3Prover


def test_signature_of_collects_every_symbol():
    sig = signature_of(parse_formulas(["∀x (P(x) → Q(f(x), a))", "Rain", "g(b, c) = a"]))
    assert sig.predicates == {("P", 1), ("Q", 2), ("Rain", 0)}
    assert sig.functions == {("f", 1), ("g", 2)}
    assert sig.constants == {"a", "b", "c"}  # the bound x is not a constant


def test_no_clash_in_a_consistent_signature():
    assert check_signature(parse_formulas(["∀x (Dog(x) → Animal(x))", "Dog(rex)", "Owns(john, rex)"])) == []


@pytest.mark.parametrize(
    ("formulas", "message"),
    [
        (
            ["Dog(rex)", "Owns(john, Dog)"],
            "'Dog' is used as a predicate of arity 1 (formula 1) and as a constant (formula 2)",
        ),
        (
            ["Likes(a, b)", "Likes(a)"],
            "'Likes' is used as a predicate of arity 2 (formula 1) and as a predicate of arity 1 (formula 2)",
        ),
        (
            ["P(f(a))", "Q(f(a, b))"],
            "'f' is used as a function of arity 1 (formula 1) and as a function of arity 2 (formula 2)",
        ),
        (
            ["f(a) = b", "f(c)"],
            "'f' is used as a function of arity 1 (formula 1) and as a predicate of arity 1 (formula 2)",
        ),
        (["Rain", "Wet(Rain)"], "'Rain' is used as a predicate of arity 0 (formula 1) and as a constant (formula 2)"),
        (
            ["Dog(rex)", "Dog(fido)", "P(a)", "Owns(john, Dog)"],
            "'Dog' is used as a predicate of arity 1 (formulas 1, 2) and as a constant (formula 4)",
        ),
        (
            ["Likes(a, b) ∨ Likes(a)"],
            "'Likes' is used as a predicate of arity 2 (formula 1) and as a predicate of arity 1 (formula 1)",
        ),
    ],
)
def test_clashes_are_named_with_their_formulas(formulas, message):
    clashes = check_signature(parse_formulas(formulas))
    assert [str(c) for c in clashes] == [message]


def test_several_clashes_in_order_of_first_use():
    clashes = check_signature(parse_formulas(["Owns(john, Dog)", "Dog(rex)", "Likes(a)", "Likes(a, b)"]))
    assert [c.name for c in clashes] == ["Dog", "Likes"]
    assert clashes[0].uses == ((("const", 0), (0,)), (("pred", 1), (1,)))


@pytest.mark.parametrize(
    ("formulas", "repaired", "renames"),
    [
        (
            ["Dog(rex)", "Dog(fido)", "Owns(john, Dog)"],
            ["Dog(rex)", "Dog(fido)", "Owns(john, Dog_const)"],
            ["renamed constant 'Dog' to 'Dog_const'"],
        ),
        (
            ["Likes(a, b)", "Likes(c, d)", "Likes(a)"],
            ["Likes(a, b)", "Likes(c, d)", "Likes_1(a)"],
            ["renamed predicate/1 'Likes' to 'Likes_1'"],
        ),
        (
            ["P(f(a))", "Q(f(a, b))", "R(f(c, d))"],
            ["P(f_1(a))", "Q(f(a, b))", "R(f(c, d))"],
            ["renamed function/1 'f' to 'f_1'"],
        ),
        (["f(a) = b", "f(c)"], ["f_func1(a) = b", "f(c)"], ["renamed function/1 'f' to 'f_func1'"]),
        (["Rain", "Wet(Rain)"], ["Rain", "Wet(Rain_const)"], ["renamed constant 'Rain' to 'Rain_const'"]),
        # a fresh name never collides with a name already in use
        (
            ["Dog(rex)", "Dog(fido)", "Owns(john, Dog)", "Dog_const(a)"],
            ["Dog(rex)", "Dog(fido)", "Owns(john, Dog_const2)", "Dog_const(a)"],
            ["renamed constant 'Dog' to 'Dog_const2'"],
        ),
    ],
)
def test_repair_renames_the_minority_use(formulas, repaired, renames):
    fixed, made = repair_signature(parse_formulas(formulas))
    assert [to_text(f) for f in fixed] == repaired
    assert [str(r) for r in made] == renames
    assert all(isinstance(r, Rename) for r in made)
    assert check_signature(fixed) == []


def test_repair_without_clashes_changes_nothing():
    formulas = parse_formulas(["Dog(rex)", "∀x (Dog(x) → Animal(x))"])
    assert repair_signature(formulas) == (formulas, [])


def test_repair_keeps_bound_variables_and_renames_inside_quantifiers():
    fixed, _ = repair_signature(parse_formulas(["∀x (Dog(x) → Likes(x, Dog))", "Dog(rex)"]))
    assert [to_text(f) for f in fixed] == ["∀x (Dog(x) → Likes(x, Dog_const))", "Dog(rex)"]


def test_repaired_problem_is_decided():
    premises = parse_formulas(["∀x (Dog(x) → Animal(x))", "Dog(rex)", "Owns(john, Dog)", "Dog(fido)"])
    conclusion = parse_formulas(["Animal(rex)"])[0]
    fixed, _ = repair_signature([*premises, conclusion])
    verdict = Z3Prover().prove(fixed[:-1], fixed[-1], timeout_s=10)
    assert verdict.status == "proved"
    assert verdict.certificate.indices == (0, 1)


# --- check_fol ----------------------------------------------------------------------------------


def test_check_fol_reports_a_clash_as_invalid():
    verdict = check_fol(["Dog(rex)", "∀x (Dog(x) → Animal(x))"], "Owns(john, Dog)")
    assert verdict.status == "invalid"
    assert verdict.answer is None
    assert (
        "'Dog' is used as a predicate of arity 1 (formulas 1, 2) and as a constant (the conclusion)" in verdict.message
    )
    assert "'Dog'" in verdict.feedback and "one role and one arity" in verdict.feedback
    assert verdict.details["clashes"] == [
        "'Dog' is used as a predicate of arity 1 (formulas 1, 2) and as a constant (formula 3)"
    ]


def test_check_fol_reports_an_arity_clash_in_the_feedback():
    verdict = check_fol(["Likes(a, b)", "Likes(a)"], "Likes(b)")
    assert verdict.status == "invalid"
    assert "'Likes' is used as a predicate of arity 2 (formula 1)" in verdict.feedback


def test_check_fol_repairs_clashes_on_request():
    premises = ["∀x (Dog(x) → Animal(x))", "Dog(rex)", "Owns(john, Dog)"]
    verdict = check_fol(premises, "Animal(rex)", repair_signature_clashes=True)
    assert verdict.status == "proved"
    assert verdict.decided
    assert verdict.details["repairs"] == ["renamed constant 'Dog' to 'Dog_const'"]
    assert "signature repaired: renamed constant 'Dog' to 'Dog_const'" in verdict.message


def test_check_fol_without_clashes_records_no_repairs():
    verdict = check_fol(["Dog(rex)"], "Dog(rex)", repair_signature_clashes=True)
    assert verdict.status == "proved"
    assert "repairs" not in verdict.details
