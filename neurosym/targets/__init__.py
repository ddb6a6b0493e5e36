"""Targets: everything the feedback loop needs from one formal language, each in its own folder.

A target builds the prompt, reads the model's output into a formalization, decides it with its
provers, says which answer a verdict supports (so votes can be counted), and builds a repair
prompt from a failed attempt: the loop sees only :class:`~neurosym.targets.base.Target`.
Everything else about it (answer kind, certificates, report, command-line options, how prover
workers warm up) is in its :class:`~neurosym.targets.registry.TargetSpec`, found by name in the
registry (:mod:`neurosym.targets.registry`).

Built in: ``fol`` (:mod:`neurosym.targets.fol`), ``python`` (:mod:`neurosym.targets.python`) and
``milp`` (:mod:`neurosym.targets.milp`).

Example:
    >>> from neurosym.targets import get_target
    >>> get_target("fol").name
    'fol'

"""

from __future__ import annotations

from neurosym.targets.base import Target
from neurosym.targets.registry import (
    CliOption,
    SolveOptions,
    TargetSpec,
    get_target,
    register_target,
    target_names,
    target_spec,
)

__all__ = [
    "CliOption",
    "SolveOptions",
    "Target",
    "TargetSpec",
    "get_target",
    "register_target",
    "target_names",
    "target_spec",
]
