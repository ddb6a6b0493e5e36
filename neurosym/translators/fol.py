r"""Natural language to first-order logic: prompts, the output grammar, and reading the model's answer.

The prompt shows a few worked examples from FOLIO *train* (``prompts/fol_fewshot.json``; never
validation) as earlier chat turns, then the problem as numbered premises and a conclusion. The
model answers in a fixed layout, one formula per premise, in order::

    Premises:
    1. ∀x (Dog(x) → Animal(x))
    2. Dog(rex)
    Conclusion:
    Animal(rex)

With constrained decoding, :func:`output_gbnf` limits the model to exactly that layout, with each
formula drawn from the FOL grammar (see :mod:`neurosym.fol.gbnf`), so a syntactically invalid
formula cannot be produced. :func:`parse_fol_output` also reads unconstrained, chatty output.

Example:
    >>> parse_fol_output("Sure! Here it is:\\n```\\nPremises:\\n1. Dog(rex)\\nConclusion:\\nAnimal(rex)\\n```")
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
    "Write one formula for each premise, in order, then one formula for the conclusion (turn a question into "
    "the statement it asks about). Answer in exactly the layout of the examples and write nothing else."
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
    text = resources.files("neurosym.translators.prompts").joinpath("fol_fewshot.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["examples"])


def _problem_text(premises: tuple[str, ...] | list[str], conclusion: str) -> str:
    lines = ["Premises:"]
    lines += [f"{i}. {p.strip()}" for i, p in enumerate(premises, start=1)]
    lines.append(f"Conclusion: {conclusion.strip()}")
    return "\n".join(lines)


def _answer_text(premises: list[str], conclusion: str) -> str:
    lines = ["Premises:"]
    lines += [f"{i}. {p}" for i, p in enumerate(premises, start=1)]
    lines += ["Conclusion:", conclusion]
    return "\n".join(lines)


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


def output_gbnf(num_premises: int | None = None) -> str:
    r"""GBNF for the answer layout; with ``num_premises``, exactly that many numbered formulas.

    Example:
        >>> print(output_gbnf(2).splitlines()[0])
        root ::= "Premises:\\n" "1. " fol-formula "\\n" "2. " fol-formula "\\n" "Conclusion:\\n" fol-formula

    """
    from neurosym.fol.gbnf import formula_gbnf

    if num_premises is None:
        body = '( [1-9] [0-9]? ". " fol-formula "\\n" )+'
    else:
        if num_premises < 1:
            raise ConfigurationError(f"num_premises must be at least 1, got {num_premises}")
        body = " ".join(f'"{i}. " fol-formula "\\n"' for i in range(1, num_premises + 1))
    root = f'root ::= "Premises:\\n" {body} "Conclusion:\\n" fol-formula'
    return root + "\n" + formula_gbnf()


def build_fol_request(problem: Problem, *, constrained: bool = True) -> GenerationRequest:
    r"""The chat request that asks a model to formalise ``problem`` (premises and a conclusion).

    Example:
        >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
        >>> r = build_fol_request(p, constrained=False)
        >>> r.messages[-1].content
        'Premises:\\n1. Rex is a dog.\\nConclusion: Is Rex a dog?'

    """
    if problem.conclusion is None or not problem.premises:
        problem = problem_from_text(problem.text)
    assert problem.conclusion is not None  # problem_from_text always sets it
    messages = [Message("system", SYSTEM_PROMPT)]
    for example in fewshot_examples():
        messages.append(Message("user", _problem_text(example["premises"], example["conclusion"])))
        messages.append(Message("assistant", _answer_text(example["premises_fol"], example["conclusion_fol"])))
    messages.append(Message("user", _problem_text(problem.premises, problem.conclusion)))
    constraint = Constraint("grammar", output_gbnf(len(problem.premises))) if constrained else None
    return GenerationRequest(tuple(messages), constraint)


_FENCE = re.compile(r"^\s*```[\w-]*\s*$")
_HEADER = re.compile(r"^[#*\s]*(premises?|conclusion|question|hypothes[ie]s)[*\s]*:[*\s]*(.*)$", re.IGNORECASE)
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
        >>> parse_fol_output("**Premises:**\\n- Rex is a dog: Dog(rex)\\n**Conclusion:** Animal(rex)")
        FolTranslation(premises=('Dog(rex)',), conclusion='Animal(rex)')

    """
    lines = [line for line in text.splitlines() if line.strip() and not _FENCE.match(line)]
    premises: list[str] = []
    conclusion: str | None = None
    section: str | None = None
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
    if expected_premises is not None and len(premises) != expected_premises:
        raise ParseError(
            f"the model wrote {len(premises)} premise formulas for {expected_premises} premises",
            parser="fol-output",
            raw_output=text[-2000:],
        )
    return FolTranslation(tuple(premises), conclusion)
