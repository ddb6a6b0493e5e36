"""Solving with HiGHS and CBC: statuses settled by checks, conflicts, runaway variables, solver trouble."""

from __future__ import annotations

import itertools
import math
import random
import tempfile
import time
from dataclasses import replace

import pytest

import neurosym.milp.solve as solve_module
import neurosym.provers.cbc as cbc_module
from neurosym.errors import ConfigurationError
from neurosym.milp.check import check_solution
from neurosym.milp.linearize import linearize
from neurosym.milp.parser import parse_model
from neurosym.milp.solve import (
    CBC_GRACE_S,
    SolverRun,
    conflicting_constraints,
    run_solver,
    runaway_variables,
    solve_model,
)
from neurosym.processes import has_ended
from neurosym.provers._pulp import pulp_problem
from neurosym.provers.cbc import CbcProver, cbc_path
from neurosym.provers.highs import HighsProver

CHAIRS = "integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 40\n"
CHAIRS += "hours: 3 chairs + 2 tables <= 36"

REAL_RUN_SOLVER = run_solver


def main_solve(kwargs) -> bool:
    """Whether a run_solver call is one of solve_model's main solves (not a diagnostic one)."""
    return not any(kwargs.get(k) for k in ("relax", "all_integer", "zero_objective", "cap"))


# -- optimal ----------------------------------------------------------------------------------


def test_optimal_with_both_solvers_and_the_check():
    best = max(
        (30 * c + 50 * t, c, t) for c in range(21) for t in range(11) if 2 * c + 4 * t <= 40 and 3 * c + 2 * t <= 36
    )
    result = solve_model(parse_model(CHAIRS))
    assert result.status == "optimal" and not result.notes and not result.disagreement
    assert [(r.solver, r.status) for r in result.runs] == [("highs", "optimal"), ("cbc", "optimal")]
    assert all(r.objective == pytest.approx(best[0]) for r in result.runs)
    assert result.objective == best[0]
    values = result.values
    assert 30 * values["chairs"] + 50 * values["tables"] == result.objective  # recomputed, not reported
    assert all(float(v).is_integer() for v in values.values())
    assert result.check is not None and result.check.ok and not result.check.problems
    assert set(result.check.binding) <= {"wood", "hours"}
    assert result.conflict == () and result.runaway == ()
    assert result.seconds > 0


def test_lp_relaxation_of_an_integer_model():
    # LP: x = 4.5 gives 13.5; in whole numbers x + y <= 4, so x = 4 gives 12
    result = solve_model(parse_model("integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4.5"))
    assert result.status == "optimal"
    assert result.objective == 12.0 and result.lp_relaxation == pytest.approx(13.5)
    assert result.integer_optimum is None


def test_lp_relaxation_equal_to_the_integer_optimum():
    result = solve_model(parse_model(CHAIRS))
    # LP vertex of wood and hours: 2c + 4t = 40, 3c + 2t = 36 -> c = 8, t = 6, already whole
    assert result.lp_relaxation == pytest.approx(540.0) and result.objective == 540.0


def test_integer_optimum_of_a_fractional_continuous_model():
    # LP: x = 1.2, y = (3.5 - 1.2) / 2 = 1.15 -> 2.35; whole numbers: x <= 1, 2y <= 2.5 -> y <= 1 -> 2
    result = solve_model(parse_model("continuous x, y\nmaximize x + y\nx + 2 y <= 3.5\nx <= 1.2"))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(2.35)
    assert result.values["x"] == pytest.approx(1.2) and result.values["y"] == pytest.approx(1.15)
    assert result.integer_optimum == pytest.approx(2.0)
    assert result.lp_relaxation is None


def test_no_integer_optimum_when_the_continuous_optimum_is_whole():
    result = solve_model(parse_model("continuous x, y\nmaximize x + y\nx + y <= 3\nx <= 1"))
    assert result.objective == pytest.approx(3.0) and result.integer_optimum is None


def test_constant_in_the_objective():
    result = solve_model(parse_model("integer x\nmaximize x + 7\nx <= 3"))
    assert (result.status, result.objective, dict(result.values)) == ("optimal", 10.0, {"x": 3.0})
    result = solve_model(parse_model("integer x <= 3\nminimize 5 - 2 x\nx >= 1"))
    assert (result.objective, result.values["x"]) == (-1.0, 3.0)


def test_objective_that_is_only_a_constant():
    result = solve_model(parse_model("integer x <= 3\nmaximize 5\nx >= 1"))
    assert result.status == "optimal" and result.objective == 5.0
    assert 1 <= result.values["x"] <= 3


def test_a_declared_variable_used_nowhere_still_gets_a_value():
    result = solve_model(parse_model("integer x, y\ncontinuous z in [-2, 5]\nmaximize x\nx <= 3"))
    assert result.status == "optimal", result.notes
    assert result.objective == 3.0
    assert result.values["y"] >= 0 and float(result.values["y"]).is_integer() and -2 <= result.values["z"] <= 5


def test_minimize_with_negative_bounds():
    # x + y >= -3 with x, y in [-5, 5]: minimum of x + 2 y is at y = -5, x = 2 -> -8
    result = solve_model(parse_model("integer x, y in [-5, 5]\nminimize x + 2 y\nx + y >= -3"))
    best = min(x + 2 * y for x in range(-5, 6) for y in range(-5, 6) if x + y >= -3)
    assert result.objective == best == -8


def test_one_solver_only():
    result = solve_model(parse_model(CHAIRS), solvers=("cbc",))
    assert [r.solver for r in result.runs] == ["cbc"] and result.objective == 540.0


# -- infeasible -------------------------------------------------------------------------------

CONFLICT_MODEL = (
    "integer x, y, z <= 20\nmaximize x + y + z\na: x + y >= 10\nb: x <= 3\nc: y <= 4\nd: z >= 1\n"
    "e: x + z <= 30\nf: y + z <= 25"
)
CONFLICT_CHECKS = {
    "a": lambda x, y, z: x + y >= 10,
    "b": lambda x, y, z: x <= 3,
    "c": lambda x, y, z: y <= 4,
    "d": lambda x, y, z: z >= 1,
    "e": lambda x, y, z: x + z <= 30,
    "f": lambda x, y, z: y + z <= 25,
}


def feasible_by_brute_force(names):
    return any(all(CONFLICT_CHECKS[n](x, y, z) for n in names) for x, y, z in itertools.product(range(21), repeat=3))


def test_infeasible_with_an_irreducible_conflict():
    assert not feasible_by_brute_force(CONFLICT_CHECKS)
    result = solve_model(parse_model(CONFLICT_MODEL))
    assert result.status == "infeasible" and result.objective is None and result.values == {}
    assert {r.status for r in result.runs} == {"infeasible"}
    conflict = result.conflict
    assert conflict and set(conflict) <= set(CONFLICT_CHECKS)
    assert not feasible_by_brute_force(conflict)  # the set conflicts by itself
    for dropped in conflict:  # and every member is needed
        assert feasible_by_brute_force([n for n in conflict if n != dropped]), dropped
    assert conflict == ("a", "b", "c")  # the only conflicting set here


def test_conflict_with_logic_constraints():
    model = parse_model(
        "integer x <= 10\nbinary b\nmaximize x\non: b = 1\nlink: if b then x >= 8\ncap: x <= 5\nother: x >= 1"
    )
    result = solve_model(model)
    assert result.status == "infeasible"
    assert result.conflict == ("on", "link", "cap")
    for dropped in result.conflict:
        kept = tuple(c for c in model.constraints if c.name != dropped)
        assert solve_model(replace(model, constraints=kept)).status == "optimal", dropped


def test_infeasible_from_whole_numbers():
    result = solve_model(parse_model("integer x <= 3\nmaximize x\nlow: x >= 0.5\nhigh: x <= 0.7"))
    assert result.status == "infeasible" and result.conflict == ("low", "high")


def test_bounds_alone_infeasible_have_an_empty_conflict():
    # no whole number in [1.2, 1.5]: no constraint is to blame
    for text in (
        "integer x in [1.2, 1.5]\nmaximize x\nx <= 3",
        "integer x in [1.2, 1.5]\ninteger y\nmaximize y\ny <= 2",
    ):
        result = solve_model(parse_model(text))
        assert result.status == "infeasible", text
        assert result.conflict == ()


def test_conflicting_constraints_of_a_feasible_model_is_empty():
    assert conflicting_constraints(parse_model(CHAIRS)) == ()


# -- unbounded --------------------------------------------------------------------------------

RUNAWAY_IP = "integer a, b\nmaximize 30 a + 50 b\n2 a + 4 b >= 40\n3 a + 2 b >= 36"


def test_unbounded_integer_program():
    # (20 + k, 0) is feasible for every k >= 0 and its objective grows without limit
    assert all(2 * (20 + k) >= 40 and 3 * (20 + k) >= 36 for k in range(100))
    result = solve_model(parse_model(RUNAWAY_IP))
    assert result.status == "unbounded" and result.objective is None
    assert result.runaway == ("a", "b")
    if any(r.status == "infeasible" for r in result.runs):
        assert any("solvers disagree with the feasibility solve" in note for note in result.notes)


def test_unbounded_integer_program_that_both_solvers_call_infeasible(monkeypatch):
    # HiGHS and CBC (some versions) both answer "Infeasible" here: the feasibility solve decides
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs):
            return SolverRun(solver, "infeasible", message="Infeasible")
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(RUNAWAY_IP))
    assert result.status == "unbounded" and result.runaway == ("a", "b")
    assert [r.status for r in result.runs] == ["infeasible", "infeasible"]
    assert result.notes == (
        "solvers disagree with the feasibility solve: highs said infeasible, cbc said infeasible; "
        "the model is unbounded",
    )
    assert result.conflict == ()


def test_infeasible_stays_infeasible_when_a_solver_says_unbounded(monkeypatch):
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs):
            return SolverRun(solver, "unbounded" if solver == "cbc" else "infeasible")
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model("integer x, y\nmaximize x + y\na: x >= 5\nb: x + y <= 3"))
    assert result.status == "infeasible" and result.conflict == ("a", "b")
    assert any("cbc said unbounded" in note for note in result.notes)


def test_unbounded_lp_and_its_runaway_variable():
    result = solve_model(parse_model("continuous x, y\nmaximize x - y\ny <= 3"))
    assert result.status == "unbounded" and result.runaway == ("x",)
    result = solve_model(parse_model("continuous x free\nminimize x\nx <= 4"))
    assert result.status == "unbounded" and result.runaway == ("x",)


def test_runaway_variables_directly():
    assert runaway_variables(parse_model("integer x, y, z\nmaximize x - y + 0 z\ny <= 3\nz <= 2")) == ("x",)
    assert runaway_variables(parse_model(CHAIRS)) == ()


def test_optimal_with_a_huge_value_is_tested_for_unboundedness(monkeypatch):
    # CBC has called unbounded LPs optimal at 3e20: a solution that large gets an LP relaxation solve
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs):
            return SolverRun(solver, "optimal", 3e20, {"x": 3e20, "y": 0.0}, message="Optimal")
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model("continuous x, y\nmaximize x - y\ny <= 3"))
    assert result.status == "unbounded" and result.runaway == ("x",)


# -- not linear, solver trouble ---------------------------------------------------------------


def test_not_linear():
    result = solve_model(parse_model("binary b\ninteger x\nmaximize x\nx >= 0\nk: if b then x <= 3"))
    assert result.status == "not_linear" and result.runs == ()
    assert "'x'" in result.notes[0] and "'k'" in result.notes[0] and "bound" in result.notes[0]


@pytest.mark.parametrize("broken", ["raise", "bogus"])
def test_a_solver_that_fails_is_an_error_with_a_note(monkeypatch, broken):
    def engine(self, time_limit):
        if broken == "raise":
            raise RuntimeError(f"{self.name} exploded")
        return object()  # not a PuLP solver

    for prover in (HighsProver, CbcProver):
        monkeypatch.setattr(prover, "_engine", engine)
    result = solve_model(parse_model(CHAIRS))
    assert result.status == "error" and result.objective is None
    assert [r.status for r in result.runs] == ["error", "error"]
    assert len(result.notes) == 2 and result.notes[0].startswith("highs: error")
    if broken == "raise":
        assert result.notes == ("highs: error RuntimeError: highs exploded", "cbc: error RuntimeError: cbc exploded")
    assert not any("Traceback" in note for note in result.notes)


def test_run_solver_never_raises_for_solver_trouble(monkeypatch):
    monkeypatch.setattr(CbcProver, "_engine", lambda self, limit: (_ for _ in ()).throw(OSError("no binary")))
    run = run_solver(linearize(parse_model(CHAIRS)), "cbc")
    assert run.status == "error" and run.message == "OSError: no binary" and run.values == {}


def test_unknown_solver_is_an_error_run():
    run = run_solver(linearize(parse_model(CHAIRS)), "gurobi")
    assert run.status == "error" and "unknown solver 'gurobi'" in run.message


def test_a_solution_that_fails_the_check_is_not_believed(monkeypatch):
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs) and solver == "highs":  # breaks wood: 2*20 + 4*0 = 40 ok, hours 60 > 36
            return SolverRun(solver, "optimal", 600.0, {"chairs": 20.0, "tables": 0.0}, message="Optimal")
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(CHAIRS))
    assert result.status == "optimal" and result.objective == 540.0
    assert [r.solver for r in result.runs] == ["highs", "cbc"]
    assert result.disagreement
    assert result.notes[0].startswith("highs's solution fails the independent check: constraint hours")
    assert result.values == {"chairs": 8.0, "tables": 6.0}


def test_a_wrong_reported_objective_fails_the_check(monkeypatch):
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs) and solver == "cbc":  # the right point, the wrong objective
            return SolverRun(solver, "optimal", 999.0, {"chairs": 8.0, "tables": 6.0})
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(CHAIRS))
    assert result.status == "optimal" and result.objective == 540.0
    assert any("cbc's solution fails the independent check" in n and "999" in n for n in result.notes)


def test_when_no_solution_passes_the_check_the_result_is_an_error(monkeypatch):
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs):
            return SolverRun(solver, "optimal", 1000.0, {"chairs": 0.5, "tables": 20.0})
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(CHAIRS))
    assert result.status == "error" and result.objective is None and result.values == {}
    assert len(result.notes) == 2 and all("not a whole number" in n for n in result.notes)
    assert result.disagreement


@pytest.mark.parametrize("worse_first", [True, False])
def test_disagreeing_objectives_keep_the_better_checked_solution(monkeypatch, worse_first):
    worse = "highs" if worse_first else "cbc"

    def fake(lp, solver, **kwargs):
        if main_solve(kwargs) and solver == worse:  # feasible but not optimal: 30*4 + 50*5 = 370
            return SolverRun(solver, "optimal", 370.0, {"chairs": 4.0, "tables": 5.0})
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(CHAIRS))
    better = "cbc" if worse_first else "highs"
    assert result.status == "optimal" and result.objective == 540.0
    assert result.notes == (
        f"solvers disagree: {worse} reports optimum 370, {better} 540; the better checked solution ({better}) is kept",
    )
    assert result.disagreement


def test_a_solver_saying_infeasible_against_a_checked_solution_is_noted(monkeypatch):
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs) and solver == "highs":
            return SolverRun(solver, "infeasible")
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(CHAIRS))
    assert result.status == "optimal" and result.objective == 540.0
    assert result.notes == ("solvers disagree: highs said infeasible, but cbc's solution passes the independent check",)


@pytest.mark.parametrize("status", ["timeout", "feasible"])
def test_timeout(monkeypatch, status):
    def fake(lp, solver, **kwargs):
        if status == "feasible":
            return SolverRun(solver, "feasible", 370.0, {"chairs": 4.0, "tables": 5.0})
        return SolverRun(solver, "timeout")

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(CHAIRS), time_limit=0.5)
    assert result.status == "timeout" and result.objective is None
    assert result.notes == ("no solver proved an optimum within the time limit",)  # the fakes give no message


def test_one_solver_timing_out_beside_a_checked_optimum(monkeypatch):
    def fake(lp, solver, **kwargs):
        if main_solve(kwargs) and solver == "cbc":
            return SolverRun(solver, "timeout")
        return REAL_RUN_SOLVER(lp, solver, **kwargs)

    monkeypatch.setattr(solve_module, "run_solver", fake)
    result = solve_model(parse_model(CHAIRS))
    assert result.status == "optimal" and result.notes == ("cbc did not prove optimality in time: timeout",)
    assert not result.disagreement


# -- run_solver options -----------------------------------------------------------------------


def test_run_solver_options():
    lp = linearize(parse_model("continuous x <= 2.5\nmaximize x"))
    for solver in ("highs", "cbc"):
        assert run_solver(lp, solver).objective == pytest.approx(2.5)
        assert run_solver(lp, solver, all_integer=True).objective == pytest.approx(2.0)
    integer = linearize(parse_model("integer x\nmaximize x\n2 x <= 5"))
    assert run_solver(integer, "highs").objective == 2.0
    assert run_solver(integer, "highs", relax=True).objective == pytest.approx(2.5)
    feasible = run_solver(integer, "highs", zero_objective=True)
    assert feasible.status == "optimal" and feasible.objective == 0.0 and 2 * feasible.values["x"] <= 5
    unbounded = linearize(parse_model("continuous x\nmaximize x"))
    assert run_solver(unbounded, "highs").status == "unbounded"
    capped = run_solver(unbounded, "highs", cap=1000.0)
    assert capped.status == "optimal" and capped.values["x"] == pytest.approx(1000.0)
    assert run_solver(linearize(parse_model("integer x\nmaximize x\nx >= 2\nx <= 1")), "cbc").status == "infeasible"


def test_solver_run_to_dict():
    run = SolverRun("highs", "optimal", 3.0, {"x": 1.0}, 0.1234567891, "Optimal")
    assert run.to_dict() == {
        "solver": "highs",
        "status": "optimal",
        "objective": 3.0,
        "values": {"x": 1.0},
        "seconds": 0.123457,
        "message": "Optimal",
    }


# -- the independent check --------------------------------------------------------------------

CHECKED = parse_model(
    "integer x <= 5\ncontinuous y\nbinary b\nmaximize x + y\ncap: x + y <= 6\nlink: if b then x >= 4\n"
    "mix: x <= 1 or y >= 2"
)


def test_check_accepts_a_solution_and_rounds_near_whole_values():
    report = check_solution(CHECKED, {"x": 4.0000000001, "y": 2.0, "b": 1.0}, reported_objective=6.0)
    assert report.ok and report.problems == ()
    assert report.values == {"x": 4.0, "y": 2.0, "b": 1.0} and report.objective == 6.0
    assert report.binding == ("cap", "link")  # x + y = 6 and x = 4 with b = 1
    assert [(c.name, c.ok, c.slack, c.note) for c in report.constraints] == [
        ("cap", True, 0.0, ""),
        ("link", True, None, "active"),
        ("mix", True, None, "holds: y >= 2"),
    ]


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({"x": 3.5, "y": 2.0, "b": 0.0}, ["x = 3.5 is not a whole number"]),
        ({"x": 6.0, "y": 0.0, "b": 0.0}, ["x = 6 is above its upper bound 5", "constraint mix (x <= 1 or y >= 2)"]),
        ({"x": 1.0, "y": -0.5, "b": 0.0}, ["y = -0.5 is below its lower bound 0"]),
        ({"x": 2.0, "y": 1.0, "b": 1.0}, ["constraint link (if b then x >= 4)", "constraint mix"]),
        ({"x": 1.0, "b": 0.0}, ["no value for y"]),
        ({"x": 1.0, "y": math.nan, "b": 0.0}, ["no value for y"]),
        ({"x": 0.0, "y": 7.0, "b": 0.0}, ["constraint cap (x + y <= 6) is violated"]),
    ],
)
def test_check_finds_every_problem(values, problems):
    report = check_solution(CHECKED, values)
    assert not report.ok
    assert len(report.problems) == len(problems)
    for found, expected in zip(report.problems, problems, strict=True):
        assert found.startswith(expected), found


def test_check_compares_the_reported_objective():
    report = check_solution(CHECKED, {"x": 4.0, "y": 2.0, "b": 1.0}, reported_objective=6.5)
    assert report.problems == ("the solver reported objective 6.5, recomputed 6",)
    assert check_solution(CHECKED, {"x": 4.0, "y": 2.0, "b": 1.0}, reported_objective=6.0000000001).ok


def test_inactive_indicator_does_not_bind():
    report = check_solution(CHECKED, {"x": 0.0, "y": 2.0, "b": 0.0})
    assert report.ok and report.constraints[1].note == "inactive: the condition is false"
    assert report.binding == ()


def test_check_tolerance_scales_with_the_row():
    model = parse_model("continuous x\nmaximize x\ncap: 1000000 x <= 1000000")
    assert check_solution(model, {"x": 1.0000005}).ok  # 0.5 over a row of size 1e6
    assert not check_solution(model, {"x": 1.000002}).ok  # 2 over: beyond 1e-6 relative


def test_cbc_solves_the_integer_program_a_cbc_development_build_calls_infeasible():
    # cbcbox 2.935 (CBC devel, PuLP's suggested CBC) reports this feasible program infeasible after
    # its bound tightening "diverges"; neurosym uses PuLP's bundled CBC 2.10, which must solve it.
    # 15 + 11 = 26 is optimal: 50 a + 70 b >= 1500 with a + b = 25 needs b >= 12.5, then 60 a + 100 b > 2000.
    model = parse_model("integer a, b\nminimize a + b\nc1: 50 a + 70 b >= 1500\nc2: 60 a + 100 b <= 2000")
    run = run_solver(linearize(model), "cbc")
    assert run.status == "optimal" and run.objective == 26.0
    assert "cbcbox" not in cbc_path()


# -- time limits: CBC's serial search, stops at the limit, one deadline per call ---------------

STALL_REPRODUCER = "integer a, b\nminimize a + b\nc1: 50 a + 70 b >= 1500\nc2: 60 a + 100 b <= 2000"


def market_split(*, slack: bool, seed: int = 0, items: int = 30, rows: int = 4) -> str:
    """A market-split model (Cornuéjols and Dawande): far too hard for branch and bound to finish in a second.

    With ``slack`` every row may miss its target at a cost, so a feasible point is found at once
    and only optimality stays unproved; without it, no solution is found in a second either.
    """
    rng = random.Random(seed)
    names = [f"x{i}" for i in range(items)]
    lines = ["binary " + ", ".join(names)]
    if slack:
        lines += ["continuous " + ", ".join(f"over{j}, under{j}" for j in range(rows))]
        lines += ["minimize " + " + ".join(f"over{j} + under{j}" for j in range(rows))]
    else:
        lines += ["minimize " + " + ".join(names[:3])]
    for j in range(rows):
        coefs = [rng.randint(0, 99) for _ in names]
        misses = f" + over{j} - under{j}" if slack else ""
        lines.append(f"split{j}: " + " + ".join(f"{c} {n}" for c, n in zip(coefs, names, strict=True)))
        lines[-1] += f"{misses} == {sum(coefs) // 2}"
    return "\n".join(lines)


def test_cbc_runs_its_serial_search():
    # The cause of the 10 s stalls: "-threads 1" starts CBC 2.10.3's threaded search, whose worker can
    # miss its start-up signal and sleep out a 10 s timed wait. The serial search prints no thread statistics.
    prob, _ = pulp_problem(
        linearize(parse_model(STALL_REPRODUCER)), relax=False, all_integer=False, zero_objective=False, cap=None
    )
    engine = CbcProver()._engine(10.0)
    prob.solve(engine)
    assert "command line" in engine.log and "-sec 10.0" in engine.log  # the log is CBC's own
    assert "-threads" not in engine.log and "Cbc0030I" not in engine.log  # Cbc0030I: "Thread 0 used ..."
    assert engine.status_line.startswith("Optimal") and not engine.killed


def test_cbc_files_go_to_a_private_folder_that_is_removed(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert run_solver(linearize(parse_model(STALL_REPRODUCER)), "cbc").objective == 26.0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_solve_stopped_by_its_time_limit_is_feasible_not_optimal(solver):
    model = parse_model(market_split(slack=True))
    run = run_solver(linearize(model), solver, time_limit=0.5)
    assert run.status == "feasible"
    name = {"highs": "HiGHS", "cbc": "CBC"}[solver]
    assert run.message == f"{name} stopped at its time limit with a feasible solution, optimality not proved"
    assert check_solution(model, run.values, reported_objective=run.objective).ok  # a real, checked point


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_solve_stopped_by_its_time_limit_without_a_solution_is_a_timeout(solver):
    run = run_solver(linearize(parse_model(market_split(slack=False))), solver, time_limit=0.3)
    assert run.status == "timeout" and run.values == {}
    name = {"highs": "HiGHS", "cbc": "CBC"}[solver]
    assert run.message == f"{name} stopped at its time limit without a solution"


def test_a_model_no_solver_finishes_is_a_timeout_that_says_why_within_its_time_limit():
    started = time.monotonic()
    result = solve_model(parse_model(market_split(slack=True)), time_limit=1.0)
    assert time.monotonic() - started < 2.0
    assert result.status == "timeout" and result.objective is None
    assert [(r.solver, r.status) for r in result.runs] == [("highs", "feasible"), ("cbc", "feasible")]
    assert result.notes == (
        "no solver proved an optimum within the time limit",
        "highs: HiGHS stopped at its time limit with a feasible solution, optimality not proved",
        "cbc: CBC stopped at its time limit with a feasible solution, optimality not proved",
    )


SLEEPING_CBC = (
    "#!/bin/sh\n# a stand-in for a CBC that ignores its -sec: it sleeps whatever it is asked\nexec sleep 30\n"
)


def test_a_cbc_that_overruns_its_time_limit_is_killed(monkeypatch, tmp_path):
    fake_cbc = tmp_path / "sleeping_cbc"
    fake_cbc.write_text(SLEEPING_CBC)
    fake_cbc.chmod(0o755)
    monkeypatch.setattr(cbc_module, "cbc_path", lambda: str(fake_cbc))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    run = run_solver(linearize(parse_model(CHAIRS)), "cbc", time_limit=0.3)
    assert run.status == "timeout" and run.values == {}
    assert run.message == f"CBC did not stop at its time limit and was killed {CBC_GRACE_S:g} s after it"
    assert 0.3 + CBC_GRACE_S <= run.seconds < 0.3 + CBC_GRACE_S + 1.0
    assert list((tmp_path / "tmp").iterdir()) == []  # the folder goes even when CBC is killed
    started = time.monotonic()
    result = solve_model(parse_model(CHAIRS), time_limit=1.0)  # HiGHS solves it; CBC is killed at the deadline
    assert time.monotonic() - started < 2.0
    assert result.status == "optimal" and result.objective == 540.0
    assert result.notes == (f"cbc did not prove optimality in time: {result.runs[1].message}",)


FORKING_CBC = (
    "#!/bin/sh\n# a stand-in for a CBC that starts a helper process and hangs\n"
    'sleep 30 &\necho $! > "$(dirname "$0")/helper.pid"\nwait\n'
)


def test_a_killed_cbc_takes_what_it_started_with_it(monkeypatch, tmp_path):
    # CBC used to be killed alone (subprocess.run's timeout); now its whole process tree goes.
    fake_cbc = tmp_path / "forking_cbc"
    fake_cbc.write_text(FORKING_CBC)
    fake_cbc.chmod(0o755)
    monkeypatch.setattr(cbc_module, "cbc_path", lambda: str(fake_cbc))
    run = run_solver(linearize(parse_model(CHAIRS)), "cbc", time_limit=0.2)
    assert run.status == "timeout" and "was killed" in run.message
    assert has_ended(int((tmp_path / "helper.pid").read_text()))


def sleeping_solver(calls, *, most):
    """A stand-in for run_solver that sleeps ``most`` seconds (or its whole time limit), then answers "infeasible"."""

    def solve(lp, solver, *, time_limit, **kwargs):
        calls.append((time.monotonic(), time_limit))
        time.sleep(min(time_limit, most))
        return SolverRun(solver, "infeasible", seconds=min(time_limit, most), message="Infeasible")

    return solve


@pytest.mark.parametrize("limit", [0.5, 2.0])
def test_the_solvers_and_every_diagnostic_share_one_deadline(monkeypatch, limit):
    # Each part used to get a time limit of its own (the feasibility solve, each step of the deletion filter).
    calls: list[tuple[float, float]] = []
    monkeypatch.setattr(solve_module, "run_solver", sleeping_solver(calls, most=limit / 4))
    model = parse_model(CONFLICT_MODEL)
    started = time.monotonic()
    result = solve_model(model, time_limit=limit)
    assert time.monotonic() - started < limit + 1.0
    assert len(calls) >= 3  # both solvers and at least one diagnostic
    assert all(at + seconds <= started + limit + 0.01 for at, seconds in calls)  # none may outlive the deadline
    assert result.status == "infeasible"


def test_conflict_search_cut_short_by_the_deadline_says_so(monkeypatch):
    calls: list[tuple[float, float]] = []
    monkeypatch.setattr(solve_module, "run_solver", sleeping_solver(calls, most=0.05))
    result = solve_model(parse_model(CONFLICT_MODEL), time_limit=0.3)  # 2 solves + 7 filter steps need 0.45 s
    assert result.status == "infeasible"
    assert "the conflict search ran out of time: the constraints listed conflict, but not all are needed" in (
        result.notes
    )
    assert result.conflict and set(result.conflict) <= set(CONFLICT_CHECKS)


def test_no_time_left_to_settle_a_status(monkeypatch):
    # The solvers spend the whole time limit: no feasibility solve, no conflict search.
    calls: list[tuple[float, float]] = []
    monkeypatch.setattr(solve_module, "run_solver", sleeping_solver(calls, most=math.inf))
    result = solve_model(parse_model(CONFLICT_MODEL), time_limit=0.4)
    assert len(calls) == 2 and result.status == "infeasible" and not result.diagnosed and result.conflict == ()
    assert result.notes == ("the feasibility solve did not finish in time: infeasible on the solvers' word alone",)

    def disagreeing(lp, solver, *, time_limit, **kwargs):
        time.sleep(time_limit)
        return SolverRun(solver, "unbounded" if solver == "cbc" else "infeasible")

    monkeypatch.setattr(solve_module, "run_solver", disagreeing)
    result = solve_model(parse_model(CONFLICT_MODEL), time_limit=0.4)
    assert result.status == "timeout" and not result.diagnosed and result.disagreement
    assert result.notes == (
        "solvers disagree (highs said infeasible, cbc said unbounded) and the feasibility solve did not finish in time",
    )


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "10", True])
def test_time_limits_are_checked(bad):
    model = parse_model(CHAIRS)
    for call in (
        lambda: solve_model(model, time_limit=bad),
        lambda: run_solver(linearize(model), "cbc", time_limit=bad),
        lambda: conflicting_constraints(model, time_limit=bad),
        lambda: runaway_variables(model, time_limit=bad),
    ):
        with pytest.raises(ConfigurationError, match="time_limit must be"):
            call()
