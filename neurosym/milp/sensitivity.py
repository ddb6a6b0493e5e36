r"""What the solver knows about an optimum and a conflict: duals, reduced costs, ranging, slack, the IIS.

:func:`analyse` asks HiGHS about the linear program at the optimum. For an LP it is the model
itself; for a model with integer variables it is the LP left when every integer variable (the
helper binaries of the linearisation too) is fixed at its optimal value, and what it says holds
only while those whole-number choices stay optimal. For each row:

- ``dual``: how much the optimal objective changes per unit increase of the right-hand side
  (the shadow price, in the model's own sense: positive when raising it improves a maximum);
- ``rhs_range``: the right-hand sides over which the optimal basis stays optimal (so ``dual``
  stays the rate), ``None`` for no limit;
- ``slack`` and ``binding``;

and for each variable its ``reduced_cost`` (the objective's rate of change per unit of the
variable, moved off its bound) and ``cost_range``: the objective coefficients over which the
solution stays optimal.

:func:`highs_iis` asks HiGHS for an irreducible infeasible subset of the rows of the LP
relaxation and names the model constraints they come from. An IIS is not unique, and one of
the relaxation need not be irreducible for the integer model:
:func:`neurosym.milp.solve.solve_model` runs its deletion filter over the constraints HiGHS
names, which keeps them all when they are irreducible and removes the ones that are not.

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> model = parse_model("continuous x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4\nxcap: x <= 3")
    >>> report = analyse(model)
    >>> [(r.name, r.dual, r.rhs_range, r.binding) for r in report.rows]
    [('cap', 2.0, (3.0, None), True), ('xcap', 1.0, (0.0, 4.0), True)]
    >>> [(v.name, v.value, v.cost_range) for v in report.variables]
    [('x', 3.0, (2.0, None)), ('y', 1.0, (0.0, 3.0))]
    >>> highs_iis(parse_model("continuous x, y\nmaximize x\na: x >= 5\nb: y <= 3\nc: x + y <= 4"))
    (('a', 'c'), ('y >= 0',))

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from neurosym.deadlines import check_seconds
from neurosym.milp._highs import build_highs, finite, row_names
from neurosym.milp.linearize import LinearizationError, linearize
from neurosym.milp.syntax import Model

__all__ = ["Sensitivity", "SensitivityRow", "SensitivityVariable", "analyse", "highs_iis", "iis_available"]

BINDING_TOL = 1e-6
"""A row whose slack is within this (relative to the row's size, at least 1) is binding."""

Range = tuple[float | None, float | None]


def _range(data: Any) -> Range:
    low, high = data if data is not None else (None, None)
    return (None if low is None else float(low), None if high is None else float(high))


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _range_text(bounds: Range) -> str:
    low, high = bounds
    return f"[{'-inf' if low is None else _num(low)}, {'inf' if high is None else _num(high)}]"


@dataclass(frozen=True)
class SensitivityRow:
    """One row of the LP at the optimum: its activity, slack, dual value and right-hand-side range.

    ``constraint`` is the model constraint the row comes from (``name`` differs for a logic
    constraint that became several rows).

    Example:
        >>> row = SensitivityRow("cap", "cap", "<=", 4.0, 4.0, 0.0, True, 2.0, (3.0, None))
        >>> row.to_dict()["rhs_range"]
        [3.0, None]

    """

    name: str
    constraint: str
    sense: str
    rhs: float
    activity: float
    slack: float
    binding: bool
    dual: float
    rhs_range: Range

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``None`` for an infinite end of a range)."""
        return {"name": self.name, "constraint": self.constraint, "sense": self.sense, "rhs": self.rhs,
                "activity": self.activity, "slack": self.slack, "binding": self.binding, "dual": self.dual,
                "rhs_range": list(self.rhs_range)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SensitivityRow:
        """Read back :meth:`to_dict`."""
        return cls(
            str(data["name"]), str(data["constraint"]), str(data["sense"]), float(data["rhs"]),
            float(data["activity"]), float(data["slack"]), bool(data["binding"]), float(data["dual"]),
            _range(data.get("rhs_range")),
        )  # fmt: skip


@dataclass(frozen=True)
class SensitivityVariable:
    """One variable at the optimum: its value, objective coefficient, reduced cost and cost range.

    ``fixed`` marks an integer variable fixed at its optimal value (no cost range then).

    Example:
        >>> SensitivityVariable("x", 3.0, 3.0, 0.0, True, False, (2.0, None)).to_dict()["cost_range"]
        [2.0, None]

    """

    name: str
    value: float
    cost: float
    reduced_cost: float
    basic: bool
    fixed: bool
    cost_range: Range

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"name": self.name, "value": self.value, "cost": self.cost, "reduced_cost": self.reduced_cost,
                "basic": self.basic, "fixed": self.fixed, "cost_range": list(self.cost_range)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SensitivityVariable:
        """Read back :meth:`to_dict`."""
        return cls(
            str(data["name"]), float(data["value"]), float(data["cost"]), float(data["reduced_cost"]),
            bool(data["basic"]), bool(data["fixed"]), _range(data.get("cost_range")),
        )  # fmt: skip


@dataclass(frozen=True)
class Sensitivity:
    """HiGHS's analysis of the LP at an optimum (see the module docstring).

    ``basis`` is ``lp`` (the model is an LP) or ``integers_fixed`` (the LP left when the integer
    variables are fixed at their optimal values).
    """

    basis: Literal["lp", "integers_fixed"]
    objective: float
    rows: tuple[SensitivityRow, ...]
    variables: tuple[SensitivityVariable, ...]
    notes: tuple[str, ...] = ()

    @property
    def binding(self) -> tuple[str, ...]:
        """The binding rows, by name."""
        return tuple(r.name for r in self.rows if r.binding)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"basis": self.basis, "objective": self.objective, "rows": [r.to_dict() for r in self.rows],
                "variables": [v.to_dict() for v in self.variables], "notes": list(self.notes)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sensitivity:
        """Read back :meth:`to_dict`."""
        return cls(
            data["basis"], float(data["objective"]), tuple(SensitivityRow.from_dict(r) for r in data["rows"]),
            tuple(SensitivityVariable.from_dict(v) for v in data["variables"]), tuple(data.get("notes", ())),
        )  # fmt: skip

    def render(self, *, most: int = 40) -> str:
        r"""Two aligned tables (rows, then variables; at most ``most`` lines each) and the notes, for a terminal.

        Example:
            >>> from neurosym.milp.parser import parse_model
            >>> print(analyse(parse_model("continuous x\nmaximize 2 x\ncap: x <= 4")).render())
            sensitivity (HiGHS, the LP):
            row  activity  slack  binding  dual  rhs range
            cap  4         0      yes      2     [0, inf]
            variable  value  reduced cost  cost range
            x         4      0             [0, inf]

        """
        where = "the LP" if self.basis == "lp" else "the LP with the integer variables fixed at the optimum"
        rows = [("row", "activity", "slack", "binding", "dual", "rhs range")]
        rows += [
            (r.name, _num(r.activity), _num(r.slack), "yes" if r.binding else "no", _num(r.dual),
             _range_text(r.rhs_range))
            for r in self.rows[:most]
        ]  # fmt: skip
        variables = [("variable", "value", "reduced cost", "cost range")]
        variables += [
            (v.name, _num(v.value), _num(v.reduced_cost), "fixed" if v.fixed else _range_text(v.cost_range))
            for v in self.variables[:most]
        ]
        lines = [f"sensitivity (HiGHS, {where}):", *_table(rows)]
        if len(self.rows) > most:
            lines.append(f"... and {len(self.rows) - most} more rows (all of them in the JSON)")
        lines += _table(variables)
        if len(self.variables) > most:
            lines.append(f"... and {len(self.variables) - most} more variables (all of them in the JSON)")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def analyse(model: Model, values: Mapping[str, float] | None = None, *, time_limit: float = 5.0) -> Sensitivity | None:
    r"""HiGHS's duals, reduced costs and ranging at the optimum of ``model`` (``None`` if it has none in time).

    ``values``: the optimal solution (the helper binaries of the linearisation too, as a solver
    run reports them). It is needed only when the model has integer variables, which are fixed at
    these values; without it the integer model is solved first.

    Raises:
        ConfigurationError: ``time_limit`` is not a finite number of seconds greater than 0.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> model = parse_model("integer n\ncontinuous x\nmaximize 5 n + x\nmix: n + x <= 3.5\nwhole: n <= 2.5")
        >>> report = analyse(model)
        >>> report.basis, report.objective, [(v.name, v.value, v.fixed) for v in report.variables]
        ('integers_fixed', 11.5, [('n', 2.0, True), ('x', 1.5, False)])
        >>> [(r.name, r.dual, r.binding) for r in report.rows]
        [('mix', 1.0, True), ('whole', 0.0, False)]

    """
    import highspy

    time_limit = check_seconds(time_limit, "time_limit")
    try:
        lp = linearize(model)
    except LinearizationError:
        return None
    integral = [v.name for v in lp.variables if v.integral]
    notes: list[str] = []
    fixed: dict[str, float] = {}
    if integral:
        if values is None or any(n not in values or not math.isfinite(values[n]) for n in integral):
            integer_run = build_highs(lp, time_limit=time_limit)
            integer_run.run()
            if integer_run.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                return None
            solved = integer_run.getSolution().col_value
            values = {v.name: float(x) for v, x in zip(lp.variables, solved, strict=True)}
        fixed = {n: float(round(values[n])) for n in integral}
        notes.append(
            "the integer variables are fixed at their optimal values: duals and ranges describe the LP that is "
            "left, and hold while those whole-number choices stay optimal"
        )
    highs = build_highs(lp, time_limit=time_limit, fixed=fixed)
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    solution = highs.getSolution()
    basis = highs.getBasis()
    status, ranging = highs.getRanging()
    has_ranging = status == highspy.HighsStatus.kOk and ranging.valid
    if not has_ranging:
        notes.append("HiGHS gave no ranging for this LP")
    names = row_names(lp)
    point = {v.name: float(x) for v, x in zip(lp.variables, solution.col_value, strict=True)}
    rows = []
    for i, row in enumerate(lp.rows):
        activity = float(solution.row_value[i])
        slack = row.rhs - activity if row.sense == "<=" else activity - row.rhs if row.sense == ">=" else 0.0
        size = max([1.0, abs(row.rhs)] + [abs(c * point[n]) for n, c in row.expr.terms])
        rhs_range: Range = (None, None)
        if has_ranging:
            rhs_range = (finite(ranging.row_bound_dn.value_[i]), finite(ranging.row_bound_up.value_[i]))
        rows.append(
            SensitivityRow(
                names[i], lp.origins[i], row.sense, float(row.rhs), _clean(activity), _clean(slack),
                abs(slack) <= BINDING_TOL * size, _clean(float(solution.row_dual[i])), rhs_range,
            )
        )  # fmt: skip
    costs = lp.objective.coefficients
    variables = []
    for j, v in enumerate(lp.variables):
        cost_range: Range = (None, None)
        if has_ranging and v.name not in fixed:
            cost_range = (finite(ranging.col_cost_dn.value_[j]), finite(ranging.col_cost_up.value_[j]))
        variables.append(
            SensitivityVariable(
                v.name, _clean(float(solution.col_value[j])), float(costs.get(v.name, 0.0)),
                _clean(float(solution.col_dual[j])), basis.col_status[j] == highspy.HighsBasisStatus.kBasic,
                v.name in fixed, cost_range,
            )
        )  # fmt: skip
    objective = float(highs.getInfo().objective_function_value)
    kind: Literal["lp", "integers_fixed"] = "integers_fixed" if fixed else "lp"
    return Sensitivity(kind, _clean(objective), tuple(rows), tuple(variables), tuple(notes))


def _clean(value: float) -> float:
    """``value`` without float noise around whole numbers (and without -0), for people and for tests."""
    nearest = round(value)
    if abs(value - nearest) <= 1e-9 * max(1.0, abs(value)):
        return float(nearest) + 0.0
    return value + 0.0


def iis_available() -> bool:
    """Whether this highspy computes an IIS (``Highs.getIis``, HiGHS 1.8 and later).

    Example:
        >>> iis_available()
        True

    """
    try:
        import highspy
    except ImportError:
        return False
    return hasattr(highspy.Highs, "getIis") and hasattr(highspy, "IisStrategy")


def highs_iis(model: Model, *, time_limit: float = 5.0) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    r"""HiGHS's irreducible infeasible subset of the LP relaxation: (constraint names, variable bounds).

    The constraints are in model order; the bounds are those HiGHS found in the subset, as text
    (``"x >= 0"``). ``None`` when this highspy has no IIS, the relaxation is feasible (the
    conflict needs integrality: HiGHS cannot name it), a logic constraint cannot be linearised,
    or HiGHS failed.

    Raises:
        ConfigurationError: ``time_limit`` is not a finite number of seconds greater than 0.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> highs_iis(parse_model("integer x\nmaximize x\nlow: 2 x >= 1\nhigh: 2 x <= 1.5")) is None
        True

    """
    time_limit = check_seconds(time_limit, "time_limit")
    if not iis_available():
        return None
    import highspy

    try:
        lp = linearize(model)
    except LinearizationError:
        return None
    highs = build_highs(lp, time_limit=time_limit, relax=True, objective=False)
    strategy = int(highspy.IisStrategy.kIisStrategyFromLp) | int(highspy.IisStrategy.kIisStrategyIrreducible)
    highs.setOptionValue("iis_strategy", strategy)
    try:
        status, iis = highs.getIis()
    except Exception:  # a HiGHS that fails inside getIis must not take the solve down with it
        return None
    if status != highspy.HighsStatus.kOk or not iis.valid_ or not len(iis.row_index_):
        return None
    members = {lp.origins[i] for i in iis.row_index_}
    constraints = tuple(c.name for c in model.constraints if c.name in members)
    declared = model.variable_map
    bounds = []
    for j, bound in zip(iis.col_index_, iis.col_bound_, strict=True):
        v = lp.variables[j]
        if v.name not in declared:
            continue
        if bound in (
            int(highspy.IisBoundStatus.kIisBoundStatusLower),
            int(highspy.IisBoundStatus.kIisBoundStatusBoxed),
        ):
            bounds.append(f"{v.name} >= {_num(v.lower)}")
        if bound in (
            int(highspy.IisBoundStatus.kIisBoundStatusUpper),
            int(highspy.IisBoundStatus.kIisBoundStatusBoxed),
        ):
            bounds.append(f"{v.name} <= {_num(v.upper)}")
    return constraints, tuple(bounds)
