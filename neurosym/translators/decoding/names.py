r"""GBNF building blocks for grammars compiled from a declared signature: name sets and names outside a set.

A grammar compiled from what a model declared names the declared symbols one by one
(:func:`one_of`), and makes a new name (a constraint's label, a constant) any word that is not
one of a finite set of taken names (:func:`word_except`), as a deterministic automaton over the
trie of the taken names: an undeclared or taken name is then simply not in the grammar.

Example:
    >>> print(one_of("var", ["x", "y"]))
    var ::= "x" | "y"
    >>> rules = word_except("label", ["or", "x"], first="a-z", rest="a-z0-9_")
    >>> rules.splitlines()[0]
    'label ::= [a-np-wyz] label-tail-31 | "o" label-o | "x" label-tail-more-31'

"""

from __future__ import annotations

import re
from collections.abc import Iterable

from neurosym.errors import ConfigurationError

__all__ = ["gbnf_literal", "one_of", "word_except"]

_RULE = re.compile(r"[a-z][a-z0-9-]*")


def gbnf_literal(text: str) -> str:
    r"""``text`` as a GBNF string literal.

    Example:
        >>> print(gbnf_literal('say "hi"\n'))
        "say \"hi\"\n"

    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _check_rule(rule: str) -> None:
    if not _RULE.fullmatch(rule):
        raise ConfigurationError(f"a GBNF rule name must be lowercase letters, digits and '-', got {rule!r}")


def one_of(rule: str, names: Iterable[str]) -> str:
    """A rule that matches exactly one of ``names`` (longest first, so that none hides another).

    Raises:
        ConfigurationError: no names, or a bad rule name.

    Example:
        >>> print(one_of("pred", ["Dog", "DogOwner"]))
        pred ::= "DogOwner" | "Dog"

    """
    _check_rule(rule)
    unique = sorted(set(names), key=lambda n: (-len(n), n))
    if not unique:
        raise ConfigurationError(f"the rule {rule!r} needs at least one name")
    return f"{rule} ::= " + " | ".join(gbnf_literal(n) for n in unique)


def _char_class(chars: Iterable[str]) -> str:
    """A GBNF character class for a set of ASCII word characters, with ranges where they run."""
    ordered = sorted(set(chars))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ord(ordered[j + 1]) == ord(ordered[j]) + 1:
            j += 1
        parts.append(
            ordered[i] if j == i else f"{ordered[i]}{ordered[j]}" if j == i + 1 else f"{ordered[i]}-{ordered[j]}"
        )
        i = j + 1
    return "[" + "".join(parts) + "]"


def _expand(spec: str) -> frozenset[str]:
    """``"a-z0-9_"`` as the set of characters it names."""
    chars: set[str] = set()
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            chars.update(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            chars.add(spec[i])
            i += 1
    return frozenset(chars)


def word_except(rule: str, taken: Iterable[str], *, first: str, rest: str, max_rest: int = 31) -> str:
    r"""Rules for a word (one of ``first``, then up to ``max_rest`` of ``rest``) that is none of ``taken``.

    ``first`` and ``rest`` are character ranges as in a regex class (``"a-z"``, ``"A-Za-z0-9_"``).
    Taken names that are not such words anyway are ignored. Rule names are ``rule``,
    ``rule-<prefix>`` for each proper prefix of a taken name, and ``rule-tail-N`` / ``rule-tail-more-N``
    (up to N more characters; at least one).

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> g = read_gbnf("root ::= label\n" + word_except("label", ["cap", "x"], first="a-z", rest="a-z_"))
        >>> [Recognizer(g).matches(w) for w in ("cap", "ca", "caps", "x", "xy", "y")]
        [False, True, True, False, True, True]
        >>> short = read_gbnf("root ::= v\n" + word_except("v", ["in"], first="a-z", rest="a-z", max_rest=1))
        >>> [Recognizer(short).matches(w) for w in ("i", "ix", "in", "inx")]
        [True, True, False, False]

    """
    _check_rule(rule)
    first_chars, rest_chars = _expand(first), _expand(rest)
    words = sorted(
        {
            w
            for w in taken
            if w and w[0] in first_chars and all(c in rest_chars for c in w[1:]) and len(w) - 1 <= max_rest
        }
    )
    prefixes = sorted({w[:i] for w in words for i in range(len(w))}, key=lambda p: (len(p), p))
    if "" not in prefixes:
        prefixes.insert(0, "")
    tail = f"{rule}-tail"
    names = {p: (f"{rule}-{_rule_suffix(p)}" if p else rule) for p in prefixes}
    lines = []
    for p in prefixes:
        allowed = first_chars if not p else rest_chars
        children = sorted({w[len(p)] for w in words if w.startswith(p) and len(w) > len(p)})
        remaining = max_rest - len(p)  # characters still allowed after the next one
        options = []
        free = allowed - set(children)
        if free:
            options.append(f"{_char_class(free)} {tail}{_tail_suffix(remaining)}")
        for c in children:
            child = p + c
            if child in names:
                options.append(f"{gbnf_literal(c)} {names[child]}")
            elif remaining > 0:  # a taken word itself: it may only go on, if it is not as long as a word may be
                options.append(f"{gbnf_literal(c)} {tail}-more{_tail_suffix(remaining)}")
        body = " | ".join(options) if options else '""'
        if p and p not in words and len(options) > 0:
            body = f"({body})?"
        lines.append(f"{names[p]} ::= {body}")
    lengths = sorted({max_rest - len(p) for p in prefixes})
    for n in lengths:
        suffix = _tail_suffix(n)
        lines.append(f"{tail}{suffix} ::= {_char_class(rest_chars)}{{0,{max(n, 0)}}}")
        lines.append(f"{tail}-more{suffix} ::= {_char_class(rest_chars)}{{1,{max(n, 1)}}}")
    return "\n".join(lines)


def _rule_suffix(prefix: str) -> str:
    """A rule-name part for a word prefix: letters lowercased with case marked, digits kept, ``_`` as ``u``."""
    out = []
    for c in prefix:
        if c.isupper():
            out.append(f"c{c.lower()}")
        elif c == "_":
            out.append("u")
        else:
            out.append(c)
    return "-".join(out)


def _tail_suffix(remaining: int) -> str:
    return f"-{remaining}"
