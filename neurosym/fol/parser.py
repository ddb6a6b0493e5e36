"""Parse first-order logic text into the AST of :mod:`neurosym.fol.syntax`.

The grammar (``fol.lark`` beside this file) accepts the dialect of FOLIO, LINC and Logic-LM:
``∀ ∃ ¬ ∧ ∨ → ↔ ⊕`` and the ASCII spellings ``forall``/``all x.``, ``exists``, ``not``/``~``/``-``,
``&``, ``|``, ``->``, ``<->``, ``xor``. Precedence, tightest first: ``¬ > ∧ > ∨ > ⊕ > → > ↔``;
``→`` and ``↔`` associate to the right, and a quantifier's scope runs as far right as possible.

A name is a variable where a quantifier binds it and a constant elsewhere.

Every failure is a :class:`neurosym.errors.ParseError` carrying the line and column. Given a
:class:`~neurosym.deadlines.Deadline`, parsing stops when it passes and raises :class:`ParseTimeout`
(lexing and LALR parsing are linear but slow in pure Python: about 50 µs a token, so the longest
formula accepted takes seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from neurosym._lark_errors import translate
from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, NeurosymError, ParseError
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

__all__ = ["MAX_DEPTH", "MAX_FORMULA_CHARS", "ParseTimeout", "grammar_text", "parse_formula", "parse_formulas"]

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

_TOKENS_PER_DEADLINE_CHECK = 256  # a clock read costs far less than lexing this many tokens


class ParseTimeout(NeurosymError):
    """The deadline passed before the text was parsed: not a verdict on the text, which may be fine.

    ``position`` is how many characters were read, ``length`` how many there are.

    Example:
        >>> try:
        ...     parse_formula(" ∧ ".join(["P(a)"] * 2000), deadline=Deadline(0.0))
        ... except ParseTimeout as err:
        ...     print(err.message.split(" after")[0])
        ran out of time parsing the formula

    """


def grammar_text() -> str:
    """Return the Lark grammar of the FOL dialect (the single source for parsing and decoding).

    Example:
        >>> "FORALL" in grammar_text()
        True

    """
    return resources.files("neurosym.fol").joinpath("fol.lark").read_text(encoding="utf-8")


@cache
def _parser() -> Lark:
    # The transformer runs as the LALR parser reduces (no parse tree, no recursion, one pass).
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=False,
        maybe_placeholders=False,
        transformer=_ToAst(),
    )


class _ToAst(Transformer):
    """Build the AST bottom-up as rules are reduced; names stay constants until `_scope` binds them."""

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


def parse_formula(text: str, *, deadline: Deadline | None = None) -> Formula:
    """Parse one formula.

    Args:
        text: the formula.
        deadline: stop when it passes (checked every few hundred tokens) and raise :class:`ParseTimeout`.

    Raises:
        ParseError: for empty, malformed, too long or too deeply nested input; the error
            carries ``line``, ``column`` and an ``excerpt`` with a caret.
        ParseTimeout: when ``deadline`` passed first.

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
    if deadline is not None and not isinstance(deadline, Deadline):
        raise ConfigurationError(f"deadline must be a neurosym.deadlines.Deadline, not {type(deadline).__name__}")
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
        raw = _parse_raw(text, deadline)
    except UnexpectedInput as err:
        raise translate(err, text, _TOKEN_NAMES, what="formula") from None
    if _ast_depth(raw) > MAX_DEPTH:
        raise ParseError(
            f"formula nested too deeply (the limit is {MAX_DEPTH} levels)",
            line=1,
            column=1,
            excerpt="",
            text=text[:200],
        )
    return _scope(raw)


def _parse_raw(text: str, deadline: Deadline | None) -> Formula:
    """The AST with names unscoped, reading tokens one by one so that ``deadline`` can stop it."""
    interactive = _parser().parse_interactive(text)
    last: Token | None = None
    for count, token in enumerate(interactive.iter_parse(), 1):
        last = token
        if deadline is not None and count % _TOKENS_PER_DEADLINE_CHECK == 0 and deadline.expired():
            read = token.end_pos or 0
            raise ParseTimeout(
                f"ran out of time parsing the formula after {read:,} of {len(text):,} characters",
                position=read,
                length=len(text),
            )
    result: Formula = interactive.feed_eof(last)
    return result


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


def parse_formulas(texts: Sequence[str], *, deadline: Deadline | None = None) -> list[Formula]:
    """Parse several formulas; a failure names the formula's index (0-based) in the message.

    One ``deadline`` covers them all (see :func:`parse_formula`).

    Example:
        >>> [str(f) for f in parse_formulas(["P(a)", "all x. (P(x) -> Q(x))"])]
        ['P(a)', '∀x (P(x) → Q(x))']

    """
    out: list[Formula] = []
    for index, text in enumerate(texts):
        try:
            out.append(parse_formula(text, deadline=deadline))
        except ParseError as err:
            raise ParseError(f"formula {index + 1}: {err.message}", **{**err.context, "formula_index": index}) from None
    return out
