r"""Tactic-level proof search in Coq: best-first over model-proposed tactics, with the kernel's goals as the state.

Each node is a proof so far (the tactics after ``Proof.``) and the goals Coq shows after it. The
search takes the most promising node (fewest goals, then the shortest proof, then the least goal
text), asks the model for ``candidates`` next tactics (:func:`~neurosym.targets.proof.translator.build_tactic_request`),
runs each on the kernel from that node's state (the kernel reuses the shared beginning, so a step
costs one sentence), keeps those Coq accepts as new nodes (a state already seen is dropped), puts
the expanded node back with fresh samples to come (at a new seed, ranked as if it had one goal more
per expansion so far, up to ``resamples`` times: a small model's four candidates often all fail or
repeat, and a search that dropped the node would end long before its budget), and
stops when a tactic leaves no goal and the whole proof, closed by ``Qed.``, is verified by
:class:`~neurosym.provers.coq.CoqProver` like any other script. The search is budgeted in kernel
calls, completion tokens and expansions (model calls); running out of any is an outcome.

Example:
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.targets.proof.target import proof_problem
    >>> problem = proof_problem("t", "Theorem t : forall x y : nat, x + y = y + x.", "Require Import Arith.")
    >>> result = tactic_search(problem, ScriptedBackend(["```coq\nintros x y.\n```", "```coq\nlia.\n```"] * 4),
    ...                        budget=SearchBudget(candidates=1))
    >>> result.proved, result.tactics, result.stop_reason
    (True, ('intros x y.', 'lia.'), 'proved')

"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from neurosym.deadlines import Deadline, check_seconds
from neurosym.errors import ConfigurationError, NeurosymError, ParseError
from neurosym.provers.coq import CoqProver, CoqTask, Goal, split_sentences
from neurosym.provers.coq.policy import refusals
from neurosym.provers.coq.portfolio import ARITHMETIC
from neurosym.settings import SamplingSettings, merge
from neurosym.targets.proof.translator import build_tactic_request, extract_tactic
from neurosym.translators.base import LLMBackend
from neurosym.types import Formalization, Problem, Verdict

__all__ = ["SearchBudget", "SearchResult", "tactic_search"]


@dataclass(frozen=True)
class SearchBudget:
    """What one search may spend.

    Attributes:
        kernel_calls: tactics run on the kernel (and the final check).
        completion_tokens: tokens the model writes, over all its calls (``None``: no limit).
        expansions: model calls (one per node expanded).
        candidates: tactics asked for per expansion (samples of one call).
        max_depth: the longest proof tried, in tactics.
        tactic_tokens: the most tokens of one proposed tactic.
        resamples: how many more times one node is expanded (fresh candidates at a new seed) after
            its first expansion.

    Example:
        >>> SearchBudget(kernel_calls=0)
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: kernel_calls must be at least 1, got 0

    """

    kernel_calls: int = 200
    completion_tokens: int | None = 4096
    expansions: int = 40
    candidates: int = 4
    max_depth: int = 30
    tactic_tokens: int = 96
    resamples: int = 8

    def __post_init__(self) -> None:
        for name in ("kernel_calls", "expansions", "candidates", "max_depth", "tactic_tokens"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.resamples < 0:
            raise ConfigurationError(f"resamples must be non-negative, got {self.resamples}")
        if self.completion_tokens is not None and self.completion_tokens < 1:
            raise ConfigurationError(f"completion_tokens must be at least 1, got {self.completion_tokens}")


@dataclass(frozen=True)
class SearchResult:
    """What a search found and what it cost.

    ``stop_reason`` is ``proved``, ``exhausted`` (no node left), ``budget:kernel``,
    ``budget:tokens``, ``budget:expansions``, ``invalid-statement`` or ``error`` (the model
    backend failed: see ``error``).

    Example:
        >>> SearchResult(False, None, (), "budget:tokens", expansions=3).to_dict()["stop_reason"]
        'budget:tokens'

    """

    proved: bool
    verdict: Verdict | None
    tactics: tuple[str, ...]
    stop_reason: str
    kernel_calls: int = 0
    expansions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    nodes: int = 0
    rejected: int = 0
    seconds: float = 0.0
    model_s: float = 0.0
    kernel_s: float = 0.0
    error: str | None = None
    script: str | None = None
    trace: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"proved": self.proved, "tactics": list(self.tactics), "stop_reason": self.stop_reason,
                "kernel_calls": self.kernel_calls, "expansions": self.expansions,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "nodes": self.nodes, "rejected": self.rejected, "seconds": round(self.seconds, 3),
                "model_s": round(self.model_s, 3), "kernel_s": round(self.kernel_s, 3), "error": self.error,
                "script": self.script, "verdict": self.verdict.to_dict() if self.verdict else None,
                "trace": list(self.trace)}  # fmt: skip


def _goals_text(goals: tuple[Goal, ...]) -> str:
    return "\n\n".join(goal.render() for goal in goals)


def tactic_search(
    problem: Problem,
    backend: LLMBackend,
    *,
    prover: CoqProver | None = None,
    budget: SearchBudget | None = None,
    settings: SamplingSettings | None = None,
    temperature: float = 0.7,
    timeout_s: float = 10.0,
    prelude: str = ARITHMETIC,
) -> SearchResult:
    """Search for a proof of ``problem``'s statement (``metadata["statement"]``) one tactic at a time.

    Args:
        problem: a problem that gives its statement and header.
        backend: the model that proposes tactics.
        prover: the Coq prover (default: this process's jailed kernel).
        budget: kernel calls, tokens, expansions (see :class:`SearchBudget`).
        settings: sampling settings layered under the search's own (``n``, ``temperature``,
            ``seed``, ``max_tokens``).
        temperature: sampling temperature of the candidates.
        timeout_s: the kernel's time for each tactic.
        prelude: sentences run after the header and before the statement (the arithmetic tactics' libraries).

    Never raises for what the model writes; a backend failure ends the search (``stop_reason='error'``).

    """
    timeout_s = check_seconds(timeout_s, "timeout_s")
    statement = problem.metadata.get("statement")
    if not statement:
        raise ConfigurationError("the tactic search needs a problem that gives its statement (metadata['statement'])")
    statement, header = str(statement), str(problem.metadata.get("header") or "")
    budget = budget or SearchBudget()
    prover = prover or CoqProver()
    kernel = prover.kernel
    started = time.perf_counter()
    counts = {"kernel": 0, "expansions": 0, "prompt": 0, "completion": 0, "rejected": 0}
    times = {"model": 0.0, "kernel": 0.0}
    trace: list[dict[str, Any]] = []
    root = [s.text for s in split_sentences(header)] + [s.text for s in split_sentences(prelude)]
    root += [statement.strip(), "Proof."]

    def run(tactics: list[str]) -> Any:
        counts["kernel"] += 1
        begun = time.perf_counter()
        result = kernel.run([*root, *tactics], Deadline.after(timeout_s))
        times["kernel"] += time.perf_counter() - begun
        return result

    def finish(reason: str, verdict: Verdict | None = None, tactics: tuple[str, ...] = (), *, nodes: int = 0,
               error: str | None = None, script: str | None = None) -> SearchResult:  # fmt: skip
        return SearchResult(verdict is not None and verdict.status == "proved", verdict, tactics, reason,
                            counts["kernel"], counts["expansions"], counts["prompt"], counts["completion"], nodes,
                            counts["rejected"], time.perf_counter() - started, times["model"], times["kernel"],
                            error, script, tuple(trace))  # fmt: skip

    first = run([])
    if first.status != "ok" or not first.goals:
        return finish("invalid-statement", error=first.message or "the statement opens no goal")
    tie = itertools.count()
    # (rank, tie, proof so far, its goals, times expanded); the rank is (goals + times expanded, depth, goal text)
    frontier: list[tuple[tuple[int, int, int], int, tuple[str, ...], tuple[Goal, ...], int]] = []
    heapq.heappush(frontier, ((len(first.goals), 0, len(_goals_text(first.goals))), next(tie), (), first.goals, 0))
    seen = {_goals_text(first.goals)}
    nodes = 1
    base = merge(SamplingSettings(seed=0), settings)
    while frontier:
        if counts["expansions"] >= budget.expansions:
            return finish("budget:expansions", nodes=nodes)
        if budget.completion_tokens is not None and counts["completion"] >= budget.completion_tokens:
            return finish("budget:tokens", nodes=nodes)
        if counts["kernel"] >= budget.kernel_calls:
            return finish("budget:kernel", nodes=nodes)
        rank, _, tactics, goals, expanded = heapq.heappop(frontier)
        if len(tactics) >= budget.max_depth:
            continue
        if expanded < budget.resamples:  # back in line for fresh candidates, behind its first try
            again = (rank[0] + 1, *rank[1:])
            heapq.heappush(frontier, (again, next(tie), tactics, goals, expanded + 1))
        request = build_tactic_request(statement, header, list(tactics), _goals_text(goals))
        step_settings = merge(base, SamplingSettings(n=budget.candidates, temperature=temperature,
                                                     seed=(base.seed or 0) + counts["expansions"],
                                                     max_tokens=budget.tactic_tokens))  # fmt: skip
        begun = time.perf_counter()
        try:
            [answer] = backend.generate([request], settings=step_settings)
        except NeurosymError as exc:
            if isinstance(exc, ConfigurationError):
                raise
            times["model"] += time.perf_counter() - begun
            return finish("error", nodes=nodes, error=f"{type(exc).__name__}: {exc}")
        times["model"] += time.perf_counter() - begun
        counts["expansions"] += 1
        counts["prompt"] += answer.usage.prompt_tokens
        counts["completion"] += answer.usage.completion_tokens
        proposed: list[str] = []
        for sample in answer.samples:
            try:
                tactic = extract_tactic(sample.text)
            except ParseError:
                continue
            if tactic not in proposed:
                proposed.append(tactic)
        for tactic in proposed:
            if counts["kernel"] >= budget.kernel_calls:
                break
            try:
                sentences = [s.text for s in split_sentences(tactic) if s.complete]
            except ParseError:
                counts["rejected"] += 1
                continue
            sentences = [s for s in sentences if s.strip() not in ("Qed.", "Defined.", "Proof.")]
            if not sentences or refusals(split_sentences(" ".join(sentences))):
                counts["rejected"] += 1
                continue
            attempt = run([*tactics, *sentences])
            entry = {"from": len(tactics), "tactic": " ".join(sentences), "status": attempt.status}
            if attempt.status != "ok" or attempt.goals is None:
                counts["rejected"] += 1
                trace.append(entry)
                continue
            path = (*tactics, *sentences)
            entry["goals"] = len(attempt.goals)
            trace.append(entry)
            if not attempt.goals:
                script = "\n".join([prelude.strip(), statement.strip(), "Proof.", *("  " + t for t in path), "Qed."])
                task = CoqTask(script, header, statement)
                counts["kernel"] += 1
                begun = time.perf_counter()
                verdict = prover.check(Formalization("coq", task.source, task), timeout_s=timeout_s * 3)
                times["kernel"] += time.perf_counter() - begun
                if verdict.status == "proved":
                    return finish("proved", verdict, path, nodes=nodes, script=script)
                continue
            key = _goals_text(attempt.goals)
            if key in seen:
                continue
            seen.add(key)
            nodes += 1
            heapq.heappush(frontier, ((len(attempt.goals), len(path), len(key)), next(tie), path, attempt.goals, 0))
    return finish("exhausted", nodes=nodes)
