"""The choice language: what it reads, how it grounds, and how it refuses bad programs (with a position)."""

from __future__ import annotations

import pytest

from neurosym.errors import ParseError
from neurosym.targets.choice.language import (
    MAX_GROUND_NODES,
    MAX_PROGRAM_CHARS,
    MAX_SYMBOL_CELLS,
    ProgramTooLarge,
    parse_program,
)
from neurosym.targets.choice.translator import choice_fewshot_examples

BASE = "sort p = {ann, bob, cid}\nfun seat(p): 1..3\nvar k: int\nvar flag: bool\n"


def test_every_worked_example_parses_and_declares_before_use():
    for example in choice_fewshot_examples():
        program = parse_program(example["program"])
        letters = [o[0] for o in example["options"]]
        assert [o.letter for o in program.options] == letters
        assert program.conditions and program.symbols


def test_quantifiers_over_finite_types_are_expanded():
    program = parse_program(BASE + "assert forall(x in p: seat(x) >= 1)\nassert exists(i in 1..3: seat(ann) == i)")
    every, some = program.conditions
    assert every.formula[0] == "and" and len(every.formula) == 1 + 3
    assert some.formula[0] == "or" and len(some.formula) == 1 + 3
    assert ("app", "seat", ("int", 2)) in {f[2] for f in every.formula[1:]}  # seat(cid) >= 1, cid is element 2


def test_chained_comparisons_membership_count_and_distinct():
    lines = ["assert 1 <= k <= 3", "assert seat(ann) in {1, 3}", "assert count(x in p: seat(x) > 1) == 2",
             "assert distinct(seat)", "assert distinct(k, 2)"]  # fmt: skip
    program = parse_program(BASE + "\n".join(lines))
    chained, member, counted, whole, pair = (c.formula for c in program.conditions)
    assert chained[0] == "and" and len(chained) == 3
    assert member[0] == "or" and len(member) == 3
    assert counted[0] == "eq" and counted[1][0] == "add" and all(t[0] == "ite" for t in counted[1][1:])
    assert whole == ("distinct", *(("app", "seat", ("int", i)) for i in range(3)))
    assert pair == ("distinct", ("const", "k"), ("int", 2))


def test_labels_given_replace_and_how_many_are_kept():
    program = parse_program(BASE + "assert [near] seat(ann) < seat(bob)\ngiven flag\nreplace near\n"
                            "how_many(x in p: seat(x) == 2)\noption A: 1\noption B: 2")  # fmt: skip
    assert [c.label for c in program.conditions] == ["near", "line 6"] and program.conditions[1].given
    assert program.replaced == "near" and program.counting.values == ("ann", "bob", "cid")
    assert [o.number for o in program.options] == [1, 2]


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("var x: 1..3\nassert y > 1", "unknown name 'y' (declared: x)", 2, 8),
        ("assert ann == 1", "unknown name 'ann' (nothing is declared yet", 1, 8),
        (BASE + "assert seat(ann, bob) == 1", "seat takes 1 argument(s), not 2", 5, 8),
        (BASE + "assert seat == 1", "'seat' is a function of 1 argument(s)", 5, 8),
        (BASE + "assert seat(1) == 1", "argument of seat must be of type p, not 1..1", 5, 13),
        (BASE + "assert seat(ann) == bob", "cannot compare 1..3 with p", 5, 8),
        (BASE + "assert flag + 1 > 0", "arithmetic takes numbers, not a value of type bool", 5, 8),
        (BASE + "assert flag < true", "< compares numbers or a sort's elements", 5, 8),
        (BASE + "option A: seat(ann)", "expected a formula (true or false)", 5, 11),
        (BASE + "option A: flag\noption A: flag", "option A is given twice", 6, 8),
        ("sort p = {a, b}\nsort q = {b}", "'b' is declared twice", 2, 11),
        ("var count: int", "'count' is a keyword, not a name", 1, 5),
        ("sort s = {}", "the sort 's' is empty", 1, 1),
        ("var x: 3..1", "the range 3..1 is empty", 1, 8),
        ("fun f(int): bool", "a function's arguments must be finite types", 1, 7),
        (BASE + "assert forall(k in p: true)", "the bound variable 'k' hides a name", 5, 15),
        (BASE + "assert forall(x in int: true)", "a quantifier ranges over a finite type", 5, 20),
        (BASE + "replace nowhere", "no condition is labelled 'nowhere'", 5, 9),
        (BASE + "assert [a1] flag\nassert [a1] flag", "the label 'a1' is used twice", 6, 8),
        (BASE + "how_many(x in p: seat(x) == 1)\noption A: flag", "option A must be a whole number", 6, 11),
        (BASE + "assert seat(ann) ==", "the statement ends too early (expected", 5, 20),
        (BASE + "assert (seat(ann) == 1", "unbalanced brackets", 5, 8),
        (BASE + "assert seat(ann) = 1", "write == for equality", 5, 18),
    ],
)
def test_bad_programs_are_refused_with_the_place(text, message, line, column):
    with pytest.raises(ParseError) as caught:
        parse_program(text)
    assert message in str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)


def test_thousands_of_unknowns_are_refused_before_any_solver_runs():
    names = ", ".join(f"x{i}" for i in range(MAX_SYMBOL_CELLS + 500))
    with pytest.raises(ProgramTooLarge, match="more than 2,000 unknowns"):
        parse_program(f"var {names}: bool\noption A: x0")
    big_sort = ", ".join(f"e{i}" for i in range(50))
    with pytest.raises(ProgramTooLarge, match="unknowns"):
        parse_program(f"sort s = {{{big_sort}}}\nfun f(s, s): bool")  # 2,500 cells
    assert parse_program(f"sort s = {{{big_sort}}}\nfun f(s): 1..50\nassert distinct(f)").cells == 50


def test_quantifier_blowup_and_long_text_are_refused():
    sort = "sort s = {" + ", ".join(f"e{i}" for i in range(30)) + "}\nfun f(s): 1..30\n"
    nested = "assert forall(a in s: forall(b in s: forall(c in s: f(a) + f(b) != f(c))))"
    with pytest.raises(ProgramTooLarge, match=f"more than {MAX_GROUND_NODES:,} formula nodes"):
        parse_program(sort + nested)
    with pytest.raises(ProgramTooLarge, match="too long"):
        parse_program("# " + "x" * MAX_PROGRAM_CHARS)
