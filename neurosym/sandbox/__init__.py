"""Deprecated: moved to :mod:`neurosym.provers.sandbox` (this name goes in neurosym 0.3)."""

import warnings

from neurosym.provers.sandbox import *  # noqa: F403
from neurosym.provers.sandbox import __all__  # noqa: F401

warnings.warn(
    "neurosym.sandbox moved to neurosym.provers.sandbox; the old name goes in neurosym 0.3",
    DeprecationWarning,
    stacklevel=2,
)
