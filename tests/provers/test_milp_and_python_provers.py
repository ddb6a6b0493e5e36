"""HiGHS, CBC and the Python sandbox as provers: each one's own verdict (the contracts are in tests/conformance)."""

from __future__ import annotations

import random

import pytest

import neurosym.provers.sandbox as sandbox_module
from neurosym.errors import ConfigurationError
from neurosym.milp.parser import parse_model
from neurosym.milp.solve import solve_model
from neurosym.provers import get_prover
from neurosym.provers._pulp import SolverRun, run_verdict
from neurosym.provers.python_sandbox import PythonSandboxProver
from neurosym.provers.sandbox import Limits, Sandbox
from neurosym.types import Formalization

CHAIRS = "integer chairs, tables\nmaximize 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 40\n"
CHAIRS += "hours: 3 chairs + 2 tables <= 36"


def milp(text: str) -> Formalization:
    return Formalization("milp", text, parse_model(text))


@pytest.fixture(params=["highs", "cbc"])
def solver(request):
    return get_prover(request.param)


def test_one_solvers_verdict_agrees_with_the_orchestration(solver):
    verdict = solver.check(milp(CHAIRS), timeout_s=10)
    result = solve_model(parse_model(CHAIRS))
    assert verdict.status == result.status == "optimal"
    assert verdict.answer.objective == result.objective and dict(verdict.answer.values) == dict(result.values)
    assert verdict.prover == solver.name and verdict.details["run"]["solver"] == solver.name


def test_the_answer_holds_the_models_variables_not_the_linearisations_helpers(solver):
    verdict = solver.check(milp("integer x <= 5\ncontinuous y <= 5\nmaximize x + y\nmix: x <= 1 or y >= 2"))
    assert verdict.status == "optimal" and sorted(verdict.answer.values) == ["x", "y"]
    assert verdict.answer.objective == 10.0


def test_unbounded_and_not_linear_models_are_invalid(solver):
    unbounded = solver.check(milp("continuous x\nmaximize x\nx >= 1"))
    assert unbounded.status == "invalid" and "unbounded" in unbounded.feedback
    not_linear = solver.check(milp("binary b\ninteger x\nmaximize x\nx >= 0\nk: if b then x <= 3"))
    assert not_linear.status == "invalid" and "'k'" in not_linear.message


def test_a_feasible_point_at_the_time_limit_is_a_timeout_with_its_objective(solver):
    rng = random.Random(0)
    names = [f"x{i}" for i in range(30)]
    lines = ["binary " + ", ".join(names), "continuous " + ", ".join(f"o{j}, u{j}" for j in range(4))]
    lines.append("minimize " + " + ".join(f"o{j} + u{j}" for j in range(4)))
    for j in range(4):
        coefs = [rng.randint(0, 99) for _ in names]
        terms = " + ".join(f"{c} {n}" for c, n in zip(coefs, names, strict=True))
        lines.append(f"split{j}: {terms} + o{j} - u{j} == {sum(coefs) // 2}")
    verdict = solver.check(milp("\n".join(lines)), timeout_s=0.5)
    assert verdict.status == "timeout" and verdict.answer is None
    assert verdict.details["best_feasible_objective"] >= 0 and "optimality not proved" in verdict.message


def test_a_formalization_holding_something_else_is_a_usage_mistake(solver):
    with pytest.raises(ConfigurationError, match="solves milp models"):
        solver.check(Formalization("milp", "integer x", parsed=["not", "a", "model"]))


def test_a_failed_run_is_unknown():
    verdict = run_verdict(parse_model(CHAIRS), SolverRun("cbc", "error", message="CBC exited with code 1"))
    assert verdict.status == "unknown" and verdict.message == "CBC exited with code 1"


# --------------------------------------------------------------------------------------------- python-sandbox


def test_the_sandbox_prover_runs_in_the_sandbox_it_is_given(sandbox_available):
    with Sandbox(workers=1, limits=Limits(wall_s=5, cpu_s=5)) as box:
        prover = PythonSandboxProver(sandbox=box, limits=Limits(wall_s=5, cpu_s=5))
        verdict = prover.check(Formalization("python", "def solution():\n    return 1 / 4\n"), timeout_s=5)
        assert verdict.status == "computed" and verdict.answer.value == 0.25
        assert box.restarts == 0 and box._servers[0].alive()  # it was this sandbox's server that ran it


def test_the_call_time_limit_caps_the_programs_wall_limit(sandbox_available):
    prover = PythonSandboxProver(limits=Limits(wall_s=30, cpu_s=30))
    sleeper = Formalization("python", "import time\ndef solution():\n    time.sleep(30)\n")
    verdict = prover.check(sleeper, timeout_s=0.5)
    assert verdict.status == "timeout"
    assert verdict.details["execution"]["wall_s"] < 5


def test_a_machine_without_the_sandbox_gives_unknown(monkeypatch):
    monkeypatch.setattr(sandbox_module, "_default", None)
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    verdict = PythonSandboxProver().check(Formalization("python", "def solution():\n    return 1\n"))
    assert verdict.status == "unknown" and "bwrap is not installed" in verdict.message
    assert PythonSandboxProver().available() is False
