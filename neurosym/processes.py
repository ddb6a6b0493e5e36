r"""The child processes neurosym starts (provers, solvers, sandbox jails, pool workers): start, wait, kill, restart.

One module does this for every caller, so that every one of them kills the same way:

- :func:`spawn` starts a child as the leader of its own session (hence of its own process
  group), optionally inside a jail whose command line the caller builds (``bwrap ... --``);
- :func:`wait` waits for it until a :class:`~neurosym.deadlines.Deadline`;
- :func:`kill_tree` kills a live process with everything it started: its process group and every
  descendant found under ``/proc``, even one that moved to a session of its own (as E's runs and
  bubblewrap's jailed init do). Everything is frozen with ``SIGSTOP`` first and the tree is read
  again until it stops growing, so nothing forks its way out during the kill; then everything
  gets ``SIGKILL``. The caller's own process group is never signalled;
- :func:`kill_and_reap` does that to a :class:`subprocess.Popen` and reaps it; :func:`kill_group`
  kills what a reaped child left in its group;
- :func:`run` runs a command to completion before a deadline (output to files, so a chatty child
  never blocks on a full pipe) and kills its tree when the deadline passes;
- :class:`SupervisedProcess` keeps a long-lived child that answers one line per request line,
  started on first use and restarted after it ends (the sandbox's fork servers, proof kernels).

POSIX only. Descendants that left the process group are found through ``/proc``, so outside Linux
only the group is killed.

Example:
    >>> from neurosym.deadlines import Deadline
    >>> finished = run(["sh", "-c", "echo hello; sleep 30"], deadline=Deadline.after(0.3))
    >>> finished.stdout, finished.killed
    ('hello\n', True)

"""

from __future__ import annotations

import collections
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, SolverCrashedError

__all__ = [
    "Finished",
    "StartFailed",
    "SupervisedProcess",
    "descendants",
    "has_ended",
    "kill_and_reap",
    "kill_group",
    "kill_tree",
    "run",
    "spawn",
    "wait",
]

_KILL_WAIT_S = 2.0  # how long kill_tree waits for the processes it killed to end
_TREE_READS = 5  # re-reads of the process table while freezing: a tree still growing after that is a fork bomb

# --------------------------------------------------------------------------------------------- starting

_spawn_thread: ThreadPoolExecutor | None = None
_spawn_lock = threading.Lock()


def _spawner() -> ThreadPoolExecutor:
    global _spawn_thread
    with _spawn_lock:
        if _spawn_thread is None:
            _spawn_thread = ThreadPoolExecutor(1, thread_name_prefix="neurosym-spawner")
        return _spawn_thread


def _forget_spawner_in_child() -> None:
    global _spawn_thread, _spawn_lock
    _spawn_thread, _spawn_lock = None, threading.Lock()  # the parent's spawner thread is not in a forked child


os.register_at_fork(after_in_child=_forget_spawner_in_child)


def spawn(
    argv: Sequence[str],
    *,
    jail: Sequence[str] = (),
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = None,
    stderr: Any = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` as the leader of a new session and process group, inside ``jail`` when one is given.

    ``jail`` is the command line of a jail that runs the command after it (for bubblewrap:
    ``["bwrap", <options>, "--"]``); the child is then started from one long-lived thread,
    because ``bwrap --die-with-parent`` ties the jail's life to the *thread* that started it, not
    to this process. ``stdin``, ``stdout`` and ``stderr`` are as for :class:`subprocess.Popen`;
    file descriptors other than those three are closed in the child.

    Raises:
        ConfigurationError: ``argv`` is empty or holds something other than strings.
        OSError: the program cannot be started (not found, not executable).

    Example:
        >>> child = spawn(["sleep", "30"])
        >>> os.getpgid(child.pid) == os.getsid(child.pid) == child.pid  # it leads its own session and group
        True
        >>> kill_and_reap(child)
        -9

    """
    command = [*jail, *argv]
    if not argv or not all(isinstance(part, str) for part in command):
        raise ConfigurationError(f"a command is a non-empty list of strings, got {command!r}")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            close_fds=True,
            start_new_session=True,  # its own process group: one signal reaches everything it starts
        )

    if jail:
        return _spawner().submit(start).result()
    return start()


def wait(process: subprocess.Popen[Any], deadline: Deadline) -> int | None:
    """The exit status of ``process`` once it ends, or ``None`` if it is still running at ``deadline``.

    Example:
        >>> child = spawn(["sleep", "5"])
        >>> wait(child, Deadline.after(0.05)) is None, kill_and_reap(child)
        (True, -9)

    """
    try:
        return process.wait(timeout=deadline.left())
    except subprocess.TimeoutExpired:
        return None


# --------------------------------------------------------------------------------------------- killing


def has_ended(pid: int, *, within_s: float = 1.0) -> bool:
    """Whether process ``pid`` has ended (is gone, or a zombie nobody reaped yet) within ``within_s`` seconds.

    Returns as soon as it has; for a process that keeps running it takes ``within_s`` (a process
    sent SIGKILL needs a moment to die).

    Example:
        >>> child = spawn(["sleep", "30"])
        >>> has_ended(child.pid, within_s=0.05)
        False
        >>> kill_tree(child.pid); has_ended(child.pid)  # a zombie until waited for
        True
        >>> child.wait()
        -9

    """
    stop = time.monotonic() + within_s
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                ended = handle.read().rpartition(b")")[2].split()[:1] in ([b"Z"], [b"X"])
        except FileNotFoundError:
            return True
        except OSError:  # no /proc (not Linux): ask the kernel; a zombie counts as running there
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
            ended = False
        if ended:
            return True
        if time.monotonic() >= stop:
            return False
        time.sleep(0.02)


def _process_table() -> dict[int, tuple[int, int]]:
    """``pid -> (ppid, pgrp)`` for every process under ``/proc``; empty where there is no ``/proc``."""
    table: dict[int, tuple[int, int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # it exited meanwhile
            continue
        # "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses, so split at the last ")".
        fields = stat.rpartition(b")")[2].split()
        if len(fields) >= 3:
            table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def descendants(root: int) -> dict[int, int]:
    """``pid -> process group`` for every descendant of process ``root`` alive now (found under ``/proc``).

    Example:
        >>> child = spawn(["sh", "-c", "sleep 5 & wait"])
        >>> time.sleep(0.2); len(descendants(child.pid))
        1
        >>> kill_and_reap(child)
        -9

    """
    children: dict[int, list[int]] = collections.defaultdict(list)
    table = _process_table()
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    found: dict[int, int] = {}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found[child] = table[child][1]
                stack.append(child)
    return found


def _signal(pid: int, sig: int, *, group: bool) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):  # gone already (a zombie's group may refuse signals)
        pass


def kill_tree(pid: int) -> None:
    """SIGKILL process ``pid``, its process group and every descendant, wherever their group is.

    ``pid`` must not have been reaped yet (a zombie is fine): the id of a reaped process may
    already belong to a stranger. Everything is stopped first and the tree read again until it
    stops growing, so a process that forks meanwhile cannot slip out. A group is killed only when
    ``pid`` or one of its descendants leads it, and never the caller's own group. Returns once the
    killed processes have ended (are gone or zombies), or after 2 s.

    Example:
        >>> child = spawn(["sh", "-c", "sleep 30 & wait"])
        >>> time.sleep(0.2); [grandchild] = descendants(child.pid)
        >>> kill_tree(child.pid); child.wait()
        -9
        >>> has_ended(grandchild)
        True

    """
    own_group = os.getpgrp()
    if pid != own_group:
        _signal(pid, signal.SIGSTOP, group=True)
    _signal(pid, signal.SIGSTOP, group=False)
    seen: dict[int, int] = {}
    for _ in range(_TREE_READS):
        found = descendants(pid)
        fresh = found.keys() - seen.keys()
        for child in fresh:
            _signal(child, signal.SIGSTOP, group=False)
        seen.update(found)
        if not fresh:
            break
    groups = {pid} | {group for child, group in seen.items() if group == child or group in seen}
    groups.discard(own_group)
    for group in groups:
        _signal(group, signal.SIGKILL, group=True)
    for child in [pid, *seen]:
        _signal(child, signal.SIGKILL, group=False)
    # SIGKILL is delivered asynchronously: wait until the tree has ended, so a caller told "killed" sees it gone.
    deadline = time.monotonic() + _KILL_WAIT_S
    for child in [pid, *seen]:
        has_ended(child, within_s=max(0.0, deadline - time.monotonic()))


def kill_group(pgid: int) -> None:
    """SIGKILL the process group ``pgid``: what a child that led it left behind (it need not be alive).

    Safe after the leader was reaped: Linux does not reuse an id while a process group holds it.
    The caller's own group is never signalled.

    Example:
        >>> child = spawn(["sh", "-c", "sleep 30 & echo $!"], stdout=subprocess.PIPE)
        >>> with child.stdout:
        ...     left_behind = int(child.stdout.readline())
        >>> child.wait()
        0
        >>> kill_group(child.pid); has_ended(left_behind)
        True

    """
    if pgid != os.getpgrp():
        _signal(pgid, signal.SIGKILL, group=True)


def kill_and_reap(process: subprocess.Popen[Any]) -> int:
    """Kill ``process`` with its whole tree (see :func:`kill_tree`), reap it and return its exit status.

    Also for a process that has ended or was reaped already: then only its group (what it left
    behind) is killed. Closes nothing: the caller owns the pipes.

    Example:
        >>> kill_and_reap(spawn(["sleep", "30"]))
        -9

    """
    if process.poll() is None:  # alive, or a zombie not reaped by poll(): its id is still its own
        kill_tree(process.pid)
    returncode = process.wait()
    kill_group(process.pid)  # a child it started and never waited for stays in its group
    return returncode


# --------------------------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class Finished:
    """How a command run by :func:`run` ended.

    Attributes:
        returncode: its exit status (negative: the signal that ended it).
        stdout, stderr: what it wrote, decoded as UTF-8 (bad bytes replaced); with
            ``merge_output`` everything is in ``stdout``.
        killed: the deadline passed and its tree was killed.
        seconds: wall time from start to reaping.

    """

    returncode: int
    stdout: str
    stderr: str
    killed: bool
    seconds: float


def _read_all(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def run(
    argv: Sequence[str],
    *,
    deadline: Deadline,
    jail: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    merge_output: bool = False,
) -> Finished:
    r"""Run ``argv`` to completion, or kill its whole tree when ``deadline`` passes; what it printed is kept.

    Output goes to temporary files, not pipes, so a child that prints a lot never blocks, and a
    killed child's output up to the kill is still there. Whatever the child left running in its
    process group is killed too. An interrupt (Ctrl-C) while waiting kills the tree before it
    propagates.

    Raises:
        OSError: the program cannot be started.

    Example:
        >>> done = run(["sh", "-c", "echo out; echo err >&2; exit 2"], deadline=Deadline.after(10))
        >>> done.returncode, done.stdout, done.stderr, done.killed
        (2, 'out\n', 'err\n', False)

    """
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = spawn(
            argv, jail=jail, stdout=out, stderr=subprocess.STDOUT if merge_output else err, env=env, cwd=cwd
        )
        killed = False
        try:
            returncode = wait(process, deadline)
            if returncode is None:
                killed = True
                returncode = kill_and_reap(process)
            else:
                kill_group(process.pid)
        finally:
            if process.returncode is None:  # interrupted while waiting
                kill_and_reap(process)
        return Finished(returncode, _read_all(out), _read_all(err), killed, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------- supervising


class StartFailed(SolverCrashedError):
    """A supervised process did not start or did not announce that it was ready; the message says what it printed."""


class SupervisedProcess:
    r"""A long-lived child spoken to one line at a time: started on first use, restarted after it ends.

    Args:
        argv, jail, env: the command, as for :func:`spawn`.
        is_ready: reads the first line the child prints and says whether it started well;
            ``None``: the child serves as soon as it runs.
        start_timeout_s: how long the child may take to print that line.
        max_line_bytes: the longest line read from it; a child that writes more is broken.

    :meth:`ask` sends a line and reads the answer; a child that died, hung past the wait, or
    broke the line limit is killed with its whole tree, and the next :meth:`ask` (or
    :meth:`start`) starts a new one: :attr:`restarts` counts those. Its stderr goes to a file,
    read by :meth:`stderr_text`. Not thread-safe: one caller at a time.

    Example:
        >>> echo = SupervisedProcess(["sh", "-c", "echo ready; while read line; do echo \"got $line\"; done"],
        ...                          is_ready=lambda line: line == b"ready")
        >>> echo.ask(b"one\n", 5), echo.restarts
        (b'got one', 0)
        >>> echo.kill()  # as if it had crashed: the next question starts a new one
        >>> echo.ask(b"two\n", 5), echo.restarts
        (b'got two', 1)
        >>> echo.close()

    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        jail: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        is_ready: Callable[[bytes], bool] | None = None,
        start_timeout_s: float = 60.0,
        max_line_bytes: int = 4 << 20,
    ) -> None:
        self.argv = list(argv)
        self.jail = list(jail)
        self.env = dict(env) if env is not None else None
        self.is_ready = is_ready
        self.start_timeout_s = start_timeout_s
        self.max_line_bytes = max_line_bytes
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stderr: IO[bytes] | None = None
        self._buffer = b""
        self._closed = False

    @property
    def restarts(self) -> int:
        """How many children were started to replace one that ended (crashed, hung or was killed)."""
        return max(0, self.starts - 1)

    def alive(self) -> bool:
        """Whether a child is running now."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> subprocess.Popen[bytes]:
        """The running child; a new one (replacing one that ended) when none runs.

        Raises:
            StartFailed: the child did not announce it was ready within ``start_timeout_s``
                (it is killed; the message holds what it wrote on stderr), or this was closed.
            OSError: the program cannot be started.

        """
        if self._closed:
            raise StartFailed("the process was closed")
        if self.process is not None and self.process.poll() is None:
            return self.process
        self.kill()
        if self._stderr is not None:
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()
        self._buffer = b""
        self.starts += 1
        self.process = spawn(
            self.argv, jail=self.jail, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=self.env
        )
        if self.is_ready is not None:
            line = self.read_line(Deadline.after(self.start_timeout_s))
            try:
                ready = line is not None and self.is_ready(line)
            except Exception:  # a checker that cannot read the line: not ready either
                ready = False
            if not ready:
                message = self.stderr_text() or "no message"
                self.kill()
                raise StartFailed(message)
        return self.process

    def read_line(self, deadline: Deadline) -> bytes | None:
        """The next line, without its newline; ``None`` if the child ended, was silent until ``deadline`` or flooded."""
        if self.process is None or self.process.stdout is None:
            return None
        stdout = self.process.stdout
        while b"\n" not in self._buffer:
            if len(self._buffer) > self.max_line_bytes:
                return None
            left = deadline.left()
            if left <= 0 or not select.select([stdout], [], [], left)[0]:
                return None
            chunk = os.read(stdout.fileno(), 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > self.max_line_bytes:
            return None
        return line

    def ask(self, line: bytes, wait_s: float) -> bytes | None:
        """Send ``line`` (ending in a newline) and return the answer line, or ``None`` after killing a broken child.

        Starts a child first when none runs (see :meth:`start` for what that raises).
        """
        process = self.start()
        assert process.stdin is not None
        try:
            process.stdin.write(line)
            process.stdin.flush()
        except OSError:  # it died: a closed pipe
            self.kill()
            return None
        answer = self.read_line(Deadline.after(wait_s))
        if answer is None:
            self.kill()
        return answer

    def stderr_text(self, limit: int = 2000) -> str:
        """The last ``limit`` characters the current (or last) child wrote on stderr."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-limit:].decode("utf-8", "replace").strip()

    def kill(self) -> None:
        """Kill the child with its whole tree and reap it (nothing happens without one); the next use restarts."""
        process, self.process = self.process, None
        if process is None:
            return
        kill_and_reap(process)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def close(self) -> None:
        """Kill the child and refuse to start another (idempotent)."""
        self._closed = True
        self.kill()
        if self._stderr is not None:
            self._stderr.close()

    def __enter__(self) -> SupervisedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self.alive() else "stopped"
        return f"SupervisedProcess({self.argv[0]!r}, {state}, restarts={self.restarts})"
