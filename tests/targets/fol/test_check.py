import json
import re

import pytest

from benchmarks.deadlines import NO_FINITE_MODEL, huge_text_problem, many_predicates_problem
from neurosym import check_fol
from neurosym.errors import ConfigurationError
from neurosym.fol import parse_formula
from neurosym.fol.certificates import Countermodels, PremisesUsed
from neurosym.provers.z3 import MAX_ROWS_SHOWN, MAX_SYMBOLS_SHOWN
from neurosym.targets.fol.check import MAX_PROBLEM_CHARS
from neurosym.types import EntailmentLabel


@pytest.mark.parametrize(
    ("premises", "conclusion", "status", "answer"),
    [
        (["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)", "proved", EntailmentLabel.TRUE),
        (["all x. (Man(x) -> Mortal(x))", "Man(socrates)"], "-Mortal(socrates)", "disproved", EntailmentLabel.FALSE),
        (["∀x (Man(x) → Mortal(x))", "Mortal(socrates)"], "Man(socrates)", "uncertain", EntailmentLabel.UNCERTAIN),
        (["Man(socrates)", "¬Man(socrates)"], "Mortal(socrates)", "inconsistent", None),
    ],
)
def test_check_fol_statuses(premises, conclusion, status, answer):
    verdict = check_fol(premises, conclusion)
    assert verdict.status == status
    assert verdict.answer == answer
    assert verdict.prover == "z3"
    assert verdict.elapsed_s > 0
    data = verdict.to_dict()
    assert json.loads(json.dumps(data))["status"] == status


def test_check_fol_certificates():
    proved = check_fol(["∀x (Man(x) → Mortal(x))", "Dog(rex)", "Man(socrates)"], "Mortal(socrates)")
    assert isinstance(proved.certificate, PremisesUsed)
    assert proved.certificate.indices == (0, 2)
    uncertain = check_fol(["Man(socrates)"], "Mortal(socrates)")
    assert isinstance(uncertain.certificate, Countermodels)


def test_check_fol_accepts_parsed_formulas_and_text_together():
    verdict = check_fol([parse_formula("∀x (P(x) → Q(x))"), "P(a)"], parse_formula("Q(a)"))
    assert verdict.status == "proved"
    assert verdict.certificate.formulas == ("∀x (P(x) → Q(x))", "P(a)")


def test_check_fol_with_no_premises():
    assert check_fol([], "P(a) ∨ ¬P(a)").status == "proved"
    assert check_fol([], "P(a)").status == "uncertain"


def test_check_fol_passes_the_timeout_to_the_prover():
    premises = ["∀x ∃y R(x, y)", "∀x ¬R(x, x)", "∀x ∀y ∀z (R(x, y) ∧ R(y, z) → R(x, z))"]
    verdict = check_fol(premises, "P(a)", timeout=0.3)
    assert verdict.status == "timeout"
    assert verdict.answer is None
    assert verdict.elapsed_s < 3


def test_invalid_verdicts_carry_feedback_for_a_repair():
    verdict = check_fol(["∀x (Man(x) → Mortal(x)", "Man(socrates)"], "Mortal(socrates)")
    assert verdict.status == "invalid"
    assert verdict.prover == ""
    assert verdict.feedback.startswith("Premise 1 is not a well-formed formula")
    assert "never closed" in verdict.feedback
    assert verdict.details["formula_index"] == 0
    assert (verdict.details["line"], verdict.details["column"]) == (1, 4)
    assert verdict.details["excerpt"].endswith("^")
    json.dumps(verdict.to_dict())


def test_the_first_bad_formula_is_reported():
    verdict = check_fol(["P(a)", "Q(", "R(b) ∧"], "S(")
    assert verdict.details["formula_index"] == 1
    assert verdict.message.startswith("premise 2:")


def test_problem_size_limit_counts_all_formulas():
    each = "P(a) ∧ Q(b)"
    count = MAX_PROBLEM_CHARS // len(each) + 1
    verdict = check_fol([each] * count, "P(a)")
    assert verdict.status == "invalid"
    assert f"{MAX_PROBLEM_CHARS:,}" in verdict.message
    assert "too large" in verdict.message


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"provers": ()}, "at least one prover"),
        ({"provers": ("z3", "z4")}, "unknown prover 'z4'"),
        ({"timeout": 0}, "timeout must be a finite number of seconds greater than 0, got 0"),
        ({"timeout": -1.0}, "timeout must be a finite number of seconds greater than 0, got -1.0"),
        ({"timeout": float("nan")}, "timeout must be a finite number of seconds greater than 0, got nan"),
        ({"timeout": float("inf")}, "timeout must be a finite number of seconds greater than 0, got inf"),
        ({"timeout": 1e9}, "timeout must be at most"),
        ({"timeout": "5"}, "timeout must be a number of seconds, got '5'"),
        ({"timeout": None}, "timeout must be a number of seconds, got None"),
        ({"timeout": True}, "timeout must be a number of seconds, got True"),
    ],
)
def test_usage_mistakes_raise(kwargs, fragment):
    with pytest.raises(ConfigurationError, match=re.escape(fragment)):
        check_fol(["P(a)"], "P(a)", **kwargs)


def test_a_bad_timeout_is_refused_before_any_work():
    # even an invalid formula is not looked at: the mistake is the caller's, not the formula's
    with pytest.raises(ConfigurationError, match="timeout"):
        check_fol(["P(a) ∧"], "P(a)", timeout=float("nan"))


def test_one_string_as_premises_is_a_usage_mistake():
    with pytest.raises(ConfigurationError, match="list of formulas"):
        check_fol("P(a)", "P(a)")


# --- one deadline for the whole call -------------------------------------------------------------


def test_many_predicates_stay_uncertain_with_both_countermodels_marked_truncated():
    # The reproducer of the 34 s call: 300 four-place predicates, Uncertain. Reading both models
    # used to evaluate every row of every table; now at most MAX_SYMBOLS_SHOWN tables are read, the
    # conclusion's first, and the rest are named as omitted. (How long it takes: benchmarks/deadlines.py.)
    premises, conclusion = many_predicates_problem()
    verdict = check_fol(premises, conclusion, timeout=5)
    assert verdict.status == "uncertain" and verdict.answer == EntailmentLabel.UNCERTAIN
    models = verdict.certificate
    assert isinstance(models, Countermodels)
    for model in (models.conclusion_false, models.conclusion_true):
        assert model.truncated is True
        shown = [f"{name}/{arity}" for name, arity, _ in model.predicates]
        assert shown[0] == "Goal/4"  # the conclusion's predicate first
        assert len(shown) <= MAX_SYMBOLS_SHOWN
        assert sorted(shown + list(model.omitted)) == sorted([f"Rel{i:03d}/4" for i in range(300)] + ["Goal/4"])
        assert all(len(rows) <= MAX_ROWS_SHOWN for _, _, rows in model.predicates)
        assert "cut short" in model.render() and "and " in model.render()  # "... and 231 more"
    assert (
        Countermodels.from_dict(json.loads(json.dumps(models.to_dict()))).conclusion_false.omitted
        == models.conclusion_false.omitted
    )


def test_a_small_uncertain_problem_has_complete_countermodels():
    verdict = check_fol(["∀x (Man(x) → Mortal(x))", "Mortal(socrates)"], "Man(socrates)", timeout=5)
    assert verdict.status == "uncertain"
    for model in (verdict.certificate.conclusion_false, verdict.certificate.conclusion_true):
        assert model.truncated is False and model.omitted == () and model.note == ""
        assert "cut short" not in model.render()
        assert {name for name, _, _ in model.predicates} == {"Man", "Mortal"}


def test_the_deadline_covers_parsing():
    # 190,000 characters take far longer than 10 ms to parse on any machine
    premises, conclusion = huge_text_problem()
    verdict = check_fol(premises, conclusion, timeout=0.01)
    assert verdict.status == "timeout" and verdict.answer is None
    assert verdict.details["stage"].startswith("parsing premise")
    assert "ran out of time (0.01 s) while parsing premise" in verdict.message
    assert verdict.feedback


@pytest.mark.eprover
def test_cross_check_provers_share_one_deadline():
    # neither prover can settle a problem with only infinite models; both report a timeout
    verdict = check_fol(NO_FINITE_MODEL, "P(a)", timeout=1, provers=("z3", "eprover"))
    assert verdict.status == "timeout"
    assert verdict.details["provers"] == {"z3": "timeout", "eprover": "timeout"}
    assert verdict.prover == "z3+eprover"
