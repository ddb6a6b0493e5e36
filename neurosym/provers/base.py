"""The prover protocol that every decision procedure (Z3, E, PuLP, a sandbox, Lean) implements."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from neurosym.types import Formalization, Verdict

__all__ = ["Prover"]


@runtime_checkable
class Prover(Protocol):
    """Decides formalizations of one target and returns a :class:`~neurosym.types.Verdict`.

    A prover returns a verdict for anything about the formalization (``invalid``, ``timeout``,
    ...) and raises only when it cannot run at all (:class:`~neurosym.errors.SolverError`).

    Example:
        >>> from neurosym.provers import get_prover
        >>> isinstance(get_prover("z3"), Prover)
        True

    """

    name: ClassVar[str]
    target: ClassVar[str]

    def available(self) -> bool:
        """Whether this machine can run the prover; cheap and without side effects."""
        ...

    def check(self, formalization: Formalization, *, timeout_s: float = 10.0) -> Verdict:
        """Decide ``formalization`` within ``timeout_s`` seconds."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The prover's name, version and settings, for results files."""
        ...
