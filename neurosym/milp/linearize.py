r"""Turn a model's logic constraints into linear rows: big-M with bounds derived from the model itself.

- ``at most / at least / exactly k of`` binaries is already linear: one row.
- ``if b then C`` becomes, for ``C = expr <= rhs``, ``expr - rhs <= M (1 - b)`` with ``M`` the largest
  value ``expr - rhs`` can take within the variables' bounds (``if not b`` uses ``b`` for ``1 - b``).
- ``C1 or C2 or ...`` gets one new binary per option, at least one of them 1, each switching its
  option on as above.

The bounds come from the declarations, tightened by interval propagation over the model's linear
rows (:func:`derive_bounds`); logic constraints are left out of the propagation, so the bounds
hold for every feasible point. Where no finite ``M`` exists the model is refused, naming the
variable that needs a bound.

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> m = parse_model("binary b\ninteger x <= 10\nmaximize x\nif not b then x <= 0")
    >>> [r.render() for r in linearize(m).rows]
    ['x - 10 b <= 0']

"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from neurosym.milp.syntax import Cardinality, Comparison, Disjunction, Indicator, LinearExpr, Model, Variable

__all__ = ["MAX_BIG_M", "LinearProgram", "LinearizationError", "derive_bounds", "linearize"]

MAX_BIG_M = 1e9
"""Largest big-M accepted; beyond it solvers' tolerances make the switch unreliable."""
_EPS = 1e-9


class LinearizationError(ValueError):
    """A logic constraint that cannot be made linear; ``constraint`` and ``variables`` say where."""

    def __init__(self, message: str, *, constraint: str, variables: tuple[str, ...] = ()):
        super().__init__(message)
        self.constraint = constraint
        self.variables = variables


@dataclass(frozen=True)
class LinearProgram:
    """The model as linear rows only: its variables plus helper binaries, each row tagged with its origin."""

    variables: tuple[Variable, ...]
    sense: str
    objective: LinearExpr
    rows: tuple[Comparison, ...]
    origins: tuple[str, ...]
    """For each row, the name of the model constraint it comes from."""


Bounds = dict[str, tuple[float, float]]


def _rows(constraints: Iterable[object]) -> list[Comparison]:
    out: list[Comparison] = []
    for c in constraints:
        if isinstance(c, Comparison):
            out.append(c)
        elif isinstance(c, Cardinality):
            out.append(c.as_comparison())
    return out


def derive_bounds(model: Model, *, rounds: int = 20) -> Bounds:
    r"""Variable bounds tightened by interval propagation over the model's linear rows.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> derive_bounds(parse_model("integer x, y\nmaximize x\n2 x + y <= 7"))["x"]
        (0.0, 3.0)

    """
    bounds: Bounds = {
        v.name: (-math.inf if v.lower is None else v.lower, math.inf if v.upper is None else v.upper)
        for v in model.variables
    }
    integral = {v.name for v in model.variables if v.integral}
    rows = _rows(model.constraints)
    for _ in range(rounds):
        changed = False
        for row in rows:
            for sense in ("<=", ">=") if row.sense == "==" else (row.sense,):
                changed |= _propagate(row.expr.terms, sense, row.rhs, bounds, integral)
        if not changed:
            break
    return bounds


def _propagate(
    terms: tuple[tuple[str, float], ...], sense: str, rhs: float, bounds: Bounds, integral: set[str]
) -> bool:
    # For <=: a_j x_j <= rhs - (smallest the other terms can be); >= mirrors it by negation.
    sign = 1.0 if sense == "<=" else -1.0
    lows = []
    for name, coef in terms:
        lo, hi = bounds[name]
        a = sign * coef
        lows.append(a * lo if a > 0 else a * hi)
    finite = math.fsum(v for v in lows if math.isfinite(v))
    infinite = sum(1 for v in lows if not math.isfinite(v))
    changed = False
    for (name, coef), own in zip(terms, lows, strict=False):
        others_infinite = infinite - (0 if math.isfinite(own) else 1)
        if others_infinite:
            continue
        room = sign * rhs - (finite - (own if math.isfinite(own) else 0.0))
        a = sign * coef
        lo, hi = bounds[name]
        if a > 0:
            new_hi = room / a
            if name in integral:
                new_hi = float(math.floor(new_hi + 1e-9))
            if new_hi < hi - 1e-9:
                bounds[name] = (lo, new_hi)
                changed = True
        else:
            new_lo = room / a
            if name in integral:
                new_lo = float(math.ceil(new_lo - 1e-9))
            if new_lo > lo + 1e-9:
                bounds[name] = (new_lo, hi)
                changed = True
    return changed


def _extremes(expr: LinearExpr, bounds: Bounds) -> tuple[float, float]:
    low = high = expr.constant
    for name, coef in expr.terms:
        lo, hi = bounds[name]
        low += (
            min(coef * lo, coef * hi)
            if math.isfinite(lo) and math.isfinite(hi)
            else (coef * lo if coef > 0 else coef * hi)
        )
        high += (
            max(coef * lo, coef * hi)
            if math.isfinite(lo) and math.isfinite(hi)
            else (coef * hi if coef > 0 else coef * lo)
        )
    return low, high


def _switched(c: Comparison, binary: str, on_value: int, bounds: Bounds, origin: str) -> list[Comparison]:
    """Rows that enforce ``c`` when ``binary == on_value`` and nothing otherwise."""
    low, high = _extremes(c.expr, bounds)
    rows = []
    # off = (1 - b) when the comparison is on at b = 1, and b when it is on at b = 0.
    for sense in ("<=", ">=") if c.sense == "==" else (c.sense,):
        gap = (high - c.rhs) if sense == "<=" else (low - c.rhs)
        if (sense == "<=" and gap <= _EPS) or (sense == ">=" and gap >= -_EPS):
            continue  # holds anywhere within the bounds: no row needed
        if not math.isfinite(gap) or abs(gap) > MAX_BIG_M:
            side = "upper" if sense == "<=" else "lower"
            loose = [n for n in c.expr.names if not all(map(math.isfinite, bounds[n]))] or list(c.expr.names)
            why = (
                f"{', '.join(map(repr, loose))} {'has' if len(loose) == 1 else 'have'} no finite {side} bound"
                if not math.isfinite(gap)
                else f"within the bounds of {', '.join(map(repr, loose))} its two sides can differ by {abs(gap):.3g}, "
                "too much for a big-M switch"
            )
            raise LinearizationError(
                f"constraint {origin!r}: cannot switch {c.render()!r} on and off, because {why}; "
                "give each variable in it an explicit, realistic bound (e.g. 'integer x <= 100')",
                constraint=origin,
                variables=tuple(loose),
            )
        # expr - rhs <= gap * off   (or >= for the other sense)
        if on_value == 1:  # off = 1 - b: expr + gap*b <= rhs + gap
            expr = LinearExpr.combine([(c.expr, 1.0), (LinearExpr(((binary, 1.0),)), gap)])
            rows.append(Comparison(expr, sense, c.rhs + gap, origin, c.line))
        else:  # off = b: expr - gap*b <= rhs
            expr = LinearExpr.combine([(c.expr, 1.0), (LinearExpr(((binary, 1.0),)), -gap)])
            rows.append(Comparison(expr, sense, c.rhs, origin, c.line))
    return rows


def linearize(model: Model) -> LinearProgram:
    """The model with every logic constraint rewritten as linear rows.

    Raises:
        LinearizationError: a logic constraint over a variable with no finite bound (named).

    """
    needs_bounds = any(isinstance(c, (Indicator, Disjunction)) for c in model.constraints)
    bounds = derive_bounds(model) if needs_bounds else {}
    variables = list(model.variables)
    rows: list[Comparison] = []
    origins: list[str] = []

    def add(new: list[Comparison], origin: str) -> None:
        rows.extend(new)
        origins.extend([origin] * len(new))

    for c in model.constraints:
        if isinstance(c, Comparison):
            add([c], c.name)
        elif isinstance(c, Cardinality):
            add([c.as_comparison()], c.name)
        elif isinstance(c, Indicator):
            for part in c.then:
                add(_switched(part, c.binary, c.value, bounds, c.name), c.name)
        else:
            helpers = []
            taken = {v.name for v in variables}
            for i, option in enumerate(c.options, start=1):
                helper = f"_{c.name}_option{i}"
                while helper in taken:
                    helper += "_"
                taken.add(helper)
                variables.append(Variable(helper, "binary", 0.0, 1.0))
                bounds[helper] = (0.0, 1.0)
                helpers.append(helper)
                add(_switched(option, helper, 1, bounds, c.name), c.name)
            add([Comparison(LinearExpr(tuple((h, 1.0) for h in helpers)), ">=", 1.0, c.name, c.line)], c.name)
    return LinearProgram(tuple(variables), model.sense, model.objective, tuple(rows), tuple(origins))
