"""The checks on a real local Ray cluster (2 CPUs): the same rows and tables as a local run, deadlines kept."""

import time

import pytest

from neurosym.bench.ray_executor import RayExecutor
from neurosym.bench.runner import run_bench
from neurosym.errors import ConfigurationError
from neurosym.loop.batch import LocalExecutor, run_many
from neurosym.loop.refine import Strategy, check_inline
from neurosym.targets.fol import FolTarget
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem

ANSWER_FIELDS = ("item", "dataset", "strategy", "label", "answer", "samples", "tokens", "votes", "first_k",
                 "sample_statuses", "repair_statuses", "repairs_answered", "repairs_repeated")  # fmt: skip


def answers(rows):
    """What the rows say about the model and the verdicts (the timings differ from run to run)."""
    return [{k: getattr(r, k) for k in ANSWER_FIELDS} for r in rows]


def without_times(markdown):
    return [line for line in markdown.splitlines() if not line.startswith("Items recorded")]


OUT = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"


def _problems(n):
    return [Problem(premises=(f"Rex is a dog {i}.",), conclusion="Is Rex a dog?", id=f"p{i}") for i in range(n)]


@pytest.mark.parametrize(("name", "items"), [("logic_loop", "0:6"), ("nl4opt_loop", "0:4"), ("gsm8k_loop", "0:4")])
def test_a_replay_with_the_checks_on_ray_gives_the_local_table(
    local_ray, shared_data, cassettes, tmp_path, name, items
):
    local = run_bench(name, items=items, out=tmp_path / "local", write_plot=False, log=lambda line: None)
    executor = RayExecutor()
    on_ray = run_bench(name, items=items, out=tmp_path / "ray", write_plot=False, log=lambda line: None,
                       executor=executor)  # fmt: skip
    assert answers(on_ray.rows) == answers(local.rows)
    assert without_times(on_ray.markdown) == without_times(local.markdown)
    assert executor.stats["checks"] > 0 and executor.stats["timeouts"] == 0
    assert on_ray.run["executor"]["cluster_cpus"] == 2 and on_ray.run["executor"]["max_in_flight"] == 4
    assert local_ray.is_initialized()  # a cluster it did not start is left running


def test_run_many_spreads_problems_over_ray_with_the_local_results(local_ray):
    backend = ScriptedBackend(lambda request, index: OUT)
    strategy = Strategy.vote(3)
    on_ray = run_many(_problems(6), FolTarget(constrained=False), backend, strategy=strategy, executor=RayExecutor())
    local = run_many(_problems(6), FolTarget(constrained=False), backend, strategy=strategy,
                     executor=LocalExecutor(1, workers=0))  # fmt: skip
    assert [(r.problem_id, r.answer, r.votes) for r in on_ray] == [(r.problem_id, r.answer, r.votes) for r in local]
    assert all(r.answer == "True" for r in on_ray)


def test_a_check_past_its_deadline_is_cancelled_and_the_rest_go_on(local_ray):
    from neurosym.loop._testing import HangingFolTarget

    hang = OUT.replace("Dog(rex)", "Hang(rex)")
    backend = ScriptedBackend(lambda request, i: hang if "dog 0." in request.messages[-1].content else OUT)
    started = time.perf_counter()
    results = run_many(_problems(3), HangingFolTarget(constrained=False), backend, strategy=Strategy(timeout_s=1.0),
                       executor=RayExecutor(grace_s=1.0))  # fmt: skip
    assert [r.attempts[0].status for r in results] == ["timeout", "proved", "proved"]
    assert "Ray cluster" in results[0].attempts[0].verdict.message
    assert time.perf_counter() - started < 60


def test_an_executor_replaces_checker_and_in_flight():
    with pytest.raises(ConfigurationError, match="not both"):
        run_many(_problems(1), FolTarget(constrained=False), ScriptedBackend([OUT]), checker=check_inline,
                 executor=LocalExecutor(1, workers=0))  # fmt: skip
    with pytest.raises(ConfigurationError, match="max_in_flight=1"):
        LocalExecutor(2, workers=0)
