"""Reading the MILP modeling language: what parse_model reads and every error it gives (with line and column)."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest

from neurosym.errors import ParseError
from neurosym.milp.parser import MAX_MODEL_CHARS, grammar_text, parse_model
from neurosym.milp.syntax import Cardinality, Comparison, Disjunction, Indicator, LinearExpr, Model, Variable

MILP_LARK = Path(__file__).resolve().parents[2] / "neurosym" / "milp" / "milp.lark"


def only(model: Model) -> Comparison:
    [c] = model.constraints
    assert isinstance(c, Comparison)
    return c


def row(text: str, declare: str = "integer x, y") -> Comparison:
    return only(parse_model(f"{declare}\nmaximize x\n{text}"))


def test_the_grammar_is_the_lark_file_beside_the_parser():
    assert grammar_text() == MILP_LARK.read_text(encoding="utf-8")


def test_the_old_module_name_warns_and_gives_the_same_objects():
    sys.modules.pop("neurosym.milp.model", None)
    with pytest.deprecated_call(match="neurosym.milp.syntax"):
        old = importlib.import_module("neurosym.milp.model")
    assert old.parse_model is parse_model and old.Model is Model and old.MAX_MODEL_CHARS == MAX_MODEL_CHARS
    assert all(hasattr(old, name) for name in old.__all__)


# -- declarations -----------------------------------------------------------------------------


def test_declarations_kinds_and_bounds():
    model = parse_model(
        "integer a\n"
        "continuous b free\n"
        "binary c\n"
        "continuous d in [-inf, 5]\n"
        "integer e >= 2 <= 8\n"
        "integer f <= 4\n"
        "continuous g >= -3\n"
        "integer h in [-2, 2.5]\n"
        "continuous i >= -inf <= 5\n"
        "continuous j in [1, inf]\n"
        "CONTINUOUS k >= -infinity\n"
        "maximize a"
    )
    assert model.variables == (
        Variable("a", "integer", 0.0, None),
        Variable("b", "continuous", None, None),
        Variable("c", "binary", 0.0, 1.0),
        Variable("d", "continuous", None, 5.0),
        Variable("e", "integer", 2.0, 8.0),
        Variable("f", "integer", 0.0, 4.0),
        Variable("g", "continuous", -3.0, None),
        Variable("h", "integer", -2.0, 2.5),
        Variable("i", "continuous", None, 5.0),
        Variable("j", "continuous", 1.0, None),
        Variable("k", "continuous", None, None),
    )
    assert [v.integral for v in model.variables[:3]] == [True, False, True]
    assert model.integral


def test_a_name_list_shares_the_bounds_and_keeps_declaration_order():
    model = parse_model("continuous z\ninteger x, y <= 7\nminimize x")
    assert [(v.name, v.kind, v.lower, v.upper) for v in model.variables] == [
        ("z", "continuous", 0.0, None),
        ("x", "integer", 0.0, 7.0),
        ("y", "integer", 0.0, 7.0),
    ]
    assert model.variable_map["y"].upper == 7.0


def test_binary_bounds_are_always_zero_one():
    assert parse_model("binary b <= 5\nmaximize b").variables == (Variable("b", "binary", 0.0, 1.0),)


def test_an_all_continuous_model_is_not_integral():
    assert not parse_model("continuous x\nmaximize x\nx <= 1").integral


# -- objective and layout -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "sense", "name"),
    [
        ("maximize 3 x + y", "maximize", ""),
        ("maximise 3 x + y", "maximize", ""),
        ("MAXIMIZE profit: 3 x + y", "maximize", "profit"),
        ("minimize: 3 x + y", "minimize", ""),
        ("minimise cost: 3 x + y", "minimize", "cost"),
    ],
)
def test_objective_sense_and_name(line, sense, name):
    model = parse_model(f"integer x, y\n{line}")
    assert (model.sense, model.objective_name) == (sense, name)
    assert model.objective == LinearExpr((("x", 3.0), ("y", 1.0)))


def test_objective_keeps_its_constant():
    assert parse_model("integer x\nminimize 5 - 2 x").objective == LinearExpr((("x", -2.0),), 5.0)


def test_comments_semicolons_and_headers():
    text = (
        "# a model\n"
        "variables:\n"
        "integer x; continuous y   // two kinds on one line\n"
        "minimize cost: x + y  # the objective\n"
        "subject to\n"
        "c: x + y >= 2; d: x >= 1\n"
        "\n"
        "constraints:\n"
        "s.t.\n"
        "e: y <= 4\n"
    )
    model = parse_model(text)
    assert [v.name for v in model.variables] == ["x", "y"]
    assert [c.name for c in model.constraints] == ["c", "d", "e"]
    assert model.constraint("d") == Comparison(LinearExpr((("x", 1.0),)), ">=", 1.0, "d")
    assert model.source == text


def test_unnamed_constraints_are_named_after_their_line():
    model = parse_model("integer x\nmaximize x\n\nx <= 3\nlimit: x >= 1\nx <= 9")
    assert [c.name for c in model.constraints] == ["c4", "limit", "c6"]
    with pytest.raises(KeyError):
        model.constraint("nope")


# -- comparisons ------------------------------------------------------------------------------


def test_variables_go_left_and_constants_right():
    c = row("2 x + 3 <= y - 4")
    assert (c.expr, c.sense, c.rhs) == (LinearExpr((("x", 2.0), ("y", -1.0))), "<=", -7.0)


@pytest.mark.parametrize(
    ("written", "sense"),
    [("<=", "<="), ("=<", "<="), ("≤", "<="), (">=", ">="), ("=>", ">="), ("≥", ">="), ("=", "=="), ("==", "==")],
)
def test_relation_spellings(written, sense):
    assert row(f"x {written} 3").sense == sense


def test_chained_comparison_is_two_constraints():
    model = parse_model("integer x, y\nmaximize x + y\nrange: 2 <= x - y <= 9\n9 >= x + y >= 2")
    first, second, third, fourth = model.constraints
    values = {"x": 5.0, "y": 1.0}  # x - y = 4, x + y = 6: every half holds
    assert [c.name for c in model.constraints] == ["range", "range_2", "c4", "c4_2"]
    assert (first.sense, second.sense, third.sense, fourth.sense) == ("<=", "<=", ">=", ">=")
    # 2 <= x - y  and  x - y <= 9
    assert first.expr.value(values) - first.rhs == pytest.approx(2 - 4)
    assert (second.expr, second.rhs) == (LinearExpr((("x", 1.0), ("y", -1.0))), 9.0)
    assert all(c.slack(values) >= 0 for c in model.constraints)
    assert first.slack({"x": 1.0, "y": 0.0}) < 0  # x - y = 1 < 2
    assert fourth.slack({"x": 1.0, "y": 0.0}) < 0  # x + y = 1 < 2


@pytest.mark.parametrize(
    ("text", "sense", "rhs"),
    [
        ("x < 3", "<=", 2.0),
        ("x < 3.5", "<=", 3.0),
        ("x > 2", ">=", 3.0),
        ("x > 2.5", ">=", 3.0),
        ("x > y + 0.5", ">=", 1.0),  # x - y > 0.5 on whole numbers: x - y >= 1
        ("2 x < 3", "<=", 2.0),  # 2x is even: 2x <= 2
        ("x - y < -1", "<=", -2.0),
    ],
)
def test_strict_comparisons_between_whole_quantities_are_tightened(text, sense, rhs):
    c = row(text)
    assert (c.sense, c.rhs) == (sense, rhs)


def test_tightened_strict_comparison_keeps_exactly_the_whole_solutions():
    c = row("x - y < 2.5")
    for x in range(-5, 6):
        for y in range(-5, 6):
            assert (c.slack({"x": x, "y": y}) >= 0) == (x - y < 2.5)


@pytest.mark.parametrize(
    "text",
    [
        "continuous x\nmaximize x\nx < 3",
        "integer x\ncontinuous y\nmaximize x\nx > y",
        "integer x\nmaximize x\n0.5 x < 3",  # a fractional coefficient: not whole
        "maximize x\nc: x < 3\ncontinuous x",  # declared after the constraint
    ],
)
def test_strict_comparisons_with_continuous_quantities_are_refused(text):
    with pytest.raises(ParseError, match=r"strict comparison .* continuous quantities.*use <= or >="):
        parse_model(text)


def test_strict_comparison_is_tightened_when_the_integer_is_declared_later():
    c = only(parse_model("maximize x\nc: x < 3\ninteger x"))
    assert (c.sense, c.rhs) == ("<=", 2.0)


def test_strict_refusal_points_at_the_comparison():
    with pytest.raises(ParseError) as info:
        parse_model("continuous x\nmaximize x\nc: x > 1")
    assert (info.value.line, info.value.column) == (3, 4)


# -- expressions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms", "rhs"),
    [
        ("3x + 2y <= 6", (("x", 3.0), ("y", 2.0)), 6.0),
        ("3 (x + y) <= 6", (("x", 3.0), ("y", 3.0)), 6.0),
        ("(x + y) 3 <= 6", (("x", 3.0), ("y", 3.0)), 6.0),
        ("x / 4 + y / 0.5 <= 1", (("x", 0.25), ("y", 2.0)), 1.0),
        ("x <= 20% (x + y)", (("x", 0.8), ("y", -0.2)), 0.0),
        ("x <= 2 ^ 3", (("x", 1.0),), 8.0),
        ("x <= 2 ** 3 y", (("x", 1.0), ("y", -8.0)), 0.0),
        ("x <= 2 ^ 2 ^ 3", (("x", 1.0),), 256.0),  # right-associative
        ("x ^ 1 <= 4", (("x", 1.0),), 4.0),
        ("x <= 3 y * 2", (("x", 1.0), ("y", -6.0)), 0.0),
        ("-(x - y) >= -4", (("x", -1.0), ("y", 1.0)), -4.0),
        ("x + y - x <= 1", (("y", 1.0),), 1.0),  # x cancels
        ("x ≤ 3 − y", (("x", 1.0), ("y", 1.0)), 3.0),
        ("2·x + 3×y <= 7", (("x", 2.0), ("y", 3.0)), 7.0),
        (".5 x + 1e2 y <= 1.5e1", (("x", 0.5), ("y", 100.0)), 15.0),
    ],
)
def test_linear_expressions(text, terms, rhs):
    c = row(text)
    assert dict(c.expr.terms) == pytest.approx(dict(terms))
    assert c.expr.names == tuple(n for n, _ in terms)
    assert c.rhs == pytest.approx(rhs)
    assert c.expr.constant == 0.0


def test_percent_is_a_number():
    assert row("x >= 30%").rhs == pytest.approx(0.3)


# -- logic constraints ------------------------------------------------------------------------


def test_if_then_forms():
    model = parse_model(
        "binary b\ninteger x <= 5\nmaximize x\n"
        "on: if b then x >= 3\n"
        "off: if not b then x <= 1\n"
        "zero: if b = 0 then x = 2\n"
        "one: if b = 1 then x <= 4\n"
        "chain: if b then 1 <= x <= 4\n"
    )
    on, _, zero, _, chain = model.constraints
    assert all(isinstance(c, Indicator) and c.binary == "b" for c in model.constraints)
    assert [c.value for c in model.constraints] == [1, 0, 0, 1, 1]
    assert on.then == (Comparison(LinearExpr((("x", 1.0),)), ">=", 3.0, "on"),)
    assert zero.then[0].sense == "==" and zero.then[0].rhs == 2.0
    assert len(chain.then) == 2 and all(c.name == "chain" for c in chain.then)
    assert on.variables() == ("b", "x")


def test_if_on_a_binary_between_binaries():
    [c] = parse_model("binary a, b\nmaximize a\nif a then b = 1").constraints
    assert isinstance(c, Indicator) and c.then[0].expr.names == ("b",)


def test_either_or():
    [c] = parse_model("integer x, y <= 10\nmaximize x\nmix: x <= 2 or y >= 4 OR x + y = 7").constraints
    assert isinstance(c, Disjunction) and c.name == "mix"
    assert [(o.expr.names, o.sense, o.rhs) for o in c.options] == [
        (("x",), "<=", 2.0),
        (("y",), ">=", 4.0),
        (("x", "y"), "==", 7.0),
    ]


def test_either_or_refuses_a_chained_option():
    # (1 <= x <= 2) or y >= 4 needs both halves of the chain together: splitting it into three
    # options (x >= 1 or x <= 2 or y >= 4) would hold everywhere.
    with pytest.raises(ParseError, match="single comparison") as info:
        parse_model("integer x, y <= 10\nmaximize x\nmix: 1 <= x <= 2 or y >= 4")
    assert info.value.line == 3


def test_cardinality():
    model = parse_model(
        "binary a, b, c\nmaximize a\nat most 1 of a, b\nAt  Least 2 of a,b,c\nexact: exactly 1 of c\nat most 0 of a"
    )
    assert model.constraints[:3] == (
        Cardinality("at most", 1, ("a", "b"), "c3"),
        Cardinality("at least", 2, ("a", "b", "c"), "c4"),
        Cardinality("exactly", 1, ("c",), "exact"),
    )
    assert model.constraints[1].as_comparison() == Comparison(
        LinearExpr((("a", 1.0), ("b", 1.0), ("c", 1.0))), ">=", 2.0, "c4"
    )
    assert model.constraints[2].as_comparison().sense == "=="
    assert model.constraints[3].k == 0


# -- errors -----------------------------------------------------------------------------------


def error(text) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_model(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("", "empty model", 1, 1),
        ("  \n\t\n", "empty model", 1, 1),
        ("maximize 3", "declares no variables", 1, 1),
        ("integer x\nx <= 3", "no objective", 1, 1),
        ("integer x\nmaximize x\nminimize x", "second objective \\(the first is on line 2\\)", 3, 1),
        ("integer x\nmaximize y", "unknown variable 'y'", 2, 10),
        ("integer x\nmaximize x + y + z", "unknown variables 'y', 'z'", 2, 14),
        ("integer x\ninteger x\nmaximize x", "variable 'x' is declared twice \\(first on line 1\\)", 2, 9),
        ("integer x, y\nmaximize x\nc: 2 x*y <= 3", "the term '2 x\\*y' multiplies variables", 3, 4),
        ("integer x, y\nmaximize x (y + 1)", "the term 'x \\(y \\+ 1\\)' multiplies variables", 2, 10),
        ("integer x, y\nmaximize x\nx / y <= 3", "the term 'x / y' divides by a variable", 3, 1),
        ("integer x, y\nmaximize x\n2 ^ x <= 3", "'2 \\^ x' has a variable in an exponent", 3, 1),
        ("integer x, y\nmaximize x\nx ^ 2 <= 3", "'x \\^ 2' raises a variable to a power", 3, 1),
        ("integer x, y\nmaximize x\nx / (2 - 2) <= 3", "divides by zero", 3, 1),
        ("integer x\nmaximize x\nx <= 0 ^ -1", "not a finite real number", 3, 6),
        ("integer x\nmaximize x\nx <= (-8) ^ 0.5", "not a finite real number", 3, 6),
        ("integer x\nmaximize x\nx <= 1e400", "the number 1e400 is too large", 3, 6),
        ("integer x\nmaximize x\nx <= 1e13", "the number 1e13 is too large", 3, 6),
        ("integer x <= 1e13\nmaximize x", "the number 1e13 is too large", 1, 14),
        ("integer x\nmaximize x\nx <= 10 ^ 20", "the constant of '10 \\^ 20' is too large", 3, 6),
        ("integer x\nmaximize x\nx <= 3 <= 4", "no variables on either side", 3, 1),
        ("integer x\nmaximize x\n3 <= 4", "'3 <= 4' has no variables", 3, 1),
        ("integer x, y\nmaximize x\nif x then y <= 3", "'c3': the condition of 'if' must be a binary", 3, 1),
        ("integer x, y\nmaximize x\nk: if x then y <= 3", "'x' is integer", 3, 1),
        ("integer x, y\nmaximize x\nat most 1 of x, y", "at most counts binary variables", 3, 1),
        ("integer x, y\nmaximize x\nat least 1 of x, y", "'x', 'y' are not binary", 3, 1),
        ("binary b\ninteger y\nmaximize y\nexactly 1 of b, y", "'y' is not binary", 4, 1),
        ("binary b\nmaximize b\nat most 1.5 of b", "needs a whole number, not 1.5", 3, 9),
        ("binary b\ninteger x\nmaximize x\nif b = 2 then x >= 3", "a binary is 0 or 1, not 2", 4, 8),
        ("integer x in [5, 3]\nmaximize x", "the bounds of x are empty: 5 > 3", 1, 1),
        ("continuous x >= 2 <= 1\nmaximize x", "the bounds of x are empty", 1, 1),
        ("integer x\nmaximize x\n1 <= x >= 0", "chained comparison must run one way", 3, 3),
        ("integer x\nmaximize x\n1 = x = 1", "chained comparison must run one way", 3, 3),
        ("integer x\nmaximize x\nx <= (1", "unbalanced brackets: this bracket is never closed", 3, 6),
        ("integer x\nmaximize x\nx <= 1)", "unbalanced brackets: unexpected '\\)'", 3, 7),
        ("integer x\nmaximize (x\nx <= 1", "expected \\)", 2, 12),
        ("integer x\nmaximize x\nx <= 1,000", "unexpected ','", 3, 7),
        ("integer x\nmaximize x\nx <= $5", "unknown symbol '\\$'", 3, 6),
        ("integer x\nmaximize x\nx <=", "model ends too early", 3, 5),
    ],
)
def test_errors_say_what_and_where(text, message, line, column):
    err = error(text)
    assert (err.line, err.column) == (line, column), err.message
    assert err.message.splitlines()[0] and err.message == err.message.strip()
    import re

    assert re.search(message, err.message), err.message


def test_error_message_shows_the_line_with_a_caret():
    err = error("integer x, y\nmaximize x\nc: 2 x*y <= 3")
    assert err.message.endswith("c: 2 x*y <= 3\n   ^")
    assert "at line 3, column 4" in err.message
    assert err.excerpt == "c: 2 x*y <= 3\n   ^"


def test_non_string_is_refused():
    for value in (None, 3, b"integer x\nmaximize x"):
        with pytest.raises(ParseError, match="must be a string"):
            parse_model(value)  # type: ignore[arg-type]


def test_too_long_is_refused_before_parsing():
    text = "integer x\nmaximize x\n" + "x <= 3\n" * (MAX_MODEL_CHARS // 7)
    assert len(text) > MAX_MODEL_CHARS
    assert "too long" in error(text).message
    fits = "integer x\nmaximize x\n" + "\n" * (MAX_MODEL_CHARS - 30) + "x <= 3"
    assert only(parse_model(fits)).rhs == 3.0


@pytest.mark.parametrize(
    "expression",
    ["(" * 5000 + "x" + ")" * 5000, "-" * 5000 + "x", "2 ^ " * 3000 + "1", "x" + " + 1" * 8000],
)
def test_deep_nesting_is_a_parse_error_not_a_crash(expression):
    try:
        model = parse_model(f"integer x\nmaximize x\n{expression} <= 3")
    except ParseError as err:
        assert "nested too deeply" in err.message
    else:  # a long flat sum is fine
        assert expression.startswith("x +")
        assert only(model).rhs == 3 - 8000


def test_moderate_nesting_is_fine():
    assert only(parse_model("integer x\nmaximize x\n" + "(" * 100 + "x" + ")" * 100 + " <= 3")).rhs == 3.0


def test_numbers_at_the_limit_are_accepted():
    assert row("x <= 1e12").rhs == 1e12
    assert math.isclose(row("1e-9 x <= 1").expr.coefficients["x"], 1e-9)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("integer x\nmaximize x\na: x <= 1\na: x <= 2", ["a", "a_4"]),
        ("integer x\nmaximize x\na: x <= 1\na: x <= 2\na: x <= 3", ["a", "a_4", "a_5"]),
        ("integer x\nmaximize x\na: x <= 1\na_4: x <= 9\na: x <= 2", ["a", "a_4", "a_5"]),
        ("integer x\nmaximize x\na: x <= 1\na: x <= 2\na_4: x <= 9", ["a", "a_4b", "a_4"]),
        ("integer x, y\nmaximize x\nr: 1 <= x <= 3\nr_2: y <= 4", ["r", "r_2b", "r_2"]),
        ("integer x, y\nmaximize x\nr_2: y <= 4\nr: 1 <= x <= 3", ["r_2", "r", "r_2b"]),
    ],
)
def test_a_repeated_constraint_name_keeps_both_constraints_under_unique_names(text, names):
    model = parse_model(text)
    assert [c.name for c in model.constraints] == names
    assert parse_model(model.render()) == model
