r"""Mixed-integer linear programs: the modeling language, linearisation, two solvers and an independent check.

Example:
    >>> from neurosym.milp import parse_model
    >>> parse_model("continuous x <= 4\nmaximize 2 x").sense
    'maximize'

"""

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

__all__ = ["Cardinality", "Comparison", "Disjunction", "Indicator", "LinearExpr", "Model", "Variable", "parse_model"]
