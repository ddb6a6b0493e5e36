"""Big-M linearisation: derived bounds, the rows of each logic constraint, and brute-force checks of both."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from neurosym.milp.linearize import MAX_BIG_M, LinearizationError, derive_bounds, linearize
from neurosym.milp.parser import parse_model
from neurosym.milp.solve import solve_model

INF = math.inf

# -- derive_bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # integer rounding: 2x <= 7 gives x <= 3, 3y <= 7 gives y <= 2
        ("integer x, y\nmaximize x\n2 x + 3 y <= 7", {"x": (0, 3), "y": (0, 2)}),
        ("continuous x, y\nmaximize x\n2 x + 3 y <= 7", {"x": (0, 3.5), "y": (0, 7 / 3)}),
        # an equality row bounds from both sides
        ("integer x, y\nmaximize x\nx + y = 5", {"x": (0, 5), "y": (0, 5)}),
        ("integer x, y <= 2\nmaximize x\nx + y = 3", {"x": (1, 2), "y": (1, 2)}),
        # negative coefficients
        ("integer x, y\nmaximize x\n-2 x - y >= -7", {"x": (0, 3), "y": (0, 7)}),
        ("continuous x in [0, 4]\ncontinuous y\nmaximize x\ny - 2 x <= 1", {"x": (0, 4), "y": (0, 9)}),
        # lower bounds of free variables, and a bound passed on through a second row
        (
            "continuous x free\ncontinuous y\nmaximize x\nx - y >= -3\nx + y <= 10",
            {"x": (-3, 10), "y": (0, 13)},
        ),
        ("integer x, y\nmaximize x\nx - y <= 2\ny <= 3", {"x": (0, 5), "y": (0, 3)}),
        # whole numbers tighten fractional bounds inwards
        ("integer x\nmaximize x\nx >= 2.5\nx <= 7.5", {"x": (3, 7)}),
        ("integer x free\nmaximize x\n2 x >= -5", {"x": (-2, INF)}),
        # infinite bounds stay infinite where nothing limits them
        ("continuous x free\ncontinuous y\nmaximize x\nx + y <= 10", {"x": (-INF, 10), "y": (0, INF)}),
        ("integer x free\ninteger y free\nmaximize x\nx + y <= 10", {"x": (-INF, INF), "y": (-INF, INF)}),
        ("continuous x\nmaximize x", {"x": (0, INF)}),
        # cardinality rows take part; logic constraints do not
        (
            "binary a, b, c\ninteger x\nmaximize x\nat least 2 of a, b\nx + 3 a <= 10",
            {"a": (1, 1), "b": (1, 1), "c": (0, 1), "x": (0, 7)},
        ),
        (
            "binary a\ninteger x <= 10\ninteger y\nmaximize x\nif a then y <= 2\ny <= x",
            {"a": (0, 1), "x": (0, 10), "y": (0, 10)},
        ),
    ],
)
def test_derive_bounds(text, expected):
    bounds = derive_bounds(parse_model(text))
    assert set(bounds) == set(expected)
    for name, (lo, hi) in expected.items():
        assert bounds[name] == pytest.approx((lo, hi)), name


def test_derived_bounds_contain_every_feasible_point():
    # brute force over a box larger than the derived one: no feasible point is cut off
    text = "integer x, y in [-20, 20]\nmaximize x\na: 3 x - 2 y <= 7\nb: x + y >= -4\nc: x + 2 y <= 9"
    bounds = derive_bounds(parse_model(text))
    feasible = [
        (x, y) for x in range(-20, 21) for y in range(-20, 21) if 3 * x - 2 * y <= 7 and x + y >= -4 and x + 2 * y <= 9
    ]
    assert feasible
    for x, y in feasible:
        assert bounds["x"][0] <= x <= bounds["x"][1] and bounds["y"][0] <= y <= bounds["y"][1]
    # and the propagation did tighten something
    assert bounds["x"] != (-20, 20) or bounds["y"] != (-20, 20)


# -- linearize: the rows of each kind ----------------------------------------------------------


def rows(text):
    lp = linearize(parse_model(text))
    return [r.render() for r in lp.rows], list(lp.origins), [v.name for v in lp.variables]


def test_linear_rows_pass_through():
    assert rows("integer x, y\nmaximize x\ncap: x + y <= 4\nx >= 1") == (
        ["x + y <= 4", "x >= 1"],
        ["cap", "c4"],
        ["x", "y"],
    )


def test_cardinality_is_one_row():
    assert rows("binary a, b\nmaximize a\nk: at most 1 of a, b\nexactly 1 of a\nat least 1 of a, b") == (
        ["a + b <= 1", "a = 1", "a + b >= 1"],
        ["k", "c4", "c5"],
        ["a", "b"],
    )


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        # b = 1: x >= 3; b = 0: x >= 0 (its bound)
        ("if b then x >= 3", ["x - 3 b >= 0"]),
        # b = 1: x <= 3; b = 0: x <= 10
        ("if b then x <= 3", ["x + 7 b <= 10"]),
        # b = 0: x <= 3; b = 1: x <= 10
        ("if not b then x <= 3", ["x - 7 b <= 3"]),
        ("if b = 0 then x <= 3", ["x - 7 b <= 3"]),
        # an equality is two switched rows
        ("if b then x = 3", ["x + 7 b <= 10", "x - 3 b >= 0"]),
        # a chained comparison: both halves switched
        ("if b then 2 <= x <= 6", ["-x + 2 b <= 0", "x + 4 b <= 10"]),
        # holds anywhere within the bounds: no row
        ("if b then x <= 30", []),
        ("if b then x >= -1", []),
    ],
)
def test_indicator_rows(constraint, expected):
    got, origins, names = rows(f"binary b\ninteger x <= 10\nmaximize x\nk: {constraint}")
    assert got == expected
    assert origins == ["k"] * len(expected) and names == ["b", "x"]


def test_disjunction_gets_one_helper_binary_per_option():
    got, origins, names = rows("integer x, y <= 10\nmaximize x\nmix: x <= 2 or y >= 4")
    assert names == ["x", "y", "_mix_option1", "_mix_option2"]
    assert got == ["x + 8 _mix_option1 <= 10", "y - 4 _mix_option2 >= 0", "_mix_option1 + _mix_option2 >= 1"]
    assert origins == ["mix"] * 3
    lp = linearize(parse_model("integer x, y <= 10\nmaximize x\nmix: x <= 2 or y >= 4"))
    helpers = [v for v in lp.variables if v.name.startswith("_")]
    assert all(v.kind == "binary" and (v.lower, v.upper) == (0.0, 1.0) for v in helpers)


def test_helper_names_avoid_declared_variables():
    _, _, names = rows("integer x, y <= 10\ninteger _mix_option1 <= 1\nmaximize x\nmix: x <= 2 or y >= 4")
    assert names == ["x", "y", "_mix_option1", "_mix_option1_", "_mix_option2"]


def test_objective_and_sense_are_kept():
    lp = linearize(parse_model("integer x <= 3\nminimize 2 x + 5"))
    assert (lp.sense, lp.objective.render(), lp.rows) == ("minimize", "2 x + 5", ())


# -- linearize: refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "words"),
    [
        ("binary b\ninteger x\nmaximize x\nk: if b then x <= 3", ("x",), "no finite upper bound"),
        ("binary b\ncontinuous x free\nmaximize x\nx <= 10\nk: if b then x >= 3", ("x",), "no finite lower bound"),
        ("binary b\ninteger x, y <= 5\ninteger z\nmaximize x\nk: if b then x + z <= 3", ("z",), "upper bound"),
        ("integer x <= 5\ninteger y\nmaximize x\nk: x <= 2 or y <= 3", ("y",), "no finite upper bound"),
        ("binary b\ninteger x <= 1e11\nmaximize x\nk: if b then x <= 3", ("x",), "too much for a big-M switch"),
    ],
)
def test_a_missing_bound_names_the_variable(text, variables, words):
    with pytest.raises(LinearizationError) as info:
        linearize(parse_model(text))
    err = info.value
    assert err.constraint == "k" and err.variables == variables
    assert words in str(err) and f"'{variables[0]}'" in str(err) and "'k'" in str(err)


def test_a_bound_from_a_constraint_is_enough():
    got, _, _ = rows("binary b\ninteger x\nmaximize x\ncap: 2 x <= 9\nk: if b then x <= 3")
    assert got == ["2 x <= 9", "x + b <= 4"]  # x <= 4 derived from cap


def test_big_m_limit():
    assert MAX_BIG_M == 1e9
    rows("binary b\ninteger x <= 1e9\nmaximize x\nif b then x <= 0")  # exactly at the limit: accepted


# -- semantics: the rows hold (for some helper values) exactly where the model holds --------------


def lp_holds(lp, point, helpers):
    """Whether some 0/1 values of the helper binaries satisfy every row at ``point``."""
    for bits in itertools.product((0, 1), repeat=len(helpers)):
        full = {**point, **dict(zip(helpers, bits, strict=True))}
        ok = True
        for r in lp.rows:
            activity = sum(coef * full[name] for name, coef in r.expr.terms)
            if r.sense == "<=":
                ok = activity <= r.rhs + 1e-9
            elif r.sense == ">=":
                ok = activity >= r.rhs - 1e-9
            else:
                ok = abs(activity - r.rhs) <= 1e-9
            if not ok:
                break
        if ok:
            return True
    return False


# Each model with the same constraints written as Python, and its box of whole numbers (which
# holds every feasible point: declared or implied by a linear row).
HAND_MODELS = [
    (
        "integer x in [0, 6]\ninteger y in [-3, 4]\nbinary b, c\nmaximize 3 x + 2 y - 4 b + c\n"
        "cap: x + y <= 7\non: if b then x >= 5\noff: if not b then y <= 1\nmix: x <= 2 or y >= 3\n"
        "pick: at most 1 of b, c\nlink: if c then x + y = 4",
        {"x": range(0, 7), "y": range(-3, 5), "b": (0, 1), "c": (0, 1)},
        lambda x, y, b, c: (
            x + y <= 7
            and (not b or x >= 5)
            and (b or y <= 1)
            and (x <= 2 or y >= 3)
            and b + c <= 1
            and (not c or x + y == 4)
        ),
        lambda x, y, b, c: 3 * x + 2 * y - 4 * b + c,
    ),
    (
        "integer p, q in [-4, 4]\nbinary s\nminimize 2 p - 3 q + 5 s\n"
        "either: p + q = 3 or p - q >= 5\nif s then q <= -2\nif not s then p >= 1",
        {"p": range(-4, 5), "q": range(-4, 5), "s": (0, 1)},
        lambda p, q, s: (p + q == 3 or p - q >= 5) and (not s or q <= -2) and (s or p >= 1),
        lambda p, q, s: 2 * p - 3 * q + 5 * s,
    ),
    (
        "integer x, y, z in [0, 5]\nbinary u, v\nmaximize x + 2 y - z + 3 u - v\n"
        "d: x + y >= 7 or z >= 4 or x - y = 2\nw: if u then 1 <= x - z <= 2\nk: if v = 0 then y <= 2\n"
        "exactly 1 of u, v",
        {"x": range(6), "y": range(6), "z": range(6), "u": (0, 1), "v": (0, 1)},
        lambda x, y, z, u, v: (
            (x + y >= 7 or z >= 4 or x - y == 2) and (not u or 1 <= x - z <= 2) and (v or y <= 2) and u + v == 1
        ),
        lambda x, y, z, u, v: x + 2 * y - z + 3 * u - v,
    ),
    (
        # no declared upper bounds: the big-M comes from the bounds that cap implies (x <= 6, y <= 4)
        "integer x, y\nbinary b\nmaximize 5 x + 4 y - 3 b\ncap: 2 x + 3 y <= 12\n"
        "if b then x >= 3\nif not b then y <= 1\nmix: x <= 1 or y <= 1",
        {"x": range(7), "y": range(5), "b": (0, 1)},
        lambda x, y, b: 2 * x + 3 * y <= 12 and (not b or x >= 3) and (b or y <= 1) and (x <= 1 or y <= 1),
        lambda x, y, b: 5 * x + 4 * y - 3 * b,
    ),
    (
        "integer x, y in [0, 4]\nbinary b\nminimize x + y + b\nif b then x > y\nif not b then y > x + 1.5\nx + y >= 3",
        {"x": range(5), "y": range(5), "b": (0, 1)},
        lambda x, y, b: (not b or x > y) and (b or y > x + 1.5) and x + y >= 3,
        lambda x, y, b: x + y + b,
    ),
    (
        # infeasible only through the logic
        "binary a\ninteger x in [0, 3]\nmaximize x\nif a then x >= 3\nif not a then x <= 0\nx >= 1\nx <= 2",
        {"a": (0, 1), "x": range(4)},
        lambda a, x: (not a or x >= 3) and (a or x <= 0) and 1 <= x <= 2,
        lambda a, x: x,
    ),
]


def brute_force(box, holds, objective, sense):
    names = list(box)
    best = None
    for values in itertools.product(*box.values()):
        point = dict(zip(names, values, strict=True))
        if holds(**point):
            value = objective(**point)
            if best is None or (value > best if sense == "maximize" else value < best):
                best = value
    return best


def check_against_brute_force(text, box, holds, objective):
    model = parse_model(text)
    lp = linearize(model)
    helpers = [v.name for v in lp.variables if v.name not in box]
    assert [v.name for v in model.variables] == list(box)
    # the rows hold, for some helper values, exactly where the model holds
    for values in itertools.product(*box.values()):
        point = dict(zip(box, values, strict=True))
        assert lp_holds(lp, point, helpers) == bool(holds(**point)), point
    # and the solvers find the brute-force optimum
    best = brute_force(box, holds, objective, model.sense)
    result = solve_model(model)
    if best is None:
        assert result.status == "infeasible"
        return
    assert result.status == "optimal", result.notes
    assert result.objective == pytest.approx(best, abs=1e-6)
    solution = {n: round(result.values[n]) for n in box}
    assert holds(**solution) and objective(**solution) == pytest.approx(best)


@pytest.mark.parametrize(("text", "box", "holds", "objective"), HAND_MODELS)
def test_linearization_matches_brute_force(text, box, holds, objective):
    check_against_brute_force(text, box, holds, objective)


def random_model(seed):
    """A random small model over whole numbers, as text and as Python."""
    rng = random.Random(seed)
    ints = ["x0", "x1", "x2"]
    lows = {n: rng.randint(-3, 0) for n in ints}
    highs = {n: rng.randint(1, 4) for n in ints}
    bins = ["b0", "b1"]
    ops = {"<=": lambda a, r: a <= r, ">=": lambda a, r: a >= r, "=": lambda a, r: a == r,
           "<": lambda a, r: a < r, ">": lambda a, r: a > r}  # fmt: skip

    def relation():
        names = rng.sample(ints, rng.randint(1, 2))
        coefs = {n: rng.choice([-3, -2, -1, 1, 2, 3]) for n in names}
        op = rng.choice(list(ops))
        rhs = rng.randint(-4, 6) + rng.choice([0, 0, 0.5])
        text = " ".join(f"{c:+d} {n}" for n, c in coefs.items()) + f" {op} {rhs:g}"
        return text, (lambda p, coefs=coefs, op=op, rhs=rhs: ops[op](sum(c * p[n] for n, c in coefs.items()), rhs))

    lines = [f"integer {n} in [{lows[n]}, {highs[n]}]" for n in ints] + ["binary " + ", ".join(bins)]
    weights = {n: rng.randint(-3, 3) for n in ints + bins}
    sense = rng.choice(["maximize", "minimize"])
    lines.append(f"{sense} " + " ".join(f"{w:+d} {n}" for n, w in weights.items()))
    checks = []
    for _ in range(rng.randint(0, 2)):
        text, check = relation()
        lines.append(text)
        checks.append(check)
    for _ in range(rng.randint(1, 3)):
        b = rng.choice(bins)
        value = rng.choice([0, 1])
        text, check = relation()
        lines.append(f"if {'' if value else 'not '}{b} then {text}")
        checks.append(lambda p, b=b, value=value, check=check: p[b] != value or check(p))
    options = [relation() for _ in range(rng.randint(2, 3))]
    lines.append(" or ".join(text for text, _ in options))
    checks.append(lambda p, options=options: any(check(p) for _, check in options))
    if rng.random() < 0.5:
        k = rng.randint(0, 2)
        kind = rng.choice(["at most", "at least", "exactly"])
        lines.append(f"{kind} {k} of b0, b1")
        counts = {"at most": lambda s: s <= k, "at least": lambda s: s >= k, "exactly": lambda s: s == k}[kind]
        checks.append(lambda p, counts=counts: counts(p["b0"] + p["b1"]))
    box = {n: range(lows[n], highs[n] + 1) for n in ints} | {b: (0, 1) for b in bins}
    return (
        "\n".join(lines),
        box,
        lambda **p: all(check(p) for check in checks),
        lambda **p: sum(w * p[n] for n, w in weights.items()),
    )


@pytest.mark.parametrize("seed", range(24))
def test_random_models_match_brute_force(seed):
    check_against_brute_force(*random_model(seed))


def test_random_models_cover_both_outcomes():
    # the random set above is not all infeasible (or all feasible): both branches get exercised
    outcomes = set()
    for seed in range(24):
        _, box, holds, objective = random_model(seed)
        outcomes.add(brute_force(box, holds, objective, "maximize") is None)
    assert outcomes == {True, False}
