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
:mod:`neurosym.provers.sandbox._protocol`): what the program may say is only what it returned or
raised; times, output and the status are measured. A server that dies, hangs or breaks the
protocol is killed with its whole process tree and replaced (:mod:`neurosym.processes`).

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
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from neurosym import processes
from neurosym.deadlines import check_seconds
from neurosym.errors import ConfigurationError, NeurosymError
from neurosym.provers.sandbox import _protocol as protocol
from neurosym.provers.sandbox._jail import jail_command, server_command

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
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < int(value) < 1 << 31:
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


def _announces_ready(line: bytes) -> bool:
    try:
        return protocol.loads(line) == {"ready": True}
    except protocol.Malformed:
        return False


class _Server(processes.SupervisedProcess):
    """One fork server in its own jail, spoken to over JSON lines; started on first use, restarted after it ends.

    The jail is started through :func:`neurosym.processes.spawn` (from one long-lived thread:
    bwrap's ``--die-with-parent`` fires when the *thread* that started it ends) and killed with
    its whole tree by :func:`neurosym.processes.kill_tree`.
    """

    def __init__(self, limits: Limits) -> None:
        super().__init__(
            server_command(),
            jail=jail_command(limits),
            env=_JAIL_ENVIRONMENT,  # bwrap itself sees no more of our environment than this
            is_ready=_announces_ready,
            start_timeout_s=START_TIMEOUT_S,
            max_line_bytes=protocol.MAX_JSON_BYTES,  # a server that floods us is a broken one
        )

    def start(self) -> subprocess.Popen[bytes]:
        """The running server, started (or restarted) if need be; SandboxUnavailable when it cannot start."""
        try:
            return super().start()
        except processes.StartFailed as exc:
            raise SandboxUnavailable(f"the sandbox did not start: {exc.message}") from None
        except OSError as exc:
            raise SandboxUnavailable(f"the sandbox did not start: {exc}") from None

    def request(self, request: dict[str, Any], wait_s: float) -> object:
        """Send a request; the parsed response (not checked yet), or None: the server died, hung or broke protocol."""
        line = self.ask(protocol.dumps(request), wait_s)
        if line is None:
            return None
        try:
            return protocol.loads(line)
        except protocol.Malformed:
            return None


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
        self._servers = [_Server(self.limits) for _ in range(workers)]
        self._free = list(range(workers))
        self._lock = threading.Condition()
        self._closed = False

    @property
    def restarts(self) -> int:
        """How many servers were started to replace one that died, hung, broke the protocol or could not clean up."""
        return sum(server.restarts for server in self._servers)

    def start(self) -> Sandbox:
        """Start every idle server that is not running now (in parallel) instead of at first use; returns ``self``."""
        with self._lock:
            if self._closed:
                raise SandboxUnavailable("the sandbox is closed")
            slots, self._free = list(self._free), []
        try:
            with ThreadPoolExecutor(max(1, len(slots))) as pool:
                list(pool.map(lambda slot: self._servers[slot].start(), slots))
        finally:
            for slot in slots:
                self._release(slot)
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
        functions in :data:`neurosym.provers.sandbox._protocol.EXPRESSION_FUNCTIONS` are read, and the
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
        slot = self._acquire()
        server = self._servers[slot]
        try:
            response = server.request(request, limits.wall_s + GRACE_S)  # starts a new server when need be
            if response is None:  # the server was killed: the next execution gets a new one
                message = server.stderr_text()
                return Execution(
                    "crashed", message="the sandbox server died or hung" + (f": {message}" if message else "")
                )
            run, well_formed = _checked_execution(response, limits.output_bytes)
            # A server that could not empty /tmp, or that answers out of protocol, serves no more:
            # the next execution gets a new jail.
            if "restart" in run.details or not well_formed:
                server.kill()
            return run
        finally:
            self._release(slot)

    def _acquire(self) -> int:
        with self._lock:
            while not self._free:
                if self._closed:
                    raise SandboxUnavailable("the sandbox is closed")
                self._lock.wait()
            if self._closed:
                raise SandboxUnavailable("the sandbox is closed")
            return self._free.pop()

    def _release(self, slot: int) -> None:
        with self._lock:
            if self._closed:
                self._servers[slot].close()
            self._free.append(slot)
            self._lock.notify()

    def close(self) -> None:
        """Stop every idle server now and each busy one when its execution ends (idempotent)."""
        with self._lock:
            self._closed = True
            idle = [self._servers[slot] for slot in self._free]
            self._lock.notify_all()
        for server in idle:
            server.close()

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
    global _default, _default_lock
    _default, _default_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_default_in_child)
