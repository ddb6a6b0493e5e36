import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import z3

from neurosym.errors import ConfigurationError
from neurosym.fol import parse_formula, parse_formulas
from neurosym.fol.certificates import Countermodels, PremisesUsed
from neurosym.fol.syntax import (
    And,
    Const,
    EntailmentProblem,
    Eq,
    Forall,
    Iff,
    Implies,
    Not,
    Or,
    Pred,
    Var,
    Xor,
)
from neurosym.provers.z3 import Z3Prover
from neurosym.types import EntailmentLabel, Formalization


def prove(premises, conclusion, timeout_s=10.0, **options):
    return Z3Prover(**options).prove(parse_formulas(premises), parse_formula(conclusion), timeout_s=timeout_s)


# Hand-checked problems: (premises, conclusion, status).
CASES = [
    (["P → Q", "P"], "Q", "proved"),  # modus ponens
    (["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)", "proved"),
    (["∀x (A(x) → B(x))", "∀x (B(x) → C(x))"], "∀x (A(x) → C(x))", "proved"),  # syllogism
    (["f(a) = b"], "f(f(a)) = f(b)", "proved"),
    (["a = b", "P(a)"], "P(b)", "proved"),
    (["∀x (Dog(x) → ¬Cat(x))", "Dog(rex)"], "Cat(rex)", "disproved"),
    (["a = b"], "a ≠ b", "disproved"),
    (["∀x (Dog(x) → Animal(x))", "Animal(rex)"], "Dog(rex)", "uncertain"),
    (["P(a)"], "Q(a)", "uncertain"),
    (["P(a)", "¬P(a)"], "Q(a)", "inconsistent"),
    (["A ⊕ B", "A"], "¬B", "proved"),
    (["A ⊕ B", "¬A"], "B", "proved"),
    (["A ⊕ B"], "A ∨ B", "proved"),
    (["A ⊕ B"], "A ∧ B", "disproved"),
    (["A ⊕ B ⊕ C", "A", "B"], "C", "proved"),
    (["A ↔ B", "A"], "B", "proved"),
    (["A ↔ B", "¬B"], "A", "disproved"),
    (["A ↔ B"], "A", "uncertain"),
    (["∀x ∃y Loves(x, y)"], "∃y Loves(bob, y)", "proved"),
    (["∃y ∀x Loves(x, y)"], "∀x ∃y Loves(x, y)", "proved"),
    (["∀x ∃y Loves(x, y)"], "∃y ∀x Loves(x, y)", "uncertain"),
    (["∀x ∀y (Loves(x, y) → Loves(y, x))", "Loves(a, b)"], "Loves(b, a)", "proved"),
    ([], "P(a) ∨ ¬P(a)", "proved"),
    ([], "P(a) ∧ ¬P(a)", "disproved"),
]


@pytest.mark.parametrize(("premises", "conclusion", "status"), CASES)
def test_hand_checked_entailments(premises, conclusion, status):
    verdict = prove(premises, conclusion)
    assert verdict.status == status
    assert verdict.prover == "z3"
    assert verdict.elapsed_s > 0
    expected_answer = {
        "proved": EntailmentLabel.TRUE,
        "disproved": EntailmentLabel.FALSE,
        "uncertain": EntailmentLabel.UNCERTAIN,
        "inconsistent": None,
    }[status]
    assert verdict.answer == expected_answer
    assert verdict.decided == (status != "inconsistent")
    json.dumps(verdict.to_dict())


def test_proof_certificate_lists_the_premises_used():
    verdict = prove(["∀x (Dog(x) → Animal(x))", "Dog(rex)", "Cat(tom)", "∀x (Cat(x) → Animal(x))"], "Animal(rex)")
    assert verdict.status == "proved"
    assert isinstance(verdict.certificate, PremisesUsed)
    assert verdict.certificate.indices == (0, 1)  # the cat premises are irrelevant
    assert verdict.certificate.formulas == ("∀x (Dog(x) → Animal(x))", "Dog(rex)")
    assert verdict.certificate.render().splitlines()[0] == "premises used: 1, 2"


def test_disproof_certificate_lists_the_premises_used():
    verdict = prove(["Cat(tom)", "∀x (Dog(x) → ¬Cat(x))", "Dog(rex)", "Bird(tweety)"], "Cat(rex)")
    assert verdict.status == "disproved"
    assert verdict.certificate.indices == (1, 2)


def test_unsat_core_is_minimal():
    # either premise alone gives the conclusion; a minimal core names just one of them
    verdict = prove(["P(a)", "P(a) ∧ Q(a)", "R(b)"], "P(a)")
    assert verdict.status == "proved"
    assert verdict.certificate.indices in {(0,), (1,)}


def test_a_tautology_needs_no_premise():
    verdict = prove(["P(a)"], "Q(b) ∨ ¬Q(b)")
    assert verdict.status == "proved"
    assert verdict.certificate.indices == ()
    assert "none" in verdict.certificate.render()


@pytest.mark.parametrize(
    ("premises", "conflicting"),
    [
        (["P(a)", "R(b)", "¬P(a)"], (0, 2)),
        (["∀x (P(x) → Q(x))", "S(c)", "P(a)", "¬Q(a)", "∀x T(x)"], (0, 2, 3)),
        (["A ⊕ B", "A ↔ B", "C"], (0, 1)),
    ],
)
def test_inconsistent_premises_name_exactly_the_conflict(premises, conflicting):
    verdict = prove(premises, "Goal(a)")
    assert verdict.status == "inconsistent"
    assert verdict.answer is None
    assert not verdict.decided
    assert verdict.certificate.indices == conflicting
    assert "contradict" in verdict.feedback
    for i in conflicting:
        assert f"[{i + 1}]" in verdict.feedback


# --- countermodels ------------------------------------------------------------------------------


def _holds(formula, model, env=None):
    """Evaluate a formula in a Countermodel (a finite structure)."""
    consts = dict(model.constants)
    preds = {name: set(rows) for name, _, rows in model.predicates}
    funcs = {name: dict(rows) for name, rows in model.functions}

    def term(t, env):
        if isinstance(t, Var):
            return env[t.name]
        if isinstance(t, Const):
            return consts[t.name]
        return funcs[t.name][tuple(term(arg, env) for arg in t.args)]

    def holds(f, env):
        if isinstance(f, Pred):
            return tuple(term(arg, env) for arg in f.args) in preds[f.name]
        if isinstance(f, Eq):
            return term(f.left, env) == term(f.right, env)
        if isinstance(f, Not):
            return not holds(f.body, env)
        if isinstance(f, And):
            return all(holds(g, env) for g in f.items)
        if isinstance(f, Or):
            return any(holds(g, env) for g in f.items)
        if isinstance(f, Xor):
            return holds(f.left, env) != holds(f.right, env)
        if isinstance(f, Implies):
            return not holds(f.left, env) or holds(f.right, env)
        if isinstance(f, Iff):
            return holds(f.left, env) == holds(f.right, env)
        values = (holds(f.body, {**env, f.var: e}) for e in model.domain)
        return all(values) if isinstance(f, Forall) else any(values)

    return holds(formula, env or {})


@pytest.mark.parametrize(
    ("premises", "conclusion"),
    [
        (["∀x (Dog(x) → Animal(x))", "Animal(rex)"], "Dog(rex)"),
        (["A ∨ B"], "A"),
        (["f(a) = b", "P(a)"], "P(b)"),
        (["∀x ∃y Loves(x, y)"], "∃y ∀x Loves(x, y)"),
        (["Q(a)"], "∀x Q(x)"),
    ],
)
def test_uncertain_comes_with_two_countermodels(premises, conclusion):
    verdict = prove(premises, conclusion)
    assert verdict.status == "uncertain"
    models = verdict.certificate
    assert isinstance(models, Countermodels)
    first, second = models.conclusion_false, models.conclusion_true
    text = models.render()
    assert "a model of the premises where the conclusion is false" in text
    assert "a model of the premises where the conclusion is true" in text
    assert text.count("domain: {") == 2
    assert f"domain: {{{', '.join(first.domain)}}}" in first.render()
    goal = parse_formula(conclusion)
    assert _holds(goal, first) is False
    assert _holds(goal, second) is True
    for premise in parse_formulas(premises):
        assert _holds(premise, first) and _holds(premise, second)
    data = models.to_dict()
    assert data["kind"] == "countermodels"
    json.dumps(data)


def test_countermodel_rows_as_rendered():
    verdict = prove(["∀x (Dog(x) → Animal(x))", "Animal(rex)"], "Dog(rex)")
    first = verdict.certificate.conclusion_false
    rex = dict(first.constants)["rex"]
    rows = {name: set(r) for name, _, r in first.predicates}
    assert (rex,) in rows["Animal"] and (rex,) not in rows["Dog"]
    rendered = first.render().splitlines()
    assert f"  rex = {rex}" in rendered
    dog_line = next(line for line in rendered if line.startswith("  Dog: {"))
    assert rex not in dog_line.removeprefix("  Dog: {").removesuffix("}").split(", ")
    animal_line = next(line for line in rendered if line.startswith("  Animal: {"))
    assert rex in animal_line.removeprefix("  Animal: {").removesuffix("}").split(", ")


# --- undecided problems -------------------------------------------------------------------------

# A strict order without a greatest element has only infinite models: no finite model exists to
# show that an unrelated conclusion does not follow, so Z3 cannot decide it.
NO_MAXIMUM = ["∀x ∃y R(x, y)", "∀x ¬R(x, x)", "∀x ∀y ∀z (R(x, y) ∧ R(y, z) → R(x, z))"]


def test_infinite_models_run_out_of_time_and_are_never_uncertain():
    verdict = prove(NO_MAXIMUM, "P(a)", timeout_s=0.5)
    assert verdict.status == "timeout"
    assert verdict.status != "uncertain" and verdict.answer is None and not verdict.decided
    assert "z3 ran out of time" in verdict.message
    assert "premises ∧ ¬conclusion" in verdict.message
    assert verdict.feedback
    assert verdict.elapsed_s < 5


def test_a_tiny_budget_is_a_timeout():
    premises = [f"∀x (P{i}(x) → P{i + 1}(x))" for i in range(60)] + ["P0(a)"]
    verdict = prove(premises, "P60(a)", timeout_s=0.001)
    assert verdict.status == "timeout"
    assert "ran out of time" in verdict.message
    assert verdict.answer is None
    assert verdict.elapsed_s < 2


@pytest.fixture
def mbqi_off():
    before = z3.get_param("smt.mbqi")
    z3.set_param("smt.mbqi", False)
    try:
        yield
    finally:
        z3.set_param("smt.mbqi", before)
    assert z3.get_param("smt.mbqi") == before


def test_z3_unknown_is_unknown_not_uncertain(mbqi_off):
    # Without model-based quantifier instantiation Z3 answers "unknown (incomplete quantifiers)"
    # on a satisfiable quantified problem; that must not be read as "sat", i.e. as Uncertain.
    verdict = prove(["∀x (P(x) → Q(x))"], "Q(a)")
    assert verdict.status == "unknown"
    assert verdict.answer is None
    assert "z3 returned unknown" in verdict.message
    assert "incomplete quantifiers" in verdict.message


def test_the_same_problem_is_uncertain_with_default_settings():
    assert prove(["∀x (P(x) → Q(x))"], "Q(a)").status == "uncertain"


# --- the prover object --------------------------------------------------------------------------


def test_check_takes_a_formalization():
    problem = EntailmentProblem(tuple(parse_formulas(["P(a)"])), parse_formula("P(a)"))
    verdict = Z3Prover().check(Formalization("fol", "P(a) ⊢ P(a)", problem), timeout_s=5)
    assert verdict.status == "proved"


def test_check_refuses_other_targets():
    with pytest.raises(ConfigurationError, match="entailment"):
        Z3Prover().check(Formalization("python", "print(1)", "print(1)"))


@pytest.mark.parametrize("timeout", [0, -1])
def test_timeout_must_be_positive(timeout):
    with pytest.raises(ConfigurationError, match="positive"):
        prove(["P(a)"], "P(a)", timeout_s=timeout)


def test_to_dict_and_availability():
    prover = Z3Prover(minimize_cores=False)
    assert prover.available() is True
    info = prover.to_dict()
    assert info["name"] == "z3"
    assert info["version"] == z3.get_version_string()
    assert info["minimize_cores"] is False
    assert prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)")).status == "proved"


def test_names_that_look_like_internal_trackers_do_not_collide():
    verdict = prove(["premise", "conclusion", "premise_0"], "premise ∧ conclusion")
    assert verdict.status == "proved"


def test_thread_safety():
    jobs = [CASES[i % len(CASES)] for i in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(pool.map(lambda job: prove(job[0], job[1]), jobs))
    assert [v.status for v in verdicts] == [job[2] for job in jobs]
