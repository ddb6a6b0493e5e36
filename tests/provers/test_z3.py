import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import z3

from neurosym.deadlines import Deadline
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
from neurosym.provers.z3 import MAX_CONSTANTS_SHOWN, MAX_ROWS_SHOWN, MAX_SYMBOLS_SHOWN, Z3Prover, _Encoder
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
        # ground problems, whose tables Z3 gives as explicit entries and a default (the fast reading)
        (["R(a, b)", "¬R(b, a)", "a ≠ b", "f(a) = b", "g(a, b) = a"], "R(b, b)"),
        (["¬S(a, a, b)", "S(b, a, a)", "T(c)", "a ≠ c"], "S(a, b, a) ∨ T(a)"),
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
    assert not first.truncated and not second.truncated
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


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf, -math.inf, 1e12, "1", None, True])
def test_a_bad_timeout_is_a_configuration_error_naming_timeout_s(timeout):
    problem = EntailmentProblem(tuple(parse_formulas(["P(a)"])), parse_formula("P(a)"))
    with pytest.raises(ConfigurationError, match=r"^timeout_s must be"):
        prove(["P(a)"], "P(a)", timeout_s=timeout)
    with pytest.raises(ConfigurationError, match=r"^timeout_s must be"):
        Z3Prover().check(Formalization("fol", "P(a) ⊢ P(a)", problem), timeout_s=timeout)


def test_a_deadline_must_be_a_deadline():
    with pytest.raises(ConfigurationError, match=r"deadline must be a neurosym\.deadlines\.Deadline"):
        Z3Prover().prove([], parse_formula("P(a)"), deadline=5.0)


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


# --- deadlines and bounded countermodels --------------------------------------------------------


def test_a_passed_shared_deadline_is_a_timeout_before_encoding():
    verdict = Z3Prover().prove(parse_formulas(["P(a)"]), parse_formula("P(a)"), timeout_s=60, deadline=Deadline(0.0))
    assert verdict.status == "timeout"
    assert verdict.message == "z3 ran out of time while encoding the problem"
    assert verdict.answer is None and verdict.feedback


def test_the_earlier_of_timeout_and_deadline_holds():
    # a far deadline leaves timeout_s in charge, and the infinite-model problem runs out of time
    verdict = Z3Prover().prove(
        parse_formulas(NO_MAXIMUM), parse_formula("P(a)"), timeout_s=0.3, deadline=Deadline.after(3600)
    )
    assert verdict.status == "timeout"
    assert "premises ∧ ¬conclusion" in verdict.message


def _model_of(premises, conclusion="Goal(a)"):
    """A real Z3 model of premises ∧ ¬conclusion, with the encoder that built it."""
    formulas = parse_formulas([*premises, conclusion])
    ctx = z3.Context()
    encoder = _Encoder(z3, ctx, formulas, Deadline.after(60))
    solver = z3.Solver(ctx=ctx)
    for f in formulas[:-1]:
        solver.add(encoder.formula(f))
    solver.add(z3.Not(encoder.formula(formulas[-1])))
    assert solver.check() == z3.sat
    return encoder, solver.model()


def test_a_countermodel_read_after_the_deadline_names_everything_it_left_out():
    encoder, model = _model_of(["P(a)", "∀x (P(x) → Q(x, b))", "f(a) = b"])
    cut = encoder.countermodel(model, "late", Deadline(0.0))
    assert cut.truncated is True
    assert cut.note == "the deadline passed"
    assert cut.predicates == () and cut.functions == () and cut.constants == ()
    assert set(cut.omitted) == {"a", "b", "P/1", "Q/2", "Goal/1", "f/1"}
    assert "(cut short: the deadline passed; not shown: " in cut.render()
    full = encoder.countermodel(model, "in time", Deadline.after(60))
    assert full.truncated is False and full.omitted == ()


def test_countermodels_show_the_conclusions_symbols_first_and_at_most_so_many():
    count = MAX_SYMBOLS_SHOWN + 15
    premises = [f"A{i:02d}(a)" for i in range(count)]
    verdict = prove(premises, "Zed(a) ∧ A40(a)")
    assert verdict.status == "uncertain"
    model = verdict.certificate.conclusion_false
    names = [name for name, _, _ in model.predicates]
    assert names[:2] == ["A40", "Zed"]
    assert len(names) == MAX_SYMBOLS_SHOWN
    assert len(model.omitted) == count + 1 - MAX_SYMBOLS_SHOWN  # A00..A74 and Zed
    assert model.truncated and f"at most {MAX_SYMBOLS_SHOWN} predicates and functions shown" in model.note
    # what is shown is still true in the model
    a = dict(model.constants)["a"]
    assert all((a,) in rows for name, _, rows in model.predicates if name.startswith("A"))


def test_countermodel_tables_show_at_most_so_many_rows():
    constants = [f"k{i}" for i in range(8)]  # 8 distinct elements: 64 pairs
    distinct = [f"{p} ≠ {q}" for i, p in enumerate(constants) for q in constants[i + 1 :]]
    verdict = prove([*distinct, "∀x ∀y Near(x, y)", "∀x ∀y (h(x, y) = k0)"], "Far(k0)")
    assert verdict.status == "uncertain"
    model = verdict.certificate.conclusion_false
    near = dict((name, rows) for name, _, rows in model.predicates)["Near"]
    assert len(near) == MAX_ROWS_SHOWN and len(set(near)) == MAX_ROWS_SHOWN
    ((name, table),) = model.functions
    assert name == "h" and len(table) == MAX_ROWS_SHOWN
    assert model.truncated and f"at most {MAX_ROWS_SHOWN} rows a table" in model.note
    assert model.omitted == ()


def test_countermodels_show_at_most_so_many_constants():
    count = MAX_CONSTANTS_SHOWN + 5
    verdict = prove([f"P(c{i:03d})" for i in range(count)], "Q(c000)")
    model = verdict.certificate.conclusion_false
    assert len(model.constants) == MAX_CONSTANTS_SHOWN and model.constants[0][0] == "c000"
    assert len(model.omitted) == 5 and model.truncated
