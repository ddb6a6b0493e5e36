import json

import pytest

from neurosym.errors import BackendConnectionError, ConfigurationError, VerificationFailed
from neurosym.loop.refine import Budget, Strategy, refine
from neurosym.targets.fol import FolTarget
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem, Verdict

PROBLEM = Problem(premises=("All dogs are animals.", "Rex is a dog."), conclusion="Is Rex an animal?", id="p1")
TARGET = FolTarget(constrained=False)


def output(conclusion: str = "Animal(rex)", second: str = "Dog(rex)") -> str:
    return (
        "Premises:\n1. All dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n"
        f"2. Rex is a dog.\nFOL: {second}\nConclusion:\nIs Rex an animal?\nFOL: {conclusion}"
    )


TRUE = output()  # proved
FALSE = output("¬Animal(rex)")  # disproved
UNCERTAIN = output("Cat(rex)")  # uncertain
BROKEN = output(second="Dog(rex")  # does not parse
CLASH = output(second="Owns(rex, Dog)")  # signature clash: invalid


def scripted(replies):
    return ScriptedBackend(list(replies))


def test_majority_vote_wins_with_its_share():
    result = refine(PROBLEM, TARGET, scripted([TRUE, FALSE, TRUE, BROKEN, TRUE]), strategy=Strategy.vote(5))
    assert result.answer == "True" and result.verified and not result.abstained
    assert dict(result.votes) == {"True": 3, "False": 1}
    assert result.confidence == pytest.approx(0.75)
    assert len(result.attempts) == 5 and result.stop_reason == "exhausted"
    assert result.winner is not None and result.winner.answer == "True"


def test_all_samples_go_to_the_backend_in_one_batched_call():
    backend = scripted([TRUE] * 5)
    refine(PROBLEM, TARGET, backend, strategy=Strategy.vote(5))
    [(requests, settings)] = backend.calls
    assert len(requests) == 1 and settings.n == 5 and settings.temperature == 0.7


def test_a_tie_abstains_and_keeps_the_counts():
    result = refine(PROBLEM, TARGET, scripted([TRUE, FALSE, TRUE, FALSE]), strategy=Strategy.vote(4))
    assert result.abstained and result.answer is None and not result.verified
    assert dict(result.votes) == {"True": 2, "False": 2}
    with pytest.raises(VerificationFailed):
        result.raise_for_status()


def test_below_the_agreement_threshold_abstains():
    replies = [TRUE, TRUE, FALSE, UNCERTAIN, BROKEN]
    result = refine(PROBLEM, TARGET, scripted(replies), strategy=Strategy.vote(5, agreement=0.6))
    assert result.abstained and result.confidence == pytest.approx(0.5)
    assert refine(PROBLEM, TARGET, scripted(replies), strategy=Strategy.vote(5, agreement=0.5)).answer == "True"


def test_nothing_decided_abstains():
    result = refine(PROBLEM, TARGET, scripted([BROKEN, CLASH]), strategy=Strategy.vote(2))
    assert result.abstained and dict(result.votes) == {}
    assert [a.status for a in result.attempts] == ["unparsed", "invalid"]


def test_repair_feeds_the_parser_message_back():
    backend = scripted([BROKEN, TRUE])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy(samples=1, repair_rounds=2))
    assert result.answer == "True"
    assert [(a.repair, a.status) for a in result.attempts] == [(0, "unparsed"), (1, "proved")]
    repair_prompt = backend.calls[1][0][0].messages[-1].content
    assert "could not be read" in repair_prompt and "bracket" in repair_prompt
    assert backend.calls[1][0][0].messages[-2].content == BROKEN


def test_repair_feeds_the_prover_message_back_and_stops_after_r_rounds():
    backend = scripted([CLASH, CLASH, CLASH])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy(samples=1, repair_rounds=2))
    assert result.abstained and len(result.attempts) == 3
    assert "'Dog'" in backend.calls[1][0][0].messages[-1].content


def test_first_verified_stops_at_the_first_decided_sample():
    backend = scripted([BROKEN, TRUE, FALSE])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy(samples=3, round_size=1, first_verified=True))
    assert result.answer == "True" and result.stop_reason == "first-verified"
    assert len(result.attempts) == 2 and len(backend.calls) == 2


def test_adaptive_stops_when_the_leader_cannot_be_overtaken():
    backend = scripted([TRUE, FALSE, TRUE, TRUE, FALSE])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy.adaptive(5, round_size=2, confidence=1.0))
    # After 3 True and 1 False only 1 sample is left: it cannot overturn the lead.
    assert result.stop_reason == "agreement" and len(result.attempts) == 4 and result.answer == "True"


def test_adaptive_stops_early_when_confident():
    backend = scripted([TRUE] * 10)
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy.adaptive(10, round_size=2, confidence=0.9))
    assert result.stop_reason == "agreement" and len(result.attempts) == 2 and len(backend.calls) == 1


def test_adaptive_spends_more_where_samples_disagree():
    backend = scripted([TRUE, FALSE, TRUE, FALSE, TRUE, TRUE])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy.adaptive(6, round_size=2, confidence=0.8))
    assert len(result.attempts) == 6 and result.answer == "True"
    assert [a.round for a in result.attempts] == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize(
    ("budget", "reason", "attempts"),
    [
        (Budget(samples=2), "budget:samples", 2),
        (Budget(tokens=1), "budget:tokens", 1),
        (Budget(wall_s=0.0), "budget:wall", 0),
    ],
)
def test_budgets_are_outcomes(budget, reason, attempts):
    replies = scripted([TRUE, FALSE] * 5)  # disagreement, so only the budget can stop it
    result = refine(PROBLEM, TARGET, replies, strategy=Strategy(samples=5, round_size=1), budget=budget)
    assert result.stop_reason == reason and len(result.attempts) == attempts


def test_a_backend_failure_mid_run_keeps_what_finished():
    backend = ScriptedBackend([TRUE, BackendConnectionError("server went away", backend="openai")])
    result = refine(PROBLEM, TARGET, backend, strategy=Strategy(samples=3, round_size=1))
    assert result.stop_reason == "error" and "server went away" in (result.error or "")
    assert len(result.attempts) == 1 and result.answer == "True"


def test_a_hanging_prover_becomes_a_timeout_verdict_through_the_checker():
    def checker(target, formalization, timeout_s):
        return Verdict("timeout", message=f"killed after {timeout_s} s", prover="z3")

    result = refine(PROBLEM, TARGET, scripted([TRUE, TRUE]), strategy=Strategy.vote(2), checker=checker)
    assert result.abstained and [a.status for a in result.attempts] == ["timeout", "timeout"]


def test_result_serialises_and_renders():
    result = refine(PROBLEM, TARGET, scripted([TRUE, BROKEN, TRUE]), strategy=Strategy.vote(2, repair_rounds=1))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["answer"] == "True" and data["problem_id"] == "p1" and len(data["attempts"]) == 3
    assert data["votes"] == {"True": 2}
    assert data["cost"]["samples"] == 3 and data["cost"]["model_calls"] == 2 and data["cost"]["overhead_s"] >= 0
    trace = result.render_trace()
    assert "answer True" in trace and "unparsed" in trace and "cost:" in trace


def test_bad_strategies_are_configuration_errors():
    for kwargs in ({"samples": 0}, {"repair_rounds": -1}, {"round_size": 0}, {"agreement": 0.0}):
        with pytest.raises(ConfigurationError):
            Strategy(**kwargs)
