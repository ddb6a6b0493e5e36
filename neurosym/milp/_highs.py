r"""A :class:`~neurosym.milp.linearize.LinearProgram` as a ``highspy.Highs`` model, with its rows named.

Model files (:mod:`neurosym.milp.files`) and the solver's own analysis
(:mod:`neurosym.milp.sensitivity`) both hand the linearised model to HiGHS directly, not
through PuLP: PuLP renames every row and column, and it does not reach HiGHS's ranging or IIS.

Row names: a constraint that became one row keeps its name; one that became several (an
if-then on an equation, an either-or) names them ``<name>_1``, ``<name>_2``... in order.

Example:
    >>> from neurosym.milp.linearize import linearize
    >>> from neurosym.milp.parser import parse_model
    >>> lp = linearize(parse_model("integer x, y <= 9\nmaximize x\ncap: x + y <= 4\nx <= 3 or y >= 2"))
    >>> row_names(lp)
    ('cap', 'c4_1', 'c4_2', 'c4_3')

"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from neurosym.milp.linearize import LinearProgram

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["SMALLEST_COEFFICIENT", "build_highs", "finite", "new_highs", "row_names"]

SMALLEST_COEFFICIENT = 1e-12
"""Smaller matrix entries are dropped by HiGHS (its ``small_matrix_value``, at the least it allows)."""


def row_names(lp: LinearProgram) -> tuple[str, ...]:
    r"""One unique name per row of ``lp`` (see the module docstring).

    Example:
        >>> from neurosym.milp.linearize import linearize
        >>> from neurosym.milp.parser import parse_model
        >>> row_names(linearize(parse_model("continuous x\nminimize x\nc: x >= 1")))
        ('c',)

    """
    counts: dict[str, int] = {}
    for origin in lp.origins:
        counts[origin] = counts.get(origin, 0) + 1
    taken = set(counts) | {v.name for v in lp.variables}
    seen: dict[str, int] = {}
    names: list[str] = []
    for origin in lp.origins:
        if counts[origin] == 1:
            names.append(origin)
            continue
        seen[origin] = seen.get(origin, 0) + 1
        name = f"{origin}_{seen[origin]}"
        while name in taken:  # a constraint of the model may be called "<name>_1" already
            name += "_"
        taken.add(name)
        names.append(name)
    return tuple(names)


def new_highs(time_limit: float | None = None) -> Any:
    """An empty, silent, single-threaded ``highspy.Highs`` (``time_limit`` in seconds, if given).

    Example:
        >>> new_highs(5.0).getOptionValue("time_limit")[1]
        5.0

    """
    import highspy

    from neurosym.provers.highs import silence_banner

    silence_banner()
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    # HiGHS drops matrix entries of magnitude 1e-9 and below by default; the language allows them: keep down to 1e-12
    highs.setOptionValue("small_matrix_value", SMALLEST_COEFFICIENT)
    if time_limit is not None:
        highs.setOptionValue("time_limit", float(time_limit))
    return highs


def build_highs(
    lp: LinearProgram,
    *,
    time_limit: float | None = None,
    relax: bool = False,
    fixed: Mapping[str, float] | None = None,
    objective: bool = True,
) -> Any:
    r"""``lp`` as a ``highspy.Highs`` model with its columns and rows named.

    ``relax`` drops integrality; ``fixed`` fixes those variables at the given values (and drops
    their integrality); ``objective=False`` leaves the objective at 0 (a feasibility problem).

    Example:
        >>> from neurosym.milp.linearize import linearize
        >>> from neurosym.milp.parser import parse_model
        >>> highs = build_highs(linearize(parse_model("integer x\nmaximize 2 x + 1\ncap: x <= 2.5")))
        >>> _ = highs.run()
        >>> highs.getInfo().objective_function_value, highs.getLp().row_names_
        (5.0, ['cap'])

    """
    import highspy
    import numpy as np

    highs = new_highs(time_limit)
    inf = highspy.kHighsInf
    index = {v.name: i for i, v in enumerate(lp.variables)}
    fixed = fixed or {}
    lower, upper, integral = [], [], []
    for v in lp.variables:
        if v.name in fixed:
            lower.append(float(fixed[v.name]))
            upper.append(float(fixed[v.name]))
            integral.append(False)
            continue
        lower.append(-inf if v.lower is None else float(v.lower))
        upper.append(inf if v.upper is None else float(v.upper))
        integral.append(v.integral and not relax)
    count = len(lp.variables)
    highs.addVars(count, np.array(lower, dtype=float), np.array(upper, dtype=float))
    kinds = [highspy.HighsVarType.kInteger if whole else highspy.HighsVarType.kContinuous for whole in integral]
    if any(integral):
        highs.changeColsIntegrality(count, np.arange(count, dtype=np.int32), np.array(kinds))
    for i, v in enumerate(lp.variables):
        highs.passColName(i, v.name)
    if objective:
        costs = lp.objective.coefficients
        columns = np.array([index[n] for n in costs], dtype=np.int32)
        highs.changeColsCost(len(costs), columns, np.array(list(costs.values()), dtype=float))
        if lp.objective.constant:
            highs.changeObjectiveOffset(float(lp.objective.constant))
    sense = highspy.ObjSense.kMaximize if lp.sense == "maximize" else highspy.ObjSense.kMinimize
    highs.changeObjectiveSense(sense)
    row_lower: list[float] = []
    row_upper: list[float] = []
    starts: list[int] = []
    columns_of: list[int] = []
    values: list[float] = []
    for row in lp.rows:
        rhs = float(row.rhs) + 0.0  # no -0 in the files
        row_lower.append(-inf if row.sense == "<=" else rhs)
        row_upper.append(inf if row.sense == ">=" else rhs)
        starts.append(len(columns_of))
        for name, coef in row.expr.terms:
            columns_of.append(index[name])
            values.append(float(coef))
    if lp.rows:
        highs.addRows(
            len(lp.rows),
            np.array(row_lower, dtype=float),
            np.array(row_upper, dtype=float),
            len(values),
            np.array(starts, dtype=np.int32),
            np.array(columns_of, dtype=np.int32),
            np.array(values, dtype=float),
        )
        for i, name in enumerate(row_names(lp)):
            highs.passRowName(i, name)
    return highs


def finite(value: float) -> float | None:
    """``value``, or ``None`` for HiGHS's infinities (JSON has no infinity).

    Example:
        >>> finite(2.0), finite(float("inf"))
        (2.0, None)

    """
    value = float(value)
    return value + 0.0 if math.isfinite(value) and abs(value) < 1e30 else None  # + 0.0: no -0
