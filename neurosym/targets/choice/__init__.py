r"""The choice target: puzzles with a finite world and a multiple-choice question, through SMT (Z3 and cvc5).

The model writes a small typed program (:mod:`~neurosym.targets.choice.language`: finite sorts,
functions and unknowns, ``distinct``, arithmetic and order, quantifiers over finite types, one
formula per option); Z3 decides for each option whether the conditions entail it, allow it or
rule it out, cvc5 does the same as a cross-check, and the question's kind, read from its wording
(:mod:`~neurosym.targets.choice.question`), picks the option (:mod:`~neurosym.targets.choice.check`).
``translator`` holds the prompt (worked examples from the LogicalDeduction and AR-LSAT train
splits in ``fewshot.json``), the grammar and the output reader; ``report`` prints a result.

Example:
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.solving import solve
    >>> llm = ScriptedBackend(["sort p = {ann, bob}\nfun seat(p): 1..2\nassert distinct(seat)\n"
    ...                        "assert seat(ann) < seat(bob)\noption A: seat(ann) == 1\noption B: seat(bob) == 1"])
    >>> result = solve("Ann sits left of Bob, in two seats. Which must be true? A) Ann is in seat 1. "
    ...                "B) Bob is in seat 1.", target="choice", llm=llm)
    >>> result.answer.exact, result.verdict.prover
    ('A', 'z3+cvc5')

"""

from __future__ import annotations

from collections.abc import Sequence

from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.targets.choice.certificate import ChoiceEvidence, OptionEvidence
from neurosym.targets.choice.check import ChoiceTask, check_choice, choice_task
from neurosym.targets.choice.language import parse_program
from neurosym.targets.choice.question import QuestionKind, question_kind
from neurosym.targets.choice.report import describe_choice, render_choice
from neurosym.targets.choice.target import DECODINGS, ChoiceTarget, warm_up_choice
from neurosym.targets.choice.translator import split_problem
from neurosym.targets.registry import MAX_PROBLEM_TEXT, CliOption, SolveOptions, TargetSpec
from neurosym.types import AnswerKind, Problem

__all__ = [
    "SPEC",
    "ChoiceEvidence",
    "ChoiceTarget",
    "ChoiceTask",
    "OptionEvidence",
    "QuestionKind",
    "check_choice",
    "choice_problem",
    "choice_task",
    "parse_program",
    "question_kind",
]


def choice_problem(text: str | None, premises: Sequence[str] | None, conclusion: str | None) -> Problem:
    """The problem from the text: the puzzle, the question and any ``A) ...`` options in it.

    Example:
        >>> choice_problem("X is 2. Which must be true? A) X is 2 B) X is 1", None, None).options
        ('A) X is 2', 'B) X is 1')

    """
    if premises is not None or conclusion is not None:
        raise ConfigurationError(
            "the choice target takes the puzzle and question as text, not premises and a conclusion"
        )
    if text is None or not text.strip():
        raise ConfigurationError("the problem text is empty")
    if len(text) > MAX_PROBLEM_TEXT:
        raise ConfigurationError(f"the problem text is too long: {len(text):,} characters (limit {MAX_PROBLEM_TEXT:,})")
    return split_problem(text)


def _solvers(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise ConfigurationError("--solvers needs at least one name (z3, cvc5)")
    return names


def _build(options: SolveOptions) -> ChoiceTarget:
    extra = options.extra
    given = extra.get("options") or ()
    if isinstance(given, str):
        given = (given,)
    solvers = extra.get("solvers") or ("z3", "cvc5")
    if isinstance(solvers, str):
        solvers = _solvers(solvers)
    listed: tuple[str, ...] = ()
    if given:
        from neurosym.targets.choice.translator import parse_options

        listed = parse_options(list(given))
        if not listed:
            raise ConfigurationError("the options could not be read: write them as 'A) ...', 'B) ...'")
    decoding = {"decoding": str(extra["decoding"])} if extra.get("decoding") else {}  # else ChoiceTarget's default
    return ChoiceTarget(constrained=options.constrained, solvers=tuple(solvers), options=listed,
                        examples=extra.get("examples"), **decoding)  # fmt: skip


SPEC = TargetSpec(
    name="choice",
    description="multiple-choice puzzles through a typed constraint program, decided by Z3 and cross-checked by cvc5",
    answer_kind=AnswerKind.NUMBER,
    build=_build,
    problem=choice_problem,
    settings=SamplingSettings(temperature=0.0, max_tokens=768, seed=0),
    certificates=(ChoiceEvidence,),
    render=render_choice,
    describe=describe_choice,
    cli=(
        CliOption(
            ("--options",),
            "the answer options as one text, 'A) ... B) ...' (else read from the problem text)",
            dest="options",
            metavar="'A) ... B) ...'",
        ),
        CliOption(
            ("--solvers",),
            "comma-separated solvers (default z3,cvc5: cvc5 cross-checks Z3)",
            dest="solvers",
            type=_solvers,
            metavar="LIST",
        ),
        CliOption(
            ("--decoding",),
            f"{', '.join(DECODINGS)} (default declare: one line at a time, each under the names declared above it; "
            "whole: one request)",
            dest="decoding",
            metavar="MODE",
        ),
    ),
    warm_up=warm_up_choice,
    preload=("neurosym.targets.choice.check", "neurosym.provers.cvc5", "z3", "cvc5"),
)
"""The choice target's registry entry."""
