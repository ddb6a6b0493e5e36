"""ProverPool: real check_fol calls, a prover that hangs, one that crashes, recycling, shutdown.

The misbehaving provers live in ``neurosym.loop._testing``: the pool's forkserver workers import a
task's function by module name, and this module (loaded with ``--import-mode=importlib``) cannot
be imported that way.
"""

import os
import signal
import time
from pathlib import Path

import pytest

from neurosym.errors import ConfigurationError, SolverCrashedError
from neurosym.loop import _testing as helpers
from neurosym.loop.pool import ProverPool
from neurosym.targets.fol.check import check_fol
from neurosym.types import Formalization

GRACE_S = 0.25


def alive(pid):
    """True while ``pid`` runs; a zombie nobody has reaped yet counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(predicate, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def our_children():
    """Child processes of this test process, apart from multiprocessing's own helpers."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) != os.getpid() or fields[0] == "Z":
            continue
        if b"forkserver" in cmdline or b"resource_tracker" in cmdline:
            continue
        found.add(int(entry))
    return found


@pytest.fixture(scope="module")
def pool():
    with ProverPool(workers=2, grace_s=GRACE_S) as shared:
        yield shared


def test_real_fol_problems_through_the_pool(pool):
    problems = [
        (["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)"),
        (["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "¬Mortal(socrates)"),
        (["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Happy(socrates)"),
        (["P(a) ∧"], "P(a)"),
    ]
    verdicts = pool.map(check_fol, problems, timeout_s=10, timeout=10)
    assert [v.status for v in verdicts] == ["proved", "disproved", "uncertain", "invalid"]
    assert [v.answer.value for v in verdicts[:3]] == ["True", "False", "Uncertain"]
    assert verdicts[0].certificate.indices == (0, 1)
    assert verdicts[2].certificate.conclusion_false.domain  # the countermodels survive the trip
    direct = check_fol(*problems[0])
    assert (verdicts[0].status, verdicts[0].certificate) == (direct.status, direct.certificate)


def test_map_keeps_the_order(pool):
    verdicts = pool.map(helpers.quick, [(str(i),) for i in range(12)], timeout_s=5)
    assert [v.message for v in verdicts] == [str(i) for i in range(12)]


def test_a_hanging_prover_times_out_and_never_stalls_the_rest(pool):
    started = time.monotonic()
    hung = pool.submit(helpers.hang, timeout_s=1.0)
    quick = [pool.submit(helpers.quick, str(i), timeout_s=5) for i in range(20)]
    assert [f.result(timeout=5).message for f in quick] == [str(i) for i in range(20)]
    quick_wall = time.monotonic() - started
    assert quick_wall < 0.9, quick_wall  # served by the other worker while the first one hangs
    assert not hung.done()
    verdict = hung.result(timeout=10)
    took = time.monotonic() - started
    assert verdict.status == "timeout"
    assert verdict.prover == "hang"
    assert "did not finish within 1 s" in verdict.message
    assert 1.0 + GRACE_S <= verdict.elapsed_s < 1.0 + GRACE_S + 0.5
    assert took < 1.0 + GRACE_S + 1.0, took
    assert not alive(verdict.details["pid"])
    assert pool.submit(helpers.quick, "after", timeout_s=5).result(timeout=10).message == "after"


@pytest.mark.parametrize("new_session", [False, True], ids=["child-in-group", "child-in-own-session"])
def test_a_timeout_kills_the_provers_children(pool, tmp_path, new_session):
    pid_file = tmp_path / "child.pid"
    # 3 s, not less: on loaded cores the deadline could otherwise kill the child before it is seen alive.
    future = pool.submit(helpers.hang_with_child, str(pid_file), new_session=new_session, timeout_s=3.0)
    assert wait_for(pid_file.exists)
    child = int(pid_file.read_text())
    assert alive(child)
    verdict = future.result(timeout=10)
    assert verdict.status == "timeout"
    assert not alive(child)  # gone by the time the verdict is out, not eventually
    assert not alive(verdict.details["pid"])


def test_a_crashing_worker_gives_unknown_and_is_replaced(pool):
    verdict = pool.submit(helpers.exit_now, 3, timeout_s=5).result(timeout=10)
    assert verdict.status == "unknown"
    assert "exited with code 3" in verdict.message
    assert verdict.details["exitcode"] == 3
    assert verdict.prover == "exit_now"
    segfault = pool.submit(helpers.kill_self, signal.SIGSEGV, timeout_s=5).result(timeout=10)
    assert segfault.status == "unknown"
    assert "SIGSEGV" in segfault.message
    assert segfault.details["signal"] == "SIGSEGV"
    assert pool.map(helpers.quick, [("a",), ("b",), ("c",)], timeout_s=5)[2].message == "c"
    assert len(pool.worker_pids) == 2


def test_exceptions_become_verdicts_and_usage_errors_propagate(pool):
    verdict = pool.submit(helpers.raise_error, timeout_s=5).result(timeout=10)
    assert verdict.status == "unknown"
    assert verdict.message == "ValueError: boom"
    assert "raise ValueError" in verdict.details["traceback"]
    with pytest.raises(ConfigurationError, match="bad option"):
        pool.submit(helpers.raise_error, "configuration", timeout_s=5).result(timeout=10)
    with pytest.raises(ConfigurationError, match="returned int, not a Verdict"):
        pool.submit(helpers.not_a_verdict, timeout_s=5).result(timeout=10)
    with pytest.raises(ConfigurationError, match="timeout must be a finite number of seconds greater than 0"):
        pool.submit(check_fol, ["P(a)"], "P(a)", timeout=0, timeout_s=5).result(timeout=10)


def test_submit_checks_its_arguments(pool):
    with pytest.raises(ConfigurationError, match="must pickle"):
        pool.submit(lambda: None, timeout_s=1)
    with pytest.raises(ConfigurationError, match="timeout_s"):
        pool.submit(helpers.quick, timeout_s=0)
    with pytest.raises(ConfigurationError, match="fork"):
        ProverPool(1, start_method="fork")
    with pytest.raises(ConfigurationError, match="workers"):
        ProverPool(0)


def test_fifty_calls_in_a_row_with_recycled_workers():
    with ProverPool(workers=2, max_tasks_per_worker=5, preload=(), warmup=None) as pool:
        pids = set()
        for i in range(50):
            verdict = pool.submit(helpers.quick, str(i), timeout_s=5).result(timeout=10)
            assert verdict.message == str(i)
            pids.add(verdict.details["pid"])
        stats = pool.stats
    assert len(pids) == 10  # each worker served exactly 5 calls
    assert stats["recycled"] == 10
    assert stats["completed"] == 50
    assert not any(alive(pid) for pid in pids)


def test_memory_limit_turns_a_memory_hog_into_a_verdict():
    with ProverPool(workers=1, memory_limit_mb=512, grace_s=GRACE_S) as pool:
        hog = pool.submit(helpers.allocate, 2048, timeout_s=5).result(timeout=10)
        small = pool.submit(helpers.allocate, 16, timeout_s=5).result(timeout=10)
        fol = pool.submit(check_fol, ["P(a)"], "P(a)", timeout=5, timeout_s=5).result(timeout=10)
        assert pool.stats["recycled"] == 1  # a worker that ran out of memory is replaced
    assert hog.status == "unknown"
    assert hog.message.startswith("MemoryError")
    assert small.message == "allocated 16 MB"
    assert fol.status == "proved"


def test_a_pool_that_cannot_start_workers_raises_solver_crashed():
    with ProverPool(workers=1, preload=("neurosym_no_such_module",), warmup=None) as pool:
        with pytest.raises(SolverCrashedError, match="neurosym_no_such_module"):
            pool.submit(helpers.quick, timeout_s=5).result(timeout=30)
        with pytest.raises(SolverCrashedError):
            pool.submit(helpers.quick, timeout_s=5)
    assert pool.worker_pids == []


def test_close_leaves_no_processes_behind(tmp_path):
    before = our_children()
    pool = ProverPool(workers=2, grace_s=GRACE_S)
    assert pool.submit(helpers.quick, timeout_s=5).result(timeout=10).status == "proved"
    workers = pool.worker_pids
    pool.close()
    assert not any(alive(pid) for pid in workers)
    assert our_children() <= before
    with pytest.raises(ConfigurationError, match="closed"):
        pool.submit(helpers.quick, timeout_s=5)
    pool.close()  # a second close does nothing


def test_close_with_cancel_kills_running_calls(tmp_path):
    pid_file = tmp_path / "child.pid"
    pool = ProverPool(workers=1, grace_s=GRACE_S, preload=(), warmup=None)
    running = pool.submit(helpers.hang_with_child, str(pid_file), new_session=True, timeout_s=60)
    queued = pool.submit(helpers.quick, timeout_s=5)
    assert wait_for(pid_file.exists)
    child = int(pid_file.read_text())
    workers = pool.worker_pids
    started = time.monotonic()
    pool.close(cancel=True)
    assert time.monotonic() - started < 2
    assert queued.cancelled()
    verdict = running.result(timeout=1)
    assert verdict.status == "unknown"
    assert "closed" in verdict.message
    assert not alive(child)
    assert not any(alive(pid) for pid in workers)


def test_the_test_target_checks_through_the_pool_and_its_prover_keeps_its_own_time_limit():
    with ProverPool(workers=1, grace_s=GRACE_S, preload=(), warmup=None) as pool:
        target = helpers.EchoTarget()
        computed = pool.check(target, Formalization("echo", "12"), 5.0)
        hung = pool.check(target, Formalization("echo", "hang"), 0.5)
        assert (computed.status, computed.answer.value) == ("computed", 12.0)
        # The prover honoured its time limit, so its own verdict came back before the pool's grace ran out.
        assert hung.status == "timeout" and hung.prover == "scripted" and hung.message == "hung until the time limit"
        assert pool.stats["timeouts"] == 0
