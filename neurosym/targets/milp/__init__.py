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

from neurosym.loop.refine import Strategy
from neurosym.milp.cli import save_path
from neurosym.milp.report import CheckedSolution
from neurosym.settings import SamplingSettings
from neurosym.targets.milp.report import render_milp
from neurosym.targets.milp.target import REL_TOL, MilpTarget, milp_verdict
from neurosym.targets.registry import CliOption, SolveOptions, TargetSpec
from neurosym.types import AnswerKind

__all__ = ["DEFAULT_STRATEGY", "REL_TOL", "SAMPLING_TEMPERATURE", "SPEC", "MilpTarget", "milp_verdict"]


def _build(options: SolveOptions) -> MilpTarget:
    return MilpTarget(constrained=options.constrained)


SAMPLING_TEMPERATURE = 0.5
"""The MILP target's sampling temperature, by the sweep on the 40 NL4Opt development items (``neurosym bench
nl4opt_loop --strategies vote-5,vote-5@0.3,vote-5@0.5``): vote-5 right on 27.5% at 0.7, 40.0% at 0.3, 42.5% at 0.5."""

DEFAULT_STRATEGY = Strategy(samples=5, round_size=2, confidence=0.8, temperature=SAMPLING_TEMPERATURE)
"""``solve``'s default for MILP: ``adaptive@0.5``, the best strategy measured on the NL4Opt development items
(42.5% against 37.5% for one greedy model, 5 / 3 item by item, exact McNemar p = 0.73; 4.8 samples an item):
two samples at a time, up to five, stopping once 80% of the decided ones agree."""


SPEC = TargetSpec(
    name="milp",
    description="optimization problems, through a mixed-integer linear model solved by HiGHS and CBC and checked",
    answer_kind=AnswerKind.ASSIGNMENT,
    build=_build,
    settings=SamplingSettings(temperature=0.0, max_tokens=768, seed=0),
    certificates=(CheckedSolution,),
    render=render_milp,
    describe=lambda formalization: {"model": formalization.source},
    strategy=DEFAULT_STRATEGY,
    temperature=SAMPLING_TEMPERATURE,
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
