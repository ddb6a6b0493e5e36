"""Deprecated: moved to :mod:`neurosym.targets.python.translator` (this name goes in neurosym 0.3)."""

import warnings

from neurosym.targets.python.translator import *  # noqa: F403
from neurosym.targets.python.translator import __all__  # noqa: F401

warnings.warn(
    "neurosym.translators.python moved to neurosym.targets.python.translator; the old name goes in neurosym 0.3",
    DeprecationWarning,
    stacklevel=2,
)
