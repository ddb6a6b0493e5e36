"""Choosing the answer among samples: the plain majority, or the majority among the strongest evidence.

The model is a test double (ScriptedBackend); Z3 is real.
"""

from __future__ import annotations

import pytest

from neurosym.errors import ConfigurationError
from neurosym.loop.refine import Strategy, refine
from neurosym.targets.fol import FolTarget
from neurosym.targets.milp import MilpTarget
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem

PROBLEM = Problem(premises=("All dogs are animals.", "Rex is a dog."), conclusion="Is Rex an animal?")
PROOF = (
    "Premises:\n1. All dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n2. Rex is a dog.\nFOL: Dog(rex)\n"
    "Conclusion:\nIs Rex an animal?\nFOL: Animal(rex)"
)
DISCONNECTED = PROOF.replace("FOL: Animal(rex)", "FOL: Creature(rex)")  # a name the premises never use
TARGET = FolTarget(constrained=False)


def test_a_proof_outweighs_any_number_of_uncertain_samples():
    replies = [DISCONNECTED, PROOF, DISCONNECTED]
    plain = refine(PROBLEM, TARGET, ScriptedBackend(list(replies)), strategy=Strategy.vote(3))
    assert plain.answer == "Uncertain" and plain.votes == {"Uncertain": 2, "True": 1}
    evidence = refine(
        PROBLEM, TARGET, ScriptedBackend(list(replies)), strategy=Strategy(samples=3, selection="evidence")
    )
    assert evidence.answer == "True" and evidence.confidence == 1.0
    assert evidence.votes == {"Uncertain": 2, "True": 1}  # every vote is kept in the result
    assert evidence.winner.sample == 1 and evidence.winner.verdict.status == "proved"


def test_without_a_proof_the_uncertain_majority_stands():
    strategy = Strategy(samples=2, selection="evidence")
    result = refine(PROBLEM, TARGET, ScriptedBackend([DISCONNECTED, DISCONNECTED]), strategy=strategy)
    assert result.answer == "Uncertain"


def test_adaptive_by_evidence_does_not_stop_on_uncertain_votes():
    replies = [DISCONNECTED, DISCONNECTED, PROOF, PROOF]
    strategy = Strategy(samples=4, round_size=2, confidence=0.8, selection="evidence")
    result = refine(PROBLEM, TARGET, ScriptedBackend(replies), strategy=strategy)
    assert result.answer == "True" and len(result.attempts) == 4 and result.stop_reason == "agreement"
    plain = refine(
        PROBLEM, TARGET, ScriptedBackend(replies), strategy=Strategy(samples=4, round_size=2, confidence=0.8)
    )
    assert plain.answer == "Uncertain" and len(plain.attempts) == 2  # settled on the first round


def test_a_target_without_evidence_ranks_all_answers_alike():
    problem = Problem("Maximize x with x at most 3, or at most 4.")
    three, four = "integer x\nmaximize x\nc: x <= 3\n", "integer x\nmaximize x\nc: x <= 4\n"
    for selection in ("majority", "evidence"):
        result = refine(problem, MilpTarget(), ScriptedBackend([three, four, three]),
                        strategy=Strategy(samples=3, selection=selection))  # fmt: skip
        assert result.answer == 3


def test_an_unknown_selection_is_refused():
    with pytest.raises(ConfigurationError, match="selection must be one of majority, evidence"):
        Strategy(selection="oracle")


def test_the_cli_option_chooses_the_selection(tmp_path, capsys):
    from neurosym.cli import main
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend

    cassette = tmp_path / "three.jsonl"
    text = "All dogs are animals. Rex is a dog. Is Rex an animal?"
    replies = [DISCONNECTED, PROOF, DISCONNECTED]
    solve(text, llm=RecordingBackend(ScriptedBackend(replies), cassette), strategy=Strategy(samples=3))
    argv = ["solve", text, "--llm", f"replay:{cassette}", "--samples", "3"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("Answer: Uncertain")
    assert main([*argv, "--selection", "evidence"]) == 0
    assert capsys.readouterr().out.startswith("Answer: True")


def test_adaptive_by_evidence_stops_as_by_majority_for_a_target_without_evidence():
    problem = Problem("Maximize x with x at most 3.")
    three = "integer x\nmaximize x\nc: x <= 3\n"
    strategy = Strategy(samples=4, round_size=2, confidence=0.8, selection="evidence")
    result = refine(problem, MilpTarget(), ScriptedBackend([three] * 4), strategy=strategy)
    assert result.answer == 3 and len(result.attempts) == 2 and result.stop_reason == "agreement"
