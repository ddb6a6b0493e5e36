r"""A sandbox for untrusted Python: model-written programs run here, never in neurosym's process.

Each :class:`Sandbox` keeps a few fork servers, each inside its own `bubblewrap
<https://github.com/containers/bubblewrap>`_ jail:

- its own network namespace (no interfaces but a loopback that is down), PID, IPC, UTS and user
  namespaces; the process has no capabilities and cannot gain any;
- a read-only view of the Python installation and the packages it may import (SymPy, mpmath)
  at neutral paths (``/opt/python``, ``/opt/site``) and nothing else of the host: no home
  directories, no ``/etc`` but the loader cache, no project files, no ``/proc`` or ``/sys``; the
  only writable place is a private ``/tmp`` (a size-capped tmpfs, emptied after every
  execution whatever a program did to its permissions);
- a scrubbed environment (``PATH``, ``HOME=/tmp``, ``LANG``).

The server is the jail's init (``bwrap --as-pid-1``: no other process lives there), is not
dumpable and runs under a seccomp filter itself. It imports SymPy once and forks a child per
execution, so every execution starts from the same pristine state. The child gets CPU-time,
address-space, file-size and process-count limits, a stricter seccomp filter (no ``execve``, no
new processes but threads, no signals, priorities or limits aimed at another process, no
``ptrace``, ``mount``, ``unshare``...), its stdout and stderr capped, and a wall-clock deadline
after which it is killed and every stray process of the jail is swept. The result comes back as
JSON over a pipe, and both the server and this process read it strictly (see
:mod:`neurosym.sandbox._protocol`): what the program may say is only what it returned or raised;
times, output and the status are measured.

Needs Linux with ``bwrap`` (Debian/Ubuntu package ``bubblewrap``, with ``--as-pid-1``) and
``libseccomp``; without them :class:`Sandbox` raises :class:`SandboxUnavailable` with what to
install.

Example:
    >>> with Sandbox() as box:
    ...     run = box.run("def solution():\n    return 6 * 7\n")
    >>> run.status, run.number
    ('ok', 42.0)

"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import math
import numbers
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from neurosym.deadlines import check_seconds
from neurosym.errors import ConfigurationError, NeurosymError
from neurosym.sandbox import _protocol as protocol
from neurosym.sandbox._jail import bwrap_command

__all__ = ["Execution", "Limits", "Sandbox", "SandboxUnavailable", "default_sandbox", "sandbox_problem"]

ExecutionStatus = Literal["ok", "error", "timeout", "memory", "output_limit", "crashed"]

START_TIMEOUT_S = 60.0
GRACE_S = 5.0
"""Seconds the client waits past an execution's wall limit before it declares the server dead.

The server itself kills a program at its wall limit and answers at once; this only covers a
server that died or hung."""
MAX_CODE_CHARS = 200_000


class SandboxUnavailable(NeurosymError):
    """The sandbox cannot run on this machine (no bubblewrap, no user namespaces, no libseccomp)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits for one execution.

    Attributes:
        wall_s: wall-clock seconds before the process group is killed.
        cpu_s: CPU seconds (rounded up to a whole second: the kernel counts in seconds).
        memory_mb: address space, in MiB; the server with SymPy loaded takes about 55 of it.
        file_mb: the largest file the program may write, in MiB (the whole /tmp is capped at
            four times this).
        output_bytes: stdout and stderr kept, each; a program that writes 64 times more is killed.

    Example:
        >>> Limits(wall_s=2).cpu_s
        10.0
        >>> Limits(wall_s=float("nan"))
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: wall_s must be a finite number of seconds greater than 0, got nan

    """

    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_mb: int = 1024
    file_mb: int = 16
    output_bytes: int = 65_536

    def __post_init__(self) -> None:
        check_seconds(self.wall_s, "wall_s")
        check_seconds(self.cpu_s, "cpu_s")
        for name in ("memory_mb", "file_mb", "output_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < value < 1 << 31:
                raise ConfigurationError(f"{name} must be a whole number greater than 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Execution:
    """What one run of a program in the sandbox gave.

    Attributes:
        status: ``ok`` (the call returned), ``error`` (it raised: see ``exception``,
            ``traceback``), ``timeout`` (wall or CPU limit), ``memory`` (MemoryError at the
            address-space limit), ``output_limit`` (wrote far past the cap), ``crashed`` (died of
            a signal, or the sandbox itself failed: see ``message``).
        value: the returned value described as JSON: ``type`` (``int``, ``float``,
            ``rational``, ``sympy``, ``str``, ``bool``, ``none``, ``list``...), ``text`` (exact),
            ``float`` (its value as a float when it is a finite real number).

    Example:
        >>> Execution("ok", value={"type": "rational", "text": "1/3", "float": 1 / 3}).number
        0.3333333333333333

    """

    status: ExecutionStatus
    value: dict[str, Any] | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    exception: str | None = None
    message: str = ""
    traceback: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the program ran and its call returned."""
        return self.status == "ok"

    @property
    def number(self) -> float | None:
        """The returned value as a finite float, when it is a real number (not a bool)."""
        if not self.ok or not self.value or self.value.get("type") in ("bool", "str", "none", "list"):
            return None
        number = self.value.get("float")
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            return None
        try:
            number = float(number)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def _execution(response: object, *, output_chars: int = protocol.MAX_OUTPUT_CHARS) -> Execution:
    """The Execution a server's response describes; a response that breaks the protocol is a crash.

    Never raises: every field is checked (types, finite numbers, sizes) and unknown ones dropped.

    Example:
        >>> _execution({"status": "ok", "value": {"type": "int", "text": "3", "float": 3}, "wall_s": 0.01}).number
        3.0
        >>> _execution({"status": "ok", "value": [1, 2]}).message
        'the sandbox answered a malformed response: value must be an object, got list'

    """
    return _checked_execution(response, output_chars)[0]


def _checked_execution(response: object, output_chars: int) -> tuple[Execution, bool]:
    """The Execution, and whether the response kept to the protocol."""
    try:
        return Execution(**protocol.clean_response(response, output_chars=output_chars)), True
    except protocol.Malformed as exc:
        return Execution("crashed", message=f"the sandbox answered a malformed response: {exc}"), False


def sandbox_problem() -> str | None:
    """Why this machine cannot run the sandbox, or ``None`` when it can (no process is started).

    Example:
        >>> sandbox_problem() is None or isinstance(sandbox_problem(), str)
        True

    """
    if not sys.platform.startswith("linux"):
        return "the sandbox needs Linux (bubblewrap namespaces and seccomp)"
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if not _bwrap_has_as_pid_1():
        return "this bwrap is too old: it has no --as-pid-1 (install a newer bubblewrap)"
    if importlib.util.find_spec("pyseccomp") is None:
        return "the Python package pyseccomp is missing (pip install pyseccomp)"
    import ctypes.util

    if ctypes.util.find_library("seccomp") is None:
        return "libseccomp is missing (Debian/Ubuntu: apt-get install libseccomp2)"
    return None


@functools.lru_cache(maxsize=1)
def _bwrap_has_as_pid_1() -> bool:
    # Without --as-pid-1 bwrap's own init would share the jail: dumpable, unfiltered, writable.
    try:
        shown = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--as-pid-1" in shown.stdout + shown.stderr


_JAIL_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
_spawn_thread: ThreadPoolExecutor | None = None
_spawn_lock = threading.Lock()


def _spawner() -> ThreadPoolExecutor:
    global _spawn_thread
    with _spawn_lock:
        if _spawn_thread is None:
            _spawn_thread = ThreadPoolExecutor(1, thread_name_prefix="neurosym-sandbox-spawner")
        return _spawn_thread


class _Server:
    """One fork server in its own jail, spoken to over JSON lines."""

    def __init__(self, limits: Limits) -> None:
        self._stderr = tempfile.TemporaryFile()
        self._buffer = b""
        # bwrap's --die-with-parent fires when the *thread* that started it ends, so every server
        # is started from one long-lived thread, not from whichever worker thread needs it.
        self.process = (
            _spawner()
            .submit(
                subprocess.Popen,
                bwrap_command(limits),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,
                close_fds=True,
                env=_JAIL_ENVIRONMENT,  # bwrap itself sees no more of our environment than this
            )
            .result()
        )
        ready = self._read_line(time.monotonic() + START_TIMEOUT_S)
        try:
            started = ready is not None and protocol.loads(ready) == {"ready": True}
        except protocol.Malformed:
            started = False
        if not started:
            message = self.stderr_text() or "no message"
            self.kill()
            raise SandboxUnavailable(f"the sandbox did not start: {message}")

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].decode("utf-8", "replace").strip()

    def _read_line(self, deadline: float) -> bytes | None:
        stdout = self.process.stdout
        assert stdout is not None
        while b"\n" not in self._buffer:
            if len(self._buffer) > protocol.MAX_JSON_BYTES:  # a server that floods us is a broken one
                return None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stdout], [], [], left)[0]:
                return None
            chunk = os.read(stdout.fileno(), 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def ask(self, request: dict[str, Any], wait_s: float) -> object:
        """Send a request; the parsed response (not yet checked), or ``None`` when the server died or hung."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(protocol.dumps(request))
            stdin.flush()
        except OSError:
            return None
        line = self._read_line(time.monotonic() + wait_s)
        if line is None:
            return None
        try:
            return protocol.loads(line)
        except protocol.Malformed:
            return None

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()


class Sandbox:
    r"""Run untrusted Python in jailed fork servers (see the module docstring for the isolation).

    Args:
        workers: fork servers, hence executions that can run at once (default 1).
        limits: default limits for each execution.

    Thread-safe: :meth:`run` from several threads uses the servers in parallel.

    Example:
        >>> with Sandbox(limits=Limits(wall_s=2)) as box:
        ...     box.run("def solution():\n    while True: pass\n").status
        'timeout'

    """

    def __init__(self, workers: int = 1, limits: Limits | None = None) -> None:
        problem = sandbox_problem()
        if problem is not None:
            raise SandboxUnavailable(problem)
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.limits = limits or Limits()
        self._servers: list[_Server | None] = [None] * workers
        self._free = list(range(workers))
        self._lock = threading.Condition()
        self._closed = False
        self.restarts = 0

    def start(self) -> Sandbox:
        """Start every server now (in parallel) instead of at first use; returns ``self``."""
        with ThreadPoolExecutor(self.workers) as pool:
            servers = list(pool.map(lambda _: _Server(self.limits), range(self.workers)))
        with self._lock:
            for slot, server in enumerate(servers):
                old, self._servers[slot] = self._servers[slot], server
                if old is not None:
                    old.kill()
        return self

    def run(self, code: str, *, call: str | None = "solution", limits: Limits | None = None) -> Execution:
        r"""Execute ``code``, then call the function ``call`` (``None``: just execute) and return what it gave.

        Example:
            >>> with Sandbox() as box:
            ...     box.run("def solution():\n    return 1 / 0\n").exception
            'ZeroDivisionError'

        """
        if len(code) > MAX_CODE_CHARS:
            return Execution(
                "error", exception="ValueError", message=f"the program is longer than {MAX_CODE_CHARS:,} characters"
            )
        return self._submit({"code": code, "call": call}, limits or self.limits)

    def map(
        self, codes: Sequence[str], *, call: str | None = "solution", limits: Limits | None = None
    ) -> list[Execution]:
        r"""Run many programs, ``workers`` at a time, in order.

        Example:
            >>> with Sandbox(workers=2) as box:
            ...     [r.number for r in box.map([f"def solution():\n    return {i}\n" for i in range(3)])]
            [0.0, 1.0, 2.0]

        """
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda code: self.run(code, call=call, limits=limits), codes))

    def sympy_equal(self, a: str, b: str, *, limits: Limits | None = None) -> bool | None:
        """Whether two expressions are equal by SymPy (``simplify(a - b) == 0``), decided in the sandbox.

        The expressions are data, never code: only numbers, names, arithmetic and calls of the
        functions in :data:`neurosym.sandbox._protocol.EXPRESSION_FUNCTIONS` are read, and the
        SymPy expression is built from their syntax tree (SymPy's own parser would ``eval`` them,
        and code run in the child could write any verdict on its result channel). The child
        that compares them runs no code of theirs, in the sandbox still, because ``simplify``
        may take any time or memory. ``None`` when one is outside that grammar, SymPy cannot
        compare them, or it runs out of time.

        Example:
            >>> with Sandbox() as box:
            ...     box.sympy_equal("sqrt(8)", "2*sqrt(2)"), box.sympy_equal("1/3", "0.333")
            (True, False)
            >>> print(box.sympy_equal("__import__('os').getpid()", "1"))  # refused before anything runs
            None

        """
        for text in (a, b):
            try:
                protocol.expression_tree(text)
            except protocol.Malformed:
                return None
        run = self._submit({"task": "sympy_equal", "a": a, "b": b}, limits or replace(self.limits, wall_s=5.0))
        if not run.ok or not run.value or run.value.get("type") != "bool":
            return None
        return {"True": True, "False": False}.get(run.value.get("text") or "")

    def _submit(self, request: dict[str, Any], limits: Limits) -> Execution:
        request = {**request, "limits": asdict(limits)}
        slot, server = self._acquire()
        try:
            if server is None or not server.alive():
                if server is not None:
                    server.kill()
                    server = None
                    self.restarts += 1
                server = _Server(self.limits)
            response = server.ask(request, limits.wall_s + GRACE_S)
            if response is None:
                message = server.stderr_text()
                server.kill()
                server = None
                self.restarts += 1
                return Execution(
                    "crashed", message="the sandbox server died or hung" + (f": {message}" if message else "")
                )
            run, well_formed = _checked_execution(response, limits.output_bytes)
            # A server that could not empty /tmp, or that answers out of protocol, serves no more:
            # the next execution gets a new jail.
            if "restart" in run.details or not well_formed:
                server.kill()
                server = None
                self.restarts += 1
            return run
        finally:
            self._release(slot, server)

    def _acquire(self) -> tuple[int, _Server | None]:
        with self._lock:
            while not self._free:
                if self._closed:
                    raise SandboxUnavailable("the sandbox is closed")
                self._lock.wait()
            if self._closed:
                raise SandboxUnavailable("the sandbox is closed")
            slot = self._free.pop()
            return slot, self._servers[slot]

    def _release(self, slot: int, server: _Server | None) -> None:
        with self._lock:
            if self._closed and server is not None:
                server.kill()
                server = None
            self._servers[slot] = server
            self._free.append(slot)
            self._lock.notify()

    def close(self) -> None:
        """Stop every idle server now and each busy one when its execution ends (idempotent)."""
        with self._lock:
            self._closed = True
            idle = [self._servers[slot] for slot in self._free]
            for slot in self._free:
                self._servers[slot] = None
            self._lock.notify_all()
        for server in idle:
            if server is not None:
                server.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox(workers={self.workers}, limits={self.limits})"


_default: Sandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> Sandbox:
    """The shared one-worker sandbox of this process, started on first use and closed at exit.

    A forked child (a prover-pool worker, say) gets its own, never its parent's.

    Example:
        >>> default_sandbox() is default_sandbox()
        True

    """
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
            atexit.register(_default.close)
        return _default


def _forget_default_in_child() -> None:
    global _default, _default_lock, _spawn_thread, _spawn_lock
    _default, _default_lock = None, threading.Lock()
    _spawn_thread, _spawn_lock = None, threading.Lock()  # the parent's spawner thread is not here


os.register_at_fork(after_in_child=_forget_default_in_child)
