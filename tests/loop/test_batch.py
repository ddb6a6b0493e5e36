import threading
import time

from neurosym.errors import BackendConnectionError
from neurosym.loop.batch import RunBudget, run_many
from neurosym.loop.refine import Strategy
from neurosym.targets.fol import FolTarget
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem

TARGET = FolTarget(constrained=False)
OUT = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"


def problems(n):
    return [Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?", id=f"p{i}") for i in range(n)]


def test_results_keep_input_order_and_stream_as_they_finish():
    seen = []
    results = run_many(problems(6), TARGET, ScriptedBackend(lambda r, i: OUT), on_result=lambda i, r: seen.append(i))
    assert [r.problem_id for r in results] == [f"p{i}" for i in range(6)]
    assert sorted(seen) == list(range(6)) and all(r.answer == "True" for r in results)


def test_problems_are_in_flight_together():
    active, peak, lock = [0], [0], threading.Lock()

    def slow(request, index):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return OUT

    run_many(problems(8), TARGET, ScriptedBackend(slow), max_in_flight=4)
    assert peak[0] >= 2


def test_a_backend_failing_mid_run_keeps_the_finished_problems():
    calls = [0]
    lock = threading.Lock()

    def flaky(request, index):
        with lock:
            calls[0] += 1
            if calls[0] > 3:
                raise BackendConnectionError("server died", backend="openai")
        return OUT

    results = run_many(problems(6), TARGET, ScriptedBackend(flaky), max_in_flight=1)
    assert [r.answer for r in results[:3]] == ["True"] * 3
    assert all(r.stop_reason == "error" and "server died" in r.error for r in results[3:])


def test_run_budget_skips_what_would_exceed_it():
    results = run_many(
        problems(5), TARGET, ScriptedBackend(lambda r, i: OUT), strategy=Strategy.vote(2),
        run_budget=RunBudget(samples=4), max_in_flight=1,
    )  # fmt: skip
    assert [r.stop_reason for r in results] == ["exhausted", "exhausted"] + ["budget:run-samples"] * 3
    assert all(r.abstained and not r.attempts for r in results[2:])


def test_a_hanging_prover_is_killed_and_never_stalls_the_rest():
    from neurosym.loop._testing import HangingFolTarget

    hang = OUT.replace("Dog(rex)", "Hang(rex)")
    backend = ScriptedBackend(lambda request, i: hang if "p0" in request.messages[-1].content else OUT)
    probs = [Problem(premises=(f"Rex is a dog {p.id}.",), conclusion="Is Rex a dog?", id=p.id) for p in problems(4)]
    started = time.perf_counter()
    results = run_many(
        probs, HangingFolTarget(constrained=False), backend, strategy=Strategy(timeout_s=1.0), max_in_flight=2
    )
    assert [r.attempts[0].status for r in results] == ["timeout", "proved", "proved", "proved"]
    assert results[0].abstained and all(r.answer == "True" for r in results[1:])
    assert time.perf_counter() - started < 60  # the hang (killed at 1 s + 2 s grace) held one worker, not the run


def test_run_prover_budget_skips_the_rest_once_spent():
    def slow_check(target, formalization, timeout_s):
        time.sleep(0.5)
        return target.check(formalization, timeout_s=timeout_s)

    results = run_many(
        problems(4), TARGET, ScriptedBackend(lambda r, i: OUT), run_budget=RunBudget(prover_s=0.8),
        checker=slow_check, max_in_flight=1,
    )  # fmt: skip
    assert [r.stop_reason for r in results] == ["exhausted", "exhausted"] + ["budget:run-prover"] * 2
