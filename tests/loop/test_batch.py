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
