"""A pool of prover processes with a hard wall-clock deadline per call.

One hard problem must never stall the rest, and Z3 objects are not thread-safe, so prover calls run
in worker *processes*. :class:`ProverPool` is a small pool written for that job, not
``concurrent.futures.ProcessPoolExecutor``: an executor cannot kill one stuck task without breaking
the whole pool, and this pool can.

**Design.** Each worker is a ``multiprocessing`` process with its own duplex ``Pipe``. It calls
``os.setsid()`` first, so it leads its own session and process group, and then imports the heavy
modules (``preload``: for FOL the checker and Z3, as the target's spec says) once before it
announces that it is ready. After
that it runs task after task. One dispatcher thread in the parent owns every worker. It hands
queued tasks to idle workers and waits on the result pipes, the workers' exit sentinels and a wake-up
pipe with ``multiprocessing.connection.wait``. The wait's timeout is the nearest deadline.

**Deadlines.** A call's clock starts when a worker takes it, not when it is submitted, so time
spent in the queue does not count. The call may run for ``timeout_s + grace_s`` seconds.
``grace_s`` defaults to 2 s because the provers enforce their own time limits: pass the prover the
same limit (``check_fol(..., timeout=t)`` with ``timeout_s=t``) and a prover that respects it still
returns its own, more informative verdict. E, for instance, allows itself ``timeout + 1`` s. Past
the deadline the worker is frozen (``SIGSTOP``) with its process group and with every descendant
found under ``/proc``, *including* those that moved into their own session, as E does. Then all
of them get ``SIGKILL`` (:func:`neurosym.processes.kill_tree`) and a fresh worker replaces the old
one. The future resolves to ``Verdict("timeout")``. Calls on other workers never notice.

**Failures are verdicts.** The future of a submitted call resolves to a
:class:`~neurosym.types.Verdict`:

* the call finished: the verdict ``fn`` returned;
* the deadline passed: ``timeout``;
* the worker died by itself (segfault, ``os._exit``, the OOM killer): ``unknown``, with the exit
  code or the signal in the message and in ``details``. The worker is replaced;
* ``fn`` raised an exception: ``unknown``, with ``message="<ExcType>: <message>"`` and the
  worker's traceback in ``details["traceback"]``. A ``MemoryError`` also recycles the worker.

Only usage mistakes raise, because they would fail every call the same way. The future then
raises the same exception (with the worker's traceback added as a note). These are:
:class:`~neurosym.errors.ConfigurationError`,
:class:`~neurosym.errors.MissingDependencyError` and
:class:`~neurosym.errors.SolverUnavailableError` raised by ``fn``; a ``fn`` that returns
something other than a ``Verdict``; and a task that the worker cannot unpickle.
:meth:`ProverPool.submit` raises ``ConfigurationError`` right away when ``fn`` or its arguments
do not pickle. The pool raises :class:`~neurosym.errors.PoolBrokenError` (a ``SolverCrashedError``) only when
it cannot start workers: three starts in a row fail. The pending futures then fail with it, and
so does every later ``submit``; :func:`neurosym.run_many` raises it rather than returning results.
From a script, the usual cause is starting the pool at top level without
``if __name__ == "__main__":``: every worker imports the main module, which tries to start
workers again; the error says so.

POSIX only. Descendants that left the worker's process group are found through ``/proc``, so
outside Linux only the group is killed.

Example:
    >>> from neurosym.targets.fol.check import check_fol
    >>> with ProverPool(workers=1) as pool:
    ...     future = pool.submit(check_fol, ["∀x (Man(x) → Mortal(x))", "Man(socrates)"],
    ...                          "Mortal(socrates)", timeout=5, timeout_s=5)
    ...     future.result().status
    'proved'

"""

from __future__ import annotations

import collections
import logging
import math
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from neurosym import processes
from neurosym.errors import (
    ConfigurationError,
    MissingDependencyError,
    PoolBrokenError,
    SolverUnavailableError,
)
from neurosym.types import Verdict

__all__ = ["ProverPool", "check_with_target"]

logger = logging.getLogger(__name__)


_PROPAGATED: tuple[type[BaseException], ...] = (ConfigurationError, MissingDependencyError, SolverUnavailableError)
"""Exceptions from ``fn`` that fail the future instead of becoming an ``unknown`` verdict."""

_START_TIMEOUT_S = 60.0  # a worker that is not ready by then (stuck importing) counts as a failed start
_STOP_TIMEOUT_S = 2.0  # how long a worker told to stop may take to exit before it is killed
_MAX_START_FAILURES = 3  # failed starts in a row that break the pool


# --------------------------------------------------------------------------------------------- worker side


def check_with_target(target: Any, formalization: Any, timeout_s: float) -> Verdict:
    """Run ``target.check`` in a worker: the loop's checker sends this (target and formalization pickle)."""
    verdict: Verdict = target.check(formalization, timeout_s=timeout_s)
    return verdict


def _worker_main(
    conn: Connection,
    memory_limit_mb: int | None,
    preload: Sequence[str],
    warmup: Callable[[], object] | None,
) -> None:
    """Body of a worker process: become a process group, import ``preload``, warm up, then serve tasks."""
    os.setsid()  # its own session and process group, so killing -pid takes its children too
    try:
        if memory_limit_mb is not None:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        import importlib

        for module in preload:
            importlib.import_module(module)
        if warmup is not None:
            warmup()
    except BaseException as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):  # the parent is gone
            return
        if not payload:  # the stop message
            return
        reply, recycle = _run_task(payload)
        try:
            conn.send(reply)
        except Exception as exc:  # the verdict or the exception does not pickle
            conn.send(("error", type(exc).__name__, f"the result could not be sent back: {exc}", ""))
        if recycle:
            return


def _run_task(payload: bytes) -> tuple[tuple[Any, ...], bool]:
    try:
        fn, args, kwargs = pickle.loads(payload)
    except Exception as exc:
        return ("bad", f"the worker could not unpickle the task: {type(exc).__name__}: {exc}"), False
    try:
        result = fn(*args, **kwargs)
    except _PROPAGATED as exc:
        return ("raise", exc, traceback.format_exc()), False
    except Exception as exc:
        recycle = isinstance(exc, MemoryError)
        return ("error", type(exc).__name__, str(exc), traceback.format_exc()), recycle
    if not isinstance(result, Verdict):
        return ("bad", f"{_name_of(fn)} returned {type(result).__name__}, not a Verdict"), False
    return ("ok", result), False


# --------------------------------------------------------------------------------------------- parent side


def _main_module_hint() -> str:
    """Why workers may fail to start from a script: they import its main module, which starts them again."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is None:
        return ""
    return (
        f". Worker processes import the main module ({main_file}); if it starts the pool (run_many, "
        'ProverPool) at top level, put that code under `if __name__ == "__main__":`'
    )


def _name_of(fn: Callable[..., Any]) -> str:
    inner = getattr(fn, "func", fn)  # functools.partial
    return str(getattr(inner, "__name__", None) or type(inner).__name__)


def _default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _describe_exit(exitcode: int | None) -> tuple[str, dict[str, Any]]:
    if exitcode is None:
        return "ended without an exit status", {"exitcode": None}
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the OOM killer, or a memory limit, sends SIGKILL)" if -exitcode == signal.SIGKILL else ""
        return f"was killed by {name}{hint}", {"exitcode": exitcode, "signal": name}
    return f"exited with code {exitcode}", {"exitcode": exitcode}


@dataclass
class _Task:
    future: Future[Verdict]
    payload: bytes
    name: str
    timeout_s: float


class _Worker:
    """The parent's handle on one worker process. Only the dispatcher thread touches it."""

    def __init__(self, process: Any, conn: Connection, start_deadline: float) -> None:
        self.process = process
        self.conn = conn
        self.pid: int = process.pid
        self.sentinel: int = process.sentinel
        self.state = "starting"  # starting -> idle <-> busy; stopping; then gone
        self.deadline = start_deadline
        self.task: _Task | None = None
        self.task_started = 0.0
        self.tasks_done = 0
        self.eof = False  # its pipe reached end of file; wait for the exit sentinel only


class ProverPool:
    """Run prover calls in worker processes, each with a hard per-call deadline.

    Args:
        workers: how many worker processes (default: the CPUs this process may use).
        start_method: ``"forkserver"`` (the default on Linux) or ``"spawn"`` (elsewhere). ``"fork"``
            is refused because the pool forks while its dispatcher thread runs.
        max_tasks_per_worker: a worker is replaced after this many calls, which bounds leaks in
            native solver code; ``None`` keeps workers for good.
        grace_s: seconds a call may run past its ``timeout_s`` before it is killed (see the
            module docstring: long enough for the provers' own time limits to fire first).
        memory_limit_mb: address-space limit (``RLIMIT_AS``) of each worker, applied before
            ``preload`` is imported; Python with Z3 needs a few hundred MB of it. ``None``: no limit.
        preload: modules each worker imports once at start (a target's
            :attr:`~neurosym.targets.registry.TargetSpec.preload`; :func:`~neurosym.run_many` passes it).
        warmup: a picklable top-level callable each worker runs once after ``preload``, before it
            takes tasks (a target's ``warm_up``, such as :func:`neurosym.targets.fol.target.warm_up_fol`);
            ``None`` for none (the default). A worker whose
            ``preload`` or ``warmup`` fails counts as a failed start.

    Use it as a context manager, or call :meth:`close`. Futures are resolved, and their callbacks
    run, on the pool's dispatcher thread, so callbacks must be quick.

    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        start_method: str = "forkserver" if sys.platform.startswith("linux") else "spawn",
        max_tasks_per_worker: int | None = 200,
        grace_s: float = 2.0,
        memory_limit_mb: int | None = None,
        preload: Sequence[str] = (),
        warmup: Callable[[], object] | None = None,
    ) -> None:
        import multiprocessing

        if not hasattr(os, "setsid") or not hasattr(os, "killpg"):
            raise ConfigurationError("ProverPool needs POSIX process groups (Linux or macOS)")
        if workers is None:
            workers = _default_workers()
        if workers < 1:
            raise ConfigurationError(f"workers must be at least 1, got {workers}")
        if start_method == "fork":
            raise ConfigurationError(
                "start_method='fork' is refused: the pool starts workers while its dispatcher thread "
                "runs, and forking a multi-threaded process can deadlock; use 'forkserver' or 'spawn'"
            )
        if start_method not in multiprocessing.get_all_start_methods():
            raise ConfigurationError(
                f"unknown start method {start_method!r}; this platform has "
                f"{', '.join(m for m in multiprocessing.get_all_start_methods() if m != 'fork')}"
            )
        if max_tasks_per_worker is not None and max_tasks_per_worker < 1:
            raise ConfigurationError(f"max_tasks_per_worker must be at least 1 or None, got {max_tasks_per_worker}")
        if not (grace_s >= 0 and math.isfinite(grace_s)):
            raise ConfigurationError(f"grace_s must be a finite number >= 0, got {grace_s}")
        if memory_limit_mb is not None and memory_limit_mb < 1:
            raise ConfigurationError(f"memory_limit_mb must be positive or None, got {memory_limit_mb}")
        self.workers = workers
        self.start_method = start_method
        self.max_tasks_per_worker = max_tasks_per_worker
        self.grace_s = float(grace_s)
        self.memory_limit_mb = memory_limit_mb
        self.preload = tuple(preload)
        self.warmup = warmup
        context = multiprocessing.get_context(start_method)
        # "fork" is refused above, so the context is one of these two (narrowed for the type checker: it has Process).
        assert isinstance(context, (multiprocessing.context.SpawnContext, multiprocessing.context.ForkServerContext))
        self._context = context
        self._lock = threading.Lock()
        self._pending: collections.deque[_Task] = collections.deque()
        self._closing = False
        self._cancel = False
        self._broken: BaseException | None = None
        self._workers: list[_Worker] = []
        self._start_failures = 0
        self._stats = collections.Counter({"completed": 0, "timeouts": 0, "crashes": 0, "recycled": 0, "started": 0})
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        try:
            for _ in range(workers):
                self._start_worker()
        except BaseException as exc:
            for worker in list(self._workers):
                self._discard(worker, kill=True)
            os.close(self._wake_r)
            os.close(self._wake_w)
            if isinstance(exc, Exception):
                raise PoolBrokenError(
                    f"could not start a prover worker: {type(exc).__name__}: {exc}{_main_module_hint()}", solver="pool"
                ) from exc
            raise
        self._thread = threading.Thread(target=self._dispatch, name="neurosym-prover-pool", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------- public API

    def submit(self, fn: Callable[..., Verdict], /, *args: Any, timeout_s: float, **kwargs: Any) -> Future[Verdict]:
        """Run ``fn(*args, **kwargs)`` in a worker and return a future of its :class:`Verdict`.

        ``fn`` must be a picklable top-level callable that returns a ``Verdict``, such as
        :func:`neurosym.targets.fol.check.check_fol`. The call is killed ``timeout_s + grace_s`` seconds after
        a worker takes it, and the future then resolves to ``Verdict("timeout")``. It never
        raises for a timeout or a crash (see the module docstring).

        Raises:
            ConfigurationError: the pool is closed, ``timeout_s`` is not positive, or ``fn`` or
                its arguments cannot be pickled.
            PoolBrokenError: the pool could not start workers.

        """
        if not (timeout_s > 0 and math.isfinite(timeout_s)):
            raise ConfigurationError(f"timeout_s must be a positive number, got {timeout_s}")
        try:
            payload = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise ConfigurationError(
                f"{_name_of(fn)} and its arguments must pickle to run in a worker process "
                f"(use a top-level function): {type(exc).__name__}: {exc}"
            ) from exc
        task = _Task(Future(), payload, _name_of(fn), float(timeout_s))
        with self._lock:
            if self._broken is not None:
                raise PoolBrokenError(f"the prover pool is broken: {self._broken}", solver="pool") from self._broken
            if self._closing:
                raise ConfigurationError("the prover pool is closed")
            self._pending.append(task)
        self._wake()
        return task.future

    def check(self, target: Any, formalization: Any, timeout_s: float) -> Verdict:
        r"""The loop's checker: decide ``formalization`` with ``target``'s provers in a worker; block for the verdict.

        Pass it as ``checker=pool.check`` to :func:`neurosym.loop.refine.refine` or
        :func:`neurosym.loop.batch.run_many`. A prover that overruns ``timeout_s`` (plus the
        pool's grace) is killed and the attempt gets a ``timeout`` verdict.

        Example:
            >>> from neurosym.targets.fol import FolTarget
            >>> from neurosym.types import Problem
            >>> target = FolTarget(constrained=False)
            >>> text = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"
            >>> f = target.parse(Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?"), text)
            >>> with ProverPool(workers=1) as pool:
            ...     pool.check(target, f, 5.0).status
            'proved'

        """
        return self.submit(check_with_target, target, formalization, timeout_s, timeout_s=timeout_s).result()

    def map(
        self,
        fn: Callable[..., Verdict],
        arg_tuples: Iterable[Sequence[Any]],
        /,
        *,
        timeout_s: float,
        **kwargs: Any,
    ) -> list[Verdict]:
        """Run ``fn(*args, **kwargs)`` for each tuple in ``arg_tuples``; the verdicts in the same order.

        Example:
            >>> from neurosym.targets.fol.check import check_fol
            >>> with ProverPool(workers=2) as pool:
            ...     [v.status for v in pool.map(check_fol, [(["P(a)"], "P(a)"), (["P(a)"], "¬P(a)")],
            ...                                 timeout=5, timeout_s=5)]
            ['proved', 'disproved']

        """
        futures = [self.submit(fn, *args, timeout_s=timeout_s, **kwargs) for args in arg_tuples]
        return [future.result() for future in futures]

    @property
    def stats(self) -> dict[str, int]:
        """Counts so far.

        ``completed``: calls that returned or raised; ``timeouts``: calls killed at their deadline;
        ``crashes``: calls whose worker died; ``recycled``: workers retired after
        ``max_tasks_per_worker`` calls or a ``MemoryError``; ``started``: worker processes started.
        """
        return dict(self._stats)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes that exist now (starting, idle or busy)."""
        return [worker.pid for worker in list(self._workers) if worker.state != "gone"]

    def close(self, *, cancel: bool = False) -> None:
        """Stop the pool and wait until every worker process, and everything they started, is gone.

        By default queued and running calls finish first, each within its deadline. With
        ``cancel=True`` queued futures are cancelled, and running calls are killed and resolve to
        ``Verdict("unknown")``. Calling ``close`` again does nothing.
        """
        with self._lock:
            self._closing = True
            self._cancel = self._cancel or cancel
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> ProverPool:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(cancel=exc_type is not None)

    def __repr__(self) -> str:
        state = "broken" if self._broken else "closed" if self._closing else "open"
        return f"ProverPool(workers={self.workers}, start_method={self.start_method!r}, {state})"

    # ------------------------------------------------------------------------------------- dispatcher

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):  # the pipe is full (a wake-up is pending) or already closed
            pass

    def _start_worker(self) -> None:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(child_conn, self.memory_limit_mb, self.preload, self.warmup),
            name="neurosym-prover-worker",
            daemon=True,  # terminated by multiprocessing at exit if the pool was never closed
        )
        try:
            process.start()
        except BaseException:
            parent_conn.close()
            child_conn.close()
            raise
        child_conn.close()
        self._stats["started"] += 1
        self._workers.append(_Worker(process, parent_conn, time.monotonic() + _START_TIMEOUT_S))

    def _replace(self, worker: _Worker, *, kill: bool, outcome: Verdict | BaseException | None = None) -> None:
        """Reap ``worker`` (killing its tree when ``kill``), resolve its task, start a successor.

        The future is resolved only once the worker and its children are gone, so a caller who sees
        the verdict never finds a stray prover still running.
        """
        task = worker.task
        self._discard(worker, kill=kill)
        if task is not None and outcome is not None:
            _resolve(task, outcome)
        with self._lock:
            closing = self._closing
        if not closing:
            try:
                self._start_worker()
            except Exception as exc:
                self._start_failed(f"{type(exc).__name__}: {exc}")

    def _start_failed(self, reason: str) -> None:
        """Count a failed start and start another worker; raise once too many failed in a row."""
        while True:
            self._start_failures += 1
            logger.warning("a prover worker failed to start (%d in a row): %s", self._start_failures, reason)
            if self._start_failures >= _MAX_START_FAILURES:
                raise PoolBrokenError(
                    f"could not start a prover worker ({self._start_failures} attempts in a row): {reason}"
                    + _main_module_hint(),
                    solver="pool",
                )
            with self._lock:
                if self._closing:
                    return
            try:
                self._start_worker()
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            return

    def _discard(self, worker: _Worker, *, kill: bool) -> None:
        """Forget ``worker`` and reap it.

        ``kill=True`` is for a worker that may be alive: it and its whole tree are killed first.
        Otherwise it has exited, or was told to stop and gets a moment to do so.
        """
        if worker in self._workers:
            self._workers.remove(worker)
        if kill:
            processes.kill_tree(worker.pid)
        worker.process.join(timeout=None if kill else _STOP_TIMEOUT_S)
        if worker.process.exitcode is None:  # it ignored the stop message
            processes.kill_tree(worker.pid)
            worker.process.join()
        # Leftovers in its group (a child it started and never waited for) go too.
        processes.kill_group(worker.pid)
        worker.conn.close()
        worker.process.close()
        worker.state = "gone"

    def _dispatch(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            logger.error("the prover pool broke: %s", exc)
            with self._lock:
                self._broken = exc
                self._closing = True
                pending = list(self._pending)
                self._pending.clear()
            for task in pending:
                if task.future.set_running_or_notify_cancel():
                    task.future.set_exception(exc)
            for worker in list(self._workers):
                running = worker.task
                self._discard(worker, kill=True)
                if running is not None:
                    _resolve(running, exc)
        finally:
            for worker in list(self._workers):
                if worker.state == "idle":
                    try:
                        worker.conn.send_bytes(b"")  # the stop message
                        worker.state = "stopping"
                    except OSError:
                        pass
            for worker in list(self._workers):
                self._discard(worker, kill=worker.state != "stopping")
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _loop(self) -> None:
        while True:
            with self._lock:
                closing, cancel = self._closing, self._cancel
                if cancel:
                    for queued in self._pending:
                        queued.future.cancel()
                    self._pending.clear()
                settled = not self._pending and all(w.state != "busy" for w in self._workers)
            if cancel:
                for worker in [w for w in self._workers if w.state == "busy"]:
                    task = worker.task
                    assert task is not None
                    elapsed = time.monotonic() - worker.task_started
                    self._discard(worker, kill=True)
                    _resolve(
                        task,
                        Verdict(
                            "unknown",
                            message=f"the pool was closed with cancel=True while {task.name} was running",
                            prover=task.name,
                            elapsed_s=elapsed,
                        ),
                    )
                settled = True
            if closing and settled:
                return
            self._assign()
            self._wait_and_handle()

    def _assign(self) -> None:
        for worker in self._workers:
            if worker.state != "idle":
                continue
            task = self._next_task()
            if task is None:
                return
            try:
                worker.conn.send_bytes(task.payload)
            except OSError:  # it died while idle; its sentinel will say so
                with self._lock:
                    self._pending.appendleft(task)
                worker.state = "stopping"
                continue
            worker.state = "busy"
            worker.task = task
            worker.task_started = time.monotonic()
            worker.deadline = worker.task_started + task.timeout_s + self.grace_s

    def _next_task(self) -> _Task | None:
        while True:
            with self._lock:
                if not self._pending:
                    return None
                task = self._pending.popleft()
            if task.future.set_running_or_notify_cancel():  # False: the caller cancelled it
                return task

    def _wait_and_handle(self) -> None:
        now = time.monotonic()
        deadlines = [w.deadline for w in self._workers if w.state in ("starting", "busy")]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        by_conn = {w.conn: w for w in self._workers if not w.eof}
        by_sentinel = {w.sentinel: w for w in self._workers}
        ready = wait([self._wake_r, *by_conn, *by_sentinel], timeout)
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        handled: set[int] = set()
        for item in ready:
            if isinstance(item, Connection):
                worker = by_conn.get(item)
            else:
                worker = by_sentinel.get(item) if isinstance(item, int) else None
            if worker is None or id(worker) in handled:
                continue
            handled.add(id(worker))
            self._handle(worker)
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.state in ("starting", "busy") and now >= worker.deadline:
                self._expire(worker)

    def _handle(self, worker: _Worker) -> None:
        """Read what ``worker`` sent, then deal with its exit if it has exited."""
        while worker.state != "gone" and not worker.eof:
            try:
                if not worker.conn.poll():
                    break
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.eof = True
                break
            self._on_message(worker, message)
        if worker.state == "gone" or not _sentinel_ready(worker.sentinel):
            return
        # The process has exited: whatever it was doing is lost.
        worker.process.join(timeout=_STOP_TIMEOUT_S)
        how, details = _describe_exit(worker.process.exitcode)
        if worker.state == "starting":
            self._discard(worker, kill=False)
            self._start_failed(f"the worker {how} before it was ready")
        elif worker.state == "busy":
            task = worker.task
            assert task is not None
            self._stats["crashes"] += 1
            crashed = Verdict(
                "unknown",
                message=f"the worker process running {task.name} {how}",
                feedback="The prover crashed on this problem.",
                prover=task.name,
                elapsed_s=time.monotonic() - worker.task_started,
                details={**details, "pid": worker.pid},
            )
            self._replace(worker, kill=False, outcome=crashed)
        else:  # idle or stopping: nothing was lost
            self._replace(worker, kill=False)

    def _on_message(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if worker.state == "starting":
            if kind == "ready":
                self._start_failures = 0
                worker.state = "idle"
            else:
                self._discard(worker, kill=True)
                self._start_failed(str(message[1]))
            return
        task = worker.task
        if task is None:  # nothing expected; ignore
            return
        self._stats["completed"] += 1
        elapsed = time.monotonic() - worker.task_started
        recycle = False
        result: Verdict | BaseException
        if kind == "ok":
            result = message[1]
        elif kind == "raise":
            result = message[1]
            if hasattr(result, "add_note"):
                result.add_note(f"raised in prover worker {worker.pid}:\n{message[2]}")
        elif kind == "bad":
            result = ConfigurationError(message[1])
        else:  # "error"
            _, exc_type, text, tb = message
            recycle = exc_type == "MemoryError"
            result = Verdict(
                "unknown",
                message=f"{exc_type}: {text}",
                feedback="The prover failed on this problem.",
                prover=task.name,
                elapsed_s=elapsed,
                details={"exception": exc_type, "traceback": tb},
            )
        worker.tasks_done += 1
        if recycle or (self.max_tasks_per_worker is not None and worker.tasks_done >= self.max_tasks_per_worker):
            self._stats["recycled"] += 1
            if not recycle:  # after a MemoryError the worker exits by itself
                try:
                    worker.conn.send_bytes(b"")  # the stop message
                except OSError:
                    pass
            worker.state = "stopping"
            self._replace(worker, kill=False, outcome=result)
            return
        worker.task = None
        worker.state = "idle"
        _resolve(task, result)

    def _expire(self, worker: _Worker) -> None:
        if worker.state == "starting":
            self._discard(worker, kill=True)
            self._start_failed(f"the worker was not ready after {_START_TIMEOUT_S:g} s")
            return
        task = worker.task
        assert task is not None
        self._handle(worker)  # the answer may have come in at the last moment
        if worker.state == "gone" or worker.task is not task:
            return
        self._stats["timeouts"] += 1
        timed_out = Verdict(
            "timeout",
            message=f"{task.name} did not finish within {task.timeout_s:g} s "
            f"(+{self.grace_s:g} s grace); its worker process and its children were killed",
            feedback=f"The prover ran out of time ({task.timeout_s:g} s) on this problem.",
            prover=task.name,
            elapsed_s=time.monotonic() - worker.task_started,
            details={"timeout_s": task.timeout_s, "grace_s": self.grace_s, "pid": worker.pid},
        )
        self._replace(worker, kill=True, outcome=timed_out)


def _resolve(task: _Task, outcome: Verdict | BaseException) -> None:
    if task.future.done():
        return
    if isinstance(outcome, BaseException):
        task.future.set_exception(outcome)
    else:
        task.future.set_result(outcome)


def _sentinel_ready(sentinel: int) -> bool:
    return bool(wait([sentinel], 0))
