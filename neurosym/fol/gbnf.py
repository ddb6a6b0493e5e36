"""A GBNF grammar for one FOL formula, derived mechanically from ``fol.lark``.

llama.cpp's grammar-constrained sampling reads GBNF, and vLLM's xgrammar backend reads the same
EBNF, so one grammar text constrains both. It is built from the Lark grammar that
:func:`neurosym.fol.parse_formula` uses (the single source of the syntax):

* the rules come from Lark's own BNF (``Lark(...).rules``). Lark's left-recursive helper rules
  for ``x*`` become repetitions again (llama.cpp refuses left recursion); a leading rule whose
  first token overlaps another alternative's is inlined (``atom`` starts with ``term``) and
  alternatives that share a prefix are left-factored, so llama.cpp does not follow two parses of
  the same text; the ``?``/inline/alias marks are dropped because they only shape the tree;
* every terminal gets one canonical spelling: the Unicode symbol for connectives and quantifiers
  (``∀ ∃ ¬ ∧ ∨ ⊕ → ↔ = ≠``), never the ASCII keywords. Names and variables are
  ``[A-Za-z][A-Za-z0-9_]*`` minus the keywords that the lexer would read as connectives
  (``all``, ``not``, ``or`` …), which is a subset of what the Lark regexes accept;
* the ignored whitespace becomes at most one space between two tokens, and no newlines. A
  space is required where two word tokens would otherwise run together (``∀x P(x)``).

Every string the grammar generates parses with :func:`neurosym.fol.parse_formula`, up to the
parser's :data:`~neurosym.fol.parser.MAX_DEPTH` and length limits, which a context-free grammar
cannot express (bound the length with ``max_tokens``).

Example:
    >>> text = formula_root_gbnf()
    >>> text.splitlines()[0]
    'root ::= fol-formula'
    >>> print(formula_gbnf().splitlines()[0])
    fol-formula ::= fol-iff
    >>> 'fol-ws ::= " "?' in text
    True

"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from lark import Lark

from neurosym.errors import ConfigurationError
from neurosym.fol.parser import grammar_text

__all__ = ["formula_gbnf", "formula_root_gbnf"]

# --- the intermediate grammar: a small EBNF over characters ---------------------------------------


@dataclass(frozen=True, slots=True)
class _Lit:
    """A literal string."""

    text: str


@dataclass(frozen=True, slots=True)
class _Chars:
    """One character out of a set."""

    chars: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Ref:
    """A reference to another rule."""

    name: str


@dataclass(frozen=True, slots=True)
class _Seq:
    """The items one after another."""

    items: tuple[_Expr, ...]


@dataclass(frozen=True, slots=True)
class _Alt:
    """One of the options."""

    options: tuple[_Expr, ...]


@dataclass(frozen=True, slots=True)
class _Opt:
    """The item or nothing."""

    item: _Expr


@dataclass(frozen=True, slots=True)
class _Star:
    """The item zero or more times."""

    item: _Expr


_Expr = _Lit | _Chars | _Ref | _Seq | _Alt | _Opt | _Star


@dataclass(frozen=True, slots=True)
class _Grammar:
    """Rules in output order; ``entry`` names the rule for one formula."""

    entry: str
    rules: tuple[tuple[str, _Expr], ...]


# --- terminals: canonical spellings -----------------------------------------------------------

_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_WORD_CHARS = _LETTERS | frozenset("0123456789_")

# Connectives and quantifiers: the Unicode symbol only. Each is checked against the terminal's
# Lark regex when the grammar is built, so a grammar change cannot silently break the mapping.
_CANONICAL = {
    "FORALL": "∀",
    "EXISTS": "∃",
    "NOT": "¬",
    "AND": "∧",
    "OR": "∨",
    "XOR": "⊕",
    "IMP": "→",
    "IFF": "↔",
    "EQ": "=",
    "NEQ": "≠",
}
# Terminals spelled by the keyword-free word rule: (rule suffix, a sample for the regex check).
_WORD_TERMINALS = {"VAR": "var", "IDENT": "name"}
_SP = "<space>"  # a required single space between two word tokens
_WS = "<ws>"  # an optional single space between any other two tokens
_ENTRY = "formula"


def _keywords(parser: Lark) -> list[str]:
    r"""Words that some terminal reads as a keyword (``forall(?!\\w)`` → ``forall``)."""
    words: set[str] = set()
    for terminal in parser.terminals:
        words.update(re.findall(r"([A-Za-z_]\w*)\(\?!\\w\)", terminal.pattern.to_regexp()))
    return sorted(words)


def _terminal_text(name: str, parser: Lark) -> str:
    """The canonical spelling of a terminal (a sample for word terminals), checked against its regex."""
    terminal = next((t for t in parser.terminals if t.name == name), None)
    if terminal is None:  # pragma: no cover - Lark always defines the terminals its rules use
        raise ConfigurationError(f"fol.lark uses an undefined terminal {name}")
    if name in _CANONICAL:
        text = _CANONICAL[name]
    elif name in _WORD_TERMINALS:
        text = "x"
    elif terminal.pattern.type == "str":
        text = terminal.pattern.value
    else:  # pragma: no cover - only reached when fol.lark grows a new regex terminal
        raise ConfigurationError(f"no GBNF spelling for the FOL terminal {name} ({terminal.pattern.value!r})")
    if not re.fullmatch(terminal.pattern.to_regexp(), text):
        raise ConfigurationError(f"the GBNF spelling {text!r} does not match the FOL terminal {name}")
    return text


def _is_word_char(ch: str) -> bool:
    return bool(re.fullmatch(r"\w", ch))


# --- from Lark's BNF to the intermediate grammar ----------------------------------------------

_Bnf = dict[str, list[tuple[str, ...]]]


def _lark_bnf(parser: Lark) -> _Bnf:
    """Lark's flattened rules reachable from ``formula`` (tree-shaping options dropped)."""
    everything: _Bnf = {}
    for rule in parser.rules:
        expansion = tuple(symbol.name for symbol in rule.expansion)
        alternatives = everything.setdefault(rule.origin.name, [])
        if expansion not in alternatives:
            alternatives.append(expansion)
    reachable: _Bnf = {}
    todo = [_ENTRY]
    while todo:
        name = todo.pop(0)
        if name in reachable:
            continue
        reachable[name] = everything[name]
        todo.extend(s for alt in everything[name] for s in alt if s in everything)
    for name, alternatives in reachable.items():
        if any(not alt for alt in alternatives):  # pragma: no cover - fol.lark has no empty rules
            raise ConfigurationError(f"the FOL rule {name} can be empty; the GBNF builder does not support that")
    return reachable


def _first_terminals(bnf: _Bnf) -> dict[str, set[str]]:
    """The terminals each rule can start with (no rule is empty, so only heads matter)."""
    first: dict[str, set[str]] = {name: set() for name in bnf}
    changed = True
    while changed:
        changed = False
        for name, alternatives in bnf.items():
            for alt in alternatives:
                head = first[alt[0]] if alt[0] in bnf else {alt[0]}
                if not head <= first[name]:
                    first[name] |= head
                    changed = True
    return first


def _expand_overlapping_heads(bnf: _Bnf) -> _Bnf:
    """Inline a leading rule where its first terminals overlap another alternative's.

    ``atom: IDENT "(" terms ")" | IDENT | term EQ term`` with ``term: IDENT "(" terms ")" | IDENT``
    becomes alternatives that all start with ``IDENT``, which left-factoring then merges, so
    llama.cpp follows one parse of an atom instead of two.
    """
    first = _first_terminals(bnf)

    def starts(symbol: str) -> set[str]:
        return first[symbol] if symbol in bnf else {symbol}

    out: _Bnf = {}
    for name, alternatives in bnf.items():
        alts = list(alternatives)
        for _ in range(8):  # each round inlines one level; stop when nothing overlaps
            expand = {
                a[0]
                for a in alts
                for b in alts
                if a[0] != b[0] and a[0] in bnf and a[0] != name and starts(a[0]) & starts(b[0])
            }
            if not expand:
                break
            new: list[tuple[str, ...]] = []
            for alt in alts:
                replaced = [(*sub, *alt[1:]) for sub in bnf[alt[0]]] if alt[0] in expand else [alt]
                new.extend(r for r in replaced if r not in new)
            alts = new
        out[name] = alts
    return out


def _edge_words(bnf: _Bnf, terminal_text: dict[str, str]) -> tuple[dict[str, set[bool]], dict[str, set[bool]]]:
    """For each symbol, whether it can start / end with a word character (fixpoint over the BNF)."""
    first: dict[str, set[bool]] = {t: {_is_word_char(s[0])} for t, s in terminal_text.items()}
    last: dict[str, set[bool]] = {t: {_is_word_char(s[-1])} for t, s in terminal_text.items()}
    for name in bnf:
        first[name], last[name] = set(), set()
    changed = True
    while changed:
        changed = False
        for name, alternatives in bnf.items():
            for alt in alternatives:
                for table, symbol in ((first, alt[0]), (last, alt[-1])):
                    if not table[symbol] <= table[name]:
                        table[name] |= table[symbol]
                        changed = True
    return first, last


def _with_separators(bnf: _Bnf, first: dict[str, set[bool]], last: dict[str, set[bool]]) -> _Bnf:
    """Put a separator between every two symbols; split where a following word needs a space.

    Between a word-final and a word-initial symbol the lexer needs whitespace. Where the right
    symbol may start either way, the expansion is split into ``a <space> B`` and ``a B@nw``, with
    ``B@nw`` the part of ``B`` that starts with a non-word character, so ``∀x (P(x))`` and
    ``∀x(P(x))`` both stay in the language, each with exactly one parse.
    """
    out: _Bnf = {}
    restricted: dict[str, str] = {}
    todo = list(bnf)
    source = dict(bnf)

    def nonword_start(symbol: str) -> str:
        name = restricted.get(symbol)
        if name is None:
            name = restricted[symbol] = f"{symbol}@nw"
            keep = []
            for alt in source[symbol]:
                head = alt[0]
                if first[head] == {False}:
                    keep.append(alt)
                elif first[head] == {True, False}:
                    keep.append((nonword_start(head), *alt[1:]))
            source[name] = keep
            first[name], last[name] = {False}, last[symbol]
            todo.append(name)
        return name

    while todo:
        name = todo.pop(0)
        variants: list[tuple[str, ...]] = []
        for alt in source[name]:
            partials: list[tuple[str, ...]] = [(alt[0],)]
            for left, right in itertools.pairwise(alt):
                if True not in last[left] or True not in first[right]:
                    partials = [(*p, _WS, right) for p in partials]
                elif first[right] == {True, False} and last[left] == {True}:
                    nw = nonword_start(right)
                    partials = [q for p in partials for q in ((*p, _SP, right), (*p, nw))]
                else:
                    partials = [(*p, _SP, right) for p in partials]
            variants.extend(p for p in partials if p not in variants)
        out[name] = variants
    return out


def _factor(alternatives: Sequence[tuple[str, ...]], symbol: dict[str, _Expr]) -> _Expr:
    """Left-factor alternatives into an expression (shared prefixes written once)."""
    groups: dict[str, list[tuple[str, ...]]] = {}
    empty = False
    for alt in alternatives:
        if not alt:
            empty = True
        else:
            groups.setdefault(alt[0], []).append(alt)
    options: list[_Expr] = []
    for group in groups.values():
        if len(group) == 1:
            options.append(_seq(symbol[s] for s in group[0]))
            continue
        size = 0
        while all(len(g) > size and g[size] == group[0][size] for g in group):
            size += 1
        prefix = [symbol[s] for s in group[0][:size]]
        options.append(_seq([*prefix, _factor([g[size:] for g in group], symbol)]))
    body: _Expr = options[0] if len(options) == 1 else _Alt(tuple(options))
    return _Opt(body) if empty else body


def _seq(items: Iterable[_Expr]) -> _Expr:
    flat: list[_Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, _Seq) else (item,))
    return flat[0] if len(flat) == 1 else _Seq(tuple(flat))


def _rule_name(prefix: str, lark_name: str) -> str:
    base, _, restricted = lark_name.partition("@")
    cleaned = re.sub(r"-+", "-", base.replace("_", "-")).strip("-")
    return f"{prefix}{cleaned}" + (f"-{restricted}" if restricted else "")


def _word_rules(prefix: str, keywords: Sequence[str]) -> list[tuple[str, _Expr]]:
    """``[A-Za-z][A-Za-z0-9_]*`` minus ``keywords``, as a deterministic automaton over a keyword trie."""
    tail = f"{prefix}word-tail"
    prefixes = sorted({k[:i] for k in keywords for i in range(len(k) + 1)}, key=lambda p: (len(p), p))
    rules: list[tuple[str, _Expr]] = []
    for p in prefixes:
        children = sorted({k[len(p)] for k in keywords if k.startswith(p) and len(k) > len(p)})
        allowed = (_LETTERS if not p else _WORD_CHARS) - set(children)
        options: list[_Expr] = [_Seq((_Chars(frozenset(allowed)), _Ref(tail)))]
        options += [_Seq((_Lit(c), _Ref(f"{prefix}word-{p + c}"))) for c in children]
        body: _Expr = options[0] if len(options) == 1 else _Alt(tuple(options))
        if p and p not in keywords:  # a proper prefix of a keyword is itself a name ("a", "fo")
            body = _Opt(body)
        rules.append((f"{prefix}word-{p}" if p else f"{prefix}word", body))
    rules.append((tail, _Star(_Chars(_WORD_CHARS))))
    return rules


@cache
def _formula_grammar(prefix: str = "fol-") -> _Grammar:
    """Build the intermediate grammar for one formula from ``fol.lark``."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", prefix):
        raise ConfigurationError(f"a GBNF rule prefix must be lowercase letters, digits and '-', got {prefix!r}")
    parser = Lark(grammar_text(), parser="lalr", maybe_placeholders=False)
    for ignored in parser.ignore_tokens:  # our separator, one space, must be ignorable
        pattern = next(t.pattern for t in parser.terminals if t.name == ignored)
        if not re.fullmatch(pattern.to_regexp(), " "):  # pragma: no cover - fol.lark ignores WS
            raise ConfigurationError(f"a space is not ignored by the FOL grammar's {ignored}")
    bnf = _expand_overlapping_heads(_lark_bnf(parser))
    used = sorted({s for alts in bnf.values() for alt in alts for s in alt if s not in bnf})
    text = {t: _terminal_text(t, parser) for t in used}
    first, last = _edge_words(bnf, text)
    spaced = _with_separators(bnf, first, last)

    symbol: dict[str, _Expr] = {_SP: _Lit(" "), _WS: _Ref(f"{prefix}ws")}
    for t in used:
        symbol[t] = _Ref(f"{prefix}{_WORD_TERMINALS[t]}") if t in _WORD_TERMINALS else _Lit(text[t])
    names: dict[str, str] = {}
    for name in spaced:
        names[name] = _rule_name(prefix, name)
        symbol[name] = _Ref(names[name])
    if len(set(names.values())) != len(names):  # pragma: no cover - guards a future rule rename
        raise ConfigurationError("two FOL rules map to the same GBNF rule name")

    rules: list[tuple[str, _Expr]] = []
    for name, alternatives in spaced.items():
        recursive = [alt[1:] for alt in alternatives if alt[0] == name]
        base = [alt for alt in alternatives if alt[0] != name]
        body = _factor(base, symbol)
        if recursive:  # R ::= α | R β  becomes  R ::= α β*
            body = _seq([body, _Star(_factor(recursive, symbol))])
        rules.append((names[name], body))
    rules.append((f"{prefix}ws", _Opt(_Lit(" "))))
    for word_terminal in sorted(set(used) & set(_WORD_TERMINALS)):
        rules.append((f"{prefix}{_WORD_TERMINALS[word_terminal]}", _Ref(f"{prefix}word")))
    rules.extend(_word_rules(prefix, _keywords(parser)))
    return _Grammar(names[_ENTRY], tuple(rules))


# --- rendering --------------------------------------------------------------------------------


def _char_ranges(chars: frozenset[str]) -> list[tuple[str, str]]:
    ranges: list[tuple[str, str]] = []
    for ch in sorted(chars):
        if ranges and ord(ch) == ord(ranges[-1][1]) + 1:
            ranges[-1] = (ranges[-1][0], ch)
        else:
            ranges.append((ch, ch))
    return ranges


def _class_body(chars: frozenset[str]) -> str:
    def esc(ch: str) -> str:
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
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _render(expr: _Expr, top: bool = True) -> str:
    """Render an expression as GBNF, bracketing sequences and choices inside other expressions."""
    if isinstance(expr, _Lit):
        return _gbnf_literal(expr.text)
    if isinstance(expr, _Chars):
        return f"[{_class_body(expr.chars)}]"
    if isinstance(expr, _Ref):
        return expr.name
    if isinstance(expr, _Seq):
        text = " ".join(_render(item, False) for item in expr.items)
        return text if top else f"({text})"
    if isinstance(expr, _Alt):
        text = " | ".join(_render(option) for option in expr.options)
        return text if top else f"({text})"
    return _render(expr.item, False) + ("?" if isinstance(expr, _Opt) else "*")


def _to_gbnf(grammar: _Grammar) -> str:
    return "\n".join(f"{name} ::= {_render(body)}" for name, body in grammar.rules) + "\n"


def formula_gbnf(prefix: str = "fol-") -> str:
    """GBNF rules for one FOL formula, entry rule ``{prefix}formula``, with no ``root`` rule.

    Embed the rules in a larger grammar (a list of premises, a JSON field) by referring to
    ``{prefix}formula``; every rule name starts with ``prefix``.

    Raises:
        ConfigurationError: ``prefix`` is not lowercase letters, digits and ``-``.

    Example:
        >>> rules = formula_gbnf("p-")
        >>> rules.splitlines()[0]
        'p-formula ::= p-iff'
        >>> all(line.startswith("p-") for line in rules.splitlines())
        True
        >>> "root" in rules
        False

    """
    return _to_gbnf(_formula_grammar(prefix))


def formula_root_gbnf() -> str:
    """A complete GBNF grammar: ``root ::= fol-formula`` followed by :func:`formula_gbnf`.

    Pass it to ``llama_cpp.LlamaGrammar.from_string`` or to vLLM's grammar-guided decoding.

    Example:
        >>> print(formula_root_gbnf().splitlines()[1])
        fol-formula ::= fol-iff

    """
    grammar = _formula_grammar("fol-")
    return f"root ::= {grammar.entry}\n" + _to_gbnf(grammar)
