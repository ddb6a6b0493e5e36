"""The failed-sample strategies: the repair conversation, a fresh sample at a new seed, a hint in the prompt.

The model is a test double (ScriptedBackend, recording every request); the provers are real.
"""

from __future__ import annotations

import pytest

from neurosym.cli import main
from neurosym.errors import ConfigurationError
from neurosym.loop.refine import Strategy, hint_request, refine
from neurosym.targets.fol import FolTarget
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem

PROBLEM = Problem(premises=("All dogs are animals.", "Rex is a dog."), conclusion="Is Rex an animal?")
GOOD = (
    "Premises:\n1. All dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n2. Rex is a dog.\nFOL: Dog(rex)\n"
    "Conclusion:\nIs Rex an animal?\nFOL: Animal(rex)"
)
BAD = GOOD.replace("FOL: Dog(rex)", "FOL: Dog(rex")  # does not parse
TARGET = FolTarget(constrained=False)


def run(on_failure: str, **strategy):
    backend = ScriptedBackend([BAD, GOOD])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy(repair_rounds=1, on_failure=on_failure, **strategy))
    first, retry = (call[0][0] for call in backend.calls)
    return result, first, retry, backend.calls[1][1]


def test_repair_is_the_conversation():
    result, first, retry, _ = run("repair")
    assert [a.status for a in result.attempts] == ["unparsed", "proved"] and result.answer == "True"
    assert retry.messages[: len(first.messages)] == first.messages
    assert [m.role for m in retry.messages[-2:]] == ["assistant", "user"] and retry.messages[-2].content == BAD


def test_resample_asks_the_same_request_again_at_a_new_seed_and_a_sampling_temperature():
    result, first, retry, settings = run("resample")
    assert result.answer == "True" and retry == first
    assert settings.seed == 1000 and settings.temperature == Strategy().temperature  # greedy would repeat itself


def test_hint_puts_the_feedback_in_the_user_turn_with_no_assistant_turn_to_copy():
    result, first, retry, settings = run("hint")
    assert result.answer == "True"
    assert len(retry.messages) == len(first.messages) and retry.messages[-1].role == "user"
    assert retry.messages[-1].content.startswith(first.messages[-1].content)
    assert "An earlier answer to this had a problem: it could not be read" in retry.messages[-1].content
    assert BAD not in retry.messages[-1].content and settings.temperature == 0.0


def test_a_decided_sample_gets_no_retry_and_the_option_is_checked():
    backend = ScriptedBackend([GOOD])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy(repair_rounds=2, on_failure="resample"))
    assert len(result.attempts) == 1 and len(backend.calls) == 1
    with pytest.raises(ConfigurationError, match="on_failure"):
        Strategy(on_failure="pray")
    assert Strategy.vote(5, repair_rounds=1, on_failure="hint").to_dict()["on_failure"] == "hint"


def test_hint_request_appends_to_the_last_user_turn():
    request = TARGET.request(PROBLEM)
    hinted = hint_request(request, "  formula 2 is not well formed ")
    assert hinted.messages[:-1] == request.messages[:-1] and hinted.constraint == request.constraint
    assert hinted.messages[-1].content.endswith("formula 2 is not well formed\nAvoid it.")


def test_the_cli_option_chooses_the_strategy(tmp_path, capsys):
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend

    cassette = tmp_path / "hint.jsonl"
    text = "All dogs are animals. Rex is a dog. Is Rex an animal?"
    solve(text, llm=RecordingBackend(ScriptedBackend([BAD, GOOD]), cassette),
          strategy=Strategy(repair_rounds=1, on_failure="hint"))  # fmt: skip
    argv = ["solve", text, "--llm", f"replay:{cassette}", "--repair-rounds", "1"]
    assert main([*argv, "--on-failure", "hint"]) == 0
    assert capsys.readouterr().out.startswith("Answer: True")
    assert main([*argv, "--on-failure", "repair"]) == 2  # another request: not in the cassette
    assert "cassette" in capsys.readouterr().err.lower()
