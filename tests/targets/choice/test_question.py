"""Reading the question's kind from its wording (the rule of neurosym.targets.choice.question)."""

from __future__ import annotations

import pytest

from neurosym.targets.choice.question import MODALITIES, QuestionKind, question_kind


@pytest.mark.parametrize(
    ("question", "modality", "negated", "conditional"),
    [
        ("Which of the following is true?", "is_true", False, False),
        ("Which one of the following must be true?", "must_be_true", False, False),
        ("Which one of the following could be true?", "could_be_true", False, False),
        ("Which one of the following CANNOT be true?", "cannot_be_true", False, False),
        ("Which one of the following must be false?", "cannot_be_true", False, False),
        ("Which one of the following could be false?", "could_be_false", False, False),
        ("Each of the following could be true EXCEPT:", "could_be_true", True, False),
        ("Each of the following must be true EXCEPT:", "must_be_true", True, False),
        ("If Fred is in locker 3, then which one of the following must be true?", "must_be_true", False, True),
        ("If J is second, each of the following could be true EXCEPT:", "could_be_true", True, True),
        ("Which one of the following could be an accurate list of the parcels?", "could_be_true", False, False),
        ("If the last digit is 1, it must be true that the", "must_be_true", False, True),
        ("How many of the children could be assigned to locker 2?", "count_could", False, False),
        ("How many of the tapes must have jazz?", "count_must", False, False),
        (
            "Which one of the following, if substituted for the condition that J is first, would have the same "
            "effect in determining the order?",
            "substitution",
            False,
            False,
        ),
        ("What is the capital of France?", "unhandled", False, False),
        (
            "If L is first, which one of the following is a potter whose bowl CANNOT be second?",
            "cannot_be_true",
            False,
            True,
        ),
        ("Which one of the following is an allowable structure for the newsletter?", "could_be_true", False, False),
    ],
)
def test_question_kinds(question, modality, negated, conditional):
    kind = question_kind(question)
    assert (kind.modality, kind.negated, kind.conditional) == (modality, negated, conditional)
    assert kind.handled == (modality != "unhandled")


@pytest.mark.parametrize("modality", MODALITIES)
def test_the_kind_survives_its_text_form(modality):
    for negated in (False, True):
        for conditional in (False, True):
            kind = QuestionKind(modality, negated, conditional)
            assert QuestionKind.from_text(kind.to_text()) == kind
            assert kind.describe()
