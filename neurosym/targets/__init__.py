"""Targets: everything the feedback loop needs from one formal language, behind one interface.

A target builds the prompt, reads the model's output into a formalization, decides it with its
provers, says which answer a verdict supports (so votes can be counted), and builds a repair
prompt from a failed attempt. The loop sees only :class:`~neurosym.targets.base.Target`.

Example:
    >>> from neurosym.targets import get_target
    >>> get_target("fol").name
    'fol'

"""

from __future__ import annotations

from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.targets.base import Target

__all__ = ["Target", "get_target"]


def get_target(name: str, **options: Any) -> Target:
    """The target called ``name`` (``fol``, ``python`` or ``milp``), built with ``options``.

    Raises:
        ConfigurationError: an unknown target; the message lists the known ones.

    """
    if name == "fol":
        from neurosym.targets.fol import FolTarget

        return FolTarget(**options)
    if name == "python":
        from neurosym.targets.python import PythonTarget

        return PythonTarget(**options)
    if name == "milp":
        from neurosym.targets.milp import MilpTarget

        return MilpTarget(**options)
    raise ConfigurationError(f"unknown target {name!r}; known targets: fol, python, milp")
