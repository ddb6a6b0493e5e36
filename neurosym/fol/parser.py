"""Parse first-order logic text into the AST of :mod:`neurosym.fol.syntax`.

The grammar (``fol.lark`` beside this file) accepts the dialect of FOLIO, LINC and Logic-LM:
``∀ ∃ ¬ ∧ ∨ → ↔ ⊕`` and the ASCII spellings ``forall``/``all x.``, ``exists``, ``not``/``~``/``-``,
``&``, ``|``, ``->``, ``<->``, ``xor``. Precedence, tightest first: ``¬ > ∧ > ∨ > ⊕ > → > ↔``;
``→`` and ``↔`` associate to the right, and a quantifier's scope runs as far right as possible.

A name is a variable where a quantifier binds it and a constant elsewhere.

Every failure is a :class:`neurosym.errors.ParseError` carrying the line and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer_NonRecursive
from lark.exceptions import UnexpectedInput, VisitError

from neurosym._lark_errors import translate
from neurosym.errors import ParseError
from neurosym.fol.syntax import (
    And,
    Const,
    Eq,
    Exists,
    Forall,
    Formula,
    Func,
    Iff,
    Implies,
    Not,
    Or,
    Pred,
    Term,
    Var,
    Xor,
)

__all__ = ["MAX_DEPTH", "MAX_FORMULA_CHARS", "grammar_text", "parse_formula", "parse_formulas"]

MAX_DEPTH = 200
"""Deepest nesting of connectives, quantifiers and function terms a formula may have."""

MAX_FORMULA_CHARS = 100_000
"""Longest formula text accepted; longer input is refused before parsing."""

_TOKEN_NAMES = {
    "FORALL": "a quantifier ∀",
    "EXISTS": "a quantifier ∃",
    "NOT": "¬",
    "AND": "∧",
    "OR": "∨",
    "XOR": "⊕",
    "IMP": "→",
    "IFF": "↔",
    "EQ": "=",
    "NEQ": "≠",
    "DOT": "'.'",
    "VAR": "a variable",
    "IDENT": "a name",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "$END": "end of formula",
}


def grammar_text() -> str:
    """Return the Lark grammar of the FOL dialect (the single source for parsing and decoding).

    Example:
        >>> "FORALL" in grammar_text()
        True

    """
    return resources.files("neurosym.fol").joinpath("fol.lark").read_text(encoding="utf-8")


@cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=False, maybe_placeholders=False)


class _ToAst(Transformer_NonRecursive):
    """Build the AST bottom-up without recursion; names stay unresolved (`_Name`) until scoping."""

    def start(self, items: list[Any]) -> Any:
        return items[0]

    def iff(self, items: list[Any]) -> Formula:
        return Iff(items[0], items[2])

    def implies(self, items: list[Any]) -> Formula:
        return Implies(items[0], items[2])

    def xor(self, items: list[Any]) -> Formula:
        operands = items[::2]  # odd positions hold the ⊕ tokens
        result: Formula = operands[0]
        for right in operands[1:]:
            result = Xor(result, right)
        return result

    def or_(self, items: list[Any]) -> Formula:
        return Or(tuple(items[::2]))

    def and_(self, items: list[Any]) -> Formula:
        return And(tuple(items[::2]))

    def not_(self, items: list[Any]) -> Formula:
        return Not(items[1])

    def forall(self, items: list[Any]) -> Formula:
        return _quantify(Forall, items)

    def exists(self, items: list[Any]) -> Formula:
        return _quantify(Exists, items)

    def vars(self, items: list[Token]) -> list[str]:
        return [str(t) for t in items]

    def predicate(self, items: list[Any]) -> Formula:
        return Pred(str(items[0]), tuple(items[1]))

    def proposition(self, items: list[Any]) -> Formula:
        return Pred(str(items[0]), ())

    def equals(self, items: list[Any]) -> Formula:
        return Eq(items[0], items[2])

    def not_equals(self, items: list[Any]) -> Formula:
        return Not(Eq(items[0], items[2]))

    def terms(self, items: list[Any]) -> list[Any]:
        return list(items)

    def function(self, items: list[Any]) -> Term:
        return Func(str(items[0]), tuple(items[1]))

    def name(self, items: list[Any]) -> Term:
        return Const(str(items[0]))  # becomes a Var in `_scope` when a quantifier binds it


def _quantify(kind: type[Forall] | type[Exists], items: list[Any]) -> Formula:
    names: list[str] = items[1]
    body: Formula = items[-1]
    for name in reversed(names):
        body = kind(name, body)
    return body


def _scope_term(t: Term, bound: frozenset[str]) -> Term:
    if isinstance(t, Const):
        return Var(t.name) if t.name in bound else t
    if isinstance(t, Func):
        return Func(t.name, tuple(_scope_term(a, bound) for a in t.args))
    return t


def _scope(f: Formula, bound: frozenset[str] = frozenset()) -> Formula:
    """Turn names bound by an enclosing quantifier into variables (depth is already bounded)."""
    if isinstance(f, Pred):
        return Pred(f.name, tuple(_scope_term(a, bound) for a in f.args)) if f.args else f
    if isinstance(f, Eq):
        return Eq(_scope_term(f.left, bound), _scope_term(f.right, bound))
    if isinstance(f, Not):
        return Not(_scope(f.body, bound))
    if isinstance(f, (And, Or)):
        return type(f)(tuple(_scope(g, bound) for g in f.items))
    if isinstance(f, (Xor, Implies, Iff)):
        return type(f)(_scope(f.left, bound), _scope(f.right, bound))
    if isinstance(f, (Forall, Exists)):
        return type(f)(f.var, _scope(f.body, bound | {f.var}))
    raise TypeError(f"not a formula: {f!r}")


def parse_formula(text: str) -> Formula:
    """Parse one formula.

    Raises:
        ParseError: for empty, malformed, too long or too deeply nested input; the error
            carries ``line``, ``column`` and an ``excerpt`` with a caret.

    Example:
        >>> print(parse_formula("∀x (Dog(x) → ∃y (Owner(y, x) ∧ y ≠ x))"))
        ∀x (Dog(x) → ∃y (Owner(y, x) ∧ y ≠ x))
        >>> print(parse_formula("A ∧ B → C ∧ D"))   # → binds looser than ∧
        A ∧ B → C ∧ D
        >>> parse_formula("A ∧ B → C ∧ D") == parse_formula("(A ∧ B) → (C ∧ D)")
        True

    """
    if not isinstance(text, str):
        raise ParseError(f"a formula must be a string, not {type(text).__name__}")
    if not text.strip():
        raise ParseError("empty formula", line=1, column=1, excerpt="", text=text)
    if len(text) > MAX_FORMULA_CHARS:
        raise ParseError(
            f"formula too long: {len(text):,} characters (the limit is {MAX_FORMULA_CHARS:,})",
            line=1,
            column=MAX_FORMULA_CHARS + 1,
            excerpt="",
            text=text[:200] + "…",
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        raise translate(err, text, _TOKEN_NAMES, what="formula") from None
    try:
        raw = _ToAst().transform(tree)
    except VisitError as err:  # pragma: no cover - the transformer has no failing paths
        raise ParseError(f"cannot build the formula: {err.orig_exc}") from None
    if _ast_depth(raw) > MAX_DEPTH:
        raise ParseError(
            f"formula nested too deeply (the limit is {MAX_DEPTH} levels)",
            line=1,
            column=1,
            excerpt="",
            text=text[:200],
        )
    return _scope(raw)


def _ast_depth(f: Formula) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(f, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, Not):
            stack.append((node.body, depth + 1))
        elif isinstance(node, (And, Or)):
            stack.extend((g, depth + 1) for g in node.items)
        elif isinstance(node, (Xor, Implies, Iff)):
            stack.extend(((node.left, depth + 1), (node.right, depth + 1)))
        elif isinstance(node, (Forall, Exists)):
            stack.append((node.body, depth + 1))
        elif isinstance(node, (Pred, Func)):
            stack.extend((a, depth + 1) for a in node.args)
        elif isinstance(node, Eq):
            stack.extend(((node.left, depth + 1), (node.right, depth + 1)))
    return deepest


def parse_formulas(texts: Sequence[str]) -> list[Formula]:
    """Parse several formulas; a failure names the formula's index (0-based) in the message.

    Example:
        >>> [str(f) for f in parse_formulas(["P(a)", "all x. (P(x) -> Q(x))"])]
        ['P(a)', '∀x (P(x) → Q(x))']

    """
    out: list[Formula] = []
    for index, text in enumerate(texts):
        try:
            out.append(parse_formula(text))
        except ParseError as err:
            raise ParseError(f"formula {index + 1}: {err.message}", **{**err.context, "formula_index": index}) from None
    return out
