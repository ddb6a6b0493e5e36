import pytest

from neurosym import check_fol
from neurosym.errors import ConfigurationError, ParseError
from neurosym.fol import parse_formula
from neurosym.targets.fol.translator import (
    build_fol_request,
    fewshot_examples,
    parse_fol_output,
    problem_from_text,
)
from neurosym.types import EntailmentLabel, Problem


def test_fewshot_examples_come_from_train_and_reproduce_their_labels():
    examples = fewshot_examples()
    assert len(examples) >= 3
    for example in examples:
        assert "train" in example["source"]
        verdict = check_fol(example["premises_fol"], example["conclusion_fol"])
        assert verdict.answer == EntailmentLabel.parse(example["label"])


def test_fewshot_examples_are_not_validation_items(folio_items):
    validation_premises = {p.strip() for item in folio_items for p in item["premises"]}
    for example in fewshot_examples():
        assert not set(example["premises"]) & validation_premises


def test_request_layout_and_constraint():
    problem = Problem(premises=("All dogs are animals.", "Rex is a dog."), conclusion="Is Rex an animal?")
    request = build_fol_request(problem, constrained=False)
    assert request.constraint is None
    assert request.messages[0].role == "system"
    assert request.messages[-1].content == (
        "Premises:\n1. All dogs are animals.\n2. Rex is a dog.\nConclusion: Is Rex an animal?"
    )
    roles = [m.role for m in request.messages[1:-1]]
    assert roles == ["user", "assistant"] * len(fewshot_examples())
    constrained = build_fol_request(problem, constrained=True)
    assert constrained.constraint is not None and constrained.constraint.kind == "grammar"
    grammar = constrained.constraint.value
    assert '"1. All dogs are animals.\\nFOL: " fol-formula' in grammar
    assert '"Is Rex an animal?\\nFOL: " fol-formula' in grammar
    assert '"3. ' not in grammar


@pytest.mark.parametrize(
    "output",
    [
        "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\n2. Dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n"
        "Conclusion:\nIs Rex an animal?\nFOL: Animal(rex)",
        "```\nPremises:\n1. Rex is a dog.\n**FOL:** `Dog(rex)`\n2. x\nFOL: ∀x (Dog(x) → Animal(x))\n"
        "**Conclusion:**\nIs Rex an animal?\nFOL: Animal(rex)\n```\nDone.",
        "1. Rex is a dog.\nFOL: Dog(rex)\n2. Dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\nFOL: Animal(rex)",
        "Premises:\n1. Dog(rex)\n2. ∀x (Dog(x) → Animal(x))\nConclusion:\nAnimal(rex)",
        "```\nPremises:\n1. Dog(rex)\n2. ∀x (Dog(x) → Animal(x))\nConclusion:\nAnimal(rex)\n```\nHope this helps!",
        "Here you go.\n**Premises:**\n- Rex is a dog: Dog(rex)\n- ∀x (Dog(x) → Animal(x))\n**Conclusion:** Animal(rex)",
        "Premises:\nPremise 1: Dog(rex)\nPremise 2: ∀x (Dog(x) → Animal(x))\nConclusion: Animal(rex)",
        "Dog(rex)\n∀x (Dog(x) → Animal(x))\nAnimal(rex)",
    ],
)
def test_parse_chatty_output(output):
    translation = parse_fol_output(output, expected_premises=2)
    assert translation.premises == ("Dog(rex)", "∀x (Dog(x) → Animal(x))")
    assert translation.conclusion == "Animal(rex)"
    for formula in (*translation.premises, translation.conclusion):
        parse_formula(formula)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("I cannot help with that.", "no conclusion"),
        ("", "no conclusion"),
        ("Premises:\n1. Dog(rex)\nConclusion:\nAnimal(rex)", "1 premise formulas for 2 premises"),
    ],
)
def test_unreadable_output_is_a_parse_error_with_the_raw_text(output, message):
    with pytest.raises(ParseError, match=message) as info:
        parse_fol_output(output, expected_premises=2)
    assert info.value.context["raw_output"] == output[-2000:]


def test_problem_from_text_splits_sentences_and_keeps_initials():
    p = problem_from_text("Tiffany T. Alston was a legislator. Legislators vote. Did Alston vote?")
    assert p.premises == ("Tiffany T. Alston was a legislator.", "Legislators vote.")
    assert p.conclusion == "Did Alston vote?"
    lines = problem_from_text("A is red.\nB is blue.\nA is not blue.")
    assert lines.conclusion == "A is not blue." and len(lines.premises) == 2
    with pytest.raises(ConfigurationError):
        problem_from_text("   ")
    with pytest.raises(ConfigurationError):
        problem_from_text("Is it raining?")
