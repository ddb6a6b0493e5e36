"""Property-based fuzzing of the MILP language parser: any text gives a Model or a ParseError, promptly.

Deterministic (derandomized, no example database), so a run is the same on every machine. Inputs
are bounded (a few thousand characters; MAX_MODEL_CHARS only past it), and a watchdog (SIGALRM)
turns a hang into a failure instead of a stuck test run.
"""

import signal
from contextlib import contextmanager

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurosym.errors import ParseError
from neurosym.milp.parser import MAX_MODEL_CHARS, parse_model
from neurosym.milp.syntax import Model

FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WATCHDOG_S = 20  # far above any parse here; only a hang reaches it
MAX_FUZZ_CHARS = 4000

# Valid models in the language's spellings (every statement kind), mutated below.
SEEDS = [
    "integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 40\n"
    "hours: 3 chairs + 2 tables <= 36",
    "integer a, b\nminimize a + b\nc1: 50 a + 70 b >= 1500\nc2: 60 a + 100 b <= 2000",
    "integer sled, truck\ncontinuous x in [0, 10]\nbinary open_a, open_b\nmaximize fish: 100 sled + 300 truck\n"
    "subject to\nbudget: 50 sled + 100 truck <= 1000\nfewer: sled < truck\nshare: x >= 20% (x + sled)\n"
    "range: 2 <= sled - x <= 9\nif open_a then x >= 3\nif open_a then open_b = 1\n"
    "either: sled <= 2 or truck >= 4\nat most 1 of open_a, open_b",
    "continuous x free; continuous y >= -2 <= 8\nminimise 3 * (x - y) / 2 + 2^3 y\nx + y == 4 # a comment",
    "variables:\ninteger n <= 7\nbinary b\nconstraints:\nmaximize n\nif not b then n <= 2\nexactly 1 of b\n// done",
    "integer x <= 3\nmaximize 5 - 2 x\nx >= 1",
]

# Lexemes of the grammar and near misses, so random sequences reach deep into the parser.
TOKENS = [
    "integer", "continuous", "binary", "free", "in", "[", "]", ",", "maximize", "minimize", "maximise",
    "subject to", "s.t.", "constraints", "variables", ":", ";", "\n", "<=", ">=", "=<", "=>", "==", "=", "<",
    ">", "≤", "≥", "+", "-", "−", "*", "·", "×", "/", "^", "**", "(", ")", "%", "or", "if", "then", "not",
    "at most", "at least", "exactly", "of", "inf", "-inf", "x", "y", "b", "_z", "x1", "0", "1", "2.5", ".5",
    "1e3", "1e400", "9" * 20, "#", "//", " ", "\t", "\r\n", "é", "\x00", "",
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
    """The Model, or the ParseError; any other exception (RecursionError, ValueError...) propagates."""
    with watchdog():
        try:
            return parse_model(text)
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
    assert isinstance(result, Model)
    # an accepted model renders to text that reads back to the same model
    assert outcome(result.render()) == result, result.render()
    return result


@st.composite
def mutated(draw):
    """A valid model with a few random edits: deletions, insertions, duplicated or swapped slices."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 8)))
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
    return text[:MAX_FUZZ_CHARS]


@FUZZ
@given(st.text(max_size=MAX_FUZZ_CHARS))
@example("")
@example("\x00")
@example("integer x\nmaximize " + "(" * 3000 + "x" + ")" * 3000)
@example("integer x\nmaximize x\n" + "-" * 3000 + "x <= 1")
def test_arbitrary_text(text):
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
def test_mutations_of_valid_models(text):
    check_one(text)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30).map(" ".join))
def test_valid_models_with_a_line_of_tokens_added(seed, line):
    check_one(f"{seed}\n{line}")


def test_the_seeds_are_valid_models():
    assert all(isinstance(check_one(seed), Model) for seed in SEEDS)


def test_past_the_size_bound_the_error_says_too_long():
    result = check_one(SEEDS[0] + "\n" + "# padding\n" * (MAX_MODEL_CHARS // 10))
    assert isinstance(result, ParseError) and "too long" in result.message
