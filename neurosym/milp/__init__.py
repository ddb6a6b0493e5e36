r"""Mixed-integer linear programs: the modeling language, linearisation, two solvers and an independent check.

- :mod:`neurosym.milp.syntax`: the model (:class:`Model`, :class:`LinearExpr`, the constraints) and its printing;
- :mod:`neurosym.milp.parser`: the language (``milp.lark``) and :func:`parse_model` (never evaluates text);
- :mod:`neurosym.milp.linearize`: logic constraints as big-M rows with bounds derived from the model;
- :mod:`neurosym.milp.solve`: :func:`solve_model` with HiGHS and CBC, conflicts, runaway variables;
- :mod:`neurosym.milp.check`: :func:`check_solution` against the declared model;
- :mod:`neurosym.milp.report`: :class:`CheckedSolution`, :func:`model_markdown`, :func:`model_latex`;
- :mod:`neurosym.milp.files`: LP and MPS files out (:func:`write_model`, :func:`model_to_lp`,
  :func:`model_to_mps`) and in (:func:`read_model`, :func:`load_model`), ``.nsm`` for the language;
- :mod:`neurosym.milp.sensitivity`: HiGHS's duals, reduced costs, ranging and IIS (:class:`Sensitivity`);
- :mod:`neurosym.milp.cli`: ``neurosym milp FILE``.

Example:
    >>> from neurosym.milp import parse_model, solve_model
    >>> solve_model(parse_model("continuous x <= 4\nmaximize 2 x")).objective
    8.0

"""

from neurosym.milp.check import SolutionCheck, check_solution
from neurosym.milp.files import (
    LoadedModel,
    load_model,
    load_model_text,
    model_to_lp,
    model_to_mps,
    read_model,
    write_model,
)
from neurosym.milp.parser import parse_model
from neurosym.milp.report import CheckedSolution, model_latex, model_markdown
from neurosym.milp.sensitivity import Sensitivity
from neurosym.milp.solve import MilpResult, SolverRun, solve_model
from neurosym.milp.syntax import Cardinality, Comparison, Disjunction, Indicator, LinearExpr, Model, Variable

__all__ = [
    "Cardinality",
    "CheckedSolution",
    "Comparison",
    "Disjunction",
    "Indicator",
    "LinearExpr",
    "LoadedModel",
    "MilpResult",
    "Model",
    "Sensitivity",
    "SolutionCheck",
    "SolverRun",
    "Variable",
    "check_solution",
    "load_model",
    "load_model_text",
    "model_latex",
    "model_markdown",
    "model_to_lp",
    "model_to_mps",
    "parse_model",
    "read_model",
    "solve_model",
    "write_model",
]
