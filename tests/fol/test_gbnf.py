import json
import random
import re
from functools import cache
from pathlib import Path

import pytest

from neurosym.errors import ConfigurationError, ParseError
from neurosym.fol import parse_formula, to_text
from neurosym.fol.gbnf import (
    _Alt,
    _Chars,
    _formula_grammar,
    _Lit,
    _Opt,
    _Ref,
    _Seq,
    _Star,
    formula_gbnf,
    formula_root_gbnf,
)
from neurosym.fol.syntax import Exists, Forall, Pred, iter_formulas, iter_terms

# ../shared/data/... relative to the repository root (tests/fol/ is two levels below it).
FOLIO_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "logic" / "FOLIO" / "folio-v0.0"
FOLIO_VALIDATION = FOLIO_DIR / "folio-validation.jsonl"
KEYWORDS = {"forall", "all", "exists", "not", "and", "or", "xor", "implies", "iff"}
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


# --- a random generator over the intermediate grammar --------------------------------------------


class Generator:
    """Expand the grammar at random; past ``max_depth`` rule references or ``max_chars`` characters
    of output, take the shortest way out (so every sample is finite and most are small)."""

    def __init__(self, grammar, seed, max_depth=40, max_chars=(8, 20, 40, 80, 160)):
        self.rules = dict(grammar.rules)
        self.entry = grammar.entry
        self.rng = random.Random(seed)
        self.max_depth = max_depth
        self.max_chars = max_chars
        self.size = 0
        self.cost = self._min_costs()
        self._cheapest = {}

    def _min_costs(self):
        cost = dict.fromkeys(self.rules, float("inf"))
        changed = True
        while changed:
            changed = False
            for name, body in self.rules.items():
                value = self._expr_cost(body, cost)
                if value < cost[name]:
                    cost[name], changed = value, True
        assert all(c < float("inf") for c in cost.values()), "a rule never terminates"
        return cost

    def _expr_cost(self, expr, cost):
        if isinstance(expr, (_Lit, _Chars)):
            return 0
        if isinstance(expr, _Ref):
            return cost[expr.name] + 1
        if isinstance(expr, _Seq):
            return max(self._expr_cost(item, cost) for item in expr.items)
        if isinstance(expr, _Alt):
            return min(self._expr_cost(option, cost) for option in expr.options)
        return 0  # _Opt and _Star may be empty

    def sample(self):
        out = []
        self.size = 0
        self.limit = self.rng.choice(self.max_chars)
        self._expand(_Ref(self.entry), 0, out)
        return "".join(out)

    def _expand(self, expr, depth, out):
        deep = depth > self.max_depth or self.size > self.limit
        if isinstance(expr, _Lit):
            out.append(expr.text)
            self.size += len(expr.text)
        elif isinstance(expr, _Chars):
            out.append(self.rng.choice(sorted(expr.chars)))
            self.size += 1
        elif isinstance(expr, _Ref):
            self._expand(self.rules[expr.name], depth + 1, out)
        elif isinstance(expr, _Seq):
            for item in expr.items:
                self._expand(item, depth, out)
        elif isinstance(expr, _Alt):
            if deep:
                if id(expr) not in self._cheapest:
                    self._cheapest[id(expr)] = min(expr.options, key=lambda o: self._expr_cost(o, self.cost))
                option = self._cheapest[id(expr)]
            else:
                option = self.rng.choice(expr.options)
            self._expand(option, depth, out)
        elif isinstance(expr, _Opt):
            if not deep and self.rng.random() < 0.5:
                self._expand(expr.item, depth, out)
        elif isinstance(expr, _Star):
            for _ in range(0 if deep else self.rng.choice([0, 0, 1, 1, 2, 3])):
                self._expand(expr.item, depth, out)
        else:  # pragma: no cover
            raise TypeError(expr)


@cache
def generated_strings(count=2500, seed=1234):
    generator = Generator(_formula_grammar(), seed)
    return tuple(generator.sample() for _ in range(count))


def test_every_generated_string_parses():
    strings = generated_strings()
    assert len(strings) >= 2000
    failures = []
    for text in strings:
        try:
            parse_formula(text)
        except ParseError as err:
            failures.append((text, err.message))
    assert not failures, failures[:5]


def test_generated_strings_cover_the_grammar():
    strings = generated_strings()
    joined = "".join(strings)
    for symbol in "∀∃¬∧∨⊕→↔=≠.,()[]":
        assert symbol in joined, symbol
    assert len(set(strings)) > 1500
    assert any(len(s) > 80 for s in strings)
    # Spaces: only single ones, never at the ends, never a newline.
    assert all("  " not in s and s == s.strip() and "\n" not in s for s in strings)
    # Names that start like a keyword but are not one ("a", "fo", "nota") are produced.
    words = set(re.findall(r"\w+", joined))
    assert words & {"a", "i", "o", "f", "n", "e", "x"}
    assert not words & KEYWORDS


def test_generated_strings_are_recognized():
    assert all(matches(text) for text in generated_strings()[:600])


# --- the grammar accepts the gold formulas --------------------------------------------------------


class Recognizer:
    """Does the grammar generate ``text``? Top-down over characters, tracking every end position.

    The grammar has no left recursion, so each (rule, position) is computed once from smaller
    problems; no part of the grammar is re-expressed in another formalism.
    """

    def __init__(self, grammar):
        self.rules = dict(grammar.rules)
        self.entry = grammar.entry

    def matches(self, text):
        memo = {}

        def ends(expr, pos):
            if isinstance(expr, _Lit):
                return {pos + len(expr.text)} if text.startswith(expr.text, pos) else set()
            if isinstance(expr, _Chars):
                return {pos + 1} if pos < len(text) and text[pos] in expr.chars else set()
            if isinstance(expr, _Ref):
                key = (expr.name, pos)
                if key not in memo:
                    memo[key] = None  # a cycle here would be left recursion
                    memo[key] = ends(self.rules[expr.name], pos)
                assert memo[key] is not None, f"left recursion through {expr.name}"
                return memo[key]
            if isinstance(expr, _Seq):
                positions = {pos}
                for item in expr.items:
                    positions = {e for p in positions for e in ends(item, p)}
                return positions
            if isinstance(expr, _Alt):
                return {e for option in expr.options for e in ends(option, pos)}
            if isinstance(expr, _Opt):
                return {pos} | ends(expr.item, pos)
            result, frontier = {pos}, {pos}  # _Star
            while frontier:
                frontier = {e for p in frontier for e in ends(expr.item, p)} - result
                result |= frontier
            return result

        return len(text) in ends(_Ref(self.entry), 0)


@cache
def recognizer():
    return Recognizer(_formula_grammar())


def matches(text):
    return recognizer().matches(text)


def names_fit(formula):
    names = set()
    for g in iter_formulas(formula):
        if isinstance(g, Pred):
            names.add(g.name)
        elif isinstance(g, (Forall, Exists)):
            names.add(g.var)
    names.update(t.name for t in iter_terms(formula))  # constants, variables and function symbols
    return all(NAME.fullmatch(n) and n not in KEYWORDS for n in names)


def folio_formulas():
    with FOLIO_VALIDATION.open(encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle if line.strip()]
    for item in items:
        yield from item["premises-FOL"]
        yield item["conclusion-FOL"]


@pytest.mark.skipif(not FOLIO_VALIDATION.exists(), reason=f"FOLIO validation data missing: {FOLIO_VALIDATION}")
def test_gold_folio_formulas_match_the_grammar():
    checked, rejected = 0, []
    for raw in folio_formulas():
        try:
            formula = parse_formula(raw)
        except ParseError:
            continue
        if not names_fit(formula):
            continue
        text = to_text(formula)
        checked += 1
        if not matches(text):
            rejected.append(text)
    assert not rejected, rejected[:5]
    assert checked > 1200  # 1257 of the 1282 gold formulas that parse


@pytest.mark.parametrize(
    "text",
    [
        "P(a)",
        "∀x (Dog(x) → ∃y (Owner(y, x) ∧ y ≠ x))",
        "∀x(P(x))",
        "∀x ∀y P(x,y)",
        "∀x,y. P(x) ⊕ [Q(y) ↔ ¬R]",
        "f(a) = b",
        "alpha ∧ notable ∧ orca ∧ a ∧ al ∧ an ∧ fo",
    ],
)
def test_matches(text):
    assert matches(text)
    parse_formula(text)


@pytest.mark.parametrize(
    "text",
    [
        "all x. P(x)",  # ASCII keywords are not generated
        "P(x) & Q(x)",
        "∀x P(x) →",  # incomplete
        "P(and)",  # a keyword as a name
        "P(x)  ∧ Q(x)",  # at most one space
        "P(x) ∧\nQ(x)",
        " P(x)",
        "P(x).",
        "Risk-averse(x)",  # outside the name class
        "P(x) ⇒ Q(x)",
    ],
)
def test_rejects(text):
    assert not matches(text)


# --- the text form ---------------------------------------------------------------------------------


def test_formula_gbnf_has_no_root_and_uses_the_prefix():
    text = formula_gbnf("logic-")
    assert "root" not in text
    names = [line.split(" ::= ")[0] for line in text.splitlines()]
    assert names[0] == "logic-formula"
    assert all(n.startswith("logic-") for n in names)
    assert len(names) == len(set(names))
    referenced = set(re.findall(r"(?<![\w\"-])logic-[a-z0-9-]+", text))
    assert referenced <= set(names)


def test_root_grammar():
    text = formula_root_gbnf()
    assert text.startswith("root ::= fol-formula\n")
    assert text[len("root ::= fol-formula\n") :] == formula_gbnf()
    # ASCII spellings of the connectives never appear as literals.
    literals = set(re.findall(r'"((?:[^"\\]|\\.)*)"', text))
    assert literals & {"->", "&", "|", "~", "forall", "all", "not"} == set()


@pytest.mark.parametrize("prefix", ["", "Fol-", "fol_", "-x"])
def test_bad_prefix(prefix):
    with pytest.raises(ConfigurationError):
        formula_gbnf(prefix)


def test_llama_cpp_accepts_the_grammar():
    """llama.cpp's own GBNF parser accepts the grammar (and rejects broken ones, so the check bites).

    ``LlamaGrammar.from_string`` only stores the text; llama.cpp parses it when a grammar sampler
    is built, which needs a vocabulary, so a vocabulary-only load of the small model is used.
    """
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from neurosym.errors import MissingDependencyError
    from neurosym.translators.models import ensure_model

    try:
        path = ensure_model("small", progress=False)
    except MissingDependencyError as err:
        pytest.skip(f"the small model's slices are not installed: {err}")
    grammar = llama_cpp.LlamaGrammar.from_string(formula_root_gbnf(), verbose=False)
    vocab_only = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    vocab = vocab_only._model.vocab

    def compiles(text):
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    assert compiles(grammar._grammar)
    assert compiles("root ::= x-formula\n" + formula_gbnf("x-"))
    assert not compiles("root ::= (")
    assert not compiles('root ::= r\nr ::= r "a" | "b"')  # llama.cpp refuses left recursion
