r"""The choice language: a small typed constraint program for a puzzle with a finite world.

A program declares a finite world, states the puzzle's conditions and gives one formula per
answer option, one statement a line (``#`` starts a comment). Every name is declared before it is
used, so a decoder that tracks declared names can constrain each later use to them::

    sort book = {red, blue, green}        # a finite sort: its elements, in order
    fun pos(book): 1..3                   # a function from finite types to a type
    var k: 0..5                           # constants (types: a sort, lo..hi, int, bool)
    assert distinct(pos)                  # a condition of the puzzle
    assert [c2] pos(red) < pos(blue)      # a condition with a label (for `replace`)
    given pos(green) == 1                 # the hypothesis of "If ..., which ...?"
    replace c2                            # the condition a substitution question replaces
    how_many(b in book: pos(b) == 2)      # what "How many ... could/must ...?" counts
    option A: pos(red) == 1               # one formula per answer option (an integer for how_many)

Expressions, loosest first: ``a -> b`` (right-associative), ``a <-> b``, ``or``, ``and``,
``not``, comparisons ``== != < <= > >=`` (chains such as ``1 <= x <= 3`` mean ``and``) and
``x in {1, 2}``, ``+ -``, ``*``, unary ``-``; atoms are integers, ``true``, ``false``, names,
applications ``f(x, y)``, ``forall(x in T: e)``, ``exists(x in T: e)``, ``count(x in T: e)``
(how many ``x`` make ``e`` true), ``distinct(a, b, ...)`` (``distinct(f)`` for a one-argument
function: all its values differ), ``abs(e)`` and brackets.

Types: a sort's elements compare with ``==``/``!=`` and by their order of declaration
(``<``); ``lo..hi`` and ``int`` are integers; ``bool`` is true or false. Quantifiers range over
finite types only (a sort, ``lo..hi`` or ``bool``). The program is checked (names, types,
arities, empty sorts, size) and *grounded*: quantifiers over finite types are expanded, so what
the solvers receive is quantifier-free linear (or, with ``*`` of two unknowns, non-linear)
integer arithmetic with uninterpreted functions, which Z3 and cvc5 both decide.

Example:
    >>> program = parse_program("sort p = {ann, bob}\nfun seat(p): 1..2\nassert distinct(seat)\n"
    ...                         "assert seat(ann) == 1\noption A: seat(bob) == 2\noption B: seat(bob) == 1")
    >>> [o.letter for o in program.options], program.sorts["p"]
    (['A', 'B'], ('ann', 'bob'))

"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, VisitError

from neurosym._lark_errors import error_at, translate
from neurosym.errors import ParseError

__all__ = [
    "MAX_GROUND_NODES",
    "MAX_PROGRAM_CHARS",
    "MAX_SYMBOL_CELLS",
    "Condition",
    "Counting",
    "Node",
    "Option",
    "Program",
    "ProgramTooLarge",
    "Symbol",
    "Type",
    "grammar_text",
    "parse_program",
]

MAX_PROGRAM_CHARS = 50_000
"""Longest program text accepted."""
MAX_SYMBOL_CELLS = 2_000
"""Most unknowns (constants plus one per argument tuple of each function) a program may declare."""
MAX_GROUND_NODES = 200_000
"""Most expression nodes the grounded program may have (quantifiers expanded)."""

KEYWORDS = frozenset(
    "sort var fun assert given replace how_many option int bool in forall exists count distinct abs "
    "true false and or not".split()
)

# ------------------------------------------------------------------------------------------ types


@dataclass(frozen=True, slots=True)
class Type:
    """A type: ``bool``, ``int``, a range ``lo..hi`` or a sort (its elements are 0..n-1 in order).

    Example:
        >>> Type("range", 1, 5).finite, Type("int").finite, Type("range", 1, 5).render()
        (True, False, '1..5')

    """

    kind: str  # "bool", "int", "range", "sort"
    low: int = 0
    high: int = 0
    sort: str = ""

    @property
    def finite(self) -> bool:
        """Whether quantifiers and function arguments may range over it."""
        return self.kind != "int"

    @property
    def numeric(self) -> bool:
        """Integers (``int`` and ranges) take arithmetic."""
        return self.kind in ("int", "range")

    def render(self) -> str:
        """The type as a program writes it."""
        if self.kind == "range":
            return f"{self.low}..{self.high}"
        return self.sort if self.kind == "sort" else self.kind

    def same_family(self, other: Type) -> bool:
        """Whether values of the two types compare with ``==`` (numbers with numbers, one sort with itself)."""
        if self.numeric and other.numeric:
            return True
        return self.kind == other.kind and self.sort == other.sort


BOOL = Type("bool")
INT = Type("int")

# Grounded expressions are nested tuples, cheap to build, hash and pickle:
#   ("int", k) ("bool", b) ("const", name) ("app", name, args...) ("not", a) ("and", a, b, ...)
#   ("or", ...) ("implies", a, b) ("eq", a, b) ("lt", a, b) ("le", a, b) ("add", ...) ("sub", a, b)
#   ("mul", a, b) ("neg", a) ("distinct", ...) ("ite", c, a, b) ("abs", a)
Node = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Symbol:
    """A declared unknown: a constant (no arguments) or a function over finite types."""

    name: str
    arguments: tuple[Type, ...]
    result: Type

    def render(self) -> str:
        """Its declaration."""
        if not self.arguments:
            return f"var {self.name}: {self.result.render()}"
        return f"fun {self.name}({', '.join(t.render() for t in self.arguments)}): {self.result.render()}"


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``assert`` (or ``given``) line: its label, its text, its line and its grounded formula."""

    label: str
    text: str
    line: int
    formula: Node
    given: bool = False


@dataclass(frozen=True, slots=True)
class Option:
    """One ``option`` line: the letter, its text and its grounded formula (or the integer for ``how_many``)."""

    letter: str
    text: str
    line: int
    formula: Node | None
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Counting:
    """The ``how_many`` statement: the text and one grounded formula per value of the bound variable."""

    text: str
    values: tuple[str, ...]
    formulas: tuple[Node, ...]


@dataclass(frozen=True)
class Program:
    """A checked, grounded choice program (see the module docstring).

    ``element_names`` maps each sort to its elements; ``symbols`` are the declared unknowns;
    ``conditions`` the ``assert`` and ``given`` lines in order; ``options`` the option lines.
    """

    source: str
    sorts: Mapping[str, tuple[str, ...]]
    symbols: tuple[Symbol, ...]
    conditions: tuple[Condition, ...]
    options: tuple[Option, ...]
    replaced: str | None = None
    counting: Counting | None = None
    ground_nodes: int = 0
    cells: int = 0
    types: Mapping[str, Type] = field(default_factory=dict)

    def condition(self, label: str) -> Condition | None:
        """The condition with this label, if any."""
        return next((c for c in self.conditions if c.label == label), None)

    def show(self, symbol: Symbol, value: int | bool) -> str:
        """A value of ``symbol`` as people read it (a sort's element by its name)."""
        return show_value(self, symbol.result, value)

    def cells_of(self, symbol: Symbol) -> Iterator[tuple[str, tuple[int, ...]]]:
        """Each ground cell of ``symbol``: its text (``pos(red)``) and its argument values."""
        if not symbol.arguments:
            yield symbol.name, ()
            return
        for values in _product([list(domain_values(t)) for t in symbol.arguments]):
            shown = ", ".join(show_value(self, t, v) for t, v in zip(symbol.arguments, values, strict=True))
            yield f"{symbol.name}({shown})", tuple(values)


def domain_values(t: Type) -> range:
    """The values of a finite type, as integers (``bool``: 0 and 1).

    Example:
        >>> list(domain_values(Type("range", 2, 4)))
        [2, 3, 4]

    """
    if t.kind == "range":
        return range(t.low, t.high + 1)
    if t.kind == "bool":
        return range(2)
    if t.kind == "sort":
        return range(t.high + 1)
    raise ValueError(f"{t.render()} is not finite")


def show_value(program: Program, t: Type, value: int | bool) -> str:
    """``value`` of type ``t`` in the program's own words."""
    if t.kind == "bool":
        return "true" if value else "false"
    if t.kind == "sort":
        elements = program.sorts.get(t.sort, ())
        return elements[int(value)] if 0 <= int(value) < len(elements) else str(value)
    return str(int(value))


def _product(pools: list[list[int]]) -> Iterator[list[int]]:
    if not pools:
        yield []
        return
    for head in pools[0]:
        for rest in _product(pools[1:]):
            yield [head, *rest]


# ------------------------------------------------------------------------------------------ parsing


class ProgramTooLarge(ParseError):
    """The program has too many unknowns or expands into too large a formula."""


@cache
def grammar_text() -> str:
    """The Lark grammar of the choice language (``choice.lark``).

    Example:
        >>> "how_many" in grammar_text()
        True

    """
    return resources.files("neurosym.targets.choice").joinpath("choice.lark").read_text(encoding="utf-8")


@cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", maybe_placeholders=False, propagate_positions=True)


_TOKEN_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "LETTER": "an option letter A-G",
    "COMPARE": "a comparison",
    "_NL": "a new line",
    "LPAR": "'('",
    "RPAR": "')'",
    "COLON": "':'",
    "COMMA": "','",
}


def parse_program(text: str) -> Program:
    r"""Parse, check and ground a choice program.

    Raises:
        ParseError: the text is not in the language, or it is but is wrong: an unknown or
            twice-declared name, a type mismatch, a wrong number of arguments, an empty sort,
            an option letter given twice (the message names the line and column).
        ProgramTooLarge: more than :data:`MAX_SYMBOL_CELLS` unknowns, a grounded formula of more
            than :data:`MAX_GROUND_NODES` nodes, or more than :data:`MAX_PROGRAM_CHARS` characters.

    Example:
        >>> parse_program("var x: 1..3\nassert y > 1")
        Traceback (most recent call last):
        ...
        neurosym.errors.ParseError: unknown name 'y' (declared: x) at line 2, column 8:
        assert y > 1
               ^

    """
    if len(text) > MAX_PROGRAM_CHARS:
        raise ProgramTooLarge(
            f"the program is too long: {len(text):,} characters (the limit is {MAX_PROGRAM_CHARS:,})",
            reason="too long",
        )
    try:
        tree = _parser().parse(text + "\n")
    except UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    try:
        return _Checker(text).program(tree)
    except VisitError as err:  # pragma: no cover - the checker does not use lark visitors
        raise ParseError(str(err.orig_exc)) from None


def _syntax_error(err: UnexpectedInput, text: str) -> ParseError:
    """A lark failure as a ParseError; statements end at the line's end, so an early end is said per line."""
    token = getattr(err, "token", None)
    if isinstance(token, Token) and token.type == "_NL":
        line = token.line or 1
        source = (text.splitlines() or [""])[line - 1] if line <= len(text.splitlines()) else ""
        opened: list[int] = []
        for column, char in enumerate(source, start=1):
            if char in "({[":
                opened.append(column)
            elif char in ")}]" and opened:
                opened.pop()
        if opened:
            return error_at("unbalanced brackets: this bracket is never closed", text, line, opened[0])
        expected = ", ".join(sorted({_TOKEN_NAMES.get(e, e) for e in getattr(err, "expected", ())})[:8])
        return error_at(f"the statement ends too early (expected {expected})", text, line, len(source.rstrip()) + 1)
    if isinstance(token, Token) and str(token) == "=":
        return error_at("'=' is not a comparison: write == for equality", text, token.line or 1, token.column or 1)
    return translate(err, text, _TOKEN_NAMES, what="program")


@dataclass
class _Scope:
    types: dict[str, Type]
    elements: dict[str, tuple[Type, int]]
    symbols: dict[str, Symbol]
    bound: dict[str, tuple[Type, int]]


Typed = tuple[Node, Type]


class _Checker:
    """Walks the parse tree once: declarations, then each formula checked and grounded."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sorts: dict[str, tuple[str, ...]] = {}
        self.scope = _Scope({}, {}, {}, {})
        self.nodes = 0
        self.cells = 0

    # -- errors ----------------------------------------------------------------------------------

    def fail(self, message: str, where: Tree | Token | None) -> ParseError:
        line, column = _position(where)
        return error_at(message, self.text, line, column)

    def count(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_GROUND_NODES:
            raise ProgramTooLarge(
                f"the program expands into more than {MAX_GROUND_NODES:,} formula nodes once its quantifiers "
                "are expanded; use fewer or smaller nested quantifiers",
                reason="too large",
            )
        return node

    # -- statements ------------------------------------------------------------------------------

    def program(self, tree: Tree) -> Program:
        conditions: list[Condition] = []
        options: list[Option] = []
        replaced: tuple[str, Tree] | None = None
        counting: Counting | None = None
        seen_labels: dict[str, int] = {}
        for statement in tree.children:
            if not isinstance(statement, Tree):
                continue
            kind = statement.data
            if kind == "sort_decl":
                self.sort_decl(statement)
            elif kind == "var_decl":
                self.var_decl(statement)
            elif kind == "fun_decl":
                self.fun_decl(statement)
            elif kind in ("assertion", "given"):
                label_tree = next((c for c in statement.children if isinstance(c, Tree) and c.data == "label"), None)
                body = statement.children[-1]
                line = _position(statement)[0]
                label = f"line {line}"
                if label_tree is not None:
                    label = str(label_tree.children[0])
                    if label in seen_labels or label in self.scope.symbols or label in self.scope.elements:
                        raise self.fail(f"the label {label!r} is used twice", label_tree)
                seen_labels[label] = line
                formula = self.formula(body)
                conditions.append(Condition(label, self.snippet(body), line, formula, given=kind == "given"))
            elif kind == "replace":
                name = statement.children[0]
                if str(name) not in seen_labels:
                    known = ", ".join(seen_labels) or "none"
                    raise self.fail(f"no condition is labelled {str(name)!r} (labels: {known})", name)
                replaced = (str(name), statement)
            elif kind == "how_many":
                if counting is not None:
                    raise self.fail("only one how_many line is allowed", statement)
                counting = self.how_many(statement)
            elif kind == "option":
                options.append(self.option(statement, options, counting is not None))
        return Program(
            source=self.text,
            sorts=dict(self.sorts),
            symbols=tuple(self.scope.symbols.values()),
            conditions=tuple(conditions),
            options=tuple(options),
            replaced=replaced[0] if replaced else None,
            counting=counting,
            ground_nodes=self.nodes,
            cells=self.cells,
            types=dict(self.scope.types),
        )

    def snippet(self, tree: Tree | Token) -> str:
        meta = getattr(tree, "meta", None)
        if isinstance(tree, Token):
            return str(tree)
        if meta is None or getattr(meta, "empty", True):
            return ""
        return " ".join(self.text[meta.start_pos : meta.end_pos].split())

    def declare(self, name: Tree | Token) -> str:
        text = str(name)
        if text in KEYWORDS:
            raise self.fail(f"{text!r} is a keyword, not a name", name)
        if text in self.scope.types or text in self.scope.elements or text in self.scope.symbols:
            raise self.fail(f"{text!r} is declared twice", name)
        return text

    def sort_decl(self, tree: Tree) -> None:
        name_token, *names = tree.children
        name = self.declare(name_token)
        if not names:
            raise self.fail(f"the sort {name!r} is empty: list its elements, as in sort {name} = {{a, b}}", tree)
        elements = [self.declare(t) for t in names[0].children]
        if len(set(elements)) != len(elements):
            raise self.fail(f"the sort {name!r} lists an element twice", tree)
        sort = Type("sort", 0, len(elements) - 1, name)
        self.scope.types[name] = sort
        self.sorts[name] = tuple(elements)
        for index, element in enumerate(elements):
            self.scope.elements[element] = (sort, index)

    def type_of(self, tree: Tree) -> Type:
        if tree.data == "bool_type":
            return BOOL
        if tree.data == "int_type":
            return INT
        if tree.data == "range_type":
            low, high = (int(str(t)) for t in tree.children)
            if low > high:
                raise self.fail(f"the range {low}..{high} is empty", tree)
            return Type("range", low, high)
        token = tree.children[0]
        found = self.scope.types.get(str(token))
        if found is None:
            known = ", ".join(self.scope.types) or "none yet"
            raise self.fail(f"unknown sort {str(token)!r} (sorts: {known}; or use lo..hi, int, bool)", token)
        return found

    def add_cells(self, count: int, where: Tree) -> None:
        self.cells += count
        if self.cells > MAX_SYMBOL_CELLS:
            raise ProgramTooLarge(
                f"the program declares more than {MAX_SYMBOL_CELLS:,} unknowns "
                f"(at line {_position(where)[0]}); a puzzle needs far fewer: one per object and attribute",
                reason="too many unknowns",
            )

    def var_decl(self, tree: Tree) -> None:
        names, type_tree = tree.children
        result = self.type_of(type_tree)
        tokens = names.children
        self.add_cells(len(tokens), tree)
        for token in tokens:
            name = self.declare(token)
            self.scope.symbols[name] = Symbol(name, (), result)

    def fun_decl(self, tree: Tree) -> None:
        name_token, *type_trees = tree.children
        name = self.declare(name_token)
        types = [self.type_of(t) for t in type_trees]
        *arguments, result = types
        for argument, where in zip(arguments, type_trees, strict=False):
            if not argument.finite:
                raise self.fail("a function's arguments must be finite types (a sort, lo..hi or bool)", where)
        size = 1
        for argument in arguments:
            size *= len(domain_values(argument))
            if size > MAX_SYMBOL_CELLS:
                break
        self.add_cells(size, tree)
        self.scope.symbols[name] = Symbol(name, tuple(arguments), result)

    def how_many(self, tree: Tree) -> Counting:
        binding, body = tree.children
        name, domain = self.binding(binding)
        values, formulas = [], []
        for value in domain_values(domain):
            with self.bind(name, domain, value):
                formulas.append(self.formula(body))
            values.append(self.sorts[domain.sort][value] if domain.kind == "sort" else str(value))
        return Counting(self.snippet(tree), tuple(values), tuple(formulas))

    def option(self, tree: Tree, earlier: Sequence[Option], counting: bool) -> Option:
        letter_token, body = tree.children
        letter = str(letter_token)
        if any(o.letter == letter for o in earlier):
            raise self.fail(f"option {letter} is given twice", letter_token)
        line = _position(tree)[0]
        if counting:
            if not (isinstance(body, Tree) and body.data == "number"):
                raise self.fail(f"with how_many, option {letter} must be a whole number (the count)", body)
            return Option(letter, self.snippet(body), line, None, int(str(body.children[0])))
        return Option(letter, self.snippet(body), line, self.formula(body))

    # -- expressions -----------------------------------------------------------------------------

    def binding(self, tree: Tree) -> tuple[str, Type]:
        name_token, type_tree = tree.children
        name = str(name_token)
        if name in KEYWORDS:
            raise self.fail(f"{name!r} is a keyword, not a name", name_token)
        if name in self.scope.symbols or name in self.scope.elements or name in self.scope.bound:
            raise self.fail(f"the bound variable {name!r} hides a name declared already; pick another", name_token)
        domain = self.type_of(type_tree)
        if not domain.finite:
            raise self.fail("a quantifier ranges over a finite type (a sort, lo..hi or bool), not int", type_tree)
        return name, domain

    def bind(self, name: str, domain: Type, value: int) -> _Binding:
        return _Binding(self.scope.bound, name, (domain, value))

    def formula(self, tree: Tree | Token) -> Node:
        node, t = self.expr(tree)
        if t.kind != "bool":
            raise self.fail(f"expected a formula (true or false), found a value of type {t.render()}", tree)
        return node

    def expr(self, tree: Tree | Token) -> Typed:
        if isinstance(tree, Token):  # pragma: no cover - every atom is a tree in this grammar
            raise self.fail(f"unexpected {str(tree)!r}", tree)
        method = getattr(self, f"e_{tree.data}", None)
        if method is None:  # pragma: no cover - the grammar has no other rules
            raise self.fail(f"unsupported expression {tree.data}", tree)
        typed: Typed = method(tree)
        self.count(typed[0])
        return typed

    def e_number(self, tree: Tree) -> Typed:
        value = int(str(tree.children[0]))
        return ("int", value), Type("range", value, value)

    def e_true(self, tree: Tree) -> Typed:
        return ("bool", True), BOOL

    def e_false(self, tree: Tree) -> Typed:
        return ("bool", False), BOOL

    def e_name(self, tree: Tree) -> Typed:
        token = tree.children[0]
        name = str(token)
        if name in self.scope.bound:
            t, value = self.scope.bound[name]
            return (("bool", bool(value)) if t.kind == "bool" else ("int", value)), t
        if name in self.scope.elements:
            t, value = self.scope.elements[name]
            return ("int", value), t
        symbol = self.scope.symbols.get(name)
        if symbol is None:
            raise self.fail(f"unknown name {name!r} ({self.known()})", token)
        if symbol.arguments:
            raise self.fail(f"{name!r} is a function of {len(symbol.arguments)} argument(s): write {name}(...)", token)
        return ("const", name), symbol.result

    def known(self) -> str:
        names = [*self.scope.symbols, *self.scope.elements, *self.scope.bound]
        shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
        return f"declared: {shown}" if names else "nothing is declared yet: declare names before using them"

    def e_apply(self, tree: Tree) -> Typed:
        token, arguments = tree.children
        name = str(token)
        symbol = self.scope.symbols.get(name)
        if symbol is None:
            if name in self.scope.elements or name in self.scope.bound:
                raise self.fail(f"{name!r} is a value, not a function", token)
            raise self.fail(f"unknown function {name!r} ({self.known()})", token)
        items = arguments.children
        if len(items) != len(symbol.arguments):
            raise self.fail(f"{name} takes {len(symbol.arguments)} argument(s), not {len(items)}", tree)
        nodes = []
        for item, expected in zip(items, symbol.arguments, strict=True):
            node, t = self.expr(item)
            if not expected.same_family(t):
                raise self.fail(f"argument of {name} must be of type {expected.render()}, not {t.render()}", item)
            nodes.append(node)
        return ("app", name, *nodes), symbol.result

    def e_not_(self, tree: Tree) -> Typed:
        return ("not", self.formula(tree.children[0])), BOOL

    def e_and_(self, tree: Tree) -> Typed:
        return ("and", self.formula(tree.children[0]), self.formula(tree.children[1])), BOOL

    def e_or_(self, tree: Tree) -> Typed:
        return ("or", self.formula(tree.children[0]), self.formula(tree.children[1])), BOOL

    def e_implies(self, tree: Tree) -> Typed:
        return ("implies", self.formula(tree.children[0]), self.formula(tree.children[1])), BOOL

    def e_iff(self, tree: Tree) -> Typed:
        return ("eq", self.formula(tree.children[0]), self.formula(tree.children[1])), BOOL

    def e_compare(self, tree: Tree) -> Typed:
        items = tree.children
        left, left_type = self.expr(items[0])
        links = []
        for index in range(1, len(items), 2):
            operator, right_tree = str(items[index]), items[index + 1]
            right, right_type = self.expr(right_tree)
            if not left_type.same_family(right_type):
                raise self.fail(f"cannot compare {left_type.render()} with {right_type.render()}", tree)
            if operator not in ("==", "!=") and left_type.kind == "bool":
                raise self.fail(f"{operator} compares numbers or a sort's elements, not true/false", tree)
            links.append(_comparison(operator, left, right))
            left, left_type = right, right_type
        return (links[0] if len(links) == 1 else ("and", *links)), BOOL

    def e_member(self, tree: Tree) -> Typed:
        subject, arguments = tree.children
        node, t = self.expr(subject)
        alternatives = []
        for item in arguments.children:
            other, other_type = self.expr(item)
            if not t.same_family(other_type):
                raise self.fail(f"cannot compare {t.render()} with {other_type.render()}", item)
            alternatives.append(("eq", node, other))
        return ("or", *alternatives), BOOL

    def numeric(self, tree: Tree | Token) -> Node:
        node, t = self.expr(tree)
        if not t.numeric:
            raise self.fail(f"arithmetic takes numbers, not a value of type {t.render()}", tree)
        return node

    def e_add(self, tree: Tree) -> Typed:
        return ("add", self.numeric(tree.children[0]), self.numeric(tree.children[2])), INT

    def e_sub(self, tree: Tree) -> Typed:
        return ("sub", self.numeric(tree.children[0]), self.numeric(tree.children[2])), INT

    def e_mul(self, tree: Tree) -> Typed:
        return ("mul", self.numeric(tree.children[0]), self.numeric(tree.children[2])), INT

    def e_neg_(self, tree: Tree) -> Typed:
        return ("neg", self.numeric(tree.children[1])), INT

    def e_abs_(self, tree: Tree) -> Typed:
        return ("abs", self.numeric(tree.children[0])), INT

    def quantified(self, tree: Tree) -> list[Node]:
        binding, body = tree.children
        name, domain = self.binding(binding)
        out = []
        for value in domain_values(domain):
            with self.bind(name, domain, value):
                out.append(self.formula(body))
        return out

    def e_forall(self, tree: Tree) -> Typed:
        return ("and", *self.quantified(tree)), BOOL

    def e_exists(self, tree: Tree) -> Typed:
        return ("or", *self.quantified(tree)), BOOL

    def e_count(self, tree: Tree) -> Typed:
        terms = [("ite", f, ("int", 1), ("int", 0)) for f in self.quantified(tree)]
        return ("add", *terms) if terms else ("int", 0), INT

    def e_distinct(self, tree: Tree) -> Typed:
        items = tree.children[0].children
        if len(items) == 1 and isinstance(items[0], Tree) and items[0].data == "name":
            symbol = self.scope.symbols.get(str(items[0].children[0]))
            if symbol is not None and len(symbol.arguments) == 1:
                cells = [("app", symbol.name, ("int", v)) for v in domain_values(symbol.arguments[0])]
                for cell in cells:
                    self.count(cell)
                return ("distinct", *cells) if len(cells) > 1 else ("bool", True), BOOL
            if symbol is not None and symbol.arguments:
                raise self.fail("distinct(f) takes a function of one argument; list the values instead", tree)
        typed = [self.expr(item) for item in items]
        first = typed[0][1]
        for (_, t), item in zip(typed[1:], items[1:], strict=True):
            if not first.same_family(t):
                raise self.fail(f"distinct compares values of one type: {first.render()} and {t.render()}", item)
        return (("distinct", *(n for n, _ in typed)) if len(typed) > 1 else ("bool", True)), BOOL


_COMPARISONS = {"==": "eq", "<": "lt", "<=": "le"}


def _comparison(operator: str, left: Node, right: Node) -> Node:
    if operator in _COMPARISONS:
        return (_COMPARISONS[operator], left, right)
    if operator == "!=":
        return ("not", ("eq", left, right))
    return ("lt" if operator == ">" else "le", right, left)


class _Binding:
    def __init__(self, bound: dict[str, tuple[Type, int]], name: str, value: tuple[Type, int]) -> None:
        self.bound, self.name, self.value = bound, name, value

    def __enter__(self) -> None:
        self.bound[self.name] = self.value

    def __exit__(self, *_: object) -> None:
        del self.bound[self.name]


def _position(where: Tree | Token | None) -> tuple[int, int]:
    if isinstance(where, Token):
        return where.line or 1, where.column or 1
    meta = getattr(where, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    return 1, 1
