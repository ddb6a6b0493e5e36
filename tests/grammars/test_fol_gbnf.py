"""The FOL formula grammar compiled from fol.lark: it generates only formulas that parse, and accepts the gold ones."""

import json
import re
from functools import cache
from pathlib import Path

import pytest

from neurosym.errors import ConfigurationError, MissingDependencyError, ParseError
from neurosym.fol import parse_formula, to_text
from neurosym.fol.gbnf import _formula_grammar, formula_gbnf, formula_root_gbnf
from neurosym.fol.syntax import Exists, Forall, Pred, iter_formulas, iter_terms
from neurosym.grammars._testing import LlamaGrammarCheck, Recognizer, Sampler, read_gbnf

# ../shared/data/... relative to the repository root (tests/grammars/ is two levels below it).
FOLIO_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "logic" / "FOLIO" / "folio-v0.0"
FOLIO_VALIDATION = FOLIO_DIR / "folio-validation.jsonl"
LOGIC_CASSETTE = Path(__file__).resolve().parents[2] / "benchmarks" / "cassettes" / "logic_loop.jsonl"
KEYWORDS = {"forall", "all", "exists", "not", "and", "or", "xor", "implies", "iff"}
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


# --- random formulas from the grammar ------------------------------------------------------------


@cache
def generated_strings(count=2500, seed=1234):
    generator = Sampler(_formula_grammar(), seed)
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


def test_the_text_reads_back_as_the_grammar():
    assert read_gbnf(formula_root_gbnf()) == _formula_grammar()


def test_the_grammar_is_the_one_the_logic_cassette_was_recorded_with():
    # The grammar text is part of every recorded request's key: it must not change by a byte.
    recorded = set()
    with LOGIC_CASSETTE.open(encoding="utf-8") as handle:
        for line in handle:
            constraint = json.loads(line)["request"].get("constraint")
            if (
                constraint
                and constraint["kind"] == "grammar"
                and "s-formula" not in constraint["value"]
                and "sig-" not in constraint["value"]
            ):
                recorded.add(constraint["value"])  # the whole layout's (logic_loop_declare's have their own grammar)
    assert recorded, "the cassette has constrained requests"
    assert all(text.endswith("\n" + formula_gbnf()) for text in recorded)


@pytest.fixture(scope="module")
def llama():
    try:
        return LlamaGrammarCheck()
    except MissingDependencyError as err:
        pytest.skip(f"llama-cpp-python or the small model is not installed: {err}")


def test_llama_cpp_reads_the_grammar(llama):
    """llama.cpp's own GBNF parser accepts the grammar (and rejects broken ones, so the check bites)."""
    assert llama.compiles(formula_root_gbnf())
    assert llama.compiles("root ::= x-formula\n" + formula_gbnf("x-"))
    assert not llama.compiles("root ::= (")
    assert not llama.compiles('root ::= r\nr ::= r "a" | "b"')  # llama.cpp refuses left recursion


def test_llama_cpp_accepts_formulas_and_rejects_others(llama):
    # Formulas as a model writes them (random samples nest quantifiers in ways that make llama.cpp
    # follow very many parses at once, which is slow and says nothing about the grammar).
    good = [
        "∀x (Dog(x) → Animal(x))",
        "Dog(rex)",
        "∃x (Cat(x) ∧ ¬Owner(x, tom))",
        "∀x ∀y (Parent(x, y) → Older(x, y)) ⊕ Young(ann)",
        "f(a) = b ∨ [P ↔ Q]",
    ]
    bad = ["P(x)  ∧ Q(x)", "all x. P(x)", "P(and)", "∀x P(x) →"]
    assert llama.accepts(formula_root_gbnf(), good + bad) == [True] * len(good) + [False] * len(bad)
