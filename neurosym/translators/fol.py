"""Deprecated: moved to :mod:`neurosym.targets.fol.translator` (this name goes in neurosym 0.3)."""

import warnings

from neurosym.targets.fol.translator import *  # noqa: F403
from neurosym.targets.fol.translator import __all__  # noqa: F401

warnings.warn(
    "neurosym.translators.fol moved to neurosym.targets.fol.translator; the old name goes in neurosym 0.3",
    DeprecationWarning,
    stacklevel=2,
)
