import pickle

import pytest

from neurosym.errors import ConfigurationError, ParseError
from neurosym.targets import Target, get_target
from neurosym.targets.fol import FolTarget
from neurosym.types import Problem

PROBLEM = Problem(premises=("All dogs are animals.", "Rex is a dog."), conclusion="Is Rex an animal?")
OUTPUT = (
    "Premises:\n1. All dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n2. Rex is a dog.\nFOL: Dog(rex)\n"
    "Conclusion:\nIs Rex an animal?\nFOL: Animal(rex)"
)


def test_fol_target_implements_the_protocol_and_pickles():
    target = get_target("fol", constrained=False)
    assert isinstance(target, Target)
    again = pickle.loads(pickle.dumps(target))
    assert again == target and again.constrained is False


def test_request_parse_check_answer():
    target = FolTarget(constrained=True)
    request = target.request(PROBLEM)
    assert request.constraint is not None and request.constraint.kind == "grammar"
    formalization = target.parse(PROBLEM, OUTPUT)
    assert formalization.target == "fol"
    assert formalization.source.splitlines()[-1] == "⊢ Animal(rex)"
    verdict = target.check(formalization, timeout_s=5)
    assert verdict.status == "proved"
    assert target.answer_key(verdict) == "True"


def test_free_text_problems_are_split_first():
    target = FolTarget(constrained=False)
    problem = Problem(text="All dogs are animals. Rex is a dog. Is Rex an animal?")
    assert target.request(problem).messages[-1].content.endswith("Conclusion: Is Rex an animal?")
    assert target.parse(problem, OUTPUT).parsed.conclusion is not None


@pytest.mark.parametrize(
    "output",
    [
        "no formulas here",
        OUTPUT.replace("FOL: Dog(rex)", "FOL: Dog(rex"),
        OUTPUT.replace("2. Rex is a dog.\nFOL: Dog(rex)\n", ""),
    ],
)
def test_unreadable_outputs_raise_parse_errors(output):
    with pytest.raises(ParseError):
        FolTarget(constrained=False).parse(PROBLEM, output)


def test_undecided_and_invalid_verdicts_support_no_answer():
    target = FolTarget(constrained=False)
    clash = target.parse(PROBLEM, OUTPUT.replace("FOL: Dog(rex)", "FOL: Owns(rex, Dog)"))
    verdict = target.check(clash, timeout_s=5)
    assert verdict.status == "invalid" and target.answer_key(verdict) is None
    repaired = FolTarget(constrained=False, repair_signature_clashes=True).check(clash, timeout_s=5)
    assert repaired.decided


def test_repair_request_keeps_the_constraint_and_shows_the_feedback():
    target = FolTarget(constrained=True)
    first = target.request(PROBLEM)
    repair = target.repair_request(PROBLEM, first, "bad output", "premise 2: unbalanced brackets")
    assert repair.constraint == first.constraint
    assert repair.messages[: len(first.messages)] == first.messages
    assert repair.messages[-2].content == "bad output"
    assert "premise 2: unbalanced brackets" in repair.messages[-1].content


def test_unknown_target():
    with pytest.raises(ConfigurationError, match="known targets: fol"):
        get_target("klingon")
