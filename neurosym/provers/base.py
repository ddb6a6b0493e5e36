"""The prover protocol that every decision procedure implements (Z3, E, HiGHS, CBC, the Python sandbox; proof kernels).

What every prover promises (tests/conformance checks each registered one):

- ``name`` and ``target``: what it is called and which formalizations it decides;
- ``available()`` is cheap and has no side effects: nothing is started, written or changed;
- ``to_dict()`` is JSON: the name, versions and settings, for results files and cache keys;
- ``check(formalization, *, timeout_s, deadline=None)`` refuses a bad ``timeout_s`` (``nan``,
  ``inf``, 0, negative) with a :class:`~neurosym.errors.ConfigurationError` before anything
  else, as it does a formalization of another target; it returns a
  :class:`~neurosym.types.Verdict` for everything about the formalization itself (a malformed
  one is ``invalid``), by the earlier of ``timeout_s`` and ``deadline``, give or take a fraction
  of a second; it raises only when it cannot run at all (:class:`~neurosym.errors.SolverError`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from neurosym.deadlines import Deadline, check_seconds
from neurosym.errors import ConfigurationError
from neurosym.types import Formalization, Verdict

__all__ = ["Prover", "prover_deadline"]


@runtime_checkable
class Prover(Protocol):
    """Decides formalizations of one target and returns a :class:`~neurosym.types.Verdict`.

    A prover returns a verdict for anything about the formalization (``invalid``, ``timeout``,
    ...) and raises only when it cannot run at all (:class:`~neurosym.errors.SolverError`).
    It returns by the earlier of ``timeout_s`` from the call and ``deadline`` (a deadline shared
    with the other steps of one check), give or take a fraction of a second.

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

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Decide ``formalization`` within ``timeout_s`` seconds and before ``deadline``."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The prover's name, version and settings, for results files."""
        ...


def prover_deadline(timeout_s: object, deadline: Deadline | None = None) -> Deadline:
    """The earlier of ``timeout_s`` seconds from now and ``deadline``, with ``timeout_s`` checked.

    Raises:
        ConfigurationError: ``timeout_s`` is not a finite number of seconds above 0 (see
            :func:`neurosym.deadlines.check_seconds`), or ``deadline`` is not a Deadline.

    Example:
        >>> shared = Deadline.after(1.0)
        >>> prover_deadline(60, shared) == shared, prover_deadline(0.5, shared).left() <= 0.5
        (True, True)
        >>> prover_deadline(float("inf"))
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: timeout_s must be a finite number of seconds greater than 0, got inf

    """
    own = Deadline.after(check_seconds(timeout_s, "timeout_s"))
    if deadline is None:
        return own
    if not isinstance(deadline, Deadline):
        raise ConfigurationError(f"deadline must be a neurosym.deadlines.Deadline, not {type(deadline).__name__}")
    return deadline if deadline.at <= own.at else own
