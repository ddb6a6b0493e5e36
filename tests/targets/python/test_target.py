"""The Python target: verdicts from sandbox runs, vote keys, answer equivalence, repair prompts."""

import pytest

from neurosym.errors import ParseError
from neurosym.provers.sandbox import Execution
from neurosym.targets import get_target
from neurosym.targets.python import PythonTarget, execution_verdict, number_key
from neurosym.types import NumberAnswer, Problem

needs_sandbox = pytest.mark.usefixtures("sandbox_available")
PROBLEM = Problem("Tom has 3 apples and buys 4 more. How many apples does he have?")


def verdict_of(program: str):
    target = PythonTarget()
    return target.check(target.parse(PROBLEM, f"```python\n{program}```"), timeout_s=5)


@needs_sandbox
def test_a_program_that_returns_a_number_is_computed_with_its_certificate():
    verdict = verdict_of("def solution():\n    print('adding')\n    return 3 + 4\n")
    assert verdict.status == "computed" and verdict.decided
    assert verdict.answer == NumberAnswer(7.0, exact="7")
    assert "return 3 + 4" in verdict.certificate.render() and "adding" in verdict.certificate.render()
    assert verdict.to_dict()["certificate"]["returned"] == "7"
    from neurosym.types import Verdict

    back = Verdict.from_dict(verdict.to_dict())
    assert back.certificate.render() == verdict.certificate.render() and back.answer == verdict.answer


@needs_sandbox
@pytest.mark.parametrize(
    ("program", "status", "feedback"),
    [
        ("def solution():\n    return 1 / 0\n", "invalid", "ZeroDivisionError: division by zero"),
        ("def solution():\n    return 'seven'\n", "invalid", "it must return the answer as a number"),
        ("def solution():\n    return float('nan')\n", "invalid", "not a finite real number"),
        ("def solution():\n    return None\n", "invalid", "it must return the answer as a number"),
        ("def solution():\n    return 10 ** 5000\n", "invalid", "5001 digits"),
        ("def solution():\n    while True:\n        pass\n", "timeout", "did not finish"),
        ("def solution():\n    return [0] * 10**10\n", "invalid", "out of memory"),
    ],
)
def test_bad_programs_get_a_verdict_with_feedback(program, status, feedback):
    verdict = verdict_of(program)
    assert verdict.status == status and feedback in verdict.feedback
    assert verdict.answer is None


@needs_sandbox
def test_the_sandbox_is_healthy_after_bad_programs():
    assert verdict_of("def solution():\n    return 6 * 7\n").answer.value == 42.0


def test_parse_errors_are_parse_errors():
    with pytest.raises(ParseError, match="syntax error"):
        PythonTarget().parse(PROBLEM, "```python\ndef solution(\n```")


def test_crash_of_the_program_and_of_the_sandbox_differ():
    crashed = execution_verdict("p", Execution("crashed", message="died of SIGSEGV", details={"signal": "SIGSEGV"}))
    broken = execution_verdict("p", Execution("crashed", message="the sandbox server died or hung"))
    assert crashed.status == "invalid" and "recursion" in crashed.feedback
    assert broken.status == "unknown"


def test_vote_keys_merge_answers_within_the_tolerance():
    assert number_key(18.0) == number_key(17.9999999999) == 18
    assert number_key(0.1 + 0.2) == number_key(0.3)
    assert number_key(2.5) != number_key(2.6)


@needs_sandbox
def test_same_answer_numeric_and_symbolic():
    target = PythonTarget()
    assert target.same_answer(NumberAnswer(1234.0, "1234"), "1,234")
    assert not target.same_answer(NumberAnswer(18.0, "18"), 18.5)
    assert target.same_answer(NumberAnswer(0.5, "1/2"), "2/4")
    assert not target.same_answer(NumberAnswer(1.0, "1"), "sqrt(2)")


def test_repair_prompt_carries_the_program_and_the_feedback():
    target = get_target("python")
    request = target.request(PROBLEM)
    repair = target.repair_request(PROBLEM, request, "def solution(): return x", "NameError: name 'x' is not defined")
    assert repair.messages[-2].content == "def solution(): return x"
    assert "NameError" in repair.messages[-1].content


def test_target_pickles_for_the_prover_pool():
    import pickle

    assert pickle.loads(pickle.dumps(PythonTarget())) == PythonTarget()


def _times_three(request, index):
    n = int(request.messages[-1].content.split()[3])
    if n == 2:
        return "```python\ndef solution():\n    while True:\n        pass\n```"
    return f"```python\ndef solution():\n    return {n} * 3\n```"


@needs_sandbox
def test_run_many_runs_programs_in_the_prover_pool_and_a_hanging_one_times_out():
    from dataclasses import replace

    from neurosym.loop import Strategy, run_many
    from neurosym.translators.backends.scripted import ScriptedBackend

    problems = [Problem(f"What is {i} times 3?", id=str(i)) for i in range(4)]
    strategy = replace(Strategy.greedy(), timeout_s=2.0)
    results = run_many(problems, PythonTarget(), ScriptedBackend(_times_three), strategy=strategy)
    assert [r.answer for r in results] == [0, 3, None, 9]
    assert results[2].attempts[0].status == "timeout"
