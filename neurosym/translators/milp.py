"""Deprecated: moved to :mod:`neurosym.targets.milp.translator` (this name goes in neurosym 0.3)."""

import warnings

from neurosym.targets.milp.translator import *  # noqa: F403
from neurosym.targets.milp.translator import __all__  # noqa: F401

warnings.warn(
    "neurosym.translators.milp moved to neurosym.targets.milp.translator; the old name goes in neurosym 0.3",
    DeprecationWarning,
    stacklevel=2,
)
