r"""Compile a Lark grammar into GBNF, the grammar text llama.cpp and vLLM's xgrammar constrain decoding with.

The Lark grammar a parser uses stays the single source of a language's syntax; the GBNF grammar
is derived from it and generates a subset of its language: every text it generates parses with
the Lark grammar (the tests check samples of the FOL and MILP grammars), up to the checks a
context-free grammar cannot express (a parser's length and depth limits, the names a model
declares, linearity). The steps:

* the rules come from Lark's own BNF (``Lark(...).rules``, the ones reachable from ``start``);
  empty expansions are removed (an entry that can be empty becomes optional); a leading rule
  whose first token overlaps another alternative's is inlined and alternatives that share a
  prefix are left-factored, so llama.cpp does not follow two parses of the same text; direct
  left recursion (Lark's helpers for ``x*`` and rules such as ``expr: expr "+" term | term``)
  becomes repetition again, because llama.cpp refuses left recursion; the ``?``/inline/alias
  marks are dropped because they only shape the tree;
* each terminal is spelled by ``spellings`` (one canonical text, or a set of texts, each checked
  against the terminal's regex), by the keyword-free word rule (``words``), as its literal text,
  or by translating its regex (:mod:`neurosym.grammars.regex`: always a subset of what it matches);
* the word rule is ``[A-Za-z][A-Za-z0-9_]*`` minus the words other terminals start with
  (``forall``, ``if``, ``at`` of ``at most``, ``s`` of ``s.t.`` …; in every case when a terminal
  ignores case), so a name is never read as a keyword; a name-like terminal left to its regex
  while the grammar has keywords is refused;
* the ignored whitespace becomes at most one space between two tokens, and a space is required
  where two word characters would otherwise run together (``∀x P(x)``, ``3 x``); nothing else that
  the lexer ignores (comments, tabs) is generated;
* ``repeat`` bounds a rule's repetition (``{"start": 69}``: at most 69 items in the repetition
  ``start`` is written with, which for ``x ("," x)*`` counts the ``"," x``, and for
  ``expr: expr "+" term | term`` the terms), ``token_repeat`` every unbounded repetition inside a
  token (name tails, digit runs), so that a model that starts repeating itself stops at the bound.

Example:
    >>> grammar = '''
    ... start: pair ("," pair)*
    ... pair: NAME "=" NUMBER
    ... NAME: /[A-Za-z_][A-Za-z0-9_]*/
    ... NUMBER: /[0-9]+/
    ... %ignore " "
    ... '''
    >>> print(lark_to_gbnf(grammar, words={"NAME": "name"}, repeat={"start": 3}, token_repeat=4), end="")
    root ::= start
    start ::= pair (ws start-star-0)?
    pair ::= name ws "=" ws number
    start-star-0 ::= "," ws pair (ws "," ws pair){0,2}
    ws ::= " "?
    name ::= word
    number ::= [0-9]{1,4}
    word ::= [A-Za-z] word-tail
    word-tail ::= [0-9A-Z_a-z]{0,4}

"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lark import Lark
from lark.exceptions import LarkError
from lark.lexer import Pattern, TerminalDef

from neurosym.errors import ConfigurationError
from neurosym.grammars.ebnf import Alt, Chars, Expr, Grammar, Lit, Opt, Ref, Repeat, Seq, seq
from neurosym.grammars.regex import edge_chars, is_word_char, leading_words, regex_expr

__all__ = ["compile_lark", "lark_to_gbnf", "left_recursive_rules"]

_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_WORD_CHARS = _LETTERS | frozenset("0123456789_")
_WORD_SAMPLES = ("x", "Ab_9")  # every word terminal must read these: the word rule's shape
_SP = "<space>"  # a required single space between two word tokens
_WS = "<ws>"  # an optional single space between any other two tokens
_HELPER = re.compile(r"__(.+)_(?:star|plus)_\d+")  # Lark's names for the rules behind x* and x+

_Bnf = dict[str, list[tuple[str, ...]]]


# --- from Lark's BNF ----------------------------------------------------------------------------


def _lark_bnf(parser: Lark, entry: str) -> _Bnf:
    """Lark's flattened rules reachable from ``entry`` (tree-shaping options dropped)."""
    everything: _Bnf = {}
    for rule in parser.rules:
        expansion = tuple(symbol.name for symbol in rule.expansion)
        alternatives = everything.setdefault(rule.origin.name, [])
        if expansion not in alternatives and expansion != (rule.origin.name,):  # x: x adds nothing
            alternatives.append(expansion)
    if entry not in everything:
        raise ConfigurationError(f"the grammar has no rule {entry!r}")
    reachable: _Bnf = {}
    todo = [entry]
    while todo:
        name = todo.pop(0)
        if name in reachable:
            continue
        reachable[name] = everything[name]
        todo.extend(s for alt in everything[name] for s in alt if s in everything)
    return reachable


def _without_empty(bnf: _Bnf, entry: str) -> tuple[_Bnf, bool]:
    """The BNF with no empty expansion, and whether ``entry`` could be empty."""
    nullable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, alternatives in bnf.items():
            if name not in nullable and any(all(s in nullable for s in alt) for alt in alternatives):
                nullable.add(name)
                changed = True
    if not nullable:
        return bnf, False
    out: _Bnf = {}
    for name, alternatives in bnf.items():
        variants: list[tuple[str, ...]] = []
        for alt in alternatives:
            options: list[tuple[str, ...]] = [()]
            for symbol in alt:  # with the symbol first, so the written form keeps its place
                with_it = [(*o, symbol) for o in options]
                options = with_it + (options if symbol in nullable else [])
            variants.extend(o for o in options if o and o != (name,) and o not in variants)
        out[name] = variants
    empty = {name for name, alternatives in out.items() if not alternatives}
    if entry in empty:
        raise ConfigurationError(f"the rule {entry!r} only matches the empty text")
    if empty:  # rules that only matched the empty text: the variants without them remain
        out = {
            name: [alt for alt in alternatives if not set(alt) & empty]
            for name, alternatives in out.items()
            if name not in empty
        }
    return out, entry in nullable


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


def _left_recursive(bnf: _Bnf) -> set[str]:
    """Rules that can start with themselves, directly or through other rules' heads."""
    heads = {name: {alt[0] for alt in alternatives if alt[0] in bnf} for name, alternatives in bnf.items()}
    out = set()
    for name in bnf:
        seen, todo = set(), list(heads[name])
        while todo:
            symbol = todo.pop()
            if symbol == name:
                out.add(name)
                break
            if symbol not in seen:
                seen.add(symbol)
                todo.extend(heads[symbol])
    return out


def _expand_overlapping_heads(bnf: _Bnf) -> _Bnf:
    """Inline a leading rule where its first terminals overlap another alternative's.

    ``atom: IDENT "(" terms ")" | IDENT | term EQ term`` with ``term: IDENT "(" terms ")" | IDENT``
    becomes alternatives that all start with ``IDENT``, which left-factoring then merges, so
    llama.cpp follows one parse of an atom instead of two. A left-recursive rule is never inlined
    (that would not end), and a rule's own left-recursive alternatives are not compared.
    """
    first = _first_terminals(bnf)
    recursive = _left_recursive(bnf)

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
                if a[0] != b[0]
                and a[0] in bnf
                and a[0] != name
                and b[0] != name
                and a[0] not in recursive
                and starts(a[0]) & starts(b[0])
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


# --- separators ---------------------------------------------------------------------------------


def _edge_words(
    bnf: _Bnf, terminal_first: Mapping[str, set[bool]], terminal_last: Mapping[str, set[bool]]
) -> tuple[dict[str, set[bool]], dict[str, set[bool]]]:
    """For each symbol, whether it can start / end with a word character (fixpoint over the BNF)."""
    first: dict[str, set[bool]] = {t: set(v) for t, v in terminal_first.items()}
    last: dict[str, set[bool]] = {t: set(v) for t, v in terminal_last.items()}
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
    ``∀x(P(x))`` both stay in the language, each with exactly one parse. (A terminal that may
    start either way counts as word-initial, so it always gets a space: ``x 3``, ``x .5``.)
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


# --- rules ----------------------------------------------------------------------------------------


def _factor(alternatives: Sequence[tuple[str, ...]], symbol: Mapping[str, Expr]) -> Expr:
    """Left-factor alternatives into an expression (shared prefixes written once)."""
    groups: dict[str, list[tuple[str, ...]]] = {}
    empty = False
    for alt in alternatives:
        if not alt:
            empty = True
        else:
            groups.setdefault(alt[0], []).append(alt)
    options: list[Expr] = []
    for group in groups.values():
        if len(group) == 1:
            options.append(seq(symbol[s] for s in group[0]))
            continue
        size = 0
        while all(len(g) > size and g[size] == group[0][size] for g in group):
            size += 1
        prefix = [symbol[s] for s in group[0][:size]]
        options.append(seq([*prefix, _factor([g[size:] for g in group], symbol)]))
    body: Expr = options[0] if len(options) == 1 else Alt(tuple(options))
    return Opt(body) if empty else body


def _rule_name(prefix: str, lark_name: str) -> str:
    base, _, restricted = lark_name.partition("@")
    cleaned = re.sub(r"-+", "-", base.replace("_", "-")).strip("-")
    return f"{prefix}{cleaned}" + (f"-{restricted}" if restricted else "")


def _word_rules(
    prefix: str, keywords: Sequence[str], ignore_case: bool, tail_limit: int | None
) -> list[tuple[str, Expr]]:
    """``[A-Za-z][A-Za-z0-9_]*`` minus ``keywords``, as a deterministic automaton over a keyword trie.

    With ``ignore_case`` every spelling of a keyword is excluded (``If`` and ``IF`` as well as ``if``).
    """
    tail = f"{prefix}word-tail"
    if ignore_case:
        keywords = sorted({k.lower() for k in keywords})
    prefixes = sorted({"", *(k[:i] for k in keywords for i in range(len(k) + 1))}, key=lambda p: (len(p), p))

    def node(p: str) -> str:
        return f"{prefix}word-{p.replace('_', '-')}" if p else f"{prefix}word"

    rules: list[tuple[str, Expr]] = []
    for p in prefixes:
        children = sorted({k[len(p)] for k in keywords if k.startswith(p) and len(k) > len(p)})
        taken = set(children) | ({c.upper() for c in children} if ignore_case else set())
        allowed = (_LETTERS if not p else _WORD_CHARS) - taken
        options: list[Expr] = [Seq((Chars(frozenset(allowed)), Ref(tail)))] if allowed else []
        for c in children:
            spelled: Expr = Chars(frozenset({c, c.upper()})) if ignore_case and c.upper() != c else Lit(c)
            options.append(Seq((spelled, Ref(node(p + c)))))
        body: Expr = options[0] if len(options) == 1 else Alt(tuple(options))
        if p and p not in keywords:  # a proper prefix of a keyword is itself a name ("a", "fo")
            body = Opt(body)
        rules.append((node(p), body))
    rules.append((tail, Repeat(Chars(_WORD_CHARS), 0, tail_limit)))
    return rules


def _check_matches(name: str, regexp: str, text: str, why: str) -> None:
    if not re.fullmatch(regexp, text):
        raise ConfigurationError(f"{why} {text!r} does not match the terminal {name} ({regexp!r})")


def _terminal_expr(
    name: str, pattern: Pattern, spellings: Mapping[str, str | Sequence[str]], token_repeat: int | None
) -> Expr:
    """The expression that spells terminal ``name`` (checked against its regex)."""
    regexp = pattern.to_regexp()
    if name in spellings:
        given = spellings[name]
        texts = [given] if isinstance(given, str) else list(dict.fromkeys(given))
        if not texts or not all(isinstance(t, str) and t for t in texts):
            raise ConfigurationError(f"the spelling of {name} must be a non-empty text or a list of them")
        for text in texts:
            _check_matches(name, regexp, text, "the spelling")
        return Lit(texts[0]) if len(texts) == 1 else Alt(tuple(Lit(t) for t in texts))
    if pattern.type == "str":
        _check_matches(name, regexp, pattern.value, "the literal")
        return Lit(pattern.value)
    return regex_expr(regexp, max_repeat=token_repeat)


def _word_edges(expr: Expr) -> tuple[set[bool], set[bool]]:
    """Whether a terminal's spelling starts / ends with a word character; either way counts as word."""
    first = {any(is_word_char(c) for c in edge_chars(expr, last=False))}
    last = {any(is_word_char(c) for c in edge_chars(expr, last=True))}
    return first, last


def _keywords(terminals: Mapping[str, TerminalDef], words: Mapping[str, str]) -> tuple[list[str], set[str]]:
    """The words other terminals can start with (sorted), and the name-like terminals that start with any word."""
    keywords: set[str] = set()
    name_like: set[str] = set()
    for name, terminal in terminals.items():
        if name in words:
            continue
        try:
            keywords |= leading_words(terminal.pattern.to_regexp())
        except ConfigurationError:
            name_like.add(name)
    return sorted(keywords), name_like


def left_recursive_rules(grammar: Grammar) -> set[str]:
    """The rules of ``grammar`` that can reach themselves before reading a character (llama.cpp refuses them).

    Example:
        >>> loop = Grammar("r", (("r", Alt((Seq((Ref("r"), Lit("a"))), Lit("b")))),))
        >>> left_recursive_rules(loop)
        {'r'}

    """
    rules = grammar.rule_map
    empty: set[str] = set()

    def nullable(expr: Expr) -> bool:
        if isinstance(expr, Ref):
            return expr.name in empty
        if isinstance(expr, (Opt,)):
            return True
        if isinstance(expr, Repeat):
            return expr.low == 0 or nullable(expr.item)
        if isinstance(expr, Seq):
            return all(nullable(i) for i in expr.items)
        if isinstance(expr, Alt):
            return any(nullable(o) for o in expr.options)
        return isinstance(expr, Lit) and not expr.text

    changed = True
    while changed:
        changed = False
        for name, body in rules.items():
            if name not in empty and nullable(body):
                empty.add(name)
                changed = True

    def heads(expr: Expr) -> set[str]:
        if isinstance(expr, Ref):
            return {expr.name}
        if isinstance(expr, (Opt, Repeat)):
            return heads(expr.item)
        if isinstance(expr, Alt):
            return set().union(*(heads(o) for o in expr.options))
        if isinstance(expr, Seq):
            out: set[str] = set()
            for item in expr.items:
                out |= heads(item)
                if not nullable(item):
                    break
            return out
        return set()

    graph = {name: heads(body) & set(rules) for name, body in rules.items()}
    found = set()
    for name in rules:
        seen, todo = set(), list(graph[name])
        while todo:
            symbol = todo.pop()
            if symbol == name:
                found.add(name)
                break
            if symbol not in seen:
                seen.add(symbol)
                todo.extend(graph[symbol])
    return found


def _check_options(
    prefix: str,
    repeat: Mapping[str, int],
    token_repeat: int | None,
    rules: set[str],
    terminals: set[str],
    **named: Iterable[str],
) -> None:
    if not re.fullmatch(r"([a-z][a-z0-9-]*)?", prefix):
        raise ConfigurationError(f"a GBNF rule prefix must be lowercase letters, digits and '-', got {prefix!r}")
    for option, keys in named.items():
        unknown = sorted(set(keys) - terminals)
        if unknown:
            raise ConfigurationError(f"{option} names {', '.join(unknown)}, which the grammar has no terminal for")
    both = sorted(set(named.get("spellings", ())) & set(named.get("words", ())))
    if both:
        raise ConfigurationError(f"{both[0]} has a spelling and the word rule; give it one of them")
    unknown = sorted(set(repeat) - rules)
    if unknown:
        raise ConfigurationError(f"repeat names {', '.join(unknown)}, which the grammar has no rule for")
    for name, limit in repeat.items():
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigurationError(f"the repeat bound of {name} must be a whole number >= 1, got {limit!r}")
    if token_repeat is not None and (not isinstance(token_repeat, int) or token_repeat < 1):
        raise ConfigurationError(f"token_repeat must be a whole number >= 1 or None, got {token_repeat!r}")


def compile_lark(
    grammar: str,
    *,
    start: str = "start",
    prefix: str = "",
    spellings: Mapping[str, str | Sequence[str]] | None = None,
    words: Mapping[str, str] | None = None,
    repeat: Mapping[str, int] | None = None,
    token_repeat: int | None = None,
) -> Grammar:
    r"""The intermediate grammar for Lark ``grammar`` from rule ``start`` (see the module notes).

    Args:
        grammar: Lark grammar text (as given to ``lark.Lark``).
        start: the rule a whole text matches (any rule, not only Lark's start rules).
        prefix: put before every rule name (lowercase letters, digits and ``-``), so that the
            rules can be embedded in a larger grammar.
        spellings: terminal name -> the text to write it as, or a list of texts (each must match
            the terminal).
        words: terminal name -> the rule name under which it is spelled by the keyword-free word
            rule ``[A-Za-z][A-Za-z0-9_]*``.
        repeat: rule name -> the most items the repetition it is written with may have (Lark's
            ``x*`` and ``x+`` in the rule, or its own left recursion).
        token_repeat: the most times an unbounded repetition inside a token (a regex's ``+`` and
            ``*``, a word's tail) may repeat; ``None`` leaves them unbounded.

    Raises:
        ConfigurationError: the grammar does not load, an option names no terminal or rule,
            a spelling does not match its terminal, a regex cannot be translated, the grammar
            is left-recursive other than directly, or two rules get the same name.

    Example:
        >>> g = compile_lark('start: "(" start ")" | "x"\n%ignore " "')
        >>> print(g.to_gbnf(), end="")
        root ::= start
        start ::= "(" ws start ws ")" | "x"
        ws ::= " "?

    """
    spellings, words, repeat = dict(spellings or {}), dict(words or {}), dict(repeat or {})
    try:
        parser = Lark(grammar, parser="lalr", maybe_placeholders=False, start=start)
    except LarkError as err:
        raise ConfigurationError(f"the Lark grammar does not load: {err}") from None
    terminals = {t.name: t for t in parser.terminals}
    lark_rules = {r.origin.name for r in parser.rules}
    # Lark keeps only the terminals the entry uses; an option may name another one the text defines.
    defined = set(terminals) | set(re.findall(r"^\s*(_?[A-Z][A-Z0-9_]*)(?:\.-?\d+)?\s*:", grammar, re.MULTILINE))
    _check_options(prefix, repeat, token_repeat, lark_rules, defined, spellings=spellings, words=words)
    bnf, entry_empty = _without_empty(_lark_bnf(parser, start), start)
    bnf = _expand_overlapping_heads(bnf)
    used = sorted({s for alts in bnf.values() for alt in alts for s in alt if s not in bnf})
    spelled: dict[str, Expr] = {}
    terminal_first: dict[str, set[bool]] = {}
    terminal_last: dict[str, set[bool]] = {}
    for t in used:
        if t in words:
            for sample in _WORD_SAMPLES:
                _check_matches(t, terminals[t].pattern.to_regexp(), sample, "the word rule's")
            terminal_first[t], terminal_last[t] = {True}, {True}
        else:
            spelled[t] = _terminal_expr(t, terminals[t].pattern, spellings, token_repeat)
            terminal_first[t], terminal_last[t] = _word_edges(spelled[t])
    first, last = _edge_words(bnf, terminal_first, terminal_last)
    spaced = _with_separators(bnf, first, last)
    ignored = [terminals[name].pattern.to_regexp() for name in parser.ignore_tokens if name in terminals]
    separated = any(len(alt) > 1 for alts in spaced.values() for alt in alts)
    if separated and not any(re.fullmatch(regexp, " ") for regexp in ignored):  # our separator must be ignorable
        raise ConfigurationError("the grammar does not ignore a space; the GBNF compiler separates tokens with one")

    symbol: dict[str, Expr] = {_SP: Lit(" "), _WS: Ref(f"{prefix}ws")}
    token_rules: list[tuple[str, Expr]] = []
    for t in used:
        if t in words:
            symbol[t] = Ref(f"{prefix}{words[t]}")
        elif isinstance(spelled[t], Lit):
            symbol[t] = spelled[t]
        else:
            token_rules.append((_rule_name(prefix, t.lower()), spelled[t]))
            symbol[t] = Ref(token_rules[-1][0])
    names: dict[str, str] = {}
    for name in spaced:
        names[name] = _rule_name(prefix, name)
        symbol[name] = Ref(names[name])

    rules: list[tuple[str, Expr]] = []
    bounded: set[str] = set()
    for name, alternatives in spaced.items():
        recursive = [alt[1:] for alt in alternatives if alt[0] == name]
        base = [alt for alt in alternatives if alt[0] != name]
        body = _factor(base, symbol)
        if recursive:  # R ::= α | R β  becomes  R ::= α β*  (or β{0,n-1} with a bound of n items)
            base_name = name.partition("@")[0]
            helper = _HELPER.fullmatch(base_name)
            owner = helper.group(1) if helper else base_name
            limit = repeat.get(owner)
            bounded |= {owner} if limit is not None else set()
            body = seq([body, Repeat(_factor(recursive, symbol), 0, None if limit is None else limit - 1)])
        if name == start and entry_empty:
            body = Opt(body)
        rules.append((names[name], body))
    unused = sorted(set(repeat) - bounded)
    if unused:
        raise ConfigurationError(f"repeat names {', '.join(unused)}, which does not repeat anything")
    if any(_WS in alt for alts in spaced.values() for alt in alts):
        rules.append((f"{prefix}ws", Opt(Lit(" "))))
    for word_terminal in sorted(set(used) & set(words)):
        rules.append((f"{prefix}{words[word_terminal]}", Ref(f"{prefix}word")))
    rules.extend(token_rules)
    keywords, name_like = _keywords(terminals, words)
    unsafe = [t for t in used if t in name_like and t not in spellings]
    if unsafe and keywords:
        raise ConfigurationError(
            f"the terminal {unsafe[0]} can spell a keyword ({', '.join(keywords[:3])} …); give it a spelling, or "
            f"spell it with the keyword-free word rule: words={{{unsafe[0]!r}: 'name'}}"
        )
    if set(used) & set(words):
        ignore_case = any("(?i" in t.pattern.to_regexp() for name, t in terminals.items() if name not in words)
        rules.extend(_word_rules(prefix, keywords, ignore_case, token_repeat))
    rule_names = [name for name, _ in rules]
    if len(set(rule_names)) != len(rule_names):
        twice = sorted({n for n in rule_names if rule_names.count(n) > 1})
        raise ConfigurationError(f"two rules map to the GBNF name {twice[0]}; rename one or set a prefix")
    result = Grammar(names[start], tuple(rules))
    looping = left_recursive_rules(result)
    if looping:
        raise ConfigurationError(f"the grammar is left-recursive through {', '.join(sorted(looping))}")
    return result


def lark_to_gbnf(grammar: str, *, root: bool = True, **options: Any) -> str:
    r"""GBNF text for Lark ``grammar``: :func:`compile_lark` with ``options``, written out.

    With ``root`` the text starts with ``root ::= <start rule>``, as llama.cpp expects; without,
    it is rules to embed in a larger grammar.

    Example:
        >>> print(lark_to_gbnf('start: "yes" | "no"', root=False), end="")
        start ::= "yes" | "no"

    """
    compiled = compile_lark(grammar, **options)
    if root and "root" in compiled.rule_map:
        raise ConfigurationError("the grammar has a rule that becomes 'root'; set a prefix")
    return compiled.to_gbnf(root=root)
