r"""The first-order logic target: entailment questions translated to FOL and decided by Z3 (and E).

``translator`` holds the prompt (few-shot examples from FOLIO train in ``fewshot.json``), the
output grammar and the output reader; ``check`` decides premises and a conclusion with the
provers (:func:`check_fol`); ``target`` is the loop target; ``report`` prints a result.

Example:
    >>> from neurosym.types import Problem
    >>> target = FolTarget(constrained=False)
    >>> problem = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
    >>> output = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"
    >>> target.answer_key(target.check(target.parse(problem, output), timeout_s=5))
    'True'

"""

from __future__ import annotations

from collections.abc import Sequence

from neurosym.errors import ConfigurationError
from neurosym.fol.certificates import Countermodels, PremisesUsed
from neurosym.loop.refine import Strategy
from neurosym.settings import SamplingSettings
from neurosym.targets.fol.check import check_fol, combine_verdicts
from neurosym.targets.fol.report import describe_fol, render_fol
from neurosym.targets.fol.target import DECODINGS, FolTarget, warm_up_fol
from neurosym.targets.fol.translator import problem_from_text
from neurosym.targets.registry import MAX_PROBLEM_TEXT, CliOption, SolveOptions, TargetSpec
from neurosym.types import AnswerKind, Problem

__all__ = [
    "DEFAULT_STRATEGY",
    "SAMPLING_TEMPERATURE",
    "SPEC",
    "FolTarget",
    "check_fol",
    "combine_verdicts",
    "fol_problem",
]


def fol_problem(text: str | None, premises: Sequence[str] | None, conclusion: str | None) -> Problem:
    """The problem from premises and a conclusion, or from text split into sentences (the question last).

    Example:
        >>> fol_problem("Rex is a dog. Is Rex a dog?", None, None).premises
        ('Rex is a dog.',)

    """
    if premises is not None or conclusion is not None:
        if not premises or not conclusion or not conclusion.strip():
            raise ConfigurationError("give both premises and a conclusion, or the problem text")
        if isinstance(premises, str):
            raise ConfigurationError("premises must be a list of sentences, not one string")
        return Problem(text=text or "", premises=tuple(premises), conclusion=conclusion)
    if text is None:
        raise ConfigurationError("give the problem text, or premises and a conclusion")
    if len(text) > MAX_PROBLEM_TEXT:
        raise ConfigurationError(f"the problem text is too long: {len(text):,} characters (limit {MAX_PROBLEM_TEXT:,})")
    return problem_from_text(text)


def _build(options: SolveOptions) -> FolTarget:
    extra = options.extra
    provers = tuple(extra.get("provers") or ("z3",))
    if extra.get("cross_check"):
        provers = ("z3", "eprover")
    return FolTarget(
        constrained=options.constrained,
        provers=provers,
        repair_signature_clashes=bool(extra.get("repair_signature_clashes", False)),
        decoding=str(extra.get("decoding") or DEFAULT_DECODING),
    )


DEFAULT_DECODING = "declare"
"""``solve``'s FOL decoder: declare-then-use, the signature first and then formulas that can only use it (on the
80 logic development items ``neurosym bench logic_loop_declare`` measures adaptive+evidence at 63.7% with it
against 61.3% in the whole-answer layout, with no signature clashes by construction)."""

SAMPLING_TEMPERATURE = 0.7
"""The FOL sampling temperature, swept on the first 40 logic development items with declare-then-use: adaptive+evidence
67.5% at 0.3, 62.5% at 0.5, 67.5% at 0.7; the tie is not broken by vote-5+evidence (67.5% at both), and a tie keeps 0.7
by the rule written before the sweep (benchmarks/results/report_recording_plan.md)."""

DEFAULT_STRATEGY = Strategy(
    samples=5, round_size=2, confidence=0.8, selection="evidence", temperature=SAMPLING_TEMPERATURE
)
"""``solve``'s default for FOL: ``adaptive+evidence``, the best strategy measured on the 80 logic development
items (``neurosym bench logic_loop_declare``: 63.7% with declare-then-use, against 58.8% for one greedy translation
and 43.8% for chain of thought, with 4.5 samples per item; two samples that agree with a proof end it)."""

SPEC = TargetSpec(
    name="fol",
    description="entailment questions through first-order logic, decided by Z3 (and E)",
    answer_kind=AnswerKind.ENTAILMENT,
    build=_build,
    problem=fol_problem,
    settings=SamplingSettings(temperature=0.0, max_tokens=512, seed=0),
    certificates=(PremisesUsed, Countermodels),
    render=render_fol,
    describe=describe_fol,
    cli=(
        CliOption(("--cross-check",), "run Z3 and E and report any disagreement", dest="cross_check", flag=True),
        CliOption(
            ("--decoding",),
            f"how the model writes: {', '.join(DECODINGS)} (default {DEFAULT_DECODING}; declare: the signature "
            "first, then formulas that can only use it)",
            dest="decoding",
            default=None,
            metavar="MODE",
        ),
        CliOption(
            ("--repair",),
            "rename signature clashes apart instead of failing",
            dest="repair_signature_clashes",
            flag=True,
        ),
    ),
    warm_up=warm_up_fol,
    preload=("neurosym.targets.fol.check", "neurosym.provers.z3", "z3"),
    strategy=DEFAULT_STRATEGY,
    temperature=SAMPLING_TEMPERATURE,
)
"""The FOL target's registry entry."""
