r"""The automation portfolio: decision procedures and automatic tactics tried on a statement before any model call.

Each :class:`Tactic` is one proof, ``intros.`` then the tactic under Coq's ``Timeout``, checked
by :class:`~neurosym.provers.coq.prover.CoqProver` like any model-written script (the statement
as given, ``Print Assumptions`` within the allow-list). :func:`run_portfolio` says which tactic
closed the goal, so that results credit the portfolio and the model apart. The scripts share their
first sentences (header, statement, ``intros``), which the kernel runs once.

:data:`PORTFOLIO` is ``lia`` and ``nia`` (linear and nonlinear integer arithmetic), ``lra`` and
``nra`` (real arithmetic), ``field``, ``ring``, ``psatz`` (Positivstellensatz certificates, through
the ``csdp`` program where it is installed), ``auto``, and, where CoqHammer is installed
(Debian package ``libcoq-hammer``), its ``sauto`` and ``hammer`` (which calls E and other
first-order provers, then rebuilds their proof in Coq).

Example:
    >>> from neurosym.provers.coq.prover import CoqProver
    >>> result = run_portfolio(CoqProver(), "Require Import ZArith.\nOpen Scope Z_scope.",
    ...                        "Theorem t : forall x : Z, 2 * x + 1 <> 0.", tactic_timeout_s=5)
    >>> result.closed_by, result.verdict.status
    ('lia', 'proved')

"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from neurosym.deadlines import Deadline, check_seconds
from neurosym.provers.coq.prover import CoqProver, CoqTask
from neurosym.types import Formalization, Verdict

__all__ = ["PORTFOLIO", "PortfolioResult", "Tactic", "TacticTry", "hammer_installed", "portfolio_script",
           "portfolio_tactics", "run_portfolio"]  # fmt: skip

ARITHMETIC = "Require Import Lia Lra Psatz."
HAMMER = "From Hammer Require Import Hammer."
HAMMER_TACTICS = "From Hammer Require Import Tactics."
GRACE_S = 5.0
"""Seconds past a tactic's Coq ``Timeout`` before the kernel itself is stopped (a tactic Coq cannot interrupt)."""


@dataclass(frozen=True, slots=True)
class Tactic:
    """One automatic proof attempt: its label, the tactic, and the libraries it needs.

    Example:
        >>> Tactic("lia", "lia").requires
        ('Require Import Lia Lra Psatz.',)

    """

    name: str
    tactic: str
    requires: tuple[str, ...] = (ARITHMETIC,)
    options: tuple[str, ...] = ()


PORTFOLIO: tuple[Tactic, ...] = (
    Tactic("lia", "lia"),
    Tactic("nia", "nia"),
    Tactic("lra", "lra"),
    Tactic("nra", "nra"),
    Tactic("field", "field"),
    Tactic("ring", "ring"),
    Tactic("psatz", "first [psatz R 2 | psatz Z 2]"),
    Tactic("auto", "auto"),
)
"""The standard library's automation (see the module docstring)."""
HAMMER_PORTFOLIO: tuple[Tactic, ...] = (
    Tactic("sauto", "sauto", (ARITHMETIC, HAMMER_TACTICS)),
    Tactic("hammer", "hammer", (ARITHMETIC, HAMMER), ("Set Hammer ATPLimit 4.",)),
)
"""CoqHammer's tactics, added where it is installed."""


@functools.lru_cache(maxsize=1)
def hammer_installed() -> bool:
    """Whether CoqHammer is in Coq's library (looked up on disk: nothing is started).

    Example:
        >>> isinstance(hammer_installed(), bool)
        True

    """
    for folder in ("/usr/lib/ocaml/coq/user-contrib/Hammer", "/usr/local/lib/coq/user-contrib/Hammer"):
        if os.path.isdir(folder):
            return True
    return False


def portfolio_tactics(*, hammer: bool | None = None) -> tuple[Tactic, ...]:
    """:data:`PORTFOLIO`, and CoqHammer's tactics where it is installed (or as ``hammer`` says).

    Example:
        >>> [t.name for t in portfolio_tactics(hammer=False)][:3]
        ['lia', 'nia', 'lra']

    """
    use_hammer = hammer_installed() if hammer is None else hammer
    return PORTFOLIO + (HAMMER_PORTFOLIO if use_hammer else ())


def portfolio_script(statement: str, tactic: Tactic, timeout_s: float) -> str:
    r"""The proof script of one portfolio attempt.

    Example:
        >>> print(portfolio_script("Theorem t : 1 = 1.", Tactic("auto", "auto"), 3))
        Require Import Lia Lra Psatz.
        Theorem t : 1 = 1.
        Proof.
          intros.
          Timeout 3 auto.
        Qed.

    """
    seconds = max(1, round(timeout_s))
    lines = [*tactic.requires, *tactic.options, statement.strip(), "Proof.", "  intros.",
             f"  Timeout {seconds} {tactic.tactic}.", "Qed."]  # fmt: skip
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class TacticTry:
    """One tactic's attempt: its label, the verdict's status, the wall time and the kernel's message.

    Example:
        >>> TacticTry("lia", "invalid", 0.01, "Cannot find witness").to_dict()["tactic"]
        'lia'

    """

    tactic: str
    status: str
    seconds: float
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"tactic": self.tactic, "status": self.status, "seconds": round(self.seconds, 4),
                "message": self.message}  # fmt: skip


@dataclass(frozen=True)
class PortfolioResult:
    """What the portfolio did: the tactic that closed the goal (or ``None``), its verdict, every attempt.

    Example:
        >>> PortfolioResult(None, None, (TacticTry("lra", "proved", 0.1), TacticTry("nra", "proved", 0.2))).closing
        ['lra', 'nra']

    """

    closed_by: str | None
    verdict: Verdict | None
    tries: tuple[TacticTry, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def closing(self) -> list[str]:
        """Every tactic that closed the goal (several when the portfolio was not stopped at the first)."""
        return [t.tactic for t in self.tries if t.status == "proved"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"closed_by": self.closed_by, "closing": self.closing, "seconds": round(self.seconds, 4),
                "tries": [t.to_dict() for t in self.tries]}  # fmt: skip


def run_portfolio(
    prover: CoqProver,
    header: str,
    statement: str,
    *,
    tactics: Sequence[Tactic] | None = None,
    tactic_timeout_s: float = 3.0,
    stop_at_first: bool = True,
    deadline: Deadline | None = None,
) -> PortfolioResult:
    """Try each tactic on ``statement`` (after the trusted ``header``); stop at the first that closes it.

    Args:
        prover: the Coq prover that checks each attempt.
        header: the problem's imports and scopes.
        statement: ``Theorem NAME ... .`` as given.
        tactics: the portfolio (default :func:`portfolio_tactics`).
        tactic_timeout_s: Coq's ``Timeout`` for each tactic (whole seconds, at least 1).
        stop_at_first: ``False`` tries every tactic (to report which tactics close what).
        deadline: when the whole portfolio must be done.

    """
    tactic_timeout_s = check_seconds(tactic_timeout_s, "tactic_timeout_s")
    started = time.perf_counter()
    tries: list[TacticTry] = []
    winner: tuple[str, Verdict] | None = None
    for tactic in tactics if tactics is not None else portfolio_tactics():
        if deadline is not None and deadline.expired():
            break
        task = CoqTask(portfolio_script(statement, tactic, tactic_timeout_s), header, statement)
        begun = time.perf_counter()
        verdict = prover.check(Formalization("coq", task.source, task), timeout_s=tactic_timeout_s + GRACE_S,
                               deadline=deadline)  # fmt: skip
        message = "" if verdict.status == "proved" else (verdict.details.get("kernel_message") or verdict.message)
        tries.append(TacticTry(tactic.name, verdict.status, time.perf_counter() - begun, str(message)[:300]))
        if verdict.status == "proved" and winner is None:
            winner = (tactic.name, verdict)
            if stop_at_first:
                break
    closed_by, closing = winner if winner is not None else (None, None)
    return PortfolioResult(closed_by, closing, tuple(tries), time.perf_counter() - started)
