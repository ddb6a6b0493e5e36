"""The Lark-to-GBNF compiler on its own: small grammars in, GBNF out, every sample read by Lark as it was meant."""

from __future__ import annotations

import re

import pytest
from lark import Lark
from lark.exceptions import LarkError

from neurosym.errors import ConfigurationError
from neurosym.grammars import Alt, Grammar, Lit, Opt, Ref, Repeat, Seq, compile_lark, lark_to_gbnf, left_recursive_rules
from neurosym.grammars._testing import Recognizer, Sampler, read_gbnf

# A small arithmetic language with the features the compiler has to handle: left recursion,
# EBNF repetition, an optional part, an entry that may be empty, case-insensitive keywords that
# look like names, regex terminals (one with an open-ended digit run) and a newline token.
CALC = r"""
start: (_line? _NL)* _line?
_line: assign | print_
assign: NAME "=" expr
print_: PRINT expr ("," expr)*
?expr: expr ADD term -> add
     | term
?term: term MUL atom -> mul
     | atom
?atom: NUMBER | NAME | "(" expr ")" | IF expr THEN expr ELSE expr
PRINT.2: /print\b/i
IF.2: /if\b/i
THEN.2: /then\b/i
ELSE.2: /else\b/i
ADD: "+" | "-"
MUL: "*" | "/"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /\d+(\.\d+)?/
_NL: /\r?\n/
%ignore /[ \t]+/
%ignore /#[^\n]*/
"""
CALC_OPTIONS = {"words": {"NAME": "name"}, "spellings": {"_NL": "\n"}}


def calc_parser() -> Lark:
    return Lark(CALC, parser="lalr")


def samples(grammar: Grammar, count: int = 1500, seed: int = 3) -> list[str]:
    sampler = Sampler(grammar, seed)
    return [sampler.sample() for _ in range(count)]


# -- what every sample must satisfy -------------------------------------------------------------


def test_every_sample_of_the_compiled_grammar_parses():
    grammar = compile_lark(CALC, **CALC_OPTIONS)
    parser = calc_parser()
    texts = samples(grammar)
    failures = []
    for text in texts:
        try:
            parser.parse(text)
        except LarkError as err:
            failures.append((text, str(err).splitlines()[0]))
    assert not failures, failures[:5]
    joined = "".join(texts)
    for piece in ("print", "if", "then", "else", "=", "+", "*", "(", ",", "\n", "."):
        assert piece in joined, piece
    assert len(set(texts)) > 500


def test_names_never_spell_a_keyword_in_any_case():
    grammar = compile_lark(CALC, **CALC_OPTIONS)
    recognizer = Recognizer(grammar)
    for keyword in ("print", "PRINT", "Print", "if", "IF", "then", "else"):
        assert not recognizer.matches(f"{keyword} = 1"), keyword
    for name in ("printer", "i", "IFF", "the", "elsewhere", "x_1"):
        assert recognizer.matches(f"{name} = 1"), name
    parser = calc_parser()
    names = {
        str(token).lower()
        for text in samples(grammar)
        for token in parser.parse(text).scan_values(lambda t: True)
        if token.type == "NAME"
    }
    assert len(names) > 50 and not names & {"print", "if", "then", "else"}


def test_the_grammar_accepts_what_it_should_and_nothing_else():
    recognizer = Recognizer(compile_lark(CALC, **CALC_OPTIONS))
    for text in ["", "x = 1", "x = 1\nprint x, 2 * (x + 3)\n", "\n\nprint if x then 1 else 2.5", "y=x*2-1"]:
        assert recognizer.matches(text), text
        calc_parser().parse(text)
    for text in [
        "x  = 1",  # at most one space between tokens
        " x = 1",  # none at the ends
        "x = 1 # comment",  # comments are ignored by the lexer, never generated
        "x = 1\r\n",  # the spelling of a new line is "\n"
        "print x,",  # incomplete
        "if = 1",  # a keyword as a name
        "x = 1.",  # the number regex wants digits after the point
        "3x = 1",
    ]:
        assert not recognizer.matches(text), text


def test_a_space_is_required_only_between_word_characters():
    recognizer = Recognizer(compile_lark(CALC, **CALC_OPTIONS))
    assert recognizer.matches("print(x)") and recognizer.matches("print (x)")
    assert not recognizer.matches("printx")  # would be read as one name
    assert recognizer.matches("x = a*b") and recognizer.matches("x = a * b")


# -- the steps ----------------------------------------------------------------------------------


def test_left_recursion_becomes_repetition_and_the_text_has_none():
    grammar = compile_lark(CALC, **CALC_OPTIONS)
    rules = grammar.rule_map
    assert rules["expr"] == Seq((Ref("term"), Repeat(Seq((Ref("ws"), Ref("add"), Ref("ws"), Ref("term"))), 0, None)))
    assert left_recursive_rules(grammar) == set()
    assert left_recursive_rules(read_gbnf(grammar.to_gbnf())) == set()


def test_an_entry_that_may_be_empty_becomes_optional():
    grammar = compile_lark('start: item*\nitem: "a"\n%ignore " "')
    assert isinstance(grammar.rule_map["start"], Opt)
    assert all(Recognizer(grammar).matches(text) for text in ["", "a", "a a a"])
    assert not Recognizer(grammar).matches("aa")  # two word characters of two tokens: a space between


def test_rules_that_only_match_nothing_disappear():
    grammar = compile_lark('start: "(" nothing ")"\nnothing: \n%ignore " "')
    assert set(grammar.rule_map) == {"start", "ws"}
    assert Recognizer(grammar).matches("( )") and Recognizer(grammar).matches("()")


def test_shared_prefixes_are_factored_and_overlapping_heads_inlined():
    text = 'start: call | NAME\ncall: NAME "(" ")"\nNAME: /[A-Za-z_][A-Za-z0-9_]*/\n%ignore " "'
    grammar = compile_lark(text, words={"NAME": "id"})
    # "call" starts with NAME like the other alternative: inlined, then the shared NAME written once
    assert grammar.rule_map["start"] == Seq((Ref("id"), Opt(Seq((Ref("ws"), Lit("("), Ref("ws"), Lit(")"))))))


def test_repeat_bounds_a_rules_repetition_and_token_repeat_its_tokens():
    grammar = compile_lark(CALC, repeat={"start": 3, "print_": 2, "expr": 4}, token_repeat=5, **CALC_OPTIONS)
    recognizer = Recognizer(grammar)
    assert recognizer.matches("x = 1\n" * 3 + "y = 2") and not recognizer.matches("x = 1\n" * 4)
    assert recognizer.matches("print 1, 2, 3") and not recognizer.matches("print 1, 2, 3, 4")  # 2 of ", expr"
    assert recognizer.matches("x = 1+2+3+4") and not recognizer.matches("x = 1+2+3+4+5")
    assert recognizer.matches("x = 12345") and not recognizer.matches("x = 123456")
    assert recognizer.matches("abcdef = 1") and not recognizer.matches("abcdefg = 1")  # a letter, then 5 more
    assert "{0,2}" in grammar.to_gbnf() and "[0-9]{1,5}" in grammar.to_gbnf()


def test_spellings_give_one_text_or_a_set():
    grammar = compile_lark(
        CALC, spellings={"_NL": "\n", "ADD": ("+", "-"), "MUL": "*", "PRINT": "PRINT"}, words={"NAME": "name"}
    )
    recognizer = Recognizer(grammar)
    assert recognizer.matches("PRINT 1 - 2 * 3") and not recognizer.matches("print 1")
    assert not recognizer.matches("x = 1 / 2")


def test_a_prefix_goes_on_every_rule_and_no_root_is_written_on_request():
    text = lark_to_gbnf(CALC, root=False, prefix="calc-", **CALC_OPTIONS)
    names = [line.split(" ::= ")[0] for line in text.splitlines()]
    assert all(n.startswith("calc-") for n in names) and len(names) == len(set(names))
    referenced = set(re.findall(r"(?<![\w\"-])calc-[a-z0-9-]+", text))
    assert referenced <= set(names)
    assert "root" not in text


def test_any_rule_can_be_the_entry():
    grammar = compile_lark(CALC, start="expr", **CALC_OPTIONS)
    assert grammar.entry == "expr" and "assign" not in grammar.rule_map
    assert Recognizer(grammar).matches("1 + x * 2") and not Recognizer(grammar).matches("x = 1")


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grammar", "options", "message"),
    [
        ("start: (", {}, "does not load"),
        (CALC, {"start": "missing"}, "does not load|no rule"),
        (CALC, {"spellings": {"NOPE": "x"}}, "no terminal"),
        (CALC, {"words": {"NAME": "name"}, "spellings": {"MUL": "x"}}, "does not match"),
        (CALC, {"words": {"NAME": "name"}, "repeat": {"nope": 2}}, "no rule"),
        (CALC, {"words": {"NAME": "name"}, "repeat": {"assign": 2}}, "does not repeat"),
        (CALC, {"words": {"NAME": "name"}, "repeat": {"start": 0}}, ">= 1"),
        (CALC, {"words": {"NAME": "name"}, "token_repeat": 0}, "token_repeat"),
        (CALC, {"prefix": "Calc_"}, "prefix"),
        (CALC, {"words": {"NAME": "name"}, "spellings": {"NAME": "x"}}, "one of them"),
        (CALC, {"spellings": {"_NL": "\n"}}, "can spell a keyword"),  # NAME needs the word rule
        ('start: "a" "b"', {}, "does not ignore a space"),
        ('start: A\nA: /[^a]+/\n%ignore " "', {}, "give the terminal a spelling"),
        ('start: A\nA: /x\\b-/\n%ignore " "', {}, "does not translate"),
        ('start: A\nA: /x-\\b/\n%ignore " "', {}, "word boundary"),
        ('start: a\na: b "x" | "y"\nb: a "z" | "w"\n%ignore " "', {}, "left-recursive"),
    ],
)
def test_what_the_compiler_refuses(grammar, options, message):
    with pytest.raises(ConfigurationError, match=message):
        compile_lark(grammar, **options)


def test_a_rule_named_root_needs_a_prefix():
    with pytest.raises(ConfigurationError, match="root"):
        lark_to_gbnf('start: root\nroot: "r"')
    assert lark_to_gbnf('start: root\nroot: "r"', prefix="g-").startswith("root ::= g-start\n")


def test_left_recursive_rules_sees_through_empty_rules():
    looping = Grammar("a", (("a", Seq((Ref("e"), Ref("a"), Lit("x")))), ("e", Alt((Lit("e"), Repeat(Lit("f")))))))
    assert left_recursive_rules(looping) == {"a"}
    fine = Grammar("a", (("a", Seq((Lit("x"), Ref("a")))),))
    assert left_recursive_rules(fine) == set()
