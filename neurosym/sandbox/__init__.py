r"""A sandbox for untrusted Python: model-written programs run here, never in neurosym's process.

Each :class:`Sandbox` keeps a few fork servers, each inside its own `bubblewrap
<https://github.com/containers/bubblewrap>`_ jail:

- its own network namespace (no interfaces but a loopback that is down), PID, IPC, UTS and user
  namespaces; the process has no capabilities and cannot gain any;
- a read-only view of the Python installation and the packages it may import (SymPy, mpmath)
  and nothing else of the host: no home directories, no ``/etc`` but the loader cache, no
  project files; the only writable place is a private ``/tmp`` (a size-capped tmpfs, wiped
  after every execution);
- a scrubbed environment (``PATH``, ``HOME=/tmp``, ``LANG``).

The server imports SymPy once and forks a child per execution, so every execution starts from
the same pristine state. The child gets CPU-time, address-space, file-size and process-count
limits, a seccomp filter (no ``execve``, no new processes but threads, no signals to other
processes, no ``ptrace``, ``mount``, ``unshare``...), its stdout and stderr capped, and a
wall-clock deadline after which its process group is killed and every stray process of the jail
is swept. The result comes back as JSON over a pipe.

Needs Linux with ``bwrap`` (Debian/Ubuntu package ``bubblewrap``) and ``libseccomp``; without
them :class:`Sandbox` raises :class:`SandboxUnavailable` with what to install.

Example:
    >>> with Sandbox() as box:
    ...     run = box.run("def solution():\n    return 6 * 7\n")
    >>> run.status, run.number
    ('ok', 42.0)

"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from neurosym.errors import NeurosymError

__all__ = ["Execution", "Limits", "Sandbox", "SandboxUnavailable", "default_sandbox", "sandbox_problem"]

ExecutionStatus = Literal["ok", "error", "timeout", "memory", "output_limit", "crashed"]

SERVER = Path(__file__).with_name("_server.py")
PRELOAD = ("sympy", "math", "fractions", "decimal", "itertools", "datetime", "statistics")
ALLOWED_PACKAGES = ("sympy", "mpmath", "pyseccomp")
START_TIMEOUT_S = 60.0
GRACE_S = 5.0
"""Seconds the client waits past an execution's wall limit before it declares the server dead."""
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

    """

    wall_s: float = 10.0
    cpu_s: float = 10.0
    memory_mb: int = 1024
    file_mb: int = 16
    output_bytes: int = 65_536


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
        return float(number) if isinstance(number, (int, float)) else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


_RESPONSE_FIELDS = frozenset(Execution.__dataclass_fields__) - {"details"}


def _execution(response: dict[str, Any]) -> Execution:
    status = response.get("status")
    if status not in ("ok", "error", "timeout", "memory", "output_limit", "crashed"):
        return Execution("crashed", message=f"the sandbox answered an unknown status {status!r}")
    known = {k: v for k, v in response.items() if k in _RESPONSE_FIELDS}
    extra = {k: v for k, v in response.items() if k not in _RESPONSE_FIELDS}
    return Execution(**known, details=extra)


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
    if importlib.util.find_spec("pyseccomp") is None:
        return "the Python package pyseccomp is missing (pip install pyseccomp)"
    import ctypes.util

    if ctypes.util.find_library("seccomp") is None:
        return "libseccomp is missing (Debian/Ubuntu: apt-get install libseccomp2)"
    return None


def _package_roots(names: Iterable[str]) -> list[str]:
    roots: list[str] = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        root = origin.parent.parent if origin.name == "__init__.py" else origin.parent
        if str(root) not in roots:
            roots.append(str(root))
    return roots


def _bwrap_command(limits: Limits) -> list[str]:
    python = os.path.realpath(sys.executable)
    visible = [sys.base_prefix, *_package_roots(ALLOWED_PACKAGES)]
    if not python.startswith(sys.base_prefix):
        visible.append(str(Path(python).parent))
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    argv += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for path in dict.fromkeys(visible):
        if not path.startswith("/usr/"):
            argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", str(SERVER), "/opt/neurosym/server.py"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(4 * limits.file_mb << 20), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]  # the jail's own root and /dev: no writes either
    argv += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    argv += ["--setenv", "LANG", "C.UTF-8", "--setenv", "NEUROSYM_SANDBOX_PRELOAD", ",".join(PRELOAD)]
    argv += [python, "-I", "-S", "-B", "/opt/neurosym/server.py", *_package_roots(ALLOWED_PACKAGES)]
    return argv


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
                _bwrap_command(limits),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,
                close_fds=True,
                env=_JAIL_ENVIRONMENT,  # bwrap's own init process keeps the environment it was given
            )
            .result()
        )
        ready = self._read_line(time.monotonic() + START_TIMEOUT_S)
        if ready is None or json.loads(ready).get("ready") is not True:
            self.kill()
            raise SandboxUnavailable(f"the sandbox did not start: {self.stderr_text() or 'no message'}")

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].decode("utf-8", "replace").strip()

    def _read_line(self, deadline: float) -> bytes | None:
        stdout = self.process.stdout
        assert stdout is not None
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stdout], [], [], left)[0]:
                return None
            chunk = os.read(stdout.fileno(), 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def ask(self, request: dict[str, Any], wait_s: float) -> dict[str, Any] | None:
        """Send a request; the response, or ``None`` when the server died or hung."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except OSError:
            return None
        line = self._read_line(time.monotonic() + wait_s)
        if line is None:
            return None
        try:
            response = json.loads(line)
        except ValueError:
            return None
        return response if isinstance(response, dict) else None

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

        SymPy's parser evaluates its input, so model output is only ever parsed here. ``None``
        when SymPy cannot read one of them or runs out of time.

        Example:
            >>> with Sandbox() as box:
            ...     box.sympy_equal("sqrt(8)", "2*sqrt(2)"), box.sympy_equal("1/3", "0.333")
            (True, False)

        """
        run = self._submit({"task": "sympy_equal", "a": a, "b": b}, limits or replace(self.limits, wall_s=5.0))
        if not run.ok or not run.value:
            return None
        return run.value.get("text") == "True"

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
            return _execution(response)
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
