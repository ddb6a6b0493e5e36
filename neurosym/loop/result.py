"""What the feedback loop records: every attempt, the vote, the answer (or the abstention), the cost.

Everything serialises to JSON (``to_dict``) and renders as text for a person (``render_trace``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neurosym.errors import VerificationFailed
from neurosym.types import Formalization, Verdict

__all__ = ["Attempt", "Cost", "LoopResult"]


@dataclass(frozen=True)
class Attempt:
    """One model output and what became of it.

    Attributes:
        sample: which sample of the problem (0-based) this attempt belongs to.
        round: the sampling round (adaptive strategies sample in rounds).
        repair: 0 for a fresh sample, k for its k-th repair.
        output: the model's raw text.
        formalization: the formalization, when the output could be read.
        parse_error: why the output could not be read, otherwise ``None``.
        verdict: the provers' verdict, when there is one.
        answer: the answer the verdict supports (a target-specific key), or ``None``.
        prompt_tokens, completion_tokens, latency_s: what the model call cost (shared evenly
            when one call produced several samples).
        prover_s: prover time.
        parse_s: time the target took to read the output.
        salvaged: the token cap cut the output off and only its complete part was read (the
            target's ``salvage``).

    """

    sample: int
    round: int
    repair: int
    output: str
    formalization: Formalization | None = None
    parse_error: str | None = None
    verdict: Verdict | None = None
    answer: Any = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    prover_s: float = 0.0
    parse_s: float = 0.0
    salvaged: bool = False

    @property
    def status(self) -> str:
        """The verdict's status, or ``unparsed``."""
        return self.verdict.status if self.verdict else "unparsed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "sample": self.sample,
            "round": self.round,
            "repair": self.repair,
            "output": self.output,
            "formalization": self.formalization.source if self.formalization else None,
            "declared": self.formalization.declared if self.formalization else "",
            "parse_error": self.parse_error,
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "answer": self.answer,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": round(self.latency_s, 6),
            "prover_s": round(self.prover_s, 6),
            "parse_s": round(self.parse_s, 6),
            "salvaged": self.salvaged,
        }


@dataclass(frozen=True)
class Cost:
    """What a problem cost: model calls, tokens, time in the model, in provers and in the loop itself."""

    samples: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_s: float = 0.0
    prover_s: float = 0.0
    wall_s: float = 0.0
    target_s: float = 0.0
    """Time in the target's own code: building prompts and repair prompts, reading outputs."""

    @property
    def overhead_s(self) -> float:
        """Wall time not spent in the model, the provers or the target: the loop's own cost."""
        return max(0.0, self.wall_s - self.model_s - self.prover_s - self.target_s)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "samples": self.samples,
            "model_calls": self.model_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "model_s": round(self.model_s, 6),
            "prover_s": round(self.prover_s, 6),
            "wall_s": round(self.wall_s, 6),
            "target_s": round(self.target_s, 6),
            "overhead_s": round(self.overhead_s, 6),
        }


@dataclass(frozen=True)
class LoopResult:
    """The loop's outcome for one problem.

    Attributes:
        problem_id: the problem's id, if it had one.
        answer: the winning answer, or ``None`` when the loop abstained.
        verified: whether the winning answer comes from a verdict the provers decided.
        confidence: the winner's share of the decided votes (0 when there were none).
        abstained: no answer reached the agreement threshold (or none was decided).
        votes: decided answers and how many samples supported each.
        stop_reason: why the loop stopped (``agreement``, ``first-verified``, ``exhausted``,
            ``budget:samples``, ``budget:tokens``, ``budget:wall``, ``budget:prover``, ``error``).
        winner: the attempt whose formalization and certificate back the answer.
        attempts: every attempt, in order.
        cost: what the problem cost.
        error: an infrastructure failure that ended the problem (the backend died), if any.

    """

    problem_id: str | None
    answer: Any
    verified: bool
    confidence: float
    abstained: bool
    votes: Mapping[str, int]
    stop_reason: str
    winner: Attempt | None
    attempts: tuple[Attempt, ...]
    cost: Cost
    error: str | None = None
    strategy: Mapping[str, Any] = field(default_factory=dict)
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    """The infrastructure error behind ``error`` (not serialised)."""

    def raise_for_status(self) -> LoopResult:
        """Return self when an answer was verified; raise :class:`VerificationFailed` otherwise."""
        if self.verified and not self.abstained:
            return self
        raise VerificationFailed(
            f"no verified answer ({self.stop_reason}; votes {dict(self.votes)})",
            problem_id=self.problem_id,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form with every attempt."""
        return {
            "problem_id": self.problem_id,
            "answer": self.answer,
            "verified": self.verified,
            "confidence": round(self.confidence, 6),
            "abstained": self.abstained,
            "votes": dict(self.votes),
            "stop_reason": self.stop_reason,
            "winner": self.winner.to_dict() if self.winner else None,
            "attempts": [a.to_dict() for a in self.attempts],
            "cost": self.cost.to_dict(),
            "error": self.error,
            "strategy": dict(self.strategy),
        }

    def render_trace(self) -> str:
        """The attempts and the decision, one line each, for a person to read."""
        head = "ABSTAINED" if self.abstained else f"answer {self.answer}"
        lines = [
            f"problem {self.problem_id or '-'}: {head} (confidence {self.confidence:.2f}, "
            f"votes {dict(self.votes)}, stopped: {self.stop_reason})"
        ]
        for a in self.attempts:
            what = (a.parse_error or (a.verdict.message if a.verdict else "")) if a.answer is None else f"→ {a.answer}"
            if a.salvaged:
                what = f"{what} (cut at the token cap; its complete lines read)".lstrip()
            kind = f"repair {a.repair}" if a.repair else "sample"
            lines.append(f"  [{a.round}.{a.sample}] {kind:9} {a.status:12} {what}".rstrip())
            if a.formalization is not None and a.formalization.declared:
                declared = "; ".join(a.formalization.declared.splitlines())
                lines.append(f"        declared: {declared if len(declared) <= 110 else declared[:109] + '…'}")
        c = self.cost
        lines.append(
            f"  cost: {c.samples} samples, {c.prompt_tokens}+{c.completion_tokens} tokens, "
            f"model {c.model_s:.2f} s, provers {c.prover_s:.2f} s, loop {c.overhead_s * 1000:.1f} ms"
        )
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)
