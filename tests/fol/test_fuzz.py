"""Property-based fuzzing of the FOL parser: any text gives a Formula or a ParseError, promptly.

Deterministic (derandomized, no example database) so a run is the same on every machine. A
watchdog (SIGALRM) turns a hang into a failure instead of a stuck test run; parsing is linear, so
even the largest inputs here take well under a second.
"""

import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurosym.errors import ParseError
from neurosym.fol import parse_formula, parse_formulas, to_text
from neurosym.fol.parser import MAX_DEPTH, MAX_FORMULA_CHARS
from neurosym.fol.syntax import Pred

FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WATCHDOG_S = 20  # far above any parse here; only a hang reaches it

# Valid formulas in the spellings of FOLIO, LINC and Logic-LM, mutated below.
SEEDS = [
    "∀x (Dog(x) → Animal(x))",
    "∃y (Owner(y, rex) ∧ y ≠ rex)",
    "all x. (P(x) -> Q(x) | -R(x))",
    "¬(A ∧ B) ↔ ¬A ∨ ¬B",
    "∀x ∀y (Loves(x, y) ⊕ Hates(x, f(y)))",
    "exists x (Risk-averse(x) & gpt-3(x))",
    "P(a) xor Q(b) => R(c)",
    "[A ∧ B] → (C ∨ D)",
    "f(g(a), b) = c",
    "∀x (Company(x) ∧ ¬Public(x) → ∃y (Owns(y, x)))",
]

# Lexemes of the grammar and near misses, so random sequences reach deep into the parser.
TOKENS = [
    "∀", "∃", "¬", "∧", "∨", "→", "↔", "⊕", "⊻", "forall", "all", "exists", "not", "and", "or", "xor",
    "implies", "iff", "~", "-", "&", "&&", "|", "||", "^", "/\\", "\\/", "->", "=>", "<->", "<=>", "⇒",
    "⇔", "=", "≠", "!=", ".", ",", "(", ")", "[", "]", "x", "y", "P", "Q", "a", "b", "f", "Dog", "x1",
    "mr.smith", "c++", "Companies’Stocks", "'", "’", "+", "$", "@", "\n", " ", "\t", "0", "42", "",
]  # fmt: skip


@contextmanager
def watchdog(seconds=WATCHDOG_S):
    """Fail (TimeoutError) instead of hanging when the body runs longer than ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError(f"the parser ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(text):
    """The Formula, or the ParseError; any other exception (RecursionError included) propagates."""
    with watchdog():
        try:
            return parse_formula(text)
        except ParseError as err:
            return err


def check_one(text):
    result = outcome(text)
    if isinstance(result, ParseError):
        # a readable error: a message, and a position inside the text when one is given
        assert result.message
        line, column = result.context.get("line"), result.context.get("column")
        if line is not None:
            assert 1 <= line <= text.count("\n") + 1
            assert column >= 1
        return result
    # an accepted formula prints to text that parses back to the same formula
    printed = to_text(result)
    assert outcome(printed) == result, printed
    return result


@st.composite
def mutated(draw):
    """A valid formula with a few random edits: deletions, insertions, duplicated or swapped slices."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 6)))
        edit = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "replace"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "insert":
            text = text[:i] + draw(st.sampled_from(TOKENS)) + text[i:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] * draw(st.integers(1, 50)) + text[j:]
        elif edit == "swap" and j > i:
            text = text[:i] + text[i:j][::-1] + text[j:]
        else:
            text = text[:i] + draw(st.text(max_size=3)) + text[j:]
    return text


NESTINGS = ["brackets", "square", "not", "forall", "function", "and", "implies", "mixed"]


@st.composite
def nested(draw, depths=None):
    """Deep nesting of every construct, balanced or not; by default depths around the limit."""
    depth = draw(depths if depths is not None else st.integers(0, 2 * MAX_DEPTH + 100))
    core = draw(st.sampled_from(["P(a)", "A", "a = b", "P(x)", "", "∧"]))
    kind = draw(st.sampled_from(NESTINGS))
    if kind == "brackets":
        closing = draw(st.integers(max(0, depth - 2), depth + 2))
        return "(" * depth + core + ")" * closing
    if kind == "square":
        return "[" * depth + core + "]" * depth
    if kind == "not":
        return "¬" * depth + core
    if kind == "forall":
        return "∀x " * depth + core
    if kind == "function":
        return "P(" + "f(" * depth + "a" + ")" * (depth + 1)
    if kind == "and":
        return "(A ∧ " * depth + core + ")" * depth
    if kind == "implies":
        return " → ".join([core or "A"] * (depth + 1))
    return "".join(draw(st.sampled_from(["(", "¬", "∀x ", "[", "f("])) for _ in range(min(depth, 2000))) + core


@FUZZ
@given(st.text(max_size=3000))
@example("")
@example("\x00")
@example("∀" * 5000)
@example("(" * 10_000 + "P(a)" + ")" * 10_000)
def test_arbitrary_unicode_text(text):
    check_one(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=400).map(" ".join))
def test_token_soup(text):
    check_one(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=400).map("".join))
def test_token_soup_without_spaces(text):
    check_one(text)


@FUZZ
@given(mutated())
def test_mutations_of_valid_formulas(text):
    check_one(text)


@FUZZ
@given(nested())
def test_deep_nesting_never_crashes(text):
    check_one(text)


@settings(FUZZ, max_examples=24)  # each of these parses tens of thousands of tokens
@given(nested(depths=st.sampled_from([5_000, 10_000])))
def test_ten_thousand_deep_nesting_never_crashes(text):
    check_one(text)


@FUZZ
@given(st.integers(1, 600), st.sampled_from(["P(a) ∧ ", "Q(a, b) ∨ ", "¬R → ", "x = y ↔ ", "P(a) ∧ ("]))
def test_many_tokens(count, piece):
    check_one(piece * count + "P(a)")


@pytest.mark.parametrize("piece", ["P(a) ∧ ", "Q(a, b) ∨ ", "¬A ∨ "])
@pytest.mark.parametrize("side", [-1, 1])
def test_the_longest_formulas_parse_or_are_refused_as_too_long(piece, side):
    count = (MAX_FORMULA_CHARS - len("P(a)")) // len(piece) + (1 if side > 0 else 0)
    text = piece * count + "P(a)"
    result = outcome(text)
    if side > 0:
        assert isinstance(result, ParseError) and "too long" in result.message
    else:
        assert len(text) <= MAX_FORMULA_CHARS and not isinstance(result, ParseError)


@FUZZ
@given(st.lists(st.one_of(mutated(), st.sampled_from(SEEDS)), max_size=5))
def test_parse_formulas_names_the_failing_formula(texts):
    with watchdog():
        try:
            formulas = parse_formulas(texts)
        except ParseError as err:
            index = err.context["formula_index"]
            assert isinstance(outcome(texts[index]), ParseError)
            assert not any(isinstance(outcome(t), ParseError) for t in texts[:index])  # the first failure
            return
    assert formulas == [outcome(t) for t in texts]


@pytest.mark.parametrize(
    "text",
    [
        "¬" * 10_000 + "P(a)",
        "∀x " * 10_000 + "P(x)",
        "P(" + "f(" * 10_000 + "a" + ")" * 10_001,
        "(A ∧ " * 10_000 + "B" + ")" * 10_000,
    ],
)
def test_ten_thousand_levels_are_a_parse_error(text):
    result = outcome(text)
    assert isinstance(result, ParseError)
    assert "nested too deeply" in result.message and str(MAX_DEPTH) in result.message


def test_ten_thousand_redundant_brackets_are_the_atom():
    # Redundant brackets build no nesting (see test_parser): accepted quickly, not a crash.
    assert outcome("(" * 10_000 + "P(a)" + ")" * 10_000) == parse_formula("P(a)")
    assert outcome("(" * 10_000 + "P(a) ∧ Q(a)" + ")" * 10_000) == parse_formula("P(a) ∧ Q(a)")
    assert isinstance(outcome("(" * 10_000 + "P(a)" + ")" * 9_999), ParseError)
    assert isinstance(outcome("(" * 10_000 + "P(a)"), ParseError)
    assert outcome("[" * 10_000 + "A" + "]" * 10_000) == Pred("A")
