r"""The MILP target, the optimization-modeling assistant: the model writes a model, HiGHS and CBC solve it.

``translator`` holds the modeling prompt (examples written for neurosym, in ``fewshot.json``),
the output grammar and the model reader; ``target`` solves with both solvers, checks the
solution and writes repair feedback; ``report`` prints a result. The modeling language itself
is :mod:`neurosym.milp`.

Example:
    >>> SPEC.answer_kind.value, SPEC.settings.max_tokens
    ('assignment', 768)

"""

from __future__ import annotations

from neurosym.milp.cli import save_path
from neurosym.milp.report import CheckedSolution
from neurosym.settings import SamplingSettings
from neurosym.targets.milp.report import render_milp
from neurosym.targets.milp.target import REL_TOL, MilpTarget, milp_verdict
from neurosym.targets.registry import CliOption, SolveOptions, TargetSpec
from neurosym.types import AnswerKind

__all__ = ["REL_TOL", "SPEC", "MilpTarget", "milp_verdict"]


def _build(options: SolveOptions) -> MilpTarget:
    return MilpTarget(constrained=options.constrained)


SPEC = TargetSpec(
    name="milp",
    description="optimization problems, through a mixed-integer linear model solved by HiGHS and CBC and checked",
    answer_kind=AnswerKind.ASSIGNMENT,
    build=_build,
    settings=SamplingSettings(temperature=0.0, max_tokens=768, seed=0),
    certificates=(CheckedSolution,),
    render=render_milp,
    describe=lambda formalization: {"model": formalization.source},
    cli=(
        CliOption(
            ("--save",),
            "write the final model to FILE: .lp (LP format), .mps (MPS) or .nsm (the modeling language)",
            dest="save",
            type=save_path,
            metavar="FILE",
        ),
    ),
)
"""The MILP target's registry entry."""
