r"""A small EBNF over characters, the compiler's intermediate grammar, and its GBNF text.

An expression is a literal (:class:`Lit`), one character of a set (:class:`Chars`), a reference
to a rule (:class:`Ref`), a sequence (:class:`Seq`), a choice (:class:`Alt`), an optional item
(:class:`Opt`) or a bounded or unbounded repetition (:class:`Repeat`). A :class:`Grammar` is
named rules in output order plus the entry rule; :meth:`Grammar.to_gbnf` writes the GBNF that
llama.cpp and vLLM's xgrammar backend read.

Example:
    >>> g = Grammar("greeting", (("greeting", Seq((Lit("hi"), Repeat(Chars(frozenset("!?")), 0, 3)))),))
    >>> print(g.to_gbnf(), end="")
    root ::= greeting
    greeting ::= "hi" [!?]{0,3}

"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Alt", "Chars", "Expr", "Grammar", "Lit", "Opt", "Ref", "Repeat", "Seq", "render_expr", "seq"]


@dataclass(frozen=True, slots=True)
class Lit:
    r"""A literal string.

    Example:
        >>> render_expr(Lit('say "hi"\n'))
        '"say \\"hi\\"\\n"'

    """

    text: str


@dataclass(frozen=True, slots=True)
class Chars:
    r"""One character out of a set.

    Example:
        >>> render_expr(Chars(frozenset("abcx-")))
        '[\\-a-cx]'

    """

    chars: frozenset[str]


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to another rule.

    Example:
        >>> render_expr(Ref("expr"))
        'expr'

    """

    name: str


@dataclass(frozen=True, slots=True)
class Seq:
    """The items one after another.

    Example:
        >>> render_expr(Seq((Lit("a"), Ref("b"))))
        '"a" b'

    """

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    """One of the options.

    Example:
        >>> render_expr(Alt((Lit("a"), Seq((Lit("b"), Ref("c"))))))
        '"a" | "b" c'

    """

    options: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Opt:
    """The item or nothing.

    Example:
        >>> render_expr(Opt(Seq((Lit(","), Ref("x")))))
        '("," x)?'

    """

    item: Expr


@dataclass(frozen=True, slots=True)
class Repeat:
    """The item ``low`` to ``high`` times (``high=None``: no upper bound).

    Example:
        >>> [render_expr(Repeat(Ref("x"), *bounds)) for bounds in [(0, None), (1, None), (0, 3), (2, 2)]]
        ['x*', 'x+', 'x{0,3}', 'x{2}']

    """

    item: Expr
    low: int = 0
    high: int | None = None


Expr = Lit | Chars | Ref | Seq | Alt | Opt | Repeat
"""An expression of the intermediate grammar."""


def seq(items: Iterable[Expr]) -> Expr:
    """A sequence with nested sequences flattened; a single item stands for itself.

    Example:
        >>> seq([Lit("a"), Seq((Lit("b"), Lit("c")))])
        Seq(items=(Lit(text='a'), Lit(text='b'), Lit(text='c')))
        >>> seq([Ref("x")])
        Ref(name='x')

    """
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Seq) else (item,))
    return flat[0] if len(flat) == 1 else Seq(tuple(flat))


@dataclass(frozen=True)
class Grammar:
    r"""Rules in output order; ``entry`` names the rule a whole text matches.

    Example:
        >>> g = Grammar("word", (("word", Repeat(Chars(frozenset("ab")), 1)),))
        >>> g.to_gbnf(root=False)
        'word ::= [ab]+\n'

    """

    entry: str
    rules: tuple[tuple[str, Expr], ...]

    @property
    def rule_map(self) -> dict[str, Expr]:
        """The rules by name."""
        return dict(self.rules)

    def to_gbnf(self, *, root: bool = True) -> str:
        """The GBNF text, one rule a line; with ``root``, first ``root ::= <entry>``."""
        head = f"root ::= {self.entry}\n" if root else ""
        return head + "\n".join(f"{name} ::= {render_expr(body)}" for name, body in self.rules) + "\n"


# --- rendering --------------------------------------------------------------------------------


def _char_ranges(chars: frozenset[str]) -> list[tuple[str, str]]:
    ranges: list[tuple[str, str]] = []
    for ch in sorted(chars):
        if ranges and ord(ch) == ord(ranges[-1][1]) + 1:
            ranges[-1] = (ranges[-1][0], ch)
        else:
            ranges.append((ch, ch))
    return ranges


_CLASS_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _class_body(chars: frozenset[str]) -> str:
    def esc(ch: str) -> str:
        if ch in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[ch]
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"\\x{ord(ch):02X}"
        return "\\" + ch if ch in "]\\-^[" else ch

    parts = []
    for lo, hi in _char_ranges(chars):
        if lo == hi:
            parts.append(esc(lo))
        elif ord(hi) == ord(lo) + 1:
            parts.append(esc(lo) + esc(hi))
        else:
            parts.append(f"{esc(lo)}-{esc(hi)}")
    return "".join(parts)


def _gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _suffix(expr: Repeat) -> str:
    if expr.high is None:
        return "*" if expr.low == 0 else "+" if expr.low == 1 else f"{{{expr.low},}}"
    return f"{{{expr.low}}}" if expr.low == expr.high else f"{{{expr.low},{expr.high}}}"


def render_expr(expr: Expr, top: bool = True) -> str:
    """An expression as GBNF, bracketing sequences and choices inside other expressions.

    Example:
        >>> render_expr(Seq((Ref("a"), Opt(Alt((Lit("+"), Lit("-")))))))
        'a ("+" | "-")?'

    """
    if isinstance(expr, Lit):
        return _gbnf_literal(expr.text)
    if isinstance(expr, Chars):
        return f"[{_class_body(expr.chars)}]"
    if isinstance(expr, Ref):
        return expr.name
    if isinstance(expr, Seq):
        text = " ".join(render_expr(item, False) for item in expr.items)
        return text if top else f"({text})"
    if isinstance(expr, Alt):
        text = " | ".join(render_expr(option) for option in expr.options)
        return text if top else f"({text})"
    inner = render_expr(expr.item, False)
    if isinstance(expr.item, (Opt, Repeat)):  # "x?*" is not GBNF
        inner = f"({inner})"
    return inner + ("?" if isinstance(expr, Opt) else _suffix(expr))
