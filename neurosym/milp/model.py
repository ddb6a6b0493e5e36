"""Deprecated: split into :mod:`neurosym.milp.syntax` and :mod:`neurosym.milp.parser` (the name goes in 0.3)."""

import warnings

from neurosym.milp.parser import MAX_ABS_COEFFICIENT, MAX_MODEL_CHARS, grammar_text, parse_model
from neurosym.milp.syntax import (
    Cardinality,
    Comparison,
    Constraint,
    Disjunction,
    Indicator,
    LinearExpr,
    Model,
    Variable,
)

__all__ = [
    "MAX_ABS_COEFFICIENT",
    "MAX_MODEL_CHARS",
    "Cardinality",
    "Comparison",
    "Constraint",
    "Disjunction",
    "Indicator",
    "LinearExpr",
    "Model",
    "Variable",
    "grammar_text",
    "parse_model",
]

warnings.warn(
    "neurosym.milp.model was split into neurosym.milp.syntax (Model, LinearExpr, ...) and neurosym.milp.parser "
    "(parse_model, grammar_text); the old name goes in neurosym 0.3",
    DeprecationWarning,
    stacklevel=2,
)
