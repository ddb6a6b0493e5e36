r"""Proving one theorem end to end: the automation portfolio first, then whole proofs from the model, then the search.

:func:`prove_problem` is what ``neurosym prove`` and the miniF2F benchmarks run. For a Coq problem
that gives its statement, the portfolio (:mod:`neurosym.provers.coq.portfolio`) tries first, with
no model call; then, if a backend is given, the feedback loop samples whole proofs (stopping at the
first verified one, sending the kernel's errors and goals back for repair); then, if a search
budget is given, the tactic search. The outcome says which of the three closed the theorem, so
that the portfolio and the model never take each other's credit.

Example:
    >>> from neurosym.targets.proof.target import proof_problem
    >>> outcome = prove_problem(proof_problem("t", "Theorem t : forall n : nat, n + 1 > n.", "Require Import Arith."))
    >>> outcome.proved, outcome.by, outcome.tactic
    (True, 'portfolio', 'lia')

"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from neurosym.loop.refine import Budget, Strategy, refine
from neurosym.loop.result import LoopResult
from neurosym.provers.coq.portfolio import PortfolioResult, Tactic, run_portfolio
from neurosym.settings import SamplingSettings
from neurosym.targets.proof.search import SearchBudget, SearchResult, tactic_search
from neurosym.targets.proof.target import CoqProofTarget, LeanProofTarget
from neurosym.translators.base import LLMBackend
from neurosym.types import Problem, Verdict

__all__ = ["WHOLE_PROOF", "ProofOutcome", "prove_problem"]

WHOLE_PROOF = Strategy(samples=4, repair_rounds=1, first_verified=True, round_size=1, temperature=0.7, timeout_s=30.0)
"""The whole-proof default: up to 4 samples drawn one at a time, each repaired once from the kernel's message,
stopping at the first verified proof."""


@dataclass(frozen=True)
class ProofOutcome:
    """How one theorem went: proved or not, by whom (``portfolio``, ``model``, ``search``), and each stage's record.

    Example:
        >>> ProofOutcome("t", False, None, None).to_dict()["proved"]
        False

    """

    problem_id: str | None
    proved: bool
    by: str | None
    verdict: Verdict | None
    tactic: str | None = None
    portfolio: PortfolioResult | None = None
    loop: LoopResult | None = None
    search: SearchResult | None = None
    seconds: float = 0.0

    @property
    def script(self) -> str | None:
        """The verified proof script (the model's part), if any."""
        if self.verdict is None or self.verdict.status != "proved" or self.verdict.answer is None:
            return None
        return getattr(self.verdict.answer, "proof", None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"id": self.problem_id, "proved": self.proved, "by": self.by, "tactic": self.tactic,
                "script": self.script, "verdict": self.verdict.to_dict() if self.verdict else None,
                "portfolio": self.portfolio.to_dict() if self.portfolio else None,
                "loop": self.loop.to_dict() if self.loop else None,
                "search": self.search.to_dict() if self.search else None,
                "seconds": round(self.seconds, 3)}  # fmt: skip


def prove_problem(
    problem: Problem,
    backend: LLMBackend | None = None,
    *,
    target: CoqProofTarget | LeanProofTarget | None = None,
    portfolio: bool = True,
    tactics: tuple[Tactic, ...] | None = None,
    tactic_timeout_s: float = 3.0,
    strategy: Strategy | None = None,
    budget: Budget | None = None,
    settings: SamplingSettings | None = None,
    search: SearchBudget | None = None,
) -> ProofOutcome:
    """Prove ``problem``: portfolio, then whole proofs from ``backend``, then the search (see the module docstring).

    Args:
        problem: the theorem (:func:`~neurosym.targets.proof.target.proof_problem`), or a text to
            autoformalize (then there is no portfolio and no search).
        backend: the model; ``None`` runs the portfolio only.
        target: the proof target (default :class:`CoqProofTarget`).
        portfolio: try the automation portfolio first (Coq's, or Lean's ``omega``, ``norm_num``...).
        tactics: the portfolio's tactics (default: all of Coq's that are installed).
        tactic_timeout_s: each portfolio tactic's time limit.
        strategy: the whole-proof loop (default :data:`WHOLE_PROOF`).
        budget: the loop's per-problem budget.
        settings: sampling settings of the loop (and the search).
        search: a budget to run the tactic search after the loop (Coq only); ``None`` skips it.

    """
    target = target or CoqProofTarget()
    started = time.perf_counter()
    given = bool(problem.metadata.get("statement"))
    coq = target if isinstance(target, CoqProofTarget) else None
    tried: PortfolioResult | None = None
    if portfolio and given:
        header, statement = str(problem.metadata.get("header") or ""), str(problem.metadata["statement"])
        if coq is not None:
            tried = run_portfolio(coq.prover(), header, statement, tactics=tactics,
                                  tactic_timeout_s=tactic_timeout_s)  # fmt: skip
        elif isinstance(target, LeanProofTarget):
            from neurosym.provers.lean import run_lean_portfolio

            tried = run_lean_portfolio(target.prover(), header, statement)
        if tried is not None and tried.closed_by is not None:
            return ProofOutcome(problem.id, True, "portfolio", tried.verdict, tried.closed_by, tried,
                                seconds=time.perf_counter() - started)  # fmt: skip
    if backend is None:
        return ProofOutcome(problem.id, False, None, None, portfolio=tried, seconds=time.perf_counter() - started)
    loop = refine(problem, target, backend, strategy=strategy or WHOLE_PROOF, budget=budget, settings=settings)
    if loop.winner is not None and loop.winner.verdict is not None:
        return ProofOutcome(problem.id, True, "model", loop.winner.verdict, portfolio=tried, loop=loop,
                            seconds=time.perf_counter() - started)  # fmt: skip
    last = loop.attempts[-1].verdict if loop.attempts else None
    found: SearchResult | None = None
    if search is not None and given and coq is not None:
        found = tactic_search(problem, backend, prover=coq.prover(), budget=search, settings=settings)
        if found.proved:
            return ProofOutcome(problem.id, True, "search", found.verdict, portfolio=tried, loop=loop, search=found,
                                seconds=time.perf_counter() - started)  # fmt: skip
    return ProofOutcome(problem.id, False, None, last, portfolio=tried, loop=loop, search=found,
                        seconds=time.perf_counter() - started)  # fmt: skip
