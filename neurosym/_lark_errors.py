"""Turn lark's parse exceptions into :class:`~neurosym.errors.ParseError` with a line, a column and a caret.

Shared by the FOL and MILP parsers; each passes readable names for its grammar's tokens.

Example:
    >>> print(excerpt("x + * y", 1, 5))
    x + * y
        ^

"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from neurosym.errors import ParseError

__all__ = ["error_at", "excerpt", "translate"]


def excerpt(text: str, line: int, column: int) -> str:
    """The ``line``-th line of ``text`` with a caret under ``column`` (both 1-based)."""
    lines = text.splitlines() or [""]
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    if len(source) > 120:  # keep the caret visible on long lines
        start = max(0, column - 60)
        source, column = source[start : start + 120], column - start
    return f"{source}\n{' ' * max(column - 1, 0)}^"


def error_at(message: str, text: str, line: int, column: int) -> ParseError:
    """A ParseError for ``message`` at a position of ``text``, with the excerpt in the message."""
    shown = excerpt(text, line, column)
    return ParseError(
        f"{message} at line {line}, column {column}:\n{shown}",
        line=line,
        column=column,
        excerpt=shown,
        reason=message,
        text=text if len(text) <= 2000 else text[:2000] + "…",
    )


def _position_of_end(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _unclosed_bracket(text: str) -> tuple[int, int] | None:
    """Line and column of the first bracket never closed, if any."""
    open_at: list[tuple[int, int]] = []
    line, column = 1, 0
    for ch in text:
        column += 1
        if ch == "\n":
            line, column = line + 1, 0
        elif ch in "([":
            open_at.append((line, column))
        elif ch in ")]" and open_at:
            open_at.pop()
    return open_at[0] if open_at else None


def _describe_expected(expected: Iterable[str], names: Mapping[str, str]) -> str:
    shown = sorted({names.get(e, e) for e in expected})
    return ", ".join(shown[:8]) + (", …" if len(shown) > 8 else "")


def translate(err: UnexpectedInput, text: str, token_names: Mapping[str, str], *, what: str) -> ParseError:
    """The ParseError for a lark failure on ``text``; ``what`` names the thing parsed ("formula", "model")."""
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream is not None and err.pos_in_stream < len(text) else "?"
        return error_at(f"unknown symbol {char!r}", text, err.line, err.column)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        unclosed = _unclosed_bracket(text)
        if unclosed is not None:
            return error_at("unbalanced brackets: this bracket is never closed", text, *unclosed)
        line, column = _position_of_end(text.rstrip() or text)
        expected = _describe_expected(err.expected, token_names)
        return error_at(f"{what} ends too early (expected {expected})", text, line, column)
    if isinstance(err, UnexpectedToken):
        token = err.token
        if token.type in ("RPAR", "RSQB"):
            return error_at(f"unbalanced brackets: unexpected {str(token)!r}", text, token.line or 1, token.column or 1)
        expected = _describe_expected(err.expected, token_names)
        shown = "the end of the line" if token.type == "_NL" else repr(str(token))
        return error_at(f"unexpected {shown} (expected {expected})", text, token.line or 1, token.column or 1)
    return error_at(str(err).splitlines()[0], text, getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1)
