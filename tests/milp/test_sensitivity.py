"""HiGHS's sensitivity analysis and IIS, checked against re-solves (the duals, the ranges) and against CBC (the IIS)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from neurosym.milp.linearize import linearize
from neurosym.milp.parser import parse_model
from neurosym.milp.report import CheckedSolution
from neurosym.milp.sensitivity import Sensitivity, analyse, highs_iis
from neurosym.milp.solve import run_solver, solve_model
from neurosym.milp.syntax import Comparison, LinearExpr, Model

LP = (
    "continuous x, y, z\nmaximize 5 x + 4 y + 3 z\n"
    "m1: 2 x + 3 y + z <= 5\nm2: 4 x + y + 2 z <= 11\nm3: 3 x + 4 y + 2 z <= 8"
)
MIN_LP = "continuous a, b\nminimize 2 a + 3 b\nneed: a + b >= 4\nmix: a - b <= 1\nb_cap: b <= 10"


def optimum(model: Model) -> float:
    result = solve_model(model, sensitivity=False)
    assert result.status == "optimal", result.notes
    assert result.objective is not None
    return result.objective


def optimum_or_none(model: Model) -> float | None:
    """The optimum, or None where the model has none (past a range's end it may be infeasible)."""
    result = solve_model(model, sensitivity=False)
    return result.objective if result.status == "optimal" else None


def with_rhs(model: Model, name: str, rhs: float) -> Model:
    constraints = tuple(
        replace(c, rhs=rhs) if isinstance(c, Comparison) and c.name == name else c for c in model.constraints
    )
    return replace(model, constraints=constraints)


def with_cost(model: Model, name: str, cost: float) -> Model:
    coefficients = model.objective.coefficients
    coefficients[name] = cost
    return replace(model, objective=LinearExpr(tuple(coefficients.items()), model.objective.constant))


@pytest.mark.parametrize("text", [LP, MIN_LP])
def test_each_dual_is_the_rate_at_which_the_optimum_moves_with_the_right_hand_side(text):
    model = parse_model(text)
    report = analyse(model)
    assert report is not None and report.basis == "lp"
    assert math.isclose(report.objective, optimum(model), abs_tol=1e-9)
    for row in report.rows:
        low, high = row.rhs_range
        # a step that stays inside the range over which the basis (and so the dual) holds
        step = 0.25 if high is None else min(0.25, (high - row.rhs) / 2)
        if step <= 1e-9:
            step = -0.25 if low is None else -min(0.25, (row.rhs - low) / 2)
        if abs(step) <= 1e-9:
            continue
        moved = optimum(with_rhs(model, row.name, row.rhs + step))
        assert math.isclose(moved - report.objective, row.dual * step, abs_tol=1e-7), (row, step)


@pytest.mark.parametrize("text", [LP, MIN_LP])
def test_a_right_hand_side_beyond_its_range_changes_the_rate(text):
    model = parse_model(text)
    report = analyse(model)
    assert report is not None
    checked = 0
    for row in report.rows:
        high = row.rhs_range[1]
        if high is None or not row.binding:
            continue
        inside = optimum(with_rhs(model, row.name, high)) - report.objective
        beyond = optimum_or_none(with_rhs(model, row.name, high + 1.0))
        assert math.isclose(inside, row.dual * (high - row.rhs), abs_tol=1e-7)
        if beyond is not None:  # else past the end the model is infeasible: the rate has changed too
            assert not math.isclose(beyond - report.objective, row.dual * (high + 1.0 - row.rhs), abs_tol=1e-7), row
        checked += 1
    assert checked


@pytest.mark.parametrize("text", [LP, MIN_LP])
def test_the_solution_stays_optimal_over_each_cost_range_and_not_beyond(text):
    model = parse_model(text)
    report = analyse(model)
    assert report is not None
    solution = {v.name: v.value for v in report.variables}
    for variable in report.variables:
        for end, outward in zip(variable.cost_range, (-1.0, 1.0), strict=True):
            if end is None:
                continue
            at_end = with_cost(model, variable.name, end)
            assert math.isclose(optimum(at_end), at_end.objective.value(solution), abs_tol=1e-7), (variable, end)
            beyond = with_cost(model, variable.name, end + outward)
            better = optimum_or_none(beyond)
            if better is None:  # unbounded past the end
                continue
            kept = beyond.objective.value(solution)
            assert not math.isclose(better, kept, abs_tol=1e-7), (variable, end)


def test_reduced_costs_slack_and_binding_rows():
    report = analyse(parse_model(LP))
    assert report is not None
    values = {v.name: v for v in report.variables}
    # the textbook optimum: x = 2, z = 1, y = 0; m2 has slack 1
    assert (values["x"].value, values["y"].value, values["z"].value) == (2.0, 0.0, 1.0)
    assert values["y"].reduced_cost < 0 and not values["y"].basic
    rows = {r.name: r for r in report.rows}
    assert rows["m2"].slack == 1.0 and not rows["m2"].binding and rows["m2"].dual == 0.0
    assert report.binding == ("m1", "m3")
    # moving y off its bound by 1 costs what its reduced cost says
    forced = replace(parse_model(LP + "\nforce: y >= 1"))
    assert math.isclose(optimum(forced) - report.objective, values["y"].reduced_cost, abs_tol=1e-7)


def test_an_integer_model_is_analysed_with_its_integers_fixed():
    model = parse_model("integer n <= 10\ncontinuous x\nmaximize 5 n + x\nmix: n + x <= 3.5\nwhole: n <= 2.5")
    result = solve_model(model)
    assert result.sensitivity is not None and result.sensitivity.basis == "integers_fixed"
    assert result.sensitivity.objective == result.objective == 11.5
    values = {v.name: v for v in result.sensitivity.variables}
    assert values["n"].fixed and values["n"].cost_range == (None, None) and not values["x"].fixed
    mix = next(r for r in result.sensitivity.rows if r.name == "mix")
    assert mix.dual == 1.0 and mix.binding  # one more unit of mix is one more x, with n kept at 2


def test_logic_constraints_are_analysed_row_by_row_with_their_origin():
    model = parse_model("binary b\ncontinuous x <= 10\nmaximize x - 2 b\nsw: if not b then x <= 3\nx + b <= 8")
    report = solve_model(model).sensitivity
    assert report is not None
    assert {r.constraint for r in report.rows} == {"sw", "c5"}
    assert all(v.fixed for v in report.variables if v.name == "b")


def test_sensitivity_goes_into_the_certificate_its_json_and_its_report():
    model = parse_model(LP)
    result = solve_model(model)
    certificate = CheckedSolution.from_result(model, result)
    data = certificate.to_dict()
    assert data["sensitivity"]["rows"][0]["name"] == "m1" and "dual" in data["sensitivity"]["rows"][0]
    back = CheckedSolution.from_dict(data)
    assert back.sensitivity == result.sensitivity
    assert Sensitivity.from_dict(result.sensitivity.to_dict()) == result.sensitivity  # type: ignore[union-attr]
    text = certificate.render()
    assert "sensitivity (HiGHS, the LP):" in text and "rhs range" in text and "reduced cost" in text
    assert result.to_dict()["sensitivity"]["basis"] == "lp"


def test_an_all_integer_model_keeps_its_report_as_before():
    model = parse_model("integer chairs, tables\nmaximize 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 40")
    result = solve_model(model)
    assert result.sensitivity is not None and all(v.fixed for v in result.sensitivity.variables)
    assert "sensitivity" not in CheckedSolution.from_result(model, result).render()


def test_no_sensitivity_when_asked_for_none_or_not_optimal():
    assert solve_model(parse_model(LP), sensitivity=False).sensitivity is None
    assert solve_model(parse_model("continuous x\nmaximize x\nx >= 2\nc: x <= 1")).sensitivity is None


# -- the IIS --------------------------------------------------------------------------------------


def cbc_feasible(model: Model) -> bool:
    """Feasibility by CBC (the other solver, so the check does not rest on HiGHS)."""
    run = run_solver(linearize(model), "cbc", zero_objective=True)
    assert run.status in ("optimal", "infeasible"), run
    return run.status == "optimal"


def assert_irreducible(model: Model, names: tuple[str, ...]) -> None:
    assert names, "an empty conflict"
    members = [c for c in model.constraints if c.name in set(names)]
    assert len(members) == len(names)
    assert not cbc_feasible(replace(model, constraints=tuple(members))), f"{names} is feasible"
    for c in members:
        rest = tuple(m for m in members if m is not c)
        assert cbc_feasible(replace(model, constraints=rest)), f"{names} without {c.name} is still infeasible"


INFEASIBLE = [
    "continuous x, y\nmaximize x\na: x >= 5\nb: y <= 3\nc: x + y <= 4",
    "integer x, y\nminimize x + y\na: x + y >= 10\nb: x <= 3\nc: y <= 3\nd: x - y = 0\ne: x >= 1",
    "continuous x, y, z\nmaximize x\na: x + y + z >= 12\nb: x <= 2\nc: y <= 2\nd: z <= 2\ne: x + y <= 100",
    # logic constraints: an if-then and an either-or in the conflict
    "binary b\ninteger x <= 20\nmaximize x\nsw: if b then x >= 15\nmust: b = 1\ncap: x <= 10\nfree_row: x >= 0",
    "integer x, y <= 10\nmaximize x\nor1: x >= 8 or y >= 8\ncap: x + y <= 5\nother: x <= 9",
    # infeasible only in whole numbers: HiGHS's relaxation IIS has nothing; the deletion filter answers
    "integer x\nmaximize x\nlow: 2 x >= 1\nhigh: 2 x <= 1.5\nspare: x <= 7",
    # the relaxation conflicts on fewer rows than the integer model needs
    "integer x, y\nmaximize x\nodd: 2 x + 2 y = 3\nbig: x >= 0.5\nfar: x + y <= 10",
]


@pytest.mark.parametrize("text", INFEASIBLE)
def test_every_reported_iis_is_irreducible(text):
    model = parse_model(text)
    result = solve_model(model)
    assert result.status == "infeasible" and result.diagnosed
    assert_irreducible(model, result.iis)
    assert_irreducible(model, result.conflict)
    assert result.iis_method in ("highs_iis", "highs_iis+deletion_filter", "deletion_filter")
    found = highs_iis(model)
    if found is not None and result.iis_method == "highs_iis":
        assert set(found[0]) == set(result.iis)


def test_the_iis_of_an_lp_comes_from_highs_with_its_bounds():
    model = parse_model(INFEASIBLE[0])
    result = solve_model(model)
    assert result.iis == ("a", "c") and result.iis_method == "highs_iis" and result.iis_bounds == ("y >= 0",)
    data = result.to_dict()
    assert data["iis"] == ["a", "c"] and data["iis_method"] == "highs_iis"


def test_an_integrality_conflict_falls_back_to_the_deletion_filter():
    model = parse_model(INFEASIBLE[5])
    assert highs_iis(model) is None
    result = solve_model(model)
    assert result.iis_method == "deletion_filter" and result.iis == ("low", "high")


def random_infeasible_models(count: int, seed: int = 0) -> list[Model]:
    """Small random models made infeasible by a demand row no capacity row lets through."""
    rng = random.Random(seed)
    models = []
    while len(models) < count:
        n = rng.randint(2, 4)
        names = [f"x{i}" for i in range(n)]
        kind = rng.choice(["continuous", "integer"])
        lines = [f"{kind} {', '.join(names)} <= 20", "maximize " + " + ".join(names)]
        for j in range(rng.randint(3, 6)):
            terms = " + ".join(f"{rng.randint(1, 5)} {x}" for x in rng.sample(names, rng.randint(1, n)))
            sense = rng.choice(["<=", ">="])
            lines.append(f"r{j}: {terms} {sense} {rng.randint(1, 40)}")
        model = parse_model("\n".join(lines))
        if not cbc_feasible(model):
            models.append(model)
    return models


def test_random_infeasible_models_get_irreducible_subsets():
    for model in random_infeasible_models(12):
        result = solve_model(model)
        assert result.status == "infeasible"
        assert_irreducible(model, result.iis)


def test_a_large_report_prints_its_first_rows_and_says_how_many_more():
    names = [f"x{i}" for i in range(50)]
    rows = "\n".join(f"r{i}: x{i} <= {i + 1}" for i in range(50))
    model = parse_model(f"continuous {', '.join(names)}\nmaximize {' + '.join(names)}\n{rows}")
    report = analyse(model)
    assert report is not None and len(report.rows) == 50
    text = report.render(most=10)
    assert "... and 40 more rows (all of them in the JSON)" in text
    assert "... and 40 more variables" in text and "r9 " in text and "r10 " not in text
    assert len(report.to_dict()["rows"]) == 50
