r"""Checks on compiled grammars for the tests: read GBNF back, match and sample texts, ask llama.cpp. Not public API.

They live in the package because several test modules use them (tests load with
``--import-mode=importlib`` and cannot import each other).

* :func:`read_gbnf` reads the GBNF that :meth:`~neurosym.grammars.ebnf.Grammar.to_gbnf` writes
  back into a :class:`~neurosym.grammars.ebnf.Grammar`, so that checks run on the text itself;
* :class:`Recognizer` says whether a grammar generates a text (top-down over characters, every end
  position tracked; the grammar must have no left recursion, as llama.cpp requires);
* :class:`Sampler` expands a grammar at random, taking the shortest way out past a size;
* :class:`LlamaGrammarCheck` asks llama.cpp's own grammar engine whether it reads a grammar and
  accepts a text token by token (the embedded small model's vocabulary, loaded vocabulary-only).

Example:
    >>> g = read_gbnf('root ::= item\nitem ::= "a" [0-9]{1,2} ("," item)?\n')
    >>> Recognizer(g).matches("a1,a23"), Recognizer(g).matches("a123")
    (True, False)

"""

from __future__ import annotations

import ctypes
import math
import random
import re
from collections.abc import Sequence
from typing import Any

from neurosym.errors import ConfigurationError, MissingDependencyError
from neurosym.grammars.ebnf import Alt, Chars, Expr, Grammar, Lit, Opt, Ref, Repeat, Seq

__all__ = ["LlamaGrammarCheck", "Recognizer", "Sampler", "read_gbnf"]

# --- reading GBNF ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lit>"(?:[^"\\]|\\.)*")
    | (?P<cls>\[(?:[^\]\\]|\\.)*\])
    | (?P<name>[A-Za-z0-9-]+)
    | (?P<rep>\{\d+(?:,\d*)?\})
    | (?P<op>[()|?*+])
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]", "-": "-", "^": "^"}


def _unescape(body: str) -> list[tuple[str, bool]]:
    """Characters of a literal or class body, each with whether it was escaped."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            code = body[i + 1]
            if code == "x":
                out.append((chr(int(body[i + 2 : i + 4], 16)), True))
                i += 4
                continue
            out.append((_ESCAPES[code], True))
            i += 2
            continue
        out.append((ch, False))
        i += 1
    return out


def _chars(body: str) -> frozenset[str]:
    items = _unescape(body)
    if items and items[0] == ("^", False):
        raise ConfigurationError("negated classes are not read")
    chars: set[str] = set()
    i = 0
    while i < len(items):
        if i + 2 < len(items) and items[i + 1] == ("-", False):
            chars.update(chr(c) for c in range(ord(items[i][0]), ord(items[i + 2][0]) + 1))
            i += 3
        else:
            chars.add(items[i][0])
            i += 1
    return frozenset(chars)


class _Reader:
    def __init__(self, body: str):
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while body[pos:].strip():
            match = _TOKEN.match(body, pos)
            if match is None:
                raise ConfigurationError(f"cannot read GBNF at {body[pos : pos + 20]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def alternatives(self) -> Expr:
        options = [self.sequence()]
        while self.peek() == ("op", "|"):
            self.i += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self) -> Expr:
        items: list[Expr] = []
        while self.peek()[0] != "end" and self.peek() not in (("op", "|"), ("op", ")")):
            items.append(self.postfix(self.atom()))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def atom(self) -> Expr:
        kind, text = self.peek()
        self.i += 1
        if kind == "lit":
            return Lit("".join(ch for ch, _ in _unescape(text[1:-1])))
        if kind == "cls":
            return Chars(_chars(text[1:-1]))
        if kind == "name":
            return Ref(text)
        if (kind, text) == ("op", "("):
            inner = self.alternatives()
            if self.peek() != ("op", ")"):
                raise ConfigurationError("unclosed group")
            self.i += 1
            return inner
        raise ConfigurationError(f"unexpected {text!r}")

    def postfix(self, item: Expr) -> Expr:
        while True:
            kind, text = self.peek()
            if (kind, text) == ("op", "?"):
                item = Opt(item)
            elif (kind, text) in (("op", "*"), ("op", "+")):
                item = Repeat(item, 0 if text == "*" else 1, None)
            elif kind == "rep":
                low, _, high = text[1:-1].partition(",")
                top = int(low) if not _ else (int(high) if high else None)
                item = Repeat(item, int(low), top)
            else:
                return item
            self.i += 1


def read_gbnf(text: str) -> Grammar:
    r"""A grammar from GBNF text (the subset ``to_gbnf`` writes); ``root ::= x`` makes ``x`` the entry.

    Example:
        >>> g = read_gbnf('root ::= a\na ::= "x" | [a-c]+\n')
        >>> g.entry, g.rule_map["a"] == Alt((Lit("x"), Repeat(Chars(frozenset("abc")), 1)))
        ('a', True)

    """
    rules: list[tuple[str, Expr]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, body = line.partition(" ::= ")
        if not sep:
            raise ConfigurationError(f"not a GBNF rule: {line!r}")
        reader = _Reader(body)
        expr = reader.alternatives()
        if reader.peek()[0] != "end":
            raise ConfigurationError(f"cannot read the rule {name}")
        rules.append((name.strip(), expr))
    if rules and rules[0][0] == "root" and isinstance(rules[0][1], Ref):
        return Grammar(rules[0][1].name, tuple(rules[1:]))
    return Grammar(rules[0][0], tuple(rules))


# --- matching -------------------------------------------------------------------------------------


class Recognizer:
    """Does the grammar generate ``text``? Top-down over characters, tracking every end position.

    The grammar has no left recursion, so each (rule, position) is computed once from smaller
    problems; no part of the grammar is re-expressed in another formalism.

    Example:
        >>> Recognizer(read_gbnf('root ::= "a"+')).matches("aaa")
        True

    """

    def __init__(self, grammar: Grammar):
        self.rules = grammar.rule_map
        self.entry = grammar.entry
        self.empty: set[str] = set()  # rules that match the empty text
        self.first: dict[str, set[str]] = {name: set() for name in self.rules}  # characters a rule starts with
        changed = True
        while changed:
            changed = False
            for name, body in self.rules.items():
                empty, first = self._edge(body)
                if (empty and name not in self.empty) or not first <= self.first[name]:
                    self.empty |= {name} if empty else set()
                    self.first[name] |= first
                    changed = True

    def _edge(self, expr: Expr) -> tuple[bool, set[str]]:
        """Whether ``expr`` may match nothing, and the characters it may start with (so far)."""
        if isinstance(expr, Lit):
            return not expr.text, set(expr.text[:1])
        if isinstance(expr, Chars):
            return False, set(expr.chars)
        if isinstance(expr, Ref):
            return expr.name in self.empty, self.first[expr.name]
        if isinstance(expr, (Opt, Repeat)):
            empty, first = self._edge(expr.item)
            return empty or isinstance(expr, Opt) or expr.low == 0, first
        if isinstance(expr, Alt):
            edges = [self._edge(option) for option in expr.options]
            return any(e for e, _ in edges), set().union(*(f for _, f in edges))
        out: set[str] = set()
        for item in expr.items:
            empty, first = self._edge(item)
            out |= first
            if not empty:
                return False, out
        return True, out

    def matches(self, text: str) -> bool:
        """Whether the entry rule generates exactly ``text``."""
        memo: dict[tuple[str, int], set[int] | None] = {}

        def ends(expr: Expr, pos: int) -> set[int]:
            if isinstance(expr, Lit):
                return {pos + len(expr.text)} if text.startswith(expr.text, pos) else set()
            if isinstance(expr, Chars):
                return {pos + 1} if pos < len(text) and text[pos] in expr.chars else set()
            if isinstance(expr, Ref):
                if expr.name not in self.empty and (pos >= len(text) or text[pos] not in self.first[expr.name]):
                    return set()  # cannot start here: skip the rule without looking inside
                key = (expr.name, pos)
                if key not in memo:
                    memo[key] = None  # a cycle here would be left recursion
                    memo[key] = ends(self.rules[expr.name], pos)
                found = memo[key]
                if found is None:
                    raise ConfigurationError(f"left recursion through {expr.name}")
                return found
            if isinstance(expr, Seq):
                positions = {pos}
                for item in expr.items:
                    positions = {e for p in positions for e in ends(item, p)}
                return positions
            if isinstance(expr, Alt):
                return {e for option in expr.options for e in ends(option, pos)}
            if isinstance(expr, Opt):
                return {pos} | ends(expr.item, pos)
            reached = {pos} if expr.low == 0 else set()
            frontier, count = {pos}, 0
            while frontier and (expr.high is None or count < expr.high):
                frontier = {e for p in frontier for e in ends(expr.item, p)}
                count += 1
                if expr.high is None:
                    frontier -= reached  # unbounded: a position seen once needs no second visit
                if count >= expr.low:
                    reached |= frontier
            return reached

        return len(text) in ends(Ref(self.entry), 0)


class Sampler:
    """Expand a grammar at random; past ``max_depth`` rule references or a drawn size, take the shortest way out.

    Every sample is finite and most are small.

    Example:
        >>> s = Sampler(read_gbnf('root ::= "(" root ")" | "x"'), seed=1)
        >>> all(Recognizer(s.grammar).matches(s.sample()) for _ in range(20))
        True

    """

    def __init__(
        self, grammar: Grammar, seed: int, max_depth: int = 40, max_chars: Sequence[int] = (8, 20, 40, 80, 160)
    ):
        self.grammar = grammar
        self.rules = grammar.rule_map
        self.rng = random.Random(seed)
        self.max_depth = max_depth
        self.max_chars = max_chars
        self.size = 0
        self.limit = 0
        self.cost = self._min_costs()
        self._cheapest: dict[int, Expr] = {}

    def _min_costs(self) -> dict[str, float]:
        cost = dict.fromkeys(self.rules, math.inf)
        changed = True
        while changed:
            changed = False
            for name, body in self.rules.items():
                value = self._expr_cost(body, cost)
                if value < cost[name]:
                    cost[name], changed = value, True
        never = [name for name, c in cost.items() if c == math.inf]
        if never:
            raise ConfigurationError(f"rules that never terminate: {never}")
        return cost

    def _expr_cost(self, expr: Expr, cost: dict[str, float]) -> float:
        if isinstance(expr, (Lit, Chars)):
            return 0
        if isinstance(expr, Ref):
            return cost[expr.name] + 1
        if isinstance(expr, Seq):
            return max(self._expr_cost(item, cost) for item in expr.items)
        if isinstance(expr, Alt):
            return min(self._expr_cost(option, cost) for option in expr.options)
        if isinstance(expr, Repeat) and expr.low > 0:
            return self._expr_cost(expr.item, cost)
        return 0  # Opt and Repeat from 0 may be empty

    def sample(self) -> str:
        """One random text of the grammar."""
        out: list[str] = []
        self.size = 0
        self.limit = self.rng.choice(self.max_chars)
        self._expand(Ref(self.grammar.entry), 0, out)
        return "".join(out)

    def _expand(self, expr: Expr, depth: int, out: list[str]) -> None:
        deep = depth > self.max_depth or self.size > self.limit
        if isinstance(expr, Lit):
            out.append(expr.text)
            self.size += len(expr.text)
        elif isinstance(expr, Chars):
            out.append(self.rng.choice(sorted(expr.chars)))
            self.size += 1
        elif isinstance(expr, Ref):
            self._expand(self.rules[expr.name], depth + 1, out)
        elif isinstance(expr, Seq):
            for item in expr.items:
                self._expand(item, depth, out)
        elif isinstance(expr, Alt):
            if deep:
                if id(expr) not in self._cheapest:
                    self._cheapest[id(expr)] = min(expr.options, key=lambda o: self._expr_cost(o, self.cost))
                option = self._cheapest[id(expr)]
            else:
                option = self.rng.choice(expr.options)
            self._expand(option, depth, out)
        elif isinstance(expr, Opt):
            if not deep and self.rng.random() < 0.5:
                self._expand(expr.item, depth, out)
        else:
            extra = 0 if deep else self.rng.choice([0, 0, 1, 1, 2, 3])
            count = expr.low + extra if expr.high is None else min(expr.high, expr.low + extra)
            for _ in range(count):
                self._expand(expr.item, depth, out)


# --- llama.cpp ------------------------------------------------------------------------------------


class LlamaGrammarCheck:
    """llama.cpp's grammar engine on the small embedded model's vocabulary (loaded vocabulary-only).

    Raises:
        MissingDependencyError: llama-cpp-python or the small model is not installed.

    """

    def __init__(self) -> None:
        try:
            import llama_cpp
        except ImportError as err:
            raise MissingDependencyError(f"llama-cpp-python is not installed: {err}") from None
        from neurosym.translators.models import ensure_model

        path = ensure_model("small", progress=False)
        self.llama_cpp = llama_cpp
        self._llama = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)  # owns the vocabulary
        self.vocab = self._llama._model.vocab
        self.eos = llama_cpp.llama_vocab_eos(self.vocab)

    def _sampler(self, grammar: str) -> Any:
        return self.llama_cpp.llama_sampler_init_grammar(self.vocab, grammar.encode("utf-8"), b"root")

    def compiles(self, grammar: str) -> bool:
        """Whether llama.cpp's GBNF parser reads ``grammar`` (rules defined, no left recursion, a root)."""
        sampler = self._sampler(grammar)
        if not sampler:
            return False
        self.llama_cpp.llama_sampler_free(sampler)
        return True

    def accepts(self, grammar: str, texts: Sequence[str]) -> list[bool]:
        """For each text, whether the grammar lets the model write it (as the model's tokens) and then stop."""
        lib = self.llama_cpp
        sampler = self._sampler(grammar)
        if not sampler:
            raise ConfigurationError("llama.cpp does not read the grammar")
        try:
            return [self._accepts(sampler, text) for text in texts]
        finally:
            lib.llama_sampler_free(sampler)

    def _accepts(self, sampler: Any, text: str) -> bool:
        lib = self.llama_cpp
        lib.llama_sampler_reset(sampler)  # back to the grammar's start
        tokens = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        for token in [*tokens, self.eos]:
            data = (lib.llama_token_data * 1)(lib.llama_token_data(token, 0.0, 0.0))
            candidates = lib.llama_token_data_array(data, 1, -1, False)
            lib.llama_sampler_apply(sampler, ctypes.byref(candidates))
            if data[0].logit == -math.inf:  # the grammar masked the token
                return False
            if token != self.eos:
                lib.llama_sampler_accept(sampler, token)
        return True
