"""The intermediate grammar's GBNF text, and the test tools that read it back, match it and sample it."""

from __future__ import annotations

import pytest

from neurosym.errors import ConfigurationError
from neurosym.grammars import Alt, Chars, Grammar, Lit, Opt, Ref, Repeat, Seq
from neurosym.grammars._testing import Recognizer, Sampler, read_gbnf
from neurosym.grammars.ebnf import render_expr

ODD = Grammar(
    "doc",
    (
        ("doc", Seq((Ref("line"), Repeat(Seq((Lit("\n"), Ref("line"))), 0, 3)))),
        ("line", Alt((Seq((Lit('say "'), Ref("text"), Lit('"'))), Lit("\\"), Opt(Repeat(Lit("x"), 2))))),
        ("text", Repeat(Chars(frozenset('ab-]^\\"\t\x0b')), 1, None)),
    ),
)


def test_rendering():
    assert render_expr(Chars(frozenset("-]^\\\t\x0b"))) == "[\\t\\x0B\\-\\\\-\\^]"  # \\ ] ^ are a range
    assert render_expr(Chars(frozenset("]x"))) == "[\\]x]"
    assert render_expr(Lit('a"\\\n\t\r')) == '"a\\"\\\\\\n\\t\\r"'
    assert render_expr(Opt(Repeat(Lit("x"), 2))) == '("x"{2,})?'
    assert render_expr(Seq((Alt((Lit("a"), Lit("b"))), Lit("c")))) == '("a" | "b") "c"'


def test_gbnf_text_reads_back_as_the_same_grammar():
    assert read_gbnf(ODD.to_gbnf()) == ODD
    assert read_gbnf(ODD.to_gbnf(root=False)) == ODD  # without root the first rule is the entry


def test_the_recognizer_counts_bounded_repetitions():
    recognizer = Recognizer(ODD)
    assert recognizer.matches('say "ab"\n\\\nxx\nxxxx')
    assert not recognizer.matches('say "ab"\n\\\nxx\nxx\nxx')  # four lines, at most three after the first
    assert recognizer.matches("") and not recognizer.matches("x")  # an empty line, or two or more x


def test_the_recognizer_refuses_left_recursion():
    with pytest.raises(ConfigurationError, match="left recursion"):
        Recognizer(Grammar("r", (("r", Alt((Seq((Ref("r"), Lit("a"))), Lit("b")))),))).matches("ba")


def test_samples_are_recognized():
    sampler = Sampler(ODD, seed=2)
    texts = [sampler.sample() for _ in range(300)]
    assert all(Recognizer(ODD).matches(t) for t in texts)
    assert len(set(texts)) > 50 and max(t.count("\n") for t in texts) == 3


@pytest.mark.parametrize("text", ['root ::= "unclosed', "root ::= (a", "no rule here", "root ::= [^a]"])
def test_unreadable_gbnf_is_refused(text):
    with pytest.raises(ConfigurationError):
        read_gbnf(text)
