"""The first-order logic AST: immutable, hashable nodes and their canonical text.

Terms are :class:`Var`, :class:`Const` and :class:`Func`; formulas are :class:`Pred` (a
predicate applied to terms; a proposition when it has no arguments), :class:`Eq`, :class:`Not`,
:class:`And` / :class:`Or` (n-ary, at least two items), :class:`Xor`, :class:`Implies`,
:class:`Iff`, :class:`Forall` and :class:`Exists`.

Example:
    >>> f = Forall("x", Implies(Pred("Dog", (Var("x"),)), Pred("Animal", (Var("x"),))))
    >>> print(f)
    ∀x (Dog(x) → Animal(x))

"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "And",
    "Const",
    "EntailmentProblem",
    "Eq",
    "Exists",
    "Forall",
    "Formula",
    "Func",
    "Iff",
    "Implies",
    "Not",
    "Or",
    "Pred",
    "Term",
    "Var",
    "Xor",
    "iter_formulas",
    "iter_terms",
    "to_text",
]


@dataclass(frozen=True, slots=True)
class Var:
    """A variable bound by an enclosing quantifier."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Const:
    """A constant (an individual such as ``bonnie``)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Func:
    """A function applied to terms, e.g. ``fatherOf(x)``."""

    name: str
    args: tuple[Term, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(str, self.args))})"


Term = Var | Const | Func


@dataclass(frozen=True, slots=True)
class Pred:
    """A predicate applied to terms; with no arguments, a proposition."""

    name: str
    args: tuple[Term, ...] = ()

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Eq:
    """Equality of two terms (``a = b``); ``a ≠ b`` is ``Not(Eq(a, b))``."""

    left: Term
    right: Term

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Not:
    """Negation."""

    body: Formula

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class And:
    """Conjunction of two or more formulas."""

    items: tuple[Formula, ...]

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Or:
    """Inclusive disjunction of two or more formulas."""

    items: tuple[Formula, ...]

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Xor:
    """Exclusive or (``⊕``), left-associative when chained."""

    left: Formula
    right: Formula

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Implies:
    """Implication (``→``), right-associative when chained."""

    left: Formula
    right: Formula

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Iff:
    """Biconditional (``↔``), right-associative when chained."""

    left: Formula
    right: Formula

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Forall:
    """Universal quantification of one variable."""

    var: str
    body: Formula

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True, slots=True)
class Exists:
    """Existential quantification of one variable."""

    var: str
    body: Formula

    def __str__(self) -> str:
        return to_text(self)


Formula = Pred | Eq | Not | And | Or | Xor | Implies | Iff | Forall | Exists

# Binding strength for printing: a higher number binds tighter.
_LEVEL = {Iff: 1, Implies: 2, Xor: 3, Or: 4, And: 5}
_ATOMIC = 9


def _level(f: Formula) -> int:
    if isinstance(f, (Forall, Exists)):
        return 0  # scope runs as far right as possible, so it needs brackets as an operand
    return _LEVEL.get(type(f), _ATOMIC)


def to_text(f: Formula) -> str:
    """Print a formula in canonical Unicode syntax with the fewest brackets that keep its meaning.

    The result parses back to the same AST.

    Example:
        >>> from neurosym.fol import parse_formula
        >>> to_text(parse_formula("all x. (P(x) & Q(x) -> R(x) | -S(x))"))
        '∀x (P(x) ∧ Q(x) → R(x) ∨ ¬S(x))'

    """
    return _text(f, True)


def _text(f: Formula, last: bool) -> str:
    # ``last``: nothing follows ``f`` before the end of the text or of its enclosing bracket, so a
    # quantifier at its right end may go without brackets (its scope runs to the right anyway).
    if isinstance(f, Pred):
        return f"{f.name}({', '.join(map(str, f.args))})" if f.args else f.name
    if isinstance(f, Eq):
        return f"{f.left} = {f.right}"
    if isinstance(f, Not):
        if isinstance(f.body, Eq):
            return f"{f.body.left} ≠ {f.body.right}"
        return "¬" + _operand(f.body, _level(f.body) >= _ATOMIC, last)
    if isinstance(f, (Forall, Exists)):
        symbol = "∀" if isinstance(f, Forall) else "∃"
        body = _text(f.body, True)
        if isinstance(f.body, (Forall, Exists)):
            return f"{symbol}{f.var} {body}"
        return f"{symbol}{f.var} ({body})" if _level(f.body) < _ATOMIC else f"{symbol}{f.var} {body}"
    if isinstance(f, (And, Or)):
        symbol = " ∧ " if isinstance(f, And) else " ∨ "
        mine = _level(f)
        n = len(f.items)
        return symbol.join(_operand(item, _level(item) > mine, last and i == n - 1) for i, item in enumerate(f.items))
    mine = _level(f)
    symbol = {Xor: " ⊕ ", Implies: " → ", Iff: " ↔ "}[type(f)]
    if isinstance(f, Xor):  # left-associative
        left_bare, right_bare = _level(f.left) >= mine, _level(f.right) > mine
    else:  # right-associative
        left_bare, right_bare = _level(f.left) > mine, _level(f.right) >= mine
    return _operand(f.left, left_bare, False) + symbol + _operand(f.right, right_bare, last)


def _operand(f: Formula, bare: bool, last: bool) -> str:
    """Print an operand: bare when its binding allows, or when it is a quantifier with nothing after it."""
    if bare or (last and isinstance(f, (Forall, Exists))):
        return _text(f, last)
    return f"({_text(f, True)})"


def iter_formulas(f: Formula) -> Iterator[Formula]:
    """Yield ``f`` and every subformula, parents before children.

    Example:
        >>> from neurosym.fol import parse_formula
        >>> [type(g).__name__ for g in iter_formulas(parse_formula("¬P ∧ Q"))]
        ['And', 'Not', 'Pred', 'Pred']

    """
    stack: list[Formula] = [f]
    while stack:
        g = stack.pop()
        yield g
        if isinstance(g, Not):
            stack.append(g.body)
        elif isinstance(g, (And, Or)):
            stack.extend(reversed(g.items))
        elif isinstance(g, (Xor, Implies, Iff)):
            stack.extend((g.right, g.left))
        elif isinstance(g, (Forall, Exists)):
            stack.append(g.body)


def iter_terms(f: Formula) -> Iterator[Term]:
    """Yield every term occurring in ``f``, including nested function arguments.

    Example:
        >>> from neurosym.fol import parse_formula
        >>> [str(t) for t in iter_terms(parse_formula("Loves(john, f(x))"))]
        ['john', 'f(x)', 'x']

    """
    for g in iter_formulas(f):
        if isinstance(g, Pred):
            roots: tuple[Term, ...] = g.args
        elif isinstance(g, Eq):
            roots = (g.left, g.right)
        else:
            continue
        stack = list(reversed(roots))
        while stack:
            t = stack.pop()
            yield t
            if isinstance(t, Func):
                stack.extend(reversed(t.args))


@dataclass(frozen=True, slots=True)
class EntailmentProblem:
    """Do ``premises`` entail ``conclusion``? The parsed object of a FOL formalization.

    Example:
        >>> from neurosym.fol import parse_formula
        >>> EntailmentProblem((parse_formula("P(a)"),), parse_formula("P(a)")).conclusion
        Pred(name='P', args=(Const(name='a'),))

    """

    premises: tuple[Formula, ...]
    conclusion: Formula
