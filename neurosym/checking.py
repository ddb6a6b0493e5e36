"""Deprecated: moved to :mod:`neurosym.targets.fol.check` (this name goes in neurosym 0.3)."""

import warnings

from neurosym.targets.fol.check import *  # noqa: F403
from neurosym.targets.fol.check import __all__  # noqa: F401

warnings.warn(
    "neurosym.checking moved to neurosym.targets.fol.check; the old name goes in neurosym 0.3",
    DeprecationWarning,
    stacklevel=2,
)
