r"""Lark terminals' regular expressions as expressions of :mod:`neurosym.grammars.ebnf`, and the words they reserve.

:func:`regex_expr` rewrites a regular expression (Python's own parser reads it) into the
intermediate grammar: literals, character classes, groups, alternatives and repetition. What it
produces is always a subset of the terminal's language:

* ``\d``, ``\w`` and ``\s`` become their ASCII characters;
* a case-insensitive pattern is spelled only as written (``/if\b/i`` gives ``"if"``);
* an unbounded repetition is capped at ``max_repeat`` when that is given;
* a word-boundary assertion (``\b``, ``(?!\w)``) is dropped where it follows a word character at
  the end of the pattern or precedes one at its start: the compiler puts a space between two
  word characters of adjacent tokens, so the assertion holds wherever the token is written.

Anything else (negated classes, ``.``, other lookarounds, back-references) is refused with a
:class:`~neurosym.errors.ConfigurationError`; give such a terminal a spelling instead.

:func:`leading_words` lists the words a terminal's text can begin with (``/(at\s+most|exactly)\b/``
gives ``at`` and ``exactly``): a name spelled as one of them could be read as that terminal.

Example:
    >>> from neurosym.grammars.ebnf import render_expr
    >>> render_expr(regex_expr(r"(\d+(\.\d*)?|\.\d+)", max_repeat=9))
    '[0-9]{1,9} ("." [0-9]{0,9})? | "." [0-9]{1,9}'
    >>> sorted(leading_words(r"(?i:(at\s+most|at\s+least|exactly)\b)"))
    ['at', 'exactly']

"""

from __future__ import annotations

import re
import string
from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.grammars.ebnf import Alt, Chars, Expr, Lit, Opt, Repeat, Seq, seq

try:  # the parser behind re; Python 3.11 renamed it (as Lark does, for the same purpose)
    import re._constants as _sre_constants  # type: ignore[import-not-found]  # typeshed: 3.10's names only
    import re._parser as _sre  # type: ignore[import-not-found]  # typeshed: 3.10's names only
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants
    import sre_parse as _sre

__all__ = ["edge_chars", "is_word_char", "leading_words", "nullable", "regex_expr"]

_CATEGORIES = {
    _sre_constants.CATEGORY_DIGIT: frozenset(string.digits),
    _sre_constants.CATEGORY_WORD: frozenset(string.ascii_letters + string.digits + "_"),
    _sre_constants.CATEGORY_SPACE: frozenset(" \t\n\r\f\v"),
}
_SMALL_REPEAT = 4  # a repetition up to this many times is enumerated when listing leading words
_SMALL_CLASS = 16  # a class of up to this many word characters is enumerated too


def is_word_char(ch: str) -> bool:
    r"""Whether ``ch`` is a regex word character (``\w``).

    Example:
        >>> is_word_char("_"), is_word_char("∀")
        (True, False)

    """
    return bool(re.fullmatch(r"\w", ch))


def _parse(pattern: str) -> Any:
    try:
        return _sre.parse(pattern)
    except re.error as err:
        raise ConfigurationError(f"cannot read the regular expression {pattern!r}: {err}") from None


def _charset(items: list[tuple[Any, Any]], pattern: str) -> frozenset[str]:
    chars: set[str] = set()
    for op, av in items:
        if op is _sre_constants.LITERAL:
            chars.add(chr(av))
        elif op is _sre_constants.RANGE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op is _sre_constants.CATEGORY and av in _CATEGORIES:
            chars |= _CATEGORIES[av]
        else:
            raise ConfigurationError(
                f"the regular expression {pattern!r} uses {op} {av}, which the GBNF compiler does not translate; "
                "give the terminal a spelling"
            )
    return frozenset(chars)


def _zero_width(item: tuple[Any, Any]) -> bool:
    return item[0] in (_sre_constants.AT, _sre_constants.ASSERT, _sre_constants.ASSERT_NOT)


def _is_word_boundary(item: tuple[Any, Any], pattern: str) -> bool:
    op, av = item
    if op is _sre_constants.AT:
        return av is _sre_constants.AT_BOUNDARY
    if op is _sre_constants.ASSERT_NOT and av[0] == 1:  # (?!\w)
        inner = list(av[1])
        return (
            len(inner) == 1
            and inner[0][0] is _sre_constants.IN
            and _charset(inner[0][1], pattern) == frozenset(_CATEGORIES[_sre_constants.CATEGORY_WORD])
        )
    return False


def _convert(
    items: list[tuple[Any, Any]], pattern: str, max_repeat: int | None, edge: tuple[bool, bool]
) -> Expr | None:
    """A sequence of regex items as an expression (``None`` when it matches only the empty string)."""
    at_start, at_end = edge
    parts: list[Expr] = []
    for i, item in enumerate(items):
        op, av = item
        first = at_start and all(_zero_width(x) for x in items[:i])
        last = at_end and all(_zero_width(x) for x in items[i + 1 :])
        if op is _sre_constants.LITERAL:
            parts.append(Lit(chr(av)))
        elif op is _sre_constants.IN:
            parts.append(Chars(_charset(av, pattern)))
        elif op is _sre_constants.SUBPATTERN:
            inner = _convert(list(av[-1]), pattern, max_repeat, (first, last))
            if inner is not None:
                parts.append(inner)
        elif op is _sre_constants.BRANCH:
            options = [_convert(list(branch), pattern, max_repeat, (first, last)) for branch in av[1]]
            present = tuple(dict.fromkeys(o for o in options if o is not None))
            if present:
                choice = present[0] if len(present) == 1 else Alt(present)
                parts.append(Opt(choice) if len(present) < len(options) else choice)
        elif op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
            low, high, sub = av
            inner = _convert(list(sub), pattern, max_repeat, (False, False))
            if inner is None:
                continue
            unbounded = high >= _sre_constants.MAXREPEAT
            if unbounded and max_repeat is not None:
                high, unbounded = max(low, max_repeat), False
            if (low, high) == (0, 1):
                parts.append(Opt(inner))
            elif (low, high) != (1, 1):
                parts.append(Repeat(inner, low, None if unbounded else high))
            else:
                parts.append(inner)
        elif _is_word_boundary(item, pattern) and (first or last):
            before = edge_chars(seq(parts), last=True) if parts else frozenset()
            after_items = _convert(list(items[i + 1 :]), pattern, max_repeat, (False, at_end))
            after = edge_chars(after_items, last=False) if after_items is not None else frozenset()
            beside = before if last else after
            if not beside or not all(is_word_char(c) for c in beside):
                raise ConfigurationError(
                    f"the word boundary in {pattern!r} is not next to a word character; give the terminal a spelling"
                )
        else:
            raise ConfigurationError(
                f"the regular expression {pattern!r} uses {op} {av}, which the GBNF compiler does not translate; "
                "give the terminal a spelling"
            )
    merged: list[Expr] = []
    for part in parts:
        if isinstance(part, Lit) and merged and isinstance(merged[-1], Lit):
            merged[-1] = Lit(merged[-1].text + part.text)
        else:
            merged.append(part)
    return seq(merged) if merged else None


def regex_expr(pattern: str, *, max_repeat: int | None = None) -> Expr:
    r"""An expression that matches a subset of what ``pattern`` matches (see the module notes).

    Raises:
        ConfigurationError: the pattern uses something the compiler does not translate, or
            matches only the empty string.

    Example:
        >>> from neurosym.grammars.ebnf import render_expr
        >>> render_expr(regex_expr(r"(?i:inf(inity)?\b)"))
        '"inf" "inity"?'

    """
    expr = _convert(list(_parse(pattern)), pattern, max_repeat, (True, True))
    if expr is None:
        raise ConfigurationError(f"the regular expression {pattern!r} matches only the empty string")
    return expr


def nullable(expr: Expr) -> bool:
    """Whether ``expr`` (without references) matches the empty string.

    Example:
        >>> nullable(Seq((Opt(Lit("a")), Repeat(Lit("b"), 0, 3)))), nullable(Lit("a"))
        (True, False)

    """
    if isinstance(expr, (Opt,)):
        return True
    if isinstance(expr, Repeat):
        return expr.low == 0 or nullable(expr.item)
    if isinstance(expr, Seq):
        return all(nullable(item) for item in expr.items)
    if isinstance(expr, Alt):
        return any(nullable(option) for option in expr.options)
    if isinstance(expr, Lit):
        return not expr.text
    if isinstance(expr, Chars):
        return False
    raise ConfigurationError(f"cannot tell whether a reference to {expr!r} is empty")


def edge_chars(expr: Expr, *, last: bool) -> frozenset[str]:
    """The characters ``expr`` (without references) can start with, or end with when ``last``.

    Example:
        >>> sorted(edge_chars(Seq((Opt(Lit("-")), Chars(frozenset("12")))), last=False))
        ['-', '1', '2']

    """
    if isinstance(expr, Lit):
        return frozenset(expr.text[-1:] if last else expr.text[:1])
    if isinstance(expr, Chars):
        return expr.chars
    if isinstance(expr, (Opt, Repeat)):
        return edge_chars(expr.item, last=last)
    if isinstance(expr, Alt):
        return frozenset().union(*(edge_chars(option, last=last) for option in expr.options))
    if isinstance(expr, Seq):
        out: frozenset[str] = frozenset()
        for item in reversed(expr.items) if last else expr.items:
            out |= edge_chars(item, last=last)
            if not nullable(item):
                break
        return out
    raise ConfigurationError(f"cannot tell how a reference to {expr!r} starts or ends")


def _lead(items: list[tuple[Any, Any]], word: str, pattern: str) -> set[str]:
    """The leading runs of word characters of the strings ``items`` matches, after ``word``."""
    if not items:
        return {word}
    (op, av), rest = items[0], items[1:]
    if op is _sre_constants.LITERAL:
        ch = chr(av)
        return _lead(rest, word + ch, pattern) if is_word_char(ch) else {word}
    if _zero_width((op, av)):
        return _lead(rest, word, pattern)
    if op is _sre_constants.SUBPATTERN:
        return _lead(list(av[-1]) + rest, word, pattern)
    if op is _sre_constants.BRANCH:
        return set().union(*(_lead(list(branch) + rest, word, pattern) for branch in av[1]))
    if op is _sre_constants.IN:
        chars = _charset(av, pattern)
        word_chars = sorted(c for c in chars if is_word_char(c))
        out = {word} if len(word_chars) < len(chars) else set()  # a non-word character ends the run
        if not word and not any(c.isalpha() for c in word_chars):
            return out  # a run that starts with a digit or "_" is never a name
        if len(word_chars) > _SMALL_CLASS:
            raise ConfigurationError(f"the terminal {pattern!r} can begin with any of many words; give it a spelling")
        return out.union(*(_lead(rest, word + c, pattern) for c in word_chars))
    if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
        low, high, sub = av
        if high <= _SMALL_REPEAT:
            return set().union(*(_lead(list(sub) * k + rest, word, pattern) for k in range(low, high + 1)))
        inner = _convert(list(sub), pattern, None, (False, False))
        starts = edge_chars(inner, last=False) if inner is not None else frozenset()
        skipped = _lead(rest, word, pattern) if low == 0 else set()
        if not any(is_word_char(c) for c in starts):  # like \s+: the run ends where the repetition starts
            return skipped | ({word} if starts else set())
        if not word and not any(c.isalpha() for c in starts if is_word_char(c)):
            return skipped  # a run of digits is never a name
        raise ConfigurationError(f"the terminal {pattern!r} can begin with any of many words; give it a spelling")
    raise ConfigurationError(f"the terminal {pattern!r} uses {op}, which the GBNF compiler does not read")


def leading_words(pattern: str) -> set[str]:
    r"""The words (letter first, then word characters) that a text matched by ``pattern`` can start with.

    Raises:
        ConfigurationError: the set of such words is open-ended (a name-like terminal).

    Example:
        >>> sorted(leading_words(r"(?:∀|forall(?!\w)|all(?!\w))")), leading_words(r"\d+")
        (['all', 'forall'], set())

    """
    return {w for w in _lead(list(_parse(pattern)), "", pattern) if w and w[0].isascii() and w[0].isalpha()}
