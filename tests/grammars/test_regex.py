"""Terminals' regular expressions as grammar expressions: a subset of what they match, and the words they reserve."""

from __future__ import annotations

import re

import pytest
from lark import Lark

from neurosym.errors import ConfigurationError
from neurosym.fol.parser import grammar_text as fol_grammar
from neurosym.grammars import Grammar
from neurosym.grammars._testing import Recognizer, Sampler
from neurosym.grammars.ebnf import Chars, Lit, Opt, Repeat, Seq, render_expr
from neurosym.grammars.regex import edge_chars, leading_words, nullable, regex_expr
from neurosym.milp.parser import grammar_text as milp_grammar


def translatable_patterns() -> list[str]:
    """Every terminal regex of the FOL and MILP grammars that the compiler translates."""
    out = []
    for text in (fol_grammar(), milp_grammar()):
        for terminal in Lark(text, parser="lalr").terminals:
            pattern = terminal.pattern.to_regexp()
            try:
                regex_expr(pattern)
            except ConfigurationError:
                continue
            out.append(pattern)
    return out


@pytest.mark.parametrize(
    ("pattern", "gbnf"),
    [
        (r"abc", '"abc"'),
        (r"a|bc", '"a" | "bc"'),
        (r"[a-cx]", "[a-cx]"),
        (r"\d+", "[0-9]+"),
        (r"\d*", "[0-9]*"),
        (r"x{2,5}", '"x"{2,5}'),
        (r"x{3}", '"x"{3}'),
        (r"(ab)?c", '"ab"? "c"'),
        (r"(?i:if\b)", '"if"'),
        (r"forall(?!\w)", '"forall"'),
        (r"\bword", '"word"'),
        (r"\r?\n", '"\\r"? "\\n"'),
        (r"[\t ]", "[\\t ]"),
        (r"(a|)", '"a"?'),
    ],
)
def test_regex_expr(pattern, gbnf):
    assert render_expr(regex_expr(pattern)) == gbnf


def test_unbounded_repetition_is_capped_on_request():
    assert render_expr(regex_expr(r"\d+(\.\d*)?", max_repeat=3)) == '[0-9]{1,3} ("." [0-9]{0,3})?'
    assert render_expr(regex_expr(r"x{5,}", max_repeat=3)) == '"x"{5}'  # never below the least count


def test_samples_of_every_translated_terminal_match_it():
    patterns = translatable_patterns()
    assert len(patterns) > 30
    for pattern in patterns:
        for cap in (None, 4):
            grammar = Grammar("t", (("t", regex_expr(pattern, max_repeat=cap)),))
            sampler = Sampler(grammar, seed=5)
            for _ in range(60):
                text = sampler.sample()
                assert re.fullmatch(pattern, text), (pattern, text)


def test_case_insensitive_keywords_are_spelled_as_written():
    recognizer = Recognizer(Grammar("t", (("t", regex_expr(r"(?i:maximi[sz]e\b)")),)))
    assert recognizer.matches("maximize") and recognizer.matches("maximise")
    assert not recognizer.matches("MAXIMIZE")


@pytest.mark.parametrize(
    "pattern",
    [r".", r"[^a]", r"(a)\1", r"(?<=a)b", r"a(?=b)", r"\Bx", r"x\b-", r"-\b", r"\W", r"x$"],
)
def test_what_is_refused(pattern):
    with pytest.raises(ConfigurationError):
        regex_expr(pattern)


def test_an_empty_match_is_refused():
    with pytest.raises(ConfigurationError, match="empty"):
        regex_expr(r"(?:)")


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"(?i:(at\s+most|at\s+least|exactly)\b)", {"at", "exactly"}),
        (r"(?i:inf(inity)?\b)", {"inf", "infinity"}),
        (r"(?:∀|forall(?!\w)|all(?!\w))", {"forall", "all"}),
        (r"(?:(?i:subject\s+to\b)|(?i:s\.t\.))", {"subject", "s"}),
        (r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", set()),  # starts with a digit: never a name
        (r"[ \t]+", set()),
        (r"<=|=<", set()),
        (r"x[yz]", {"xy", "xz"}),
        (r"\d*go", {"go"}),
    ],
)
def test_leading_words(pattern, words):
    assert leading_words(pattern) == words


@pytest.mark.parametrize("pattern", [r"[A-Za-z_]\w*", r"in\w+", r"[a-z]"])
def test_an_open_set_of_leading_words_is_refused(pattern):
    with pytest.raises(ConfigurationError, match="many words"):
        leading_words(pattern)


def test_edges_and_emptiness():
    number = Seq((Opt(Lit("-")), Repeat(Chars(frozenset("01")), 1), Opt(Lit("%"))))
    assert edge_chars(number, last=False) == frozenset("-01")
    assert edge_chars(number, last=True) == frozenset("01%")
    assert not nullable(number) and nullable(Opt(number)) and nullable(Repeat(Lit("x"), 0, 2))
