r"""Declare-then-use decoding for MILP models: the variables first, then objective and constraints over them only.

Phase 1 writes the declaration lines (``integer loaves, trays``, ``binary use_trucks``, with
bounds) under :func:`declarations_gbnf` (one line at a time under :func:`declaration_line_gbnf`
where the backend continues partial answers, so that no name is declared on two lines).
Phase 2 writes the objective and the constraints under a grammar compiled from the declared names
(:func:`body_gbnf`, :func:`line_gbnf`): an expression ranges only over declared variables and is
linear (a term is numbers times at most one variable or bracket, divided by numbers only), the
condition of ``if`` and the names counted by ``at most`` are declared binary, every objective and
constraint carries a label that is not a variable (nor a keyword of the language), so a label
can never be used as a variable, and no label is used twice.

On a backend that continues a partial answer, phase 2 is written one line at a time, each line
under a grammar that also leaves out the labels already used; the model ends the model by
writing nothing more, and a constraint that repeats an earlier one word for word ends it too
(a model that starts repeating itself stops at once instead of at the token cap). Elsewhere
phase 2 is one second request under :func:`body_gbnf`.

Every text these grammars allow is in neurosym's MILP language (:mod:`neurosym.milp.parser`),
written with lowercase names, one space between tokens and a label on every statement.

Example:
    >>> read_declarations("integer loaves, trays <= 40\nbinary use_oven\n")
    ('loaves', 'trays', 'use_oven')
    >>> from neurosym.grammars._testing import Recognizer, read_gbnf
    >>> line = Recognizer(read_gbnf(line_gbnf(("loaves", "trays"), used=("flour",))))
    >>> [line.matches(t) for t in ("oven: loaves + 2 trays <= 70\n", "flour: loaves <= 3\n", "x: cakes <= 3\n")]
    [True, False, False]

"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from neurosym.errors import ParseError
from neurosym.milp.parser import parse_model
from neurosym.translators.base import Constraint
from neurosym.translators.decoding import DeclareThenUse, Fixed, Plan, Span, UseRequest
from neurosym.translators.decoding.names import one_of, word_except
from neurosym.translators.decoding.plan import Step

__all__ = [
    "KEYWORDS",
    "body_gbnf",
    "declaration_line_gbnf",
    "declarations_gbnf",
    "declare_decoder",
    "line_gbnf",
    "read_declarations",
]

KEYWORDS = (
    "integer", "continuous", "binary", "maximize", "minimize", "maximise", "minimise", "subject", "s", "at",
    "in", "free", "inf", "infinity", "or", "if", "then", "not", "of", "exactly", "constraints", "variables",
)  # fmt: skip
"""Words the MILP lexer reads as keywords (or the start of one: ``s.t.``, ``at most``, ``in [``): never a name."""
MAX_DECLARATION_LINES = 8
MAX_NAMES_PER_LINE = 16
MAX_CONSTRAINTS = 60
MAX_TERMS = 41
MAX_FACTORS = 8
LINE_TOKENS = 96
"""Most tokens one objective or constraint line may take."""
DECLARATION_TOKENS = 160

_DECLARATION = re.compile(
    r"^\s*(integer|continuous|binary)\s+([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)"
)


def _kinds_and_names(p: str) -> str:
    """A declaration line's kind and names (no bounds, no new line)."""
    return f'("integer" | "continuous" | "binary") " " {p}vname (", " {p}vname){{0,{MAX_NAMES_PER_LINE - 1}}}'


def _bounds(p: str) -> list[str]:
    return [
        f'{p}bounds ::= " <= " {p}bound | " >= " {p}bound (" <= " {p}bound)?'
        f' | " in [" {p}bound ", " {p}bound "]" | " free"',
        f'{p}bound ::= "-"? {p}num',
    ]


def _number(p: str) -> str:
    return f'{p}num ::= [0-9]{{1,12}} ("." [0-9]{{1,8}})?'


def _name_rules(p: str) -> str:
    return word_except(f"{p}vname", KEYWORDS, first="a-z", rest="a-z0-9_", max_rest=31)


def declaration_line_gbnf(declared: Sequence[str] = (), *, first: bool = False, prefix: str = "md-") -> str:
    r"""GBNF for one declaration line whose names are not in ``declared``; after the first, or the objective's sense.

    The sense word (``maximize``, ``minimize``) ends the declarations: a model that is done declaring
    wants to start the objective, and if it could only stop (an end token it does not expect
    there) it would rather declare more. The word stays in the answer; the objective goes on from it.

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> g = Recognizer(read_gbnf(declaration_line_gbnf(["x"])))
        >>> g.matches("binary b\n"), g.matches("integer x\n"), g.matches("minimize"), g.matches("")
        (True, False, True, False)

    """
    p = prefix
    line = f'{_kinds_and_names(p)} {p}bounds? "\\n"'
    return (
        "\n".join(
            [
                f"root ::= {line}" if first else f'root ::= {line} | "maximize" | "minimize"',
                *_bounds(p),
                _number(p),
                word_except(f"{p}vname", (*KEYWORDS, *declared), first="a-z", rest="a-z0-9_", max_rest=31),
            ]
        )
        + "\n"
    )


def _declaration_plan(constrained: bool) -> Generator[Step, str, str]:
    """Declaration lines one at a time, each leaving out the names declared before; returns their text."""
    text = ""
    for index in range(MAX_DECLARATION_LINES):
        declared = read_declarations(text) or ()
        constraint = Constraint("grammar", declaration_line_gbnf(declared, first=index == 0)) if constrained else None
        line = yield Span(constraint, max_tokens=LINE_TOKENS, stop=("\n",))
        if line.strip() in _SENSES:
            return text + line.strip()  # the objective has begun
        if not _DECLARATION.match(line):
            break
        text += line if line.endswith("\n") else line + "\n"
        if not line.endswith("\n"):
            yield Fixed("\n")
    return text


def declarations_gbnf(prefix: str = "md-") -> str:
    r"""GBNF for the declaration lines: a kind, lowercase names, optional bounds; 1 to 8 lines.

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> g = Recognizer(read_gbnf(declarations_gbnf()))
        >>> g.matches("integer x, y <= 40\ncontinuous z in [5, 20]\n"), g.matches("integer if\n")
        (True, False)

    """
    p = prefix
    return (
        "\n".join(
            [
                f"root ::= {p}line{{1,{MAX_DECLARATION_LINES}}}",
                f'{p}line ::= {_kinds_and_names(p)} {p}bounds? "\\n"',
                *_bounds(p),
                _number(p),
                _name_rules(p),
            ]
        )
        + "\n"
    )


_SENSES = ("maximize", "minimize")


@dataclass(frozen=True, slots=True)
class Declared:
    """The declared variables, and the objective's sense when the declaration phase ended by writing it."""

    variables: tuple[str, ...]
    sense: str | None = None
    binaries: tuple[str, ...] = ()
    """The variables declared ``binary`` (the only ones ``if`` and ``at most`` may use)."""


def _read(text: str) -> Declared | None:
    variables = read_declarations(text)
    if variables is None:
        return None
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    return Declared(variables, last if last in _SENSES else None, read_declarations(text, kind="binary") or ())


def read_declarations(text: str, *, kind: str | None = None) -> tuple[str, ...] | None:
    r"""The declared variable names in order (each once), of one ``kind`` if given; ``None`` when no line declares one.

    Example:
        >>> read_declarations("maximize x"), read_declarations("integer x, y\ninteger y")
        (None, ('x', 'y'))
        >>> read_declarations("integer x\nbinary b, c", kind="binary")
        ('b', 'c')

    """
    names: list[str] = []
    for line in text.splitlines():
        if (m := _DECLARATION.match(line)) and kind in (None, m.group(1)):
            for name in (n.strip() for n in m.group(2).split(",")):
                if name not in names and name.lower() not in KEYWORDS:
                    names.append(name)
    return tuple(names) or None


def _expression_rules(p: str, variables: Sequence[str], binaries: Sequence[str] = ()) -> list[str]:
    """Constraints over ``variables``, linear by construction; ``if`` and ``at most`` only where there are binaries.

    A term is numbers (joined by ``*``, ``/`` or juxtaposition), then at most one variable or
    bracketed expression, then ``* number`` or ``/ number``: a product of two variables, or a division
    by one, cannot be written (the parser would refuse it as not linear). One side of each relation,
    and the objective, has a variable (``vexpr``).
    """
    binary = [b for b in binaries if b in variables]
    logic = [
        f' | "if " {p}cond " then " {p}relation'
        f' | ("at most" | "at least" | "exactly") " " [0-9]{{1,3}} " of " {p}bvar'
        f' (", " {p}bvar){{0,{MAX_NAMES_PER_LINE - 1}}}'
    ] if binary else []  # fmt: skip
    rules = [
        f'{p}constraint ::= {p}relation (" or " {p}relation){{0,3}}' + "".join(logic),
        # One side has a variable: "40 * 5 + 30 * 2 >= 600" compares constants and is no constraint.
        f'{p}relation ::= {p}vexpr " " {p}cmp " " {p}expr | {p}expr " " {p}cmp " " {p}vexpr',
        f'{p}cmp ::= "<=" | ">=" | "="',
        f'{p}expr ::= "-"? {p}term (" " [+-] " " {p}term){{0,{MAX_TERMS - 1}}}',
        f'{p}vexpr ::= "-"? ({p}term " " [+-] " "){{0,{MAX_TERMS - 1}}} {p}vterm'
        f' (" " [+-] " " {p}term){{0,{MAX_TERMS - 1}}}',
        f'{p}term ::= {p}coef (({p}op {p}coef){{0,{MAX_FACTORS - 2}}} " " {p}vfactor)? {p}divisor?'
        f" | {p}vfactor {p}divisor?",
        f'{p}vterm ::= {p}coef ({p}op {p}coef){{0,{MAX_FACTORS - 2}}} " " {p}hvfactor {p}divisor?'
        f" | {p}hvfactor {p}divisor?",
        f'{p}hvfactor ::= {p}var | "(" {p}vexpr ")"',
        f'{p}op ::= " * " | " / " | " "',
        f'{p}coef ::= {p}num "%"?',
        f'{p}vfactor ::= {p}var | "(" {p}expr ")"',
        f'{p}divisor ::= ((" * " | " / ") {p}coef){{1,2}}',
        _number(p),
        one_of(f"{p}var", variables),
    ]
    if binary:
        rules += [f'{p}cond ::= "not " {p}bvar | {p}bvar (" = " [01])?', one_of(f"{p}bvar", binary)]
    return rules


def _labels(p: str, variables: Sequence[str], used: Sequence[str]) -> str:
    return word_except(f"{p}label", (*KEYWORDS, *variables, *used), first="a-z", rest="a-z0-9_", max_rest=31)


def body_gbnf(variables: Sequence[str], prefix: str = "mb-", *, binaries: Sequence[str] = ()) -> str:
    r"""GBNF for the objective line and the constraint lines over ``variables`` (phase 2 as one request).

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> g = Recognizer(read_gbnf(body_gbnf(["x", "y"])))
        >>> g.matches("maximize profit: 3 x + 2 y\ncap: x + y <= 4\n"), g.matches("maximize x: 3 x\n")
        (True, False)
        >>> g.matches("maximize profit: x * y\n"), g.matches("maximize profit: x\nmix: x / y >= 2\n")
        (False, False)

    """
    p = prefix
    return (
        "\n".join(
            [
                f'root ::= {p}objective (({p}label ": " {p}constraint "\\n"){{0,{MAX_CONSTRAINTS}}})',
                f'{p}objective ::= ("maximize" | "minimize") " " {p}label ": " {p}vexpr "\\n"',
                *_expression_rules(p, variables, binaries),
                _labels(p, variables, ()),
            ]
        )
        + "\n"
    )


def line_gbnf(
    variables: Sequence[str],
    *,
    used: Sequence[str] = (),
    objective: bool = False,
    prefix: str = "ml-",
    after_sense: bool = False,
    binaries: Sequence[str] = (),
) -> str:
    r"""GBNF for one line of phase 2: the objective, or a constraint (or nothing, which ends the model).

    Labels are never a variable, a keyword or one of ``used``; ``if`` conditions and ``at most``
    counts use only ``binaries``.

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> g = Recognizer(read_gbnf(line_gbnf(["x"], objective=True)))
        >>> g.matches("minimize cost: 2 x\n"), g.matches("")
        (True, False)
        >>> g = Recognizer(read_gbnf(line_gbnf(["x", "b"], binaries=["b"])))
        >>> g.matches("on: if b then x >= 5\n"), g.matches("on: if x then b >= 1\n")
        (True, False)

    """
    p = prefix
    if objective and after_sense:  # "maximize" is written already
        root = f'root ::= " " {p}label ": " {p}vexpr "\\n"'
    elif objective:
        root = f'root ::= ("maximize" | "minimize") " " {p}label ": " {p}vexpr "\\n"'
    else:
        root = f'root ::= ({p}label ": " {p}constraint "\\n")?'
    return "\n".join([root, *_expression_rules(p, variables, binaries), _labels(p, variables, used)]) + "\n"


_LABEL = re.compile(r"^\s*(?:(?:maximize|minimize)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")


def _body_plan(declared: Declared, constrained: bool) -> Plan:
    """The objective (on from its sense word), then constraint lines one at a time, until none or a repeat."""
    variables = declared.variables
    used: list[str] = []
    bodies: set[str] = set()
    for index in range(MAX_CONSTRAINTS + 1):
        after_sense = index == 0 and declared.sense is not None
        grammar = line_gbnf(
            variables, used=used, objective=index == 0, after_sense=after_sense, binaries=declared.binaries
        )
        constraint = Constraint("grammar", grammar) if constrained else None
        text = yield Span(constraint, max_tokens=LINE_TOKENS, stop=("\n",))
        m = _LABEL.match(f"{declared.sense}{text}" if after_sense else text)
        if not text.strip() or m is None:
            return
        label, body = m.group(1), m.group(2)
        if index > 0 and body in bodies:  # repeating itself: the model is done
            return
        used.append(label)
        bodies.add(body)
        if not text.endswith("\n"):  # stopped at the stop string (no grammar applied)
            yield Fixed("\n")


def declare_decoder(*, constrained: bool = True) -> DeclareThenUse[Declared]:
    r"""The MILP declare-then-use decoder (see the module docstring).

    Example:
        >>> from neurosym.translators.base import GenerationRequest
        >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
        >>> lines = ["integer x, y\n", "maximize", " total: x + y\n", "cap: x + y <= 4\n", "again: x + y <= 4\n"]
        >>> backend = ContinuingScriptedBackend(lines)
        >>> print(declare_decoder().generate(backend, GenerationRequest.from_prompt("...")).texts[0], end="")
        integer x, y
        maximize total: x + y
        cap: x + y <= 4
        again: x + y <= 4
        >>> len(backend.calls)  # the repeated constraint ended the model
        5

    """

    def use_request(declared: Declared) -> UseRequest:
        constraint = (
            Constraint("grammar", body_gbnf(declared.variables, binaries=declared.binaries)) if constrained else None
        )
        return UseRequest("Now write the objective and the constraints, using only these variables.", constraint)

    return DeclareThenUse(
        header="",
        signature=Span(
            Constraint("grammar", declarations_gbnf()) if constrained else None,
            max_tokens=DECLARATION_TOKENS,
            stop=("maximize", "minimize"),
        ),
        read=_read,
        use_plan=lambda declared: _body_plan(declared, constrained),
        use_request=use_request,
        signature_plan=lambda: _declaration_plan(constrained),
    )


def parses(text: str) -> bool:
    r"""Whether ``text`` is a model in the language (for checks on what the grammars allow).

    Example:
        >>> parses("integer x\nmaximize total: x\ncap: x <= 3\n"), parses("integer x\nmaximize y")
        (True, False)

    """
    try:
        parse_model(text)
    except ParseError:
        return False
    return True
