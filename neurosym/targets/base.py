"""The target protocol: what the feedback loop needs from each formal language.

Besides the methods of :class:`Target`, the loop uses these when a target has them:
``decoder(problem)`` (answers drawn in several requests, :mod:`neurosym.translators.decoding`),
``hint_request(problem, request, feedback)`` (the ``"hint"`` retry), ``fingerprint()`` (what its
verdicts depend on, for cache keys) and ``salvage(problem, output)`` (the complete part of an
answer the token cap cut off, read when the whole answer cannot be).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar, Protocol, runtime_checkable

from neurosym.translators.base import GenerationRequest
from neurosym.types import Formalization, Problem, Verdict

__all__ = ["Target"]


@runtime_checkable
class Target(Protocol):
    """One formal language (FOL, MILP, Python, Lean) as the loop sees it.

    Targets must pickle: the loop sends ``check`` to a process pool.
    """

    name: ClassVar[str]

    def request(self, problem: Problem) -> GenerationRequest:
        """The prompt (and output constraint) that asks a model to formalise ``problem``."""
        ...

    def parse(self, problem: Problem, output: str) -> Formalization:
        """Read a model's output; raise :class:`~neurosym.errors.ParseError` when it cannot be read."""
        ...

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Decide the formalization with this target's provers."""
        ...

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """The answer a verdict supports, as a key that equal answers share; ``None`` if it supports none."""
        ...

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """A follow-up prompt that shows the model its output and what was wrong with it."""
        ...
