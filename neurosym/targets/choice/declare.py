r"""Declare-then-use decoding for choice programs: each line under a grammar compiled from the lines above it.

On a backend that continues a partial answer (llama.cpp, vLLM servers) the program is written
one line at a time by :func:`declare_decoder`. Each line's grammar (:func:`line_gbnf`) allows
a ``#`` comment, a declaration whose names are all new (``sort``, ``fun``, ``var``), or a
statement (``assert``, ``given``, ``how_many``, ``replace``) over what is declared so far:

* a function only with its declared number of arguments, each argument of a sort something of
  that sort (an element, a ``var`` of it, a function into it, a quantifier's variable); an
  element of a sort or a ``var`` as a name, a declared sort (or ``lo..hi``, ``int``, ``bool``)
  as a type;
* a quantifier's variable (``forall(p in person: ...)``) is a short name, one or two
  characters, that names nothing declared; so an undeclared word such as ``rap`` or ``soul``
  cannot be written at all, and a misspelt element only as a short unbound name, which the
  parser then reports;
* a label (``assert [c2] ...``) is new, and ``replace`` names one of the labels.

The options come last, one for each answer option of the problem and in its order: the model
starts them by writing the first one (``option A: ...``, the only option line its grammar
allows), then neurosym writes each ``option B:`` itself and the model only the formula, and
the program ends after the last letter. A statement written a second time (a small model that
starts repeating itself) or :data:`MAX_LINES` lines move on to the options at once, so a
program always has every option and never runs to the token cap by repetition.

Elsewhere the program is one request under the language's grammar
(:func:`~neurosym.targets.choice.translator.program_gbnf`).

Every text these grammars allow is in the choice language, with one space around operators
as in the worked examples.

Example:
    >>> state = Declared().after("sort book = {red, blue}").after("fun pos(book): 1..2")
    >>> state.elements, state.functions
    (('red', 'blue'), {'pos': 1})
    >>> from neurosym.grammars._testing import Recognizer, read_gbnf
    >>> line = Recognizer(read_gbnf(line_gbnf(state, first_option="A")))
    >>> [line.matches(t) for t in ("assert pos(red) < pos(blue)\n", "assert pos(red, blue) == 1\n",
    ...                            "assert pos(green) == 1\n", "option A: pos(red) == 1\n", "option B: true\n")]
    [True, False, False, True, False]

"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from neurosym.targets.choice.language import KEYWORDS
from neurosym.translators.base import Constraint
from neurosym.translators.decoding import Fixed, Interleaved, Plan, Span
from neurosym.translators.decoding.names import gbnf_literal, one_of, word_except

__all__ = ["MAX_LINES", "Declared", "declare_decoder", "expression_gbnf", "line_gbnf"]

MAX_LINES = 60
"""Most lines (comments included) before the options; AR-LSAT's longest worked example takes 19."""
LINE_TOKENS = 128
"""Most tokens one line may take."""
MAX_ELEMENTS = 30
MAX_ARGUMENTS = 4
MAX_VAR_NAMES = 16

_SORT = re.compile(r"^sort\s+([A-Za-z_]\w*)\s*=\s*\{(.*)\}\s*$")
_FUN = re.compile(r"^fun\s+([A-Za-z_]\w*)\s*\((.*)\)\s*:\s*(.*?)\s*$")
_VAR = re.compile(r"^var\s+(.*?)\s*:\s*(.*?)\s*$")
_LABEL = re.compile(r"^assert\s*\[\s*([A-Za-z_]\w*)\s*\]")
_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Declared:
    """What the lines so far declared: sorts, their elements, functions (with arities), vars and labels.

    ``sort_of`` gives the sort of each element and of each ``var`` of a sort; ``signatures`` each
    function's argument sorts (``None`` for a number or truth value) and result sort, so that an
    argument of a sort can only be something of that sort. A function without a signature takes
    any expressions.
    """

    sorts: tuple[str, ...] = ()
    elements: tuple[str, ...] = ()
    functions: dict[str, int] = field(default_factory=dict)
    variables: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    counting: bool = False
    """Whether a ``how_many`` line is written (only one is allowed)."""
    sort_of: dict[str, str] = field(default_factory=dict)
    signatures: dict[str, tuple[tuple[str | None, ...], str | None]] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Every declared name (none may be declared again or bound by a quantifier)."""
        return (*self.sorts, *self.elements, *self.functions, *self.variables, *self.labels)

    def _sort(self, text: str) -> str | None:
        return text.strip() if text.strip() in self.sorts else None

    def after(self, line: str) -> Declared:
        """The declarations once ``line`` is written (a line that declares nothing leaves them as they are).

        Example:
            >>> state = Declared().after("sort p = {ann, bob}").after("fun seat(p, 1..2): p")
            >>> state.after("var k, m: 0..5").after("assert [c1] k < m").variables, state.signatures["seat"]
            (('k', 'm'), (('p', None), 'p'))

        """
        text = line.strip()
        if m := _SORT.match(text):
            elements = tuple(_NAME.findall(m.group(2)))
            return replace(self, sorts=(*self.sorts, m.group(1)), elements=(*self.elements, *elements),
                           sort_of={**self.sort_of, **dict.fromkeys(elements, m.group(1))})  # fmt: skip
        if m := _FUN.match(text):
            arguments = tuple(self._sort(t) for t in m.group(2).split(",") if t.strip())
            return replace(self, functions={**self.functions, m.group(1): len(arguments)},
                           signatures={**self.signatures, m.group(1): (arguments, self._sort(m.group(3)))})  # fmt: skip
        if m := _VAR.match(text):
            names = tuple(_NAME.findall(m.group(1)))
            sort = self._sort(m.group(2))
            typed = dict.fromkeys(names, sort) if sort else {}
            return replace(self, variables=(*self.variables, *names), sort_of={**self.sort_of, **typed})
        if m := _LABEL.match(text):
            return replace(self, labels=(*self.labels, m.group(1)))
        if text.startswith("how_many"):
            return replace(self, counting=True)
        return self


def _type_rules(p: str, state: Declared) -> list[str]:
    """``{p}type``: any type; ``{p}ftype``: a finite one (a function's arguments, a quantifier's range)."""
    sorts = " | ".join(gbnf_literal(s) for s in sorted(state.sorts, key=lambda s: (-len(s), s)))
    return [
        f'{p}ftype ::= {sorts + " | " if sorts else ""}{p}int ".." {p}int | "bool"',
        f'{p}type ::= {p}ftype | "int"',
    ]


def _calls(p: str, state: Declared, functions: Sequence[str], typed: dict[str, str]) -> str:
    """The applications of ``functions``, each argument of a sort written under that sort's rule."""
    calls = []
    for name in sorted(functions, key=lambda n: (-len(n), n)):
        sorts = state.signatures.get(name, ((None,) * state.functions[name], None))[0] or (None,)
        arguments = ' ", " '.join(typed.get(sort, f"{p}expr") if sort else f"{p}expr" for sort in sorts)
        calls.append(f'{gbnf_literal(name + "(")} {arguments} ")"')
    return " | ".join(calls)


def _typed_argument_rules(p: str, state: Declared) -> tuple[dict[str, str], list[str]]:
    """A rule per sort some function takes: its elements and vars, the functions into it, bound variables."""
    wanted = sorted({sort for arguments, _ in state.signatures.values() for sort in arguments if sort})
    typed = {sort: f"{p}of{index}" for index, sort in enumerate(wanted)}
    rules = []
    for sort, rule in typed.items():
        alternatives = []
        into = [f for f, (_, result) in state.signatures.items() if result == sort]
        if into:
            alternatives.append(f"{rule}-apply")
            rules.append(f"{rule}-apply ::= {_calls(p, state, into, typed)}")
        members = [name for name, of in state.sort_of.items() if of == sort]
        if members:
            alternatives.append(f"{rule}-name")
            rules.append(one_of(f"{rule}-name", members))
        rules.insert(0, f"{rule} ::= " + " | ".join([*alternatives, f"{p}bound"]))
    return typed, rules


def expression_gbnf(state: Declared, prefix: str = "ce-") -> str:
    r"""GBNF rules (no root) for an expression over ``state``'s names: ``{prefix}expr`` and what it uses.

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> state = Declared(sorts=("p",), elements=("ann", "bob"), functions={"seat": 1, "near": 2})
        >>> e = Recognizer(read_gbnf("root ::= ce-expr\n" + expression_gbnf(state)))
        >>> [e.matches(t) for t in ("forall(x in p: seat(x) != 3)", "near(ann, bob) -> not near(bob, ann)",
        ...                         "distinct(seat)", "seat(ann) in {1, 2}", "seat(carol) == 1", "near(ann) == 1")]
        [True, True, True, True, False, False]

    """
    p = prefix
    constants = (*state.elements, *state.variables)
    unary = [f for f, arity in state.functions.items() if arity == 1]
    atoms = [f"{p}int", '"true"', '"false"', f"{p}bound", f"{p}quant", f"{p}distinct", f'"abs(" {p}expr ")"',
             f'"(" {p}expr ")"']  # fmt: skip
    rules = []
    if constants:
        atoms.insert(3, f"{p}const")
        rules.append(one_of(f"{p}const", constants))
    if state.functions:
        atoms.insert(3, f"{p}apply")
        typed, typed_rules = _typed_argument_rules(p, state)
        rules.append(f"{p}apply ::= {_calls(p, state, list(state.functions), typed)}")
        rules.extend(typed_rules)
    distinct = f'"distinct(" ({one_of(f"{p}fun1", unary).split(" ::= ", 1)[1]} | {p}args) ")"' if unary else (
        f'"distinct(" {p}args ")"'
    )  # fmt: skip
    taken = (*KEYWORDS, *state.names)
    return "\n".join(
        [
            f'{p}expr ::= {p}disj (" -> " {p}expr | " <-> " {p}disj)?',
            f'{p}disj ::= {p}conj (" or " {p}conj)*',
            f'{p}conj ::= {p}neg (" and " {p}neg)*',
            f'{p}neg ::= "not " {p}neg | {p}cmp',
            f'{p}cmp ::= {p}sum ((" " {p}op " " {p}sum)+ | " in {{" {p}args "}}")?',
            f'{p}op ::= "==" | "!=" | "<=" | ">=" | "<" | ">"',
            f'{p}sum ::= {p}prod ((" + " | " - ") {p}prod)*',
            f'{p}prod ::= {p}unary (" * " {p}unary)*',
            f'{p}unary ::= "-" {p}unary | {p}atom',
            f"{p}atom ::= " + " | ".join(atoms),
            f'{p}quant ::= ("forall" | "exists" | "count") "(" {p}bound " in " {p}ftype ": " {p}expr ")"',
            f"{p}distinct ::= {distinct}",
            f'{p}args ::= {p}expr (", " {p}expr)*',
            f"{p}int ::= [0-9]{{1,6}}",
            *_type_rules(p, state),
            *rules,
            word_except(f"{p}bound", taken, first="a-z", rest="a-z0-9", max_rest=1),
        ]
    )


def line_gbnf(state: Declared, *, first_option: str, prefix: str = "ce-") -> str:
    r"""GBNF for one line before the options: a comment, a new declaration, a statement, or the first option.

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> line = Recognizer(read_gbnf(line_gbnf(Declared(sorts=("p",), elements=("ann",)), first_option="A")))
        >>> [line.matches(t) for t in ("sort q = {x1, x2}\n", "sort p = {bob}\n", "fun seat(p): 1..3\n",
        ...                            "# Ann sits first.\n", "var ann: bool\n")]
        [True, False, True, True, False]

    """
    p = prefix
    new_names = word_except(f"{p}new", (*KEYWORDS, *state.names), first="a-z", rest="a-z0-9_", max_rest=31)
    statements = [f'"assert " ("[" {p}new "] ")? {p}expr', f'"given " {p}expr']
    if not state.counting:
        statements.append(f'"how_many(" {p}bound " in " {p}ftype ": " {p}expr ")"')
    rules = []
    if state.labels:
        statements.append(f'"replace " {p}label')
        rules.append(one_of(f"{p}label", state.labels))
    return "\n".join(
        [
            f'root ::= ({p}comment | {p}sort | {p}fun | {p}var | {p}statement | {p}option) "\\n"',
            f'{p}comment ::= "# " [ -~]{{0,240}}',
            f'{p}sort ::= "sort " {p}new " = {{" {p}new (", " {p}new){{0,{MAX_ELEMENTS - 1}}} "}}"',
            f'{p}fun ::= "fun " {p}new "(" {p}ftype (", " {p}ftype){{0,{MAX_ARGUMENTS - 1}}} "): " {p}type',
            f'{p}var ::= "var " {p}new (", " {p}new){{0,{MAX_VAR_NAMES - 1}}} ": " {p}type',
            f"{p}statement ::= " + " | ".join(statements),
            f"{p}option ::= {gbnf_literal(f'option {first_option}: ')} {p}expr",
            expression_gbnf(state, p),
            *rules,
            new_names,
        ]
    )


def _formula_gbnf(state: Declared, *, final: bool, prefix: str = "ce-") -> str:
    """An option's formula after its fixed ``option X:``: the space first, as the model's own tokens put it."""
    tail = "" if final else ' "\\n"'
    return f'root ::= " " {prefix}expr{tail}\n' + expression_gbnf(state, prefix)


def _program_plan(letters: Sequence[str], constrained: bool) -> Plan:
    """Lines one at a time until the first option (or a repeat, or the line cap), then each option's formula."""
    state = Declared()
    written: set[str] = set()
    options_begun = False
    for _ in range(MAX_LINES):
        grammar = line_gbnf(state, first_option=letters[0])
        text = yield Span(Constraint("grammar", grammar) if constrained else None, max_tokens=LINE_TOKENS,
                          stop=("\n",))  # fmt: skip
        if not text.endswith("\n"):  # stopped at the stop string (no grammar applied)
            yield Fixed("\n")
        line = text.strip()
        if not line:
            break
        if line.startswith("option"):
            options_begun = True
            break
        if line in written and not line.startswith("#"):
            break  # repeating itself: on to the options
        written.add(line)
        state = state.after(line)
    rest = letters[1:] if options_begun else letters
    for i, letter in enumerate(rest):
        final = i == len(rest) - 1
        # The label ends before the space: the model's tokens carry a word's leading space, and a
        # prompt that ends in one leaves it to start with a token it rarely sees there (measured:
        # after "option B: " it wrote "2 == 2" for every option).
        yield Fixed(f"option {letter}:")
        constraint = Constraint("grammar", _formula_gbnf(state, final=final)) if constrained else None
        text = yield Span(constraint, max_tokens=LINE_TOKENS, stop=("\n",))
        if not final and not text.endswith("\n"):
            yield Fixed("\n")


def declare_decoder(letters: Sequence[str], *, constrained: bool = True) -> Interleaved:
    r"""The choice program line by line, each under the names declared above it (see the module docstring).

    ``letters`` are the problem's option letters, in order; a backend that cannot continue a
    partial answer gets the whole request instead.

    Example:
        >>> from neurosym.translators.base import GenerationRequest
        >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
        >>> lines = ["sort p = {ann, bob}\n", "fun seat(p): 1..2\n", "assert seat(ann) == 1\n",
        ...          "assert seat(ann) == 1\n", " seat(ann) == 1\n", " seat(bob) == 1"]
        >>> backend = ContinuingScriptedBackend(lines)
        >>> print(declare_decoder("AB").generate(backend, GenerationRequest.from_prompt("...")).texts[0])
        sort p = {ann, bob}
        fun seat(p): 1..2
        assert seat(ann) == 1
        assert seat(ann) == 1
        option A: seat(ann) == 1
        option B: seat(bob) == 1
        >>> grammar = backend.calls[-1][0][0].constraint.value  # seat's argument: a p, so ann or bob
        >>> 'ce-apply ::= "seat(" ce-of0 ")"' in grammar, 'ce-of0-name ::= "ann" | "bob"' in grammar
        (True, True)

    """
    chosen = tuple(letters)
    if not chosen:
        raise ValueError("a choice program needs at least one option letter")
    return Interleaved(lambda: _program_plan(chosen, constrained))
