r"""Natural language to first-order logic: prompts, the output grammar, and reading the model's answer.

The prompt shows a few worked examples from FOLIO *train* (``neurosym/targets/fol/fewshot.json``; never
validation) as earlier chat turns, then the problem as numbered premises and a conclusion. The
model answers in a fixed layout that repeats each sentence before its formula (small models
translate a sentence far better with it right in front of them), in order::

    Premises:
    1. All dogs are animals.
    FOL: ∀x (Dog(x) → Animal(x))
    2. Rex is a dog.
    FOL: Dog(rex)
    Conclusion:
    Is Rex an animal?
    FOL: Animal(rex)

With constrained decoding, :func:`output_gbnf` limits the model to exactly that layout (the
sentences are copied verbatim), with each formula drawn from the FOL grammar (see
:mod:`neurosym.fol.gbnf`), so a syntactically invalid formula cannot be produced.
:func:`parse_fol_output` also reads unconstrained, chatty output.

Example:
    >>> parse_fol_output("Sure! Here it is:\n```\nPremises:\n1. Dog(rex)\nConclusion:\nAnimal(rex)\n```")
    FolTranslation(premises=('Dog(rex)',), conclusion='Animal(rex)')

"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from neurosym.errors import ConfigurationError, ParseError
from neurosym.fol.parser import parse_formula
from neurosym.translators.base import Constraint, GenerationRequest, Message
from neurosym.types import Problem

__all__ = [
    "FolTranslation",
    "build_fol_request",
    "fewshot_examples",
    "output_gbnf",
    "parse_fol_output",
    "problem_from_text",
]

SYSTEM_PROMPT = (
    "You translate English into first-order logic. Write predicates in CamelCase with their arguments, "
    "such as Dog(x) or Owns(john, x), and constants in lowerCamelCase, such as rex or newYork. "
    "Use only the symbols ∀ ∃ ¬ ∧ ∨ → ↔ ⊕ = ≠ and brackets. Give every name one meaning: never use the same "
    "word as a predicate and as a constant, and always give a predicate the same number of arguments. "
    "Repeat each premise, in order, and write its formula on the next line after 'FOL:'; then do the same for "
    "the conclusion. Turn a question into the statement it asks about, without negating it: 'Is Ann a doctor?' "
    "becomes Doctor(ann). Answer in exactly the layout of the examples and write nothing else."
)


@dataclass(frozen=True, slots=True)
class FolTranslation:
    """The formulas a model wrote: one per premise, and the conclusion (all still text)."""

    premises: tuple[str, ...]
    conclusion: str


@cache
def fewshot_examples() -> tuple[dict[str, Any], ...]:
    """The worked examples (from FOLIO train) shown to the model.

    Example:
        >>> {e["label"] for e in fewshot_examples()} == {"True", "False", "Uncertain"}
        True

    """
    text = resources.files("neurosym.targets.fol").joinpath("fewshot.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["examples"])


def _problem_text(premises: tuple[str, ...] | list[str], conclusion: str) -> str:
    lines = ["Premises:"]
    lines += [f"{i}. {p.strip()}" for i, p in enumerate(premises, start=1)]
    lines.append(f"Conclusion: {conclusion.strip()}")
    return "\n".join(lines)


def _answer_text(premises: list[str], formulas: list[str], conclusion: str, conclusion_formula: str) -> str:
    lines = ["Premises:"]
    for i, (sentence, formula) in enumerate(zip(premises, formulas, strict=True), start=1):
        lines += [f"{i}. {_one_line(sentence)}", f"FOL: {formula}"]
    lines += ["Conclusion:", _one_line(conclusion), f"FOL: {conclusion_formula}"]
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def problem_from_text(text: str) -> Problem:
    """Split free text into premises and a conclusion: the question (or else the last sentence).

    Text on several lines is read one sentence per line; one paragraph is split at sentence ends.

    Example:
        >>> p = problem_from_text("All dogs are animals. Rex is a dog. Is Rex an animal?")
        >>> p.premises, p.conclusion
        (('All dogs are animals.', 'Rex is a dog.'), 'Is Rex an animal?')

    """
    if not text or not text.strip():
        raise ConfigurationError("the problem text is empty")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1:
        sentences = lines
    else:
        sentences = []
        for piece in _SENTENCE_END.split(lines[0]):
            # "Tiffany T. Alston": a single capital before the full stop is an initial, not an end.
            if sentences and re.search(r"(?:^|\s)[A-Z]\.$", sentences[-1]):
                sentences[-1] = f"{sentences[-1]} {piece}"
            else:
                sentences.append(piece)
    questions = [i for i, s in enumerate(sentences) if s.rstrip().endswith("?")]
    index = questions[-1] if questions else len(sentences) - 1
    conclusion = sentences[index]
    premises = tuple(s for i, s in enumerate(sentences) if i != index)
    if not premises:
        raise ConfigurationError("the problem needs at least one premise besides the conclusion")
    return Problem(text=text, premises=premises, conclusion=conclusion)


def _gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def output_gbnf(problem: Problem | None = None) -> str:
    r"""GBNF for the answer layout; for a ``problem``, its sentences verbatim, one formula after each.

    Without a problem, any number of numbered sentences is allowed.

    Example:
        >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is he?")
        >>> print(output_gbnf(p).splitlines()[0])
        root ::= "Premises:\n" "1. Rex is a dog.\nFOL: " fol-formula "\n" "Conclusion:\n" "Is he?\nFOL: " fol-formula

    """
    from neurosym.fol.gbnf import formula_gbnf

    if problem is None:
        body = '( [1-9] [0-9]? ". " [^\\n]+ "\\nFOL: " fol-formula "\\n" )+'
        conclusion = '[^\\n]+ "\\nFOL: "'
    else:
        if problem.conclusion is None or not problem.premises:
            raise ConfigurationError("the problem needs premises and a conclusion")
        body = " ".join(
            _gbnf_literal(f"{i}. {_one_line(p)}\nFOL: ") + ' fol-formula "\\n"'
            for i, p in enumerate(problem.premises, start=1)
        )
        conclusion = _gbnf_literal(f"{_one_line(problem.conclusion)}\nFOL: ")
    root = f'root ::= "Premises:\\n" {body} "Conclusion:\\n" {conclusion} fol-formula'
    return root + "\n" + formula_gbnf()


def build_fol_request(problem: Problem, *, constrained: bool = True) -> GenerationRequest:
    r"""The chat request that asks a model to formalise ``problem`` (premises and a conclusion).

    Example:
        >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
        >>> r = build_fol_request(p, constrained=False)
        >>> r.messages[-1].content
        'Premises:\n1. Rex is a dog.\nConclusion: Is Rex a dog?'

    """
    if problem.conclusion is None or not problem.premises:
        problem = problem_from_text(problem.text)
    assert problem.conclusion is not None  # problem_from_text always sets it
    messages = [Message("system", SYSTEM_PROMPT)]
    for example in fewshot_examples():
        messages.append(Message("user", _problem_text(example["premises"], example["conclusion"])))
        answer = _answer_text(
            example["premises"], example["premises_fol"], example["conclusion"], example["conclusion_fol"]
        )
        messages.append(Message("assistant", answer))
    messages.append(Message("user", _problem_text(problem.premises, problem.conclusion)))
    constraint = Constraint("grammar", output_gbnf(problem)) if constrained else None
    return GenerationRequest(tuple(messages), constraint)


_FENCE = re.compile(r"^\s*```[\w-]*\s*$")
_HEADER = re.compile(r"^[#*\s]*(premises?|conclusion|question|hypothes[ie]s)[*\s]*:[*\s]*(.*)$", re.IGNORECASE)
_FOL_LINE = re.compile(r"^[\s*`>-]*FOL[*`]*\s*:\s*(.*)$", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*(?:[-*•]\s*)?(?:\(?\d{1,3}[.):]\s*|premise\s*\d+\s*[:.)]\s*)?(.*)$", re.IGNORECASE)


def _formula_part(line: str) -> str:
    text = _NUMBERED.match(line).group(1).strip()  # type: ignore[union-attr]
    text = text.strip("`*").strip()
    if ":" in text:  # "Rex is a dog: Dog(rex)" — no formula contains a colon
        text = text.rsplit(":", 1)[1].strip()
    return text


def _looks_like_formula(text: str) -> bool:
    try:
        parse_formula(text)
    except ParseError:
        return False
    return True


def parse_fol_output(text: str, *, expected_premises: int | None = None) -> FolTranslation:
    r"""Pull the premise formulas and the conclusion formula out of a model's answer.

    Reads the ``Premises:`` / ``Conclusion:`` layout, with or without code fences, numbering,
    bullets, Markdown emphasis or a sentence before a colon. Without headers, every line that
    parses as a formula counts and the last one is the conclusion.

    Raises:
        ParseError: no conclusion could be found, or the number of premises differs from
            ``expected_premises``; ``raw_output`` holds the text.

    Example:
        >>> parse_fol_output("**Premises:**\n- Rex is a dog: Dog(rex)\n**Conclusion:** Animal(rex)")
        FolTranslation(premises=('Dog(rex)',), conclusion='Animal(rex)')

    """
    lines = [line for line in text.splitlines() if line.strip() and not _FENCE.match(line)]
    premises: list[str] = []
    conclusion: str | None = None
    section: str | None = None
    if any(_FOL_LINE.match(line) for line in lines):
        return _parse_fol_lines(text, lines, expected_premises)
    for line in lines:
        header = _HEADER.match(line)
        if header:
            kind = header.group(1).lower()
            section = "conclusion" if kind in ("conclusion", "question") else "premises"
            rest = header.group(2).strip()
            if rest and section == "premises":
                premises.append(_formula_part(rest))
            elif rest and conclusion is None:
                conclusion = _formula_part(rest)
            continue
        if section == "premises":
            premises.append(_formula_part(line))
        elif section == "conclusion" and conclusion is None:
            conclusion = _formula_part(line)
    if section is None:  # no headers at all: keep the lines that are formulas
        formulas = [f for f in (_formula_part(line) for line in lines) if _looks_like_formula(f)]
        if len(formulas) >= 2:
            premises, conclusion = formulas[:-1], formulas[-1]
    if conclusion is None or not conclusion:
        raise ParseError(
            "no conclusion formula found in the model output (expected a 'Conclusion:' section)",
            parser="fol-output",
            raw_output=text[-2000:],
        )
    return _checked(text, premises, conclusion, expected_premises)


def _checked(text: str, premises: list[str], conclusion: str | None, expected: int | None) -> FolTranslation:
    if conclusion is None or not conclusion:
        raise ParseError(
            "no conclusion formula found in the model output (expected a 'Conclusion:' section)",
            parser="fol-output",
            raw_output=text[-2000:],
        )
    if expected is not None and len(premises) != expected:
        raise ParseError(
            f"the model wrote {len(premises)} premise formulas for {expected} premises",
            parser="fol-output",
            raw_output=text[-2000:],
        )
    return FolTranslation(tuple(premises), conclusion)


def _parse_fol_lines(text: str, lines: list[str], expected: int | None) -> FolTranslation:
    """The sentence-then-``FOL:`` layout: formulas before the Conclusion header are premises."""
    boundary = next(
        (
            i
            for i, line in enumerate(lines)
            if (h := _HEADER.match(line)) and h.group(1).lower() in ("conclusion", "question")
        ),
        None,
    )
    found = [(i, m.group(1).strip("`* \t")) for i, line in enumerate(lines) if (m := _FOL_LINE.match(line))]
    premises = [f for i, f in found if boundary is None or i < boundary]
    after = [f for i, f in found if boundary is not None and i > boundary]
    conclusion = after[0] if after else (premises.pop() if boundary is None and len(premises) >= 2 else None)
    return _checked(text, premises, conclusion, expected)
