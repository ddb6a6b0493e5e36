import json

import pytest

from neurosym import check_fol
from neurosym.checking import MAX_PROBLEM_CHARS
from neurosym.errors import ConfigurationError
from neurosym.fol import parse_formula
from neurosym.fol.certificates import Countermodels, PremisesUsed
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
    [({"provers": ()}, "at least one prover"), ({"timeout": 0}, "positive"), ({"timeout": -1.0}, "positive")],
)
def test_usage_mistakes_raise(kwargs, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        check_fol(["P(a)"], "P(a)", **kwargs)


def test_one_string_as_premises_is_a_usage_mistake():
    with pytest.raises(ConfigurationError, match="list of formulas"):
        check_fol("P(a)", "P(a)")
