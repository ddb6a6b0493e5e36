r"""The Python target: word problems answered by a ``solution()`` program that runs in the sandbox.

``translator`` holds the program-aided prompt (GSM8K *train* questions with programs written
for neurosym, in ``fewshot.json``) and the program reader; ``target`` runs programs in
:mod:`neurosym.provers.sandbox` and turns what they return into verdicts; ``report`` prints a result.

Example:
    >>> SPEC.answer_kind.value, SPEC.name
    ('number', 'python')

"""

from __future__ import annotations

from dataclasses import replace

from neurosym.settings import SamplingSettings
from neurosym.targets.python.report import render_python
from neurosym.targets.python.target import (
    ABS_TOL,
    REL_TOL,
    ProgramRun,
    PythonTarget,
    execution_verdict,
    number_key,
    numbers_match,
)
from neurosym.targets.registry import SolveOptions, TargetSpec
from neurosym.types import AnswerKind

__all__ = [
    "ABS_TOL",
    "REL_TOL",
    "SPEC",
    "ProgramRun",
    "PythonTarget",
    "execution_verdict",
    "number_key",
    "numbers_match",
]


def _build(options: SolveOptions) -> PythonTarget:
    limits = replace(PythonTarget().limits, wall_s=options.timeout_s, cpu_s=options.timeout_s)
    return PythonTarget(limits=limits)


def _ready() -> None:
    """Refuse before the model is asked: its program could not run anyway."""
    from neurosym.provers.sandbox import SandboxUnavailable, sandbox_problem

    reason = sandbox_problem()
    if reason is not None:
        raise SandboxUnavailable(reason)


SPEC = TargetSpec(
    name="python",
    description="word problems with a numeric answer, through a program run in the sandbox",
    answer_kind=AnswerKind.NUMBER,
    build=_build,
    settings=SamplingSettings(temperature=0.0, max_tokens=512, seed=0),
    certificates=(ProgramRun,),
    render=render_python,
    describe=lambda formalization: {"program": formalization.source},
    ready=_ready,
)
"""The Python target's registry entry."""
