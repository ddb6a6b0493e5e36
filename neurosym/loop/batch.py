r"""Run the feedback loop over many problems at once, with a run-wide budget.

Problems run in threads (model calls wait on the network or on llama.cpp, so several can be in
flight); each problem's samples still go to the backend in one batched call per round. Prover
calls go to a :class:`~neurosym.loop.pool.ProverPool` of worker processes with a hard deadline
per call, so one hard problem never stalls the rest (and Z3 never runs in two threads of one
process). Each result is handed to ``on_result`` as soon as it is known, so a caller can write it out
and a killed run keeps everything it finished.

Where problems and checks run is an *executor* (``run_many(..., executor=...)``): the default
:class:`LocalExecutor` works on problems in threads of this process and sends the checks to a
prover pool on this machine; ``neurosym.bench.ray_executor.RayExecutor`` sends the checks to the
workers of a Ray cluster instead. Either way the problems' loops (and the model calls) stay in
this process, so the samples a problem gets, and so its result, do not depend on the executor.

Example:
    >>> from neurosym.targets.fol import FolTarget
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.types import Problem
    >>> out = "Premises:\n1. A dog.\nFOL: Dog(rex)\nConclusion:\nA dog?\nFOL: Dog(rex)"
    >>> problems = [Problem(premises=("A dog.",), conclusion="A dog?", id=str(i)) for i in range(3)]
    >>> results = run_many(problems, FolTarget(constrained=False), ScriptedBackend(lambda r, i: out))
    >>> [(r.problem_id, r.answer) for r in results]
    [('0', 'True'), ('1', 'True'), ('2', 'True')]

"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from neurosym.errors import ConfigurationError
from neurosym.loop.cache import Cache, CachedChecker
from neurosym.loop.refine import Budget, Checker, Strategy, check_inline, refine
from neurosym.loop.result import Cost, LoopResult
from neurosym.settings import SamplingSettings
from neurosym.targets.base import Target
from neurosym.translators.base import LLMBackend
from neurosym.types import Problem

__all__ = ["LocalExecutor", "ProblemExecutor", "RunBudget", "for_each", "run_many"]


@dataclass(frozen=True)
class RunBudget:
    """Limits over a whole run; a problem that would start after one is reached is skipped, not run."""

    samples: int | None = None
    """Model samples over all problems."""
    tokens: int | None = None
    """Prompt plus completion tokens over all problems."""
    wall_s: float | None = None
    """Wall time of the run."""
    prover_s: float | None = None
    """Time in provers over all problems."""


class _Ledger:
    def __init__(self, budget: RunBudget) -> None:
        self.budget = budget
        self.started = time.perf_counter()
        self.samples = 0
        self.tokens = 0
        self.prover_s = 0.0
        self.lock = threading.Lock()

    def add(self, cost: Cost) -> None:
        with self.lock:
            self.samples += cost.samples
            self.tokens += cost.prompt_tokens + cost.completion_tokens
            self.prover_s += cost.prover_s

    def exceeded(self) -> str | None:
        b = self.budget
        with self.lock:
            if b.samples is not None and self.samples >= b.samples:
                return "budget:run-samples"
            if b.tokens is not None and self.tokens >= b.tokens:
                return "budget:run-tokens"
            if b.prover_s is not None and self.prover_s >= b.prover_s:
                return "budget:run-prover"
        if b.wall_s is not None and time.perf_counter() - self.started >= b.wall_s:
            return "budget:run-wall"
        return None


@runtime_checkable
class ProblemExecutor(Protocol):
    """Where a run's problems and their checks run (see the module docstring).

    ``checking(target, problems)`` is a context manager that yields the checker the problems'
    loops call (``(target, formalization, timeout_s) -> Verdict``, from several threads at once)
    and releases its workers on exit. ``max_in_flight`` is how many problems are worked on at
    once; it is read after ``checking`` is entered (an executor may size it from its workers).
    """

    max_in_flight: int

    def checking(self, target: Target, problems: int) -> contextlib.AbstractContextManager[Checker]:
        """Yield the checker for ``problems`` problems of ``target``; stop its workers on exit."""
        ...


class LocalExecutor:
    r"""Problems in threads of this process; checks in a :class:`~neurosym.loop.pool.ProverPool` of processes.

    Args:
        max_in_flight: problems worked on at once.
        workers: prover processes; default ``min(max_in_flight, problems, CPUs)``. ``0`` runs each
            check in the thread of its problem (no pool): only with ``max_in_flight=1``, because
            Z3 must not run in two threads of one process.

    Example:
        >>> from neurosym.targets.fol import FolTarget
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> out = "Premises:\n1. A dog.\nFOL: Dog(rex)\nConclusion:\nA dog?\nFOL: Dog(rex)"
        >>> problems = [Problem(premises=("A dog.",), conclusion="A dog?", id="p")]
        >>> inline = LocalExecutor(max_in_flight=1, workers=0)
        >>> results = run_many(problems, FolTarget(constrained=False), ScriptedBackend([out]), executor=inline)
        >>> [r.answer for r in results]
        ['True']

    """

    def __init__(self, max_in_flight: int = 4, *, workers: int | None = None) -> None:
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ConfigurationError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
            raise ConfigurationError(f"workers must be a non-negative whole number, got {workers!r}")
        if workers == 0 and max_in_flight > 1:
            raise ConfigurationError(
                "workers=0 runs checks in the problems' threads, which needs max_in_flight=1 "
                "(Z3 must not run in two threads of one process)"
            )
        self.max_in_flight = max_in_flight
        self.workers = workers

    def __repr__(self) -> str:
        return f"LocalExecutor(max_in_flight={self.max_in_flight}, workers={self.workers})"

    def describe(self) -> dict[str, Any]:
        """What a results file records about where the run ran."""
        return {"executor": "local", "max_in_flight": self.max_in_flight, "workers": self.workers}

    @contextlib.contextmanager
    def checking(self, target: Target, problems: int) -> Iterator[Checker]:
        """Yield ``check_inline`` (``workers=0``) or the check of a prover pool warmed up for ``target``."""
        if self.workers == 0:
            yield check_inline
            return
        from neurosym.loop.pool import ProverPool
        from neurosym.targets.registry import spec_of

        spec = spec_of(target)  # how the target's workers warm up (FOL: import and run Z3 once)
        workers = self.workers or max(1, min(self.max_in_flight, problems, os.cpu_count() or 1))
        pool = ProverPool(workers=workers, preload=spec.preload if spec else (), warmup=spec.warm_up if spec else None)
        try:
            yield pool.check
        finally:
            pool.close(cancel=True)


class _GivenChecker:
    """The executor of a caller who passed ``checker=``: threads here, that checker."""

    def __init__(self, checker: Checker, max_in_flight: int) -> None:
        self.checker = checker
        self.max_in_flight = max_in_flight

    @contextlib.contextmanager
    def checking(self, target: Target, problems: int) -> Iterator[Checker]:
        yield self.checker


def for_each(count: int, work: Callable[[int], None], max_in_flight: int) -> None:
    """Call ``work(i)`` for ``i`` in ``range(count)``, ``max_in_flight`` at a time in threads; re-raise the first error.

    Example:
        >>> seen = []
        >>> for_each(3, seen.append, 1)
        >>> seen
        [0, 1, 2]

    """
    if max_in_flight <= 1:
        for index in range(count):
            work(index)
        return
    with ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="neurosym-loop") as threads:
        for future in [threads.submit(work, i) for i in range(count)]:
            future.result()


def _skipped(problem: Problem, reason: str, strategy: Strategy) -> LoopResult:
    return LoopResult(
        problem_id=problem.id,
        answer=None,
        verified=False,
        confidence=0.0,
        abstained=True,
        votes={},
        stop_reason=reason,
        winner=None,
        attempts=(),
        cost=Cost(),
        strategy=strategy.to_dict(),
    )


def run_many(
    problems: Sequence[Problem],
    target: Target,
    backend: LLMBackend,
    *,
    strategy: Strategy | None = None,
    budget: Budget | None = None,
    run_budget: RunBudget | None = None,
    settings: SamplingSettings | None = None,
    checker: Checker | None = None,
    verdict_cache: Cache | None = None,
    max_in_flight: int | None = None,
    on_result: Callable[[int, LoopResult], None] | None = None,
    executor: ProblemExecutor | None = None,
) -> list[LoopResult]:
    """Run :func:`neurosym.loop.refine.refine` on every problem; results come back in input order.

    Args:
        problems: the problems.
        target: the formal language.
        backend: the LLM.
        strategy: how to sample, repair, vote and stop (as for ``refine``).
        budget: per-problem limits.
        settings: sampling settings.
        checker: how verdicts are computed; default: a :class:`~neurosym.loop.pool.ProverPool`
            of ``min(max_in_flight, CPUs)`` workers for this run, warmed up as the target's spec says
            (``pool.check`` of a pool you keep, or :func:`neurosym.loop.refine.check_inline` for this process).
        verdict_cache: look verdicts up in this cache first and store new ones (a finished run
            repeated costs neither model nor prover calls, with a :class:`CachedBackend` too).
        run_budget: limits over the whole run.
        max_in_flight: problems worked on at once (default 4).
        on_result: called with ``(index, result)`` as each problem finishes (from worker threads,
            one call at a time).
        executor: where problems and checks run (a :class:`ProblemExecutor`, e.g.
            ``LocalExecutor(8, workers=4)`` or ``neurosym.bench.ray_executor.RayExecutor()``);
            it replaces ``checker`` and ``max_in_flight``, so it is given instead of them.

    """
    if executor is not None:
        if checker is not None or max_in_flight is not None:
            raise ConfigurationError("pass executor= or checker=/max_in_flight=, not both: the executor decides both")
    else:
        in_flight = 4 if max_in_flight is None else max_in_flight
        if in_flight < 1:
            raise ConfigurationError(f"max_in_flight must be at least 1, got {in_flight}")
        executor = LocalExecutor(in_flight) if checker is None else _GivenChecker(checker, in_flight)
    strategy = strategy or Strategy.greedy()
    ledger = _Ledger(run_budget or RunBudget())
    results: list[LoopResult | None] = [None] * len(problems)
    report_lock = threading.Lock()

    with executor.checking(target, len(problems)) as check:
        checked: Checker = CachedChecker(check, verdict_cache) if verdict_cache is not None else check

        def work(index: int) -> None:
            problem = problems[index]
            reason = ledger.exceeded()
            if reason:
                result = _skipped(problem, reason, strategy)
            else:
                result = refine(
                    problem, target, backend, strategy=strategy, budget=budget, settings=settings, checker=checked
                )
                ledger.add(result.cost)
            results[index] = result
            if on_result is not None:
                with report_lock:
                    on_result(index, result)

        # Configuration errors re-raise; verdicts and backend failures are results.
        for_each(len(problems), work, max(1, executor.max_in_flight))
    return [r for r in results if r is not None]
