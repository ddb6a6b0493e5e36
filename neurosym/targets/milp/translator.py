r"""Optimization word problems to models in neurosym's MILP language: prompt, grammar, reading the model.

The model is shown the language (see :mod:`neurosym.milp.parser`) and three worked examples
written for neurosym (``neurosym/targets/milp/fewshot.json``; none comes from a benchmark), then asked
for a model of the problem. With constrained decoding, :func:`model_gbnf` limits the output to
the language itself: its GBNF grammar is compiled from ``neurosym/milp/milp.lark`` (the parser's
grammar) by :mod:`neurosym.grammars`, with bounds on repetition.

:func:`extract_model` reads the model out of chatty output (a fenced block, or the lines from
the first declaration on); nothing in it is ever evaluated.

Example:
    >>> extract_model("Here is the model:\n```\ninteger x\nmaximize 2 x\ncap: x <= 3\n```\nDone.")
    'integer x\nmaximize 2 x\ncap: x <= 3\n'

"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from neurosym.errors import ParseError
from neurosym.grammars import lark_to_gbnf
from neurosym.translators.base import Constraint, GenerationRequest, Message

__all__ = [
    "MAX_EXPRESSION_TERMS",
    "MAX_MODEL_LINES",
    "MAX_TOKEN_CHARS",
    "SYSTEM_PROMPT",
    "build_milp_request",
    "extract_model",
    "milp_fewshot_examples",
    "model_gbnf",
]

MAX_MODEL_LINES = 69
"""Most lines ending in a new line that :func:`model_gbnf` allows (then one more without): a model
that starts repeating itself stops there. The hand-written grammar of 0.1 allowed 8 declarations,
an objective and 60 constraints."""
MAX_EXPRESSION_TERMS = 41
"""Most terms (``3 x``, ``- 2 y``) in one expression that :func:`model_gbnf` allows, as in 0.1."""
MAX_TOKEN_CHARS = 64
"""Most characters in a run of digits, and in a name after its first few, that :func:`model_gbnf` allows."""
_MAX_FACTORS = 8  # "2 * 3 x" has three; a longer product is a model repeating itself
# One spelling where the lexer accepts an open set: a new line is "\n", a header "subject to".
_SPELLINGS = {
    "_NL": "\n",
    "SUBJECT_TO": ("subject to", "s.t."),
    "CARDINALITY": ("at most", "at least", "exactly"),
}

SYSTEM_PROMPT = "\n".join(
    [
        "You turn optimization word problems into models in a small modeling language.",
        "Declare every variable first, one kind per line: integer NAME, NAME / continuous NAME / binary NAME.",
        "Variables are >= 0 unless you give bounds: integer x <= 40, continuous y in [5, 20].",
        "Use integer for anything counted (items, trips, people, machines) and continuous for amounts (kg, hours).",
        "Then one objective line: maximize NAME: EXPRESSION or minimize NAME: EXPRESSION.",
        "Then one constraint per line: NAME: EXPRESSION <= EXPRESSION (or >=, =).",
        "Logic constraints: NAME: if b then x >= 5 (b binary; also if not b), NAME: x <= 10 or y <= 10,",
        "NAME: at most 2 of b1, b2, b3.",
        "Expressions are linear: numbers times variables with + - * / and brackets.",
        "Write numbers without commas, units or $; a percentage as 0.3 or 30%.",
        "Answer with the model only, one statement per line.",
    ]
)

_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_DECLARATION = re.compile(r"^\s*(integer|continuous|binary)\b", re.IGNORECASE)
_STATEMENT = re.compile(
    r"^\s*((integer|continuous|binary|maximi[sz]e|minimi[sz]e|subject\s+to|if|at\s+(most|least)|exactly)\b"
    r"|[A-Za-z_][A-Za-z0-9_]*\s*:|[-+(0-9.A-Za-z_].*(<=|>=|=|<|>))",
    re.IGNORECASE,
)


@cache
def milp_fewshot_examples() -> tuple[dict[str, Any], ...]:
    """The worked examples shown to the model (problems and models written for neurosym).

    Example:
        >>> from neurosym.milp import parse_model
        >>> [parse_model(e["model"]).sense for e in milp_fewshot_examples()]
        ['maximize', 'minimize', 'minimize']

    """
    text = resources.files("neurosym.targets.milp").joinpath("fewshot.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["examples"])


@cache
def model_gbnf() -> str:
    """A GBNF grammar (llama.cpp, vLLM) for the modeling language, compiled from ``milp.lark``.

    Every text it allows parses with the language's Lark grammar: statements in any order, one a
    line (or separated by ``;``), each in any form the language has, with at most one space
    between tokens, names that are not keywords (nor ``s``, ``at`` and ``in``, which start ``s.t.``,
    ``at most`` and ``in [``), and no comments. :func:`~neurosym.milp.parser.parse_model`
    still checks what a context-free grammar cannot: declared names, one objective, linearity.
    Repetition is bounded by :data:`MAX_MODEL_LINES`, :data:`MAX_EXPRESSION_TERMS` and
    :data:`MAX_TOKEN_CHARS`.

    Example:
        >>> model_gbnf().splitlines()[0]
        'root ::= start'
        >>> "start-star-0 ::= sep (ws statement)? (ws sep (ws statement)?){0,68}" in model_gbnf()
        True

    """
    from neurosym.milp.parser import grammar_text  # imported here: neurosym.milp loads the solvers

    return lark_to_gbnf(
        grammar_text(),
        spellings=_SPELLINGS,
        words={"NAME": "name"},
        repeat={"start": MAX_MODEL_LINES, "expr": MAX_EXPRESSION_TERMS, "term": _MAX_FACTORS},
        token_repeat=MAX_TOKEN_CHARS,
    )


def build_milp_request(
    problem_text: str, *, shots: int | None = None, constrained: bool = False, grammar: str | None = None
) -> GenerationRequest:
    """The chat prompt: the language, the worked examples as earlier turns, then the problem.

    With ``constrained`` the request carries a grammar: ``grammar`` (GBNF text, for instance the
    one a recorded run used) or :func:`model_gbnf`.

    Example:
        >>> r = build_milp_request("Maximize profit from chairs and tables ...")
        >>> r.messages[0].role, r.messages[-1].content.startswith("Problem: Maximize")
        ('system', True)

    """
    messages = [Message("system", SYSTEM_PROMPT)]
    for example in milp_fewshot_examples()[:shots]:
        messages.append(Message("user", f"Problem: {example['problem']}"))
        messages.append(Message("assistant", example["model"]))
    messages.append(Message("user", f"Problem: {' '.join(problem_text.split())}"))
    constraint = Constraint("grammar", model_gbnf() if grammar is None else grammar) if constrained else None
    return GenerationRequest(tuple(messages), constraint)


def extract_model(output: str) -> str:
    r"""The model text in a model's output; raises :class:`ParseError` when there is none.

    Takes the first fenced block that declares a variable, or, without fences, the lines from
    the first declaration to the last line that looks like a statement.

    Example:
        >>> extract_model("The answer is 12.")
        Traceback (most recent call last):
        ...
        neurosym.errors.ParseError: no model in the output (expected declarations such as 'integer x' ...)

    """
    blocks = [m.group(1) for m in _FENCE.finditer(output)]
    text = next((b for b in blocks if any(_DECLARATION.match(line) for line in b.splitlines())), "")
    if not text:
        lines = output.splitlines()
        start = next((i for i, line in enumerate(lines) if _DECLARATION.match(line)), None)
        if start is not None:
            kept = [line for line in lines[start:]]
            while kept and not (_STATEMENT.match(kept[-1]) or not kept[-1].strip()):
                kept.pop()
            end = len(kept)
            for i, line in enumerate(kept):
                prose = not _STATEMENT.match(line) or line.rstrip().endswith(".")  # "So x = 3." is a sentence
                if line.strip() and prose and not line.lstrip().startswith(("#", "//")):
                    end = i  # prose after the model
                    break
            text = "\n".join(kept[:end])
    text = text.strip("\n")
    if not text.strip():
        raise ParseError(
            "no model in the output (expected declarations such as 'integer x' and then an objective and constraints)"
        )
    return text + "\n"
