r"""The independent check of a solution: every bound, every constraint, integrality, and the objective recomputed.

It reads the *declared* model, not the linearised rows the solvers saw, so it also catches a
wrong linearisation. Integral variables within :data:`INT_TOL` of a whole number are rounded
first, and every value is then checked against that rounded point.

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> m = parse_model("integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4")
    >>> report = check_solution(m, {"x": 4.0000000001, "y": 0.0})
    >>> report.ok, report.objective, report.values["x"], report.binding
    (True, 12.0, 4.0, ('cap',))

"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neurosym.milp.syntax import Cardinality, Comparison, Disjunction, Indicator, Model

__all__ = ["FEAS_TOL", "INT_TOL", "ConstraintCheck", "SolutionCheck", "check_solution"]

FEAS_TOL = 1e-6
"""Largest violation accepted, relative to the size of the row (at least 1)."""
INT_TOL = 1e-6
"""Largest distance from a whole number accepted for an integral variable."""


@dataclass(frozen=True)
class ConstraintCheck:
    """One constraint at the solution: does it hold, and with what slack (``None`` for logic constraints)."""

    name: str
    text: str
    ok: bool
    slack: float | None = None
    binding: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"name": self.name, "text": self.text, "ok": self.ok, "slack": self.slack, "binding": self.binding,
                "note": self.note}  # fmt: skip


@dataclass(frozen=True)
class SolutionCheck:
    """What :func:`check_solution` found: ``ok`` only if every check passed."""

    values: Mapping[str, float]
    objective: float
    constraints: tuple[ConstraintCheck, ...]
    problems: tuple[str, ...] = ()
    binding: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether the solution satisfies the whole model."""
        return not self.problems


def _tolerance(c: Comparison, values: Mapping[str, float]) -> float:
    size = max([1.0, abs(c.rhs)] + [abs(coef * values[n]) for n, coef in c.expr.terms])
    return FEAS_TOL * size


def _holds(c: Comparison, values: Mapping[str, float]) -> tuple[bool, float, bool]:
    slack = c.slack(values)
    tol = _tolerance(c, values)
    return slack >= -tol, slack, abs(slack) <= tol


def check_solution(
    model: Model, values: Mapping[str, float], *, reported_objective: float | None = None
) -> SolutionCheck:
    """Check ``values`` against every part of ``model``; ``reported_objective`` is compared too when given."""
    problems: list[str] = []
    point: dict[str, float] = {}
    for v in model.variables:
        if v.name not in values or values[v.name] is None or not math.isfinite(values[v.name]):
            problems.append(f"no value for {v.name}")
            point[v.name] = 0.0
            continue
        x = float(values[v.name])
        if v.integral:
            if abs(x - round(x)) > INT_TOL:
                problems.append(f"{v.name} = {x:g} is not a whole number")
            else:
                x = float(round(x))
        if v.lower is not None and x < v.lower - FEAS_TOL * max(1.0, abs(v.lower)):
            problems.append(f"{v.name} = {x:g} is below its lower bound {v.lower:g}")
        if v.upper is not None and x > v.upper + FEAS_TOL * max(1.0, abs(v.upper)):
            problems.append(f"{v.name} = {x:g} is above its upper bound {v.upper:g}")
        point[v.name] = x
    checks: list[ConstraintCheck] = []
    for c in model.constraints:
        if isinstance(c, (Comparison, Cardinality)):
            row = c if isinstance(c, Comparison) else c.as_comparison()
            ok, slack, row_binding = _holds(row, point)
            checks.append(ConstraintCheck(c.name, c.render(), ok, slack, row_binding))
        elif isinstance(c, Indicator):
            active = round(point[c.binary]) == c.value
            results = [_holds(part, point) for part in c.then]
            ok = not active or all(r[0] for r in results)
            note = "active" if active else "inactive: the condition is false"
            checks.append(ConstraintCheck(c.name, c.render(), ok, None, active and any(r[2] for r in results), note))
        elif isinstance(c, Disjunction):
            results = [_holds(option, point) for option in c.options]
            held = [option.render() for option, r in zip(c.options, results, strict=True) if r[0]]
            note = "holds: " + "; ".join(held) if held else "no option holds"
            checks.append(ConstraintCheck(c.name, c.render(), bool(held), None, False, note))
    problems += [f"constraint {c.name} ({c.text}) is violated" for c in checks if not c.ok]
    objective = model.objective.value(point)
    if reported_objective is not None and not math.isclose(
        objective, reported_objective, rel_tol=1e-6, abs_tol=FEAS_TOL * 10
    ):
        problems.append(f"the solver reported objective {reported_objective:.10g}, recomputed {objective:.10g}")
    binding = tuple(c.name for c in checks if c.binding)
    return SolutionCheck(point, objective, tuple(checks), tuple(problems), binding)
