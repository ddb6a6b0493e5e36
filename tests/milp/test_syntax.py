"""The MILP syntax tree: expressions, constraints and models, their values and how they print (and parse back)."""

from __future__ import annotations

import pytest

from neurosym.milp.parser import parse_model
from neurosym.milp.syntax import Cardinality, Comparison, Disjunction, Indicator, LinearExpr, Model, Variable


def test_linear_expr_value_and_render():
    expr = LinearExpr((("x", 2.0), ("y", -1.0), ("z", 0.5)), -3.0)
    assert expr.value({"x": 4, "y": 1, "z": 2}) == 2 * 4 - 1 + 1 - 3
    assert expr.render() == "2 x - y + 0.5 z - 3"
    assert LinearExpr((("x", -1.0),)).render() == "-x"
    assert LinearExpr((), 0.0).render() == "0"
    assert LinearExpr.combine([(expr, 1.0), (expr, -1.0)], 4.0) == LinearExpr((), 4.0)


@pytest.mark.parametrize("value", [0.1 + 0.2, 1 / 3, 1e-7, 123456.789, 2.5e11, 1e12])
def test_numbers_print_exactly(value):
    # the text must give the same double back, so that a rendered model is the same model
    rendered = LinearExpr((("x", value),)).render()
    [c] = parse_model(f"continuous x\nmaximize x\n{rendered} <= 1").constraints
    assert c.expr.terms == (("x", value),)


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        (Variable("x"), "continuous x"),
        (Variable("x", "integer", 2.0), "integer x >= 2"),
        (Variable("x", "continuous", None, None), "continuous x free"),
        (Variable("x", "integer", 0.0, 3.0), "integer x in [0, 3]"),
        (Variable("x", "continuous", None, 5.0), "continuous x in [-inf, 5]"),
        (Variable("b", "binary", 0.0, 1.0), "binary b"),
    ],
)
def test_variable_declarations(variable, text):
    assert variable.render() == text
    assert parse_model(f"{text}\nmaximize {variable.name}").variables == (variable,)
    assert variable.integral == (variable.kind != "continuous")


def test_comparison_slack_by_sense():
    expr = LinearExpr((("x", 1.0), ("y", 2.0)))
    at = {"x": 1.0, "y": 1.0}  # activity 3
    assert Comparison(expr, "<=", 4.0).slack(at) == 1.0
    assert Comparison(expr, ">=", 4.0).slack(at) == -1.0
    assert Comparison(expr, "==", 4.0).slack(at) == -1.0
    assert Comparison(expr, "==", 3.0).slack(at) == 0.0
    assert Comparison(expr, "==", 3.0).render() == "x + 2 y = 3"


def test_indicator_prints_a_chain_as_one_and_other_pairs_with_and():
    x = LinearExpr((("x", 1.0),))
    minus_x = LinearExpr((("x", -1.0),))
    chain = Indicator("b", 1, (Comparison(minus_x, "<=", -1.0), Comparison(x, "<=", 4.0)))
    assert chain.render() == "if b then 1 <= x <= 4"
    pair = Indicator("b", 0, (Comparison(x, ">=", 1.0), Comparison(x, "<=", 4.0)))
    assert pair.render() == "if not b then x >= 1 and x <= 4"
    assert chain.variables() == ("b", "x", "x")


def test_disjunction_and_cardinality():
    x, y = LinearExpr((("x", 1.0),)), LinearExpr((("y", 1.0),))
    either = Disjunction((Comparison(x, "<=", 2.0), Comparison(y, ">=", 4.0)), "mix", 7)
    assert either.render() == "x <= 2 or y >= 4" and either.variables() == ("x", "y")
    pick = Cardinality("at most", 1, ("a", "b"), "pick", 9)
    assert pick.render() == "at most 1 of a, b"
    assert pick.as_comparison() == Comparison(LinearExpr((("a", 1.0), ("b", 1.0))), "<=", 1.0, "pick")
    assert pick.as_comparison().line == 9


def test_model_lookups():
    model = parse_model("integer x\ncontinuous y\nmaximize x\ncap: x + y <= 4")
    assert model.constraint("cap").render() == "x + y <= 4"
    with pytest.raises(KeyError):
        model.constraint("missing")
    assert set(model.variable_map) == {"x", "y"} and model.integral
    assert isinstance(model, Model)


# -- rendering --------------------------------------------------------------------------------

ROUND_TRIP = [
    "integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4\nx <= 3",
    "integer a\ncontinuous b free\nbinary c\ncontinuous d in [-inf, 5]\ninteger e >= 2 <= 8\ncontinuous g >= -3\n"
    "minimize cost: a + b - 2.5 c + d + e + g + 7\nb >= -10",
    "integer x, y\nmaximize x + y\nrange: 2 <= x - y <= 9\n9 >= x + y >= 2\nx > y + 0.5",
    "binary b\ninteger x <= 5\nmaximize x\nif b then x >= 3\nif not b then x <= 1\nc: if b = 0 then x = 2\n"
    "chain: if b then 1 <= x <= 4\nflip: if not b then 4 >= x >= 2",
    "binary a, b, c\nmaximize a\nat most 1 of a, b\nat least 2 of a, b, c\nexactly 1 of c",
    "integer x, y <= 10\nmaximize x\neither: x <= 2 or y >= 4 or x + y = 7",
    "continuous x, y\nmaximize 0.1 x + 1e-3 - y / 3\nx <= 1/3\nshare: x >= 17.5% (x + y)\ny <= 1e12",
    "continuous x; integer n; maximise 2x + 3 (n - 1); subject to; x + n <= 10 // done",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_render_round_trips(text):
    model = parse_model(text)
    again = parse_model(model.render())
    assert again == model
    assert again.render() == model.render()


def test_render_is_canonical():
    model = parse_model("integer x <= 3\ninteger y\nmaximise profit: 2x + y\ncap: x + y <= 4\n3 >= y  # cap")
    assert model.render() == "integer x in [0, 3]\ninteger y\nmaximize profit: 2 x + y\ncap: x + y <= 4\nc5: -y >= -3"


def test_render_of_each_statement():
    model = parse_model(
        "integer x <= 3\ncontinuous y free\nbinary b\nmaximize profit: 2x + y\ncap: x + y <= 4\n"
        "if not b then x = 0\nmix: x <= 1 or y >= 2\npick: exactly 1 of b"
    )
    assert model.render() == (
        "integer x in [0, 3]\ncontinuous y free\nbinary b\nmaximize profit: 2 x + y\ncap: x + y <= 4\n"
        "c6: if not b then x = 0\nmix: x <= 1 or y >= 2\npick: exactly 1 of b"
    )


def test_equality_ignores_the_source_and_line_numbers():
    one = parse_model("integer x\nmaximize x\ncap: x <= 3")
    two = parse_model("# same model\ninteger x\n\nmaximize x   # comment\ncap: x <= 3")
    assert one == two and one.source != two.source
    assert one != parse_model("integer x\nmaximize x\ncap: x <= 4")
