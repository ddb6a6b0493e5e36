r"""Puzzles with answer options to choice programs: reading the problem, the prompt, the grammar, the output.

The problem's text holds the puzzle and the question; its options come as ``A) ...`` lines (or
``(A) ...``, ``A. ...``, ``A: ...``, also several on one line), from the text itself or given
apart (``--options``). :func:`split_problem` separates the three: the options, the question (the
last sentence ending in ``?`` or ``:`` before them, else the last sentence) and the puzzle.

The prompt explains the language (:mod:`~neurosym.targets.choice.language`) in a few lines, shows
worked examples from the train splits (``fewshot.json``: LogicalDeduction puzzles whose paragraph
appears in no dev item, AR-LSAT games; never retrieved by similarity) as earlier chat turns, and
ends with the problem. The model answers with the program alone; :func:`extract_program` keeps
the statement lines of chatty or fenced output. With constrained decoding, :func:`program_gbnf`
(compiled from ``choice.lark`` by :mod:`neurosym.grammars`) limits the output to the language.

Example:
    >>> problem = split_problem("Ann sits left of Bob. Who sits first? A) Ann B) Bob")
    >>> problem.question, problem.options
    ('Who sits first?', ('A) Ann', 'B) Bob'))

"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from neurosym.errors import ConfigurationError, ParseError
from neurosym.grammars import lark_to_gbnf
from neurosym.targets.choice.language import grammar_text
from neurosym.translators.base import Constraint, GenerationRequest, Message
from neurosym.types import Problem

__all__ = [
    "MAX_PROGRAM_LINES",
    "SYSTEM_PROMPT",
    "build_choice_request",
    "choice_fewshot_examples",
    "extract_program",
    "option_letters",
    "parse_options",
    "program_gbnf",
    "split_problem",
]

MAX_PROGRAM_LINES = 120
"""Most lines :func:`program_gbnf` allows in a program."""

SYSTEM_PROMPT = "\n".join(
    [
        "You turn logic puzzles with answer options into small constraint programs, one statement a line.",
        "Declare every name before using it:",
        "  sort NAME = {a, b, c}          a finite set of objects (lowercase names)",
        "  fun NAME(SORT): 1..5           a function, e.g. each object's position",
        "  var NAME: TYPE                 a single unknown; TYPE is a sort, lo..hi, int or bool",
        "Then one line per condition of the puzzle: assert FORMULA (put the sentence in a # comment above it).",
        "For a question that starts with If ..., write its hypothesis as: given FORMULA.",
        "Then one line per answer option: option A: FORMULA, option B: FORMULA, ...",
        "Formulas: == != < <= > >=, + - *, and, or, not, -> (implies), x in {1, 2}, distinct(f) (all values "
        "differ), forall(x in SORT: ...), exists(x in SORT: ...), count(x in SORT: ...).",
        "Write only the program, in exactly the layout of the examples.",
    ]
)


@cache
def choice_fewshot_examples() -> tuple[dict[str, Any], ...]:
    """The worked examples shown to the model (train splits only; see ``fewshot.json``).

    Example:
        >>> sorted({e["set"] for e in choice_fewshot_examples()})
        ['ar_lsat', 'logical_deduction']

    """
    text = resources.files("neurosym.targets.choice").joinpath("fewshot.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["examples"])


# ------------------------------------------------------------------------------------------ the problem

_OPTION_START = re.compile(r"(?:^|(?<=\s))\(?([A-G])[).:]\s+")


def _option_run(text: str) -> list[re.Match[str]]:
    """The markers of the options: the last run A, B, C... of two or more (stray capitals such as "G." are skipped)."""
    marks = list(_OPTION_START.finditer(text))
    starts = [i for i, m in enumerate(marks) if m.group(1) == "A"]
    best: list[re.Match[str]] = []
    for start in reversed(starts):
        run = [marks[start]]
        for mark in marks[start + 1 :]:
            if mark.group(1) == chr(ord("A") + len(run)):
                run.append(mark)
        if len(run) >= 2:
            return run
        best = best or run
    return best


def parse_options(text: str | Sequence[str]) -> tuple[str, ...]:
    """Answer options as ``A) ...`` strings, from lines or from one text with several markers.

    Letters must run A, B, C, ... in order; a text with no option markers gives ``()``.

    Raises:
        ConfigurationError: only one option, or an option with no text.

    Example:
        >>> parse_options("(A) Ann is first (B) Bob is first")
        ('A) Ann is first', 'B) Bob is first')
        >>> parse_options(["A. one", "B: two"])
        ('A) one', 'B) two')

    """
    joined = text if isinstance(text, str) else "\n".join(text)
    run = _option_run(joined)
    if not run:
        return ()
    if len(run) < 2:
        shown = joined[run[0].start() :][:60]
        raise ConfigurationError(f"only one answer option could be read ({shown!r}); give two or more")
    options = []
    for i, mark in enumerate(run):
        end = run[i + 1].start() if i + 1 < len(run) else len(joined)
        body = " ".join(joined[mark.end() : end].split())
        if not body:
            raise ConfigurationError(f"option {mark.group(1)} has no text")
        options.append(f"{mark.group(1)}) {body}")
    return tuple(options)


def option_letters(options: Sequence[str]) -> tuple[str, ...]:
    """The letters of ``A) ...`` options.

    Example:
        >>> option_letters(("A) x", "B) y"))
        ('A', 'B')

    """
    return tuple(o[0] for o in options)


_SENTENCE = re.compile(r"[^.?!:]*[?:]")


def split_problem(text: str, options: Sequence[str] | str | None = None) -> Problem:
    """The problem: the puzzle, the question and the options (from ``options``, else from ``text``).

    Raises:
        ConfigurationError: empty text, or options that cannot be read.

    Example:
        >>> p = split_problem("X is 1 or 2. X is not 1. Which must be true?", ["A) X is 2", "B) X is 1"])
        >>> p.text, p.question, len(p.options)
        ('X is 1 or 2. X is not 1.', 'Which must be true?', 2)

    """
    if not text or not text.strip():
        raise ConfigurationError("the problem text is empty")
    body = text.strip()
    found: tuple[str, ...] = ()
    run = _option_run(body)
    if len(run) >= 2:
        found, body = parse_options(body[run[0].start() :]), body[: run[0].start()].strip()
    if options is not None and (options if isinstance(options, str) else list(options)):
        found = parse_options(options)
        if not found:
            raise ConfigurationError(
                "the options could not be read: write each as 'A) ...', 'B) ...' (one per --options value or line)"
            )
    question = ""
    candidates = [m.group(0).strip() for m in _SENTENCE.finditer(body)]
    if candidates and body.rstrip().endswith(("?", ":")):
        question = candidates[-1]
    else:
        sentences = re.split(r"(?<=[.!?])\s+", body)
        question = sentences[-1].strip() if sentences else body
    puzzle = body[: body.rfind(question)].strip() if question and question in body else body
    return Problem(text=puzzle, question=question, options=found)


# ------------------------------------------------------------------------------------------ the prompt


def _user_text(context: str, question: str, options: Sequence[str]) -> str:
    return "\n".join(["Puzzle:", context.strip(), f"Question: {question.strip()}", "Options:", *options])


def build_choice_request(
    problem: Problem, *, examples: Sequence[dict[str, Any]] | None = None, constrained: bool = False
) -> GenerationRequest:
    r"""The chat request: the language, the worked examples as earlier turns, then the problem.

    Raises:
        ConfigurationError: the problem has no options.

    Example:
        >>> p = Problem("X is 1 or 2. X is not 1.", question="Which must be true?", options=("A) X is 2", "B) X is 1"))
        >>> build_choice_request(p).messages[-1].content.splitlines()[-3:]
        ['Options:', 'A) X is 2', 'B) X is 1']

    """
    if not problem.options:
        raise ConfigurationError(
            "the question has no answer options: give them as 'A) ...' lines in the text or with --options"
        )
    messages = [Message("system", SYSTEM_PROMPT)]
    for example in choice_fewshot_examples() if examples is None else examples:
        messages.append(Message("user", _user_text(example["context"], example["question"], example["options"])))
        messages.append(Message("assistant", example["program"]))
    messages.append(Message("user", _user_text(problem.text, problem.question or "", problem.options)))
    constraint = Constraint("grammar", program_gbnf()) if constrained else None
    return GenerationRequest(tuple(messages), constraint)


@cache
def program_gbnf() -> str:
    r"""GBNF for the choice language (llama.cpp, vLLM), compiled from ``choice.lark``.

    Every text it allows parses with the Lark grammar: one statement or one ``#`` comment a line,
    at most :data:`MAX_PROGRAM_LINES` lines. What a context-free grammar cannot say —
    names declared before use, types, each option once — :func:`parse_program` checks; a
    decoder that tracks declarations could narrow each name to the declared ones, since names
    are declared only by ``sort``, ``var``, ``fun`` and quantifier bindings, all before their uses.

    Example:
        >>> program_gbnf().splitlines()[0]
        'root ::= program-line ("\\n" program-line){0,120}'

    """
    rules = lark_to_gbnf(
        grammar_text(),
        root=False,
        spellings={"_NL": "\n"},
        words={"NAME": "name"},
        repeat={"start": MAX_PROGRAM_LINES},
        token_repeat=40,
    )
    # The worked examples put each sentence in a comment line above its condition: allow such lines.
    head = (
        f'root ::= program-line ("\\n" program-line){{0,{MAX_PROGRAM_LINES}}}\n'
        'program-line ::= statement | program-comment | ""\n'
        'program-comment ::= "#" [ -~]{0,200}\n'
    )
    return head + rules


# ------------------------------------------------------------------------------------------ the output

_STATEMENT = re.compile(r"^\s*(sort|var|fun|assert|given|replace|how_many|option)\b")
_FENCE = re.compile(r"^\s*```")


def extract_program(output: str) -> str:
    r"""The program in a model's answer: the statement lines (of the first fenced block, if any).

    Lines that are not statements (chatter, headings) are dropped; a statement never spans lines.

    Raises:
        ParseError: no statement line at all.

    Example:
        >>> extract_program("Here it is:\n```\nvar x: bool\noption A: x\n```\nDone.")
        'var x: bool\noption A: x'

    """
    lines = output.splitlines()
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if len(fences) >= 2:
        lines = lines[fences[0] + 1 : fences[1]]
    kept = [line.rstrip() for line in lines if _STATEMENT.match(line) or line.strip().startswith("#")]
    if not any(_STATEMENT.match(line) for line in kept):
        raise ParseError(
            "no program found in the model output (expected lines starting with sort, var, fun, assert or option)",
            parser="choice-output",
            raw_output=output[-2000:],
        )
    return "\n".join(kept)
