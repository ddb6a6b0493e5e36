r"""Mixed-integer linear programs: the modeling language, linearisation, two solvers and an independent check.

- :mod:`neurosym.milp.model`: the language and :func:`parse_model` (never evaluates text);
- :mod:`neurosym.milp.linearize`: logic constraints as big-M rows with bounds derived from the model;
- :mod:`neurosym.milp.solve`: :func:`solve_model` with HiGHS and CBC, conflicts, runaway variables;
- :mod:`neurosym.milp.check`: :func:`check_solution` against the declared model;
- :mod:`neurosym.milp.report`: :class:`CheckedSolution`, :func:`model_markdown`, :func:`model_latex`.

Example:
    >>> from neurosym.milp import parse_model, solve_model
    >>> solve_model(parse_model("continuous x <= 4\nmaximize 2 x")).objective
    8.0

"""

from neurosym.milp.check import SolutionCheck, check_solution
from neurosym.milp.model import (
    Cardinality,
    Comparison,
    Disjunction,
    Indicator,
    LinearExpr,
    Model,
    Variable,
    parse_model,
)
from neurosym.milp.report import CheckedSolution, model_latex, model_markdown
from neurosym.milp.solve import MilpResult, SolverRun, solve_model

__all__ = [
    "Cardinality",
    "CheckedSolution",
    "Comparison",
    "Disjunction",
    "Indicator",
    "LinearExpr",
    "MilpResult",
    "Model",
    "SolutionCheck",
    "SolverRun",
    "Variable",
    "check_solution",
    "model_latex",
    "model_markdown",
    "parse_model",
    "solve_model",
]
