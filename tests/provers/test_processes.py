"""neurosym.processes: children in their own session (or a jail), deadlines, killing whole trees, restarts."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from neurosym import processes
from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError
from neurosym.processes import StartFailed, SupervisedProcess

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap (bubblewrap) is not installed")
JAIL = ["bwrap", "--dev-bind", "/", "/", "--unshare-uts", "--hostname", "jailed", "--die-with-parent", "--"]


def pids_in(path: Path, count: int, timeout_s: float = 5.0) -> list[int]:
    """The ``count`` pids a child script writes to ``path``, one a line, once they are all there."""
    stop = time.monotonic() + timeout_s
    while time.monotonic() < stop:
        if path.exists():
            pids = [int(line) for line in path.read_text().split()]
            if len(pids) >= count:
                return pids
        time.sleep(0.02)
    raise AssertionError(f"{path} did not get {count} pids")


# --------------------------------------------------------------------------------------------- spawn, wait


def test_a_child_leads_its_own_session_and_process_group():
    child = processes.spawn(["sleep", "30"])
    try:
        assert os.getsid(child.pid) == os.getpgid(child.pid) == child.pid != os.getpgrp()
    finally:
        assert processes.kill_and_reap(child) == -9


def test_a_command_must_be_a_list_of_strings():
    for bad in ([], ["sleep", 5], [None]):
        with pytest.raises(ConfigurationError, match="non-empty list of strings"):
            processes.spawn(bad)


def test_wait_returns_the_status_or_none_at_the_deadline():
    assert processes.wait(processes.spawn(["sh", "-c", "exit 4"]), Deadline.after(10)) == 4
    child = processes.spawn(["sleep", "30"])
    started = time.monotonic()
    assert processes.wait(child, Deadline.after(0.2)) is None
    assert 0.2 <= time.monotonic() - started < 2
    processes.kill_and_reap(child)


@needs_bwrap
def test_a_jailed_child_runs_inside_the_jail():
    child = processes.spawn(["hostname"], jail=JAIL, stdout=subprocess.PIPE)
    with child.stdout:
        assert child.stdout.read() == b"jailed\n"
    assert child.wait() == 0


@needs_bwrap
def test_a_jail_started_from_a_short_lived_thread_outlives_the_thread():
    # bwrap --die-with-parent ties the jail to the thread that started it: spawn starts jails from
    # one long-lived thread, so the jail lives as long as this process wants it.
    started: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(target=lambda: started.append(processes.spawn(["sleep", "30"], jail=JAIL)))
    thread.start()
    thread.join()
    [child] = started
    assert processes.wait(child, Deadline.after(0.5)) is None  # still running after its thread ended
    assert processes.kill_and_reap(child) == -9


# --------------------------------------------------------------------------------------------- kill_tree


def test_kill_tree_takes_children_in_the_group_in_their_own_session_and_grandchildren(tmp_path):
    pid_file = tmp_path / "pids"
    script = (
        f"sleep 100 & echo $! >> {pid_file}\n"  # in the group
        f"setsid sleep 100 & echo $! >> {pid_file}\n"  # in a session of its own
        f"sh -c 'setsid sleep 100 & echo $! >> {pid_file}; wait' &\n"  # a grandchild in its own session
        "wait\n"
    )
    child = processes.spawn(["sh", "-c", script])
    pids = pids_in(pid_file, 3)
    assert set(pids) <= set(processes.descendants(child.pid))
    assert any(os.getpgid(pid) != child.pid for pid in pids)  # some left the group: killpg alone misses them
    processes.kill_tree(child.pid)
    assert child.wait() == -9
    assert all(processes.has_ended(pid) for pid in pids)


def test_kill_tree_freezes_a_tree_that_keeps_forking(tmp_path):
    # A child that starts a new process every few milliseconds, each in its own session: none may
    # slip out between reading the tree and killing it.
    marker = tmp_path / "forked"
    script = f"for i in $(seq 300); do setsid sleep 100 & echo $! >> {marker}; sleep 0.01; done; wait"
    child = processes.spawn(["sh", "-c", script])
    pids_in(marker, 20)
    processes.kill_tree(child.pid)
    child.wait()
    forked = [int(line) for line in marker.read_text().split()]
    assert len(forked) >= 20
    assert all(processes.has_ended(pid) for pid in forked)


def test_kill_tree_never_signals_the_callers_own_group():
    child = subprocess.Popen(["sleep", "30"])  # not a session of its own: our group
    assert os.getpgid(child.pid) == os.getpgrp()
    processes.kill_tree(child.pid)  # were our group killed, this test would die here
    assert child.wait() == -9
    processes.kill_group(os.getpgrp())  # refused without a word


def test_kill_and_reap_after_the_child_ended_kills_what_it_left_in_its_group(tmp_path):
    child = processes.spawn(["sh", "-c", "sleep 100 & echo $!"], stdout=subprocess.PIPE)
    with child.stdout:
        left_behind = int(child.stdout.readline())
    assert child.wait() == 0
    assert not processes.has_ended(left_behind, within_s=0.05)
    assert processes.kill_and_reap(child) == 0  # the status it ended with
    assert processes.has_ended(left_behind)


# --------------------------------------------------------------------------------------------- run


def test_run_keeps_the_output_and_the_status():
    done = processes.run(["sh", "-c", "echo out; echo err >&2; exit 3"], deadline=Deadline.after(10))
    assert (done.returncode, done.stdout, done.stderr, done.killed) == (3, "out\n", "err\n", False)
    merged = processes.run(["sh", "-c", "echo out; echo err >&2"], deadline=Deadline.after(10), merge_output=True)
    assert sorted(merged.stdout.split()) == ["err", "out"] and merged.stderr == ""


def test_run_kills_the_tree_at_the_deadline_and_keeps_what_was_printed(tmp_path):
    pid_file = tmp_path / "pid"
    script = f"echo started; setsid sleep 100 & echo $! > {pid_file}; wait"
    started = time.monotonic()
    done = processes.run(["sh", "-c", script], deadline=Deadline.after(0.3))
    assert done.killed and done.returncode == -9 and done.stdout == "started\n"
    assert 0.3 <= time.monotonic() - started < 2 and 0.3 <= done.seconds < 2
    assert processes.has_ended(int(pid_file.read_text()))


def test_run_of_a_chatty_child_cannot_block_on_a_full_pipe():
    done = processes.run(["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"], deadline=Deadline.after(20))
    assert not done.killed and len(done.stdout) == 3_000_000


def test_run_of_a_missing_program_is_an_os_error():
    with pytest.raises(OSError):
        processes.run(["neurosym-no-such-program"], deadline=Deadline.after(5))


# --------------------------------------------------------------------------------------------- supervised


ECHO_SERVER = 'echo ready; while read line; do case "$line" in hang) sleep 100;; *) echo "got $line";; esac; done'


def test_a_supervised_process_answers_and_is_restarted_after_it_dies():
    with SupervisedProcess(["sh", "-c", ECHO_SERVER], is_ready=lambda line: line == b"ready") as server:
        assert server.ask(b"one\n", 5) == b"got one" and server.restarts == 0
        first = server.process.pid
        processes.kill_and_reap(server.process)  # as if the OOM killer took it
        assert not server.alive()
        assert server.ask(b"two\n", 5) == b"got two"
        assert server.restarts == 1 and server.process.pid != first


def test_a_supervised_process_that_hangs_is_killed_with_its_children_and_replaced():
    with SupervisedProcess(["sh", "-c", ECHO_SERVER], is_ready=lambda line: line == b"ready") as server:
        server.start()
        pid = server.process.pid
        started = time.monotonic()
        assert server.ask(b"hang\n", 0.3) is None
        assert time.monotonic() - started < 2
        assert processes.has_ended(pid) and server.process is None
        assert server.ask(b"three\n", 5) == b"got three" and server.restarts == 1


def test_a_supervised_process_that_floods_is_broken():
    with SupervisedProcess(["sh", "-c", "head -c 100000 /dev/zero; sleep 100"], max_line_bytes=1000) as server:
        assert server.ask(b"x\n", 5) is None
        assert server.process is None


def test_a_supervised_process_that_does_not_announce_it_is_ready_fails_with_what_it_said():
    failing = SupervisedProcess(["sh", "-c", "echo broken config >&2; echo nope"], is_ready=lambda line: False)
    with pytest.raises(StartFailed, match="broken config"):
        failing.start()
    assert failing.process is None
    silent = SupervisedProcess(["sleep", "100"], is_ready=lambda line: True, start_timeout_s=0.2)
    with pytest.raises(StartFailed, match="no message"):
        silent.start()
    silent.close()
    failing.close()


def test_a_closed_supervised_process_starts_no_more():
    server = SupervisedProcess(["sh", "-c", ECHO_SERVER])
    assert server.ask(b"a\n", 5) == b"ready"  # no is_ready: its first line is an answer like any other
    server.close()
    server.close()  # idempotent
    with pytest.raises(StartFailed, match="closed"):
        server.ask(b"b\n", 5)
    assert "closed" in repr(server)
