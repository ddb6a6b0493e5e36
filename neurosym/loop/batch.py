r"""Run the feedback loop over many problems at once, with a run-wide budget.

Problems run in threads (model calls wait on the network or on llama.cpp, so several can be in
flight); each problem's samples still go to the backend in one batched call per round. Prover
calls go to a :class:`~neurosym.loop.pool.ProverPool` of worker processes with a hard deadline
per call, so one hard problem never stalls the rest (and Z3 never runs in two threads of one
process). Each result is handed to ``on_result`` as soon as it is known, so a caller can write it out
and a killed run keeps everything it finished.

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

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from neurosym.errors import ConfigurationError
from neurosym.loop.cache import Cache, CachedChecker
from neurosym.loop.refine import Budget, Checker, Strategy, refine
from neurosym.loop.result import Cost, LoopResult
from neurosym.settings import SamplingSettings
from neurosym.targets.base import Target
from neurosym.translators.base import LLMBackend
from neurosym.types import Problem

__all__ = ["RunBudget", "run_many"]


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
    max_in_flight: int = 4,
    on_result: Callable[[int, LoopResult], None] | None = None,
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
            of ``min(max_in_flight, CPUs)`` workers for this run, warmed up as the target's spec says (``pool.check`` of a pool you
            keep, or :func:`neurosym.loop.refine.check_inline` for this process).
        verdict_cache: look verdicts up in this cache first and store new ones (a finished run
            repeated costs neither model nor prover calls, with a :class:`CachedBackend` too).
        run_budget: limits over the whole run.
        max_in_flight: problems worked on at once.
        on_result: called with ``(index, result)`` as each problem finishes (from worker threads,
            one call at a time).

    """
    if max_in_flight < 1:
        raise ConfigurationError(f"max_in_flight must be at least 1, got {max_in_flight}")
    strategy = strategy or Strategy.greedy()
    ledger = _Ledger(run_budget or RunBudget())
    results: list[LoopResult | None] = [None] * len(problems)
    report_lock = threading.Lock()

    def work(index: int) -> None:
        problem = problems[index]
        reason = ledger.exceeded()
        if reason:
            result = _skipped(problem, reason, strategy)
        else:
            result = refine(
                problem, target, backend, strategy=strategy, budget=budget, settings=settings, checker=checker
            )
            ledger.add(result.cost)
        results[index] = result
        if on_result is not None:
            with report_lock:
                on_result(index, result)

    pool = None
    if checker is None:
        from neurosym.loop.pool import ProverPool
        from neurosym.targets.registry import spec_of

        spec = spec_of(target)  # how the target's workers warm up (FOL: import and run Z3 once)
        pool = ProverPool(
            workers=max(1, min(max_in_flight, len(problems), os.cpu_count() or 1)),
            preload=spec.preload if spec else (),
            warmup=spec.warm_up if spec else None,
        )
        checker = pool.check
    if verdict_cache is not None:
        checker = CachedChecker(checker, verdict_cache)
    try:
        with ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="neurosym-loop") as executor:
            for future in [executor.submit(work, i) for i in range(len(problems))]:
                future.result()  # re-raise configuration errors; verdicts and backend failures are results
    finally:
        if pool is not None:
            pool.close(cancel=True)
    return [r for r in results if r is not None]
