"""Deprecated: moved to :mod:`neurosym.provers.sandbox.escapes` (this name goes in neurosym 0.3)."""

import warnings

from neurosym.provers.sandbox.escapes import *  # noqa: F403
from neurosym.provers.sandbox.escapes import __all__  # noqa: F401

warnings.warn(
    "neurosym.sandbox.escapes moved to neurosym.provers.sandbox.escapes; the old name goes in neurosym 0.3",
    DeprecationWarning,
    stacklevel=2,
)
