import time

import pytest

from neurosym import check_fol
from neurosym.errors import ParseError
from neurosym.fol import parse_formula, parse_formulas, to_text
from neurosym.fol.export import tptp_problem
from neurosym.fol.parser import MAX_DEPTH, MAX_FORMULA_CHARS, grammar_text
from neurosym.fol.syntax import And, Const, Eq, Exists, Forall, Func, Iff, Implies, Not, Or, Pred, Var, Xor

A, B, C, D = (Pred(name) for name in "ABCD")


def P(*args):
    return Pred("P", tuple(args))


def Q(*args):
    return Pred("Q", tuple(args))


x, y, a, b = Var("x"), Var("y"), Const("a"), Const("b")


# --- precedence and associativity -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bracketed"),
    [
        ("A ∧ B → C ∧ D", "(A ∧ B) → (C ∧ D)"),
        ("A ∨ B ∧ C", "A ∨ (B ∧ C)"),
        ("A ∧ B ∨ C", "(A ∧ B) ∨ C"),
        ("A ⊕ B ∨ C", "A ⊕ (B ∨ C)"),
        ("A ∨ B ⊕ C", "(A ∨ B) ⊕ C"),
        ("A ⊕ B → C", "(A ⊕ B) → C"),
        ("A → B ↔ C", "(A → B) ↔ C"),
        ("A ↔ B → C", "A ↔ (B → C)"),
        ("¬A ∧ B", "(¬A) ∧ B"),
        ("¬A ∨ ¬B → C", "((¬A) ∨ (¬B)) → C"),
        ("A → B → C", "A → (B → C)"),
        ("A ↔ B ↔ C", "A ↔ (B ↔ C)"),
        ("A ⊕ B ⊕ C", "(A ⊕ B) ⊕ C"),
        ("∀x P(x) → Q(x)", "∀x (P(x) → Q(x))"),
        ("∃x P(x) ∧ Q(x) ∨ A", "∃x ((P(x) ∧ Q(x)) ∨ A)"),
        ("A → ∀x P(x) ∧ Q(x)", "A → (∀x (P(x) ∧ Q(x)))"),
        ("¬∀x P(x) ∧ Q(x)", "¬(∀x (P(x) ∧ Q(x)))"),
    ],
)
def test_precedence_and_associativity(text, bracketed):
    assert parse_formula(text) == parse_formula(bracketed)


def test_precedence_builds_the_expected_tree():
    assert parse_formula("A ∧ B → C ∧ D") == Implies(And((A, B)), And((C, D)))
    assert parse_formula("A ∨ B ∧ C") == Or((A, And((B, C))))
    assert parse_formula("A ⊕ B ∨ C") == Xor(A, Or((B, C)))
    assert parse_formula("A → B ↔ C") == Iff(Implies(A, B), C)
    assert parse_formula("A → B → C") == Implies(A, Implies(B, C))
    assert parse_formula("A ↔ B ↔ C") == Iff(A, Iff(B, C))
    assert parse_formula("A ⊕ B ⊕ C") == Xor(Xor(A, B), C)
    assert parse_formula("A ∧ B ∧ C") == And((A, B, C))
    assert parse_formula("A ∨ B ∨ C ∨ D") == Or((A, B, C, D))
    assert parse_formula("¬¬A") == Not(Not(A))


def test_xor():
    assert parse_formula("P(a) ⊕ Q(a)") == Xor(P(a), Q(a))
    assert parse_formula("(A ∧ B) ⊕ (¬A ∧ ¬B)") == Xor(And((A, B)), And((Not(A), Not(B))))


# --- quantifiers, variables and constants --------------------------------------------------------


def test_nested_quantifiers():
    loves = Pred("Loves", (x, y))
    assert parse_formula("∀x ∃y Loves(x, y)") == Forall("x", Exists("y", loves))
    assert parse_formula("∃y ∀x Loves(x, y)") == Exists("y", Forall("x", loves))
    assert parse_formula("∀x ∀y Loves(x, y)") == Forall("x", Forall("y", loves))
    assert parse_formula("∃x,y Loves(x, y)") == Exists("x", Exists("y", loves))
    assert parse_formula("∀x, y Loves(x, y)") == parse_formula("∀x ∀y Loves(x, y)")
    assert parse_formula("∀x ∃y (Loves(x, y) ∧ ∀z Knows(z, y))") == Forall(
        "x", Exists("y", And((loves, Forall("z", Pred("Knows", (Var("z"), y))))))
    )


def test_quantifier_scope_extends_right():
    assert parse_formula("∀x P(x) → Q(x)") == Forall("x", Implies(P(x), Q(x)))
    assert parse_formula("(∀x P(x)) → Q(x)") == Implies(Forall("x", P(x)), Q(Const("x")))


def test_bound_names_are_variables_and_free_names_constants():
    assert parse_formula("∀x P(x, a)") == Forall("x", Pred("P", (x, a)))
    assert parse_formula("P(x)") == P(Const("x"))
    assert parse_formula("∀x P(f(x, a))") == Forall("x", P(Func("f", (x, a))))


def test_shadowing():
    # the first x is free (a constant), the second bound
    assert parse_formula("P(x) ∧ ∀x Q(x)") == And((P(Const("x")), Forall("x", Q(x))))
    # an inner quantifier rebinds x; both occurrences are variables
    assert parse_formula("∀x (P(x) → ∃x Q(x))") == Forall("x", Implies(P(x), Exists("x", Q(x))))
    # a variable bound in one conjunct does not leak into its sibling
    assert parse_formula("(∃x P(x)) ∧ Q(x)") == And((Exists("x", P(x)), Q(Const("x"))))


def test_equality_and_inequality():
    assert parse_formula("a = b") == Eq(a, b)
    assert parse_formula("a ≠ b") == Not(Eq(a, b))
    assert parse_formula("a != b") == Not(Eq(a, b))
    assert parse_formula("∀x ∀y (x = y → y = x)") == Forall("x", Forall("y", Implies(Eq(x, y), Eq(y, x))))
    assert parse_formula("f(a) = g(b, a)") == Eq(Func("f", (a,)), Func("g", (b, a)))
    assert parse_formula("¬a = b") == Not(Eq(a, b))


def test_n_ary_predicates_and_propositions():
    assert parse_formula("R(a, b, c, d)") == Pred("R", (a, b, Const("c"), Const("d")))
    assert parse_formula("Rain → Wet") == Implies(Pred("Rain"), Pred("Wet"))
    assert parse_formula("Rain").args == ()


def test_nested_function_terms():
    formula = parse_formula("∀x P(f(g(a), h(x, f(b))))")
    inner = Func("f", (Func("g", (a,)), Func("h", (x, Func("f", (b,))))))
    assert formula == Forall("x", P(inner))


def test_square_brackets_group_like_parentheses():
    assert parse_formula("[A ∨ B] ∧ C") == parse_formula("(A ∨ B) ∧ C")


# --- spellings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ascii_text", "unicode_text"),
    [
        ("forall x (P(x) -> Q(x))", "∀x (P(x) → Q(x))"),
        ("all x. (P(x) -> Q(x))", "∀x (P(x) → Q(x))"),
        ("all x. P(x)", "∀x P(x)"),
        ("exists x. P(x)", "∃x P(x)"),
        ("exists x (P(x) & Q(x))", "∃x (P(x) ∧ Q(x))"),
        ("not P(a)", "¬P(a)"),
        ("~P(a)", "¬P(a)"),
        ("-P(a)", "¬P(a)"),
        ("P(a) & Q(a)", "P(a) ∧ Q(a)"),
        ("P(a) && Q(a)", "P(a) ∧ Q(a)"),
        ("P(a) ^ Q(a)", "P(a) ∧ Q(a)"),
        ("P(a) and Q(a)", "P(a) ∧ Q(a)"),
        ("P(a) | Q(a)", "P(a) ∨ Q(a)"),
        ("P(a) || Q(a)", "P(a) ∨ Q(a)"),
        ("P(a) or Q(a)", "P(a) ∨ Q(a)"),
        ("P(a) -> Q(a)", "P(a) → Q(a)"),
        ("P(a)->Q(a)", "P(a) → Q(a)"),
        ("P(a) => Q(a)", "P(a) → Q(a)"),
        ("P(a) implies Q(a)", "P(a) → Q(a)"),
        ("P(a) <-> Q(a)", "P(a) ↔ Q(a)"),
        ("P(a)<->Q(a)", "P(a) ↔ Q(a)"),
        ("P(a) <=> Q(a)", "P(a) ↔ Q(a)"),
        ("P(a) iff Q(a)", "P(a) ↔ Q(a)"),
        ("P(a) ⟷ Q(a)", "P(a) ↔ Q(a)"),
        ("P(a) xor Q(a)", "P(a) ⊕ Q(a)"),
        ("P(a) ⊻ Q(a)", "P(a) ⊕ Q(a)"),
        ("a != b", "a ≠ b"),
        ("-P(a) & Q(a) | R(a) -> S(a) <-> T(a)", "¬P(a) ∧ Q(a) ∨ R(a) → S(a) ↔ T(a)"),
    ],
)
def test_ascii_spellings(ascii_text, unicode_text):
    assert parse_formula(ascii_text) == parse_formula(unicode_text)


def test_keywords_need_a_word_boundary():
    # "notable", "android", "orange", "alligator" are names, not ¬ / ∧ / ∨ / ∀
    assert parse_formula("notable(a)") == Pred("notable", (a,))
    assert parse_formula("P(android) ∧ orange(alligator)") == And(
        (Pred("P", (Const("android"),)), Pred("orange", (Const("alligator"),)))
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Risk-averse(x)", Pred("Risk-averse", (Const("x"),))),
        (
            "∀x (Risk-averse(x) → ¬Gambler(x))",
            Forall("x", Implies(Pred("Risk-averse", (x,)), Not(Pred("Gambler", (x,))))),
        ),
        ("Model(gpt-3)", Pred("Model", (Const("gpt-3"),))),
        ("Language(c++)", Pred("Language", (Const("c++"),))),
        ("Person(mr.smith)", Pred("Person", (Const("mr.smith"),))),
        ("Revenue(y42.3billion)", Pred("Revenue", (Const("y42.3billion"),))),
        ("∀x Companies’Stocks(x)", Forall("x", Pred("Companies’Stocks", (x,)))),
        ("P(a).", P(a)),
        ("∀x (P(x) → Q(x)).", Forall("x", Implies(P(x), Q(x)))),
        ("P(a) ⟷ Q(a)", Iff(P(a), Q(a))),
        ("P (a)", P(a)),
        ("Loves (john, mary)", Pred("Loves", (Const("john"), Const("mary")))),
        ("  P(a)  \n", P(a)),
    ],
)
def test_folio_oddities(text, expected):
    assert parse_formula(text) == expected


def test_a_dash_between_formulas_is_not_a_name_part():
    with pytest.raises(ParseError):
        parse_formula("P(x)-Q(x)")


def test_parse_formulas_keeps_order():
    assert parse_formulas(["P(a)", "Q(b)"]) == [P(a), Q(b)]
    assert parse_formulas([]) == []


def test_grammar_text_is_the_lark_source():
    text = grammar_text()
    assert "start:" in text and "IDENT" in text


# --- the FOLIO gold formulas --------------------------------------------------------------------


def test_folio_gold_formulas_round_trip(folio_items):
    parsed_items = 0
    parsed_formulas = 0
    for index, item in enumerate(folio_items):
        formulas = []
        for text in [*item["premises-FOL"], item["conclusion-FOL"]]:
            try:
                formula = parse_formula(text)
            except ParseError:
                continue
            printed = to_text(formula)
            assert parse_formula(printed) == formula, (index, text, printed)
            assert to_text(parse_formula(printed)) == printed  # printing is a fixed point
            formulas.append(formula)
        parsed_formulas += len(formulas)
        if len(formulas) == len(item["premises-FOL"]) + 1:
            parsed_items += 1
            problem = tptp_problem(formulas[:-1], formulas[-1])
            assert problem.count("fof(") == len(formulas)
            assert "fof(goal, conjecture," in problem
    # The gold set holds a handful of malformed formulas (unbalanced brackets, a stray comma).
    assert parsed_items >= 199
    assert parsed_formulas >= 1282


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("P(x) ∧", 1, 7, "ends too early"),
        ("∧ P", 1, 1, "unexpected '∧'"),
        ("P(,)", 1, 3, "unexpected ','"),
        ("P(a) ∧ ∨ Q(a)", 1, 8, "unexpected '∨'"),
        ("∀x", 1, 3, "ends too early"),
        ("((P(x)", 1, 1, "never closed"),
        ("P(x) ∧ (Q(x)", 1, 8, "never closed"),
        ("P(x))", 1, 5, "unbalanced brackets: unexpected ')'"),
        ("[P(a))", 1, 6, "unbalanced brackets"),
        ("P(x) $ Q", 1, 6, "unknown symbol '$'"),
        ("P(x) @ Q(x)", 1, 6, "unknown symbol '@'"),
        ("P(a) ∧\n∧ Q(b)", 2, 1, "unexpected '∧'"),
        ("P(a) ∧\nQ(b) )", 2, 6, "unbalanced brackets"),
        ("P(a) ∧\nQ(b) ∧ #", 2, 8, "unknown symbol '#'"),
    ],
)
def test_parse_errors_point_at_line_and_column(text, line, column, fragment):
    with pytest.raises(ParseError) as info:
        parse_formula(text)
    err = info.value
    assert (err.line, err.column) == (line, column)
    assert fragment in err.message
    assert f"line {line}, column {column}" in str(err)
    source_line, caret_line = err.excerpt.split("\n")
    assert source_line == text.splitlines()[line - 1]
    assert caret_line == " " * (column - 1) + "^"


def test_parse_error_says_what_was_expected():
    with pytest.raises(ParseError, match="expected a name"):
        parse_formula("P(,)")
    with pytest.raises(ParseError, match="quantifier"):
        parse_formula("P(a) →")


@pytest.mark.parametrize("text", ["", " ", "   \n\t  ", "\n\n"])
def test_empty_input(text):
    with pytest.raises(ParseError, match="empty formula") as info:
        parse_formula(text)
    assert (info.value.line, info.value.column) == (1, 1)


def _deep(kind, n):
    if kind == "not":
        return "¬" * n + "P"
    if kind == "implies":
        return " → ".join(["P"] * n)
    if kind == "iff":
        return " ↔ ".join(["P"] * n)
    if kind == "bracketed_and":
        return "(P ∧ " * n + "Q" + ")" * n
    if kind == "bracketed_not":
        return "(¬" * n + "P" + ")" * n
    if kind == "forall":
        return "∀x " * n + "P(x)"
    if kind == "function":
        return "P(" + "f(" * n + "a" + ")" * n + ")"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["not", "implies", "iff", "bracketed_and", "bracketed_not", "forall", "function"])
def test_deep_nesting_is_refused_cleanly(kind):
    text = _deep(kind, 10_000)
    started = time.perf_counter()
    with pytest.raises(ParseError, match="nested too deeply") as info:
        parse_formula(text)
    assert time.perf_counter() - started < 10  # generous for loaded CI machines; a quadratic blow-up takes minutes
    assert str(MAX_DEPTH) in info.value.message
    assert info.value.line == 1


def test_redundant_brackets_do_not_count_as_nesting():
    # 10,000 pairs of brackets around one atom build no deep tree: accepted, quickly, as the atom.
    started = time.perf_counter()
    assert parse_formula("(" * 10_000 + "P(a)" + ")" * 10_000) == P(a)
    assert time.perf_counter() - started < 10


def test_depth_limit_boundary():
    assert parse_formula("¬" * (MAX_DEPTH - 1) + "P") is not None
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_formula("¬" * MAX_DEPTH + "P")


def test_unclosed_deep_brackets_point_at_the_first():
    with pytest.raises(ParseError, match="never closed") as info:
        parse_formula("(" * 5000 + "P(a)")
    assert (info.value.line, info.value.column) == (1, 1)


def test_megabyte_input_is_refused_before_parsing():
    text = "P(a) ∧ " * 150_000 + "P(a)"
    assert len(text) > 1_000_000
    started = time.perf_counter()
    with pytest.raises(ParseError, match="too long") as info:
        parse_formula(text)
    assert time.perf_counter() - started < 1
    assert f"{MAX_FORMULA_CHARS:,}" in info.value.message
    assert len(str(info.value)) < 500  # the message does not echo the megabyte back


@pytest.mark.parametrize("value", [None, 42, b"P(a)", ["P(a)"], P(a)])
def test_non_string_input(value):
    with pytest.raises(ParseError, match="must be a string") as info:
        parse_formula(value)
    assert type(value).__name__ in info.value.message


def test_parse_formulas_names_the_failing_formula():
    with pytest.raises(ParseError, match="formula 2") as info:
        parse_formulas(["P(a)", "P(a) ∧", "Q(b)"])
    assert info.value.formula_index == 1
    assert (info.value.line, info.value.column) == (1, 7)


# --- check_fol turns every bad input into an `invalid` verdict ----------------------------------


@pytest.mark.parametrize(
    ("bad", "line", "column", "fragment"),
    [
        ("P(x) ∧", 1, 7, "ends too early"),
        ("∧ P", 1, 1, "unexpected"),
        ("P(,)", 1, 3, "unexpected ','"),
        ("", 1, 1, "empty formula"),
        ("  \n ", 1, 1, "empty formula"),
        ("((P(x)", 1, 1, "never closed"),
        ("P(x))", 1, 5, "unbalanced brackets"),
        ("P(x) $ Q", 1, 6, "unknown symbol"),
        ("P(a) ∧\n∧ Q(b)", 2, 1, "unexpected"),
        ("¬" * 10_000 + "P", 1, 1, "nested too deeply"),
        (" → ".join(["P"] * 10_000), 1, 1, "nested too deeply"),
        ("P(a) ∧ " * 20_000 + "P(a)", 1, MAX_FORMULA_CHARS + 1, "too long"),
        (None, None, None, "must be a string"),
        (42, None, None, "must be a string"),
    ],
)
def test_check_fol_reports_bad_input_as_invalid(bad, line, column, fragment):
    verdict = check_fol(["P(a)", bad], "Q(a)")
    assert verdict.status == "invalid"
    assert verdict.answer is None
    assert fragment in verdict.message
    assert verdict.message.startswith("premise 2: ")
    assert verdict.feedback.startswith("Premise 2 is not a well-formed formula")
    assert verdict.details["formula_index"] == 1
    assert verdict.details["line"] == line
    assert verdict.details["column"] == column


def test_check_fol_names_a_bad_conclusion():
    verdict = check_fol(["P(a)"], "Q(a) ∨")
    assert verdict.status == "invalid"
    assert verdict.message.startswith("the conclusion: ")
    assert verdict.details["formula_index"] == 1
    assert (verdict.details["line"], verdict.details["column"]) == (1, 7)


def test_check_fol_refuses_a_megabyte_problem():
    verdict = check_fol(["P(a) ∧ Q(a)"] * 100_000, "P(a)")
    assert verdict.status == "invalid"
    assert "too large" in verdict.message
