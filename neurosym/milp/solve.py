r"""Solve a model with HiGHS and CBC (through PuLP), compare them, and check the answer independently.

Both solvers solve every model. Their statuses and objectives are compared, and each optimal
solution is re-checked against the declared model (:func:`~neurosym.milp.check.check_solution`).
The verdict never rests on one status string: through PuLP, HiGHS has called unbounded integer
programs "Infeasible" where CBC said "Unbounded", so a disagreement is settled by a feasibility
solve, and an "optimal" that fails the check is not believed.

What else :func:`solve_model` finds:

- infeasible: a small set of constraints that conflict (a deletion filter: drop each constraint
  whose removal leaves the rest infeasible);
- unbounded: the variables that run away (solve with every variable capped, see which hit a cap);
- integrality: where the LP relaxation and the integer optimum differ, and, for an all-continuous
  model with a fractional optimum, what the optimum would be in whole numbers.

Example:
    >>> from neurosym.milp.model import parse_model
    >>> result = solve_model(parse_model("integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4.5"))
    >>> result.status, result.objective, [r.solver for r in result.runs], result.check.ok
    ('optimal', 12.0, ['highs', 'cbc'], True)
    >>> result.lp_relaxation
    13.5

"""

from __future__ import annotations

import functools
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from neurosym.errors import SolverUnavailableError
from neurosym.milp.check import SolutionCheck, check_solution
from neurosym.milp.linearize import LinearizationError, LinearProgram, linearize
from neurosym.milp.model import Model

__all__ = [
    "RUNAWAY_CAP",
    "SOLVERS",
    "MilpResult",
    "SolverRun",
    "cbc_path",
    "conflicting_constraints",
    "run_solver",
    "runaway_variables",
    "solve_model",
]

SOLVERS: tuple[str, ...] = ("highs", "cbc")
RUNAWAY_CAP = 1e7
"""The cap put on every variable to see which ones run away in an unbounded model."""
SUSPICIOUS_VALUE = 1e9
"""An "optimal" value this large is tested for unboundedness (CBC has called an unbounded LP optimal at 3e20)."""
OBJ_REL_TOL = 1e-6
"""Two objectives within this relative tolerance (or 1e-6 absolute) are the same optimum."""

RunStatus = Literal["optimal", "feasible", "infeasible", "unbounded", "timeout", "error"]


@dataclass(frozen=True)
class SolverRun:
    """One solver's answer: its status, objective, values and wall time.

    ``status`` is ``optimal``, ``feasible`` (stopped early with a solution), ``infeasible``,
    ``unbounded``, ``timeout`` or ``error``.
    """

    solver: str
    status: RunStatus
    objective: float | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (values included)."""
        return {"solver": self.solver, "status": self.status, "objective": self.objective,
                "values": dict(self.values), "seconds": round(self.seconds, 6), "message": self.message}  # fmt: skip


@dataclass(frozen=True)
class MilpResult:
    """What the two solvers and the check found about one model.

    ``status`` is ``optimal`` (a checked optimum), ``infeasible``, ``unbounded``, ``timeout``,
    ``not_linear`` (a logic constraint could not be linearised; ``notes`` says why) or ``error``
    (no solver gave a solution that passes the check).
    """

    status: Literal["optimal", "infeasible", "unbounded", "timeout", "not_linear", "error"]
    runs: tuple[SolverRun, ...] = ()
    check: SolutionCheck | None = None
    notes: tuple[str, ...] = ()
    conflict: tuple[str, ...] = ()
    runaway: tuple[str, ...] = ()
    lp_relaxation: float | None = None
    integer_optimum: float | None = None
    seconds: float = 0.0

    @property
    def objective(self) -> float | None:
        """The checked optimum, recomputed from the solution."""
        return self.check.objective if self.check is not None and self.status == "optimal" else None

    @property
    def values(self) -> Mapping[str, float]:
        """The checked solution (empty unless optimal)."""
        return self.check.values if self.check is not None and self.status == "optimal" else {}

    @property
    def disagreement(self) -> bool:
        """Whether the solvers disagreed (with each other or with the check); ``notes`` says how."""
        return any(note.startswith("solvers disagree") or "fails the independent check" in note for note in self.notes)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=OBJ_REL_TOL, abs_tol=1e-6)


def _pulp_problem(
    lp: LinearProgram, *, relax: bool, all_integer: bool, zero_objective: bool, cap: float | None
) -> tuple[Any, dict[str, Any]]:
    import pulp

    prob = pulp.LpProblem("neurosym", pulp.LpMaximize if lp.sense == "maximize" else pulp.LpMinimize)
    xs: dict[str, Any] = {}
    for i, v in enumerate(lp.variables):
        integral = (v.integral or all_integer) and not relax
        lower, upper = v.lower, v.upper
        if cap is not None:
            lower = -cap if lower is None else max(lower, -cap)
            upper = cap if upper is None else min(upper, cap)
        xs[v.name] = prob.add_variable(
            f"v{i}", lowBound=lower, upBound=upper, cat="Integer" if integral else "Continuous"
        )
    if zero_objective:
        objective = pulp.LpAffineExpression()
    else:
        objective = pulp.lpSum(coef * xs[n] for n, coef in lp.objective.terms) + lp.objective.constant
    for x in xs.values():  # PuLP leaves out a variable found in no row and not in the objective: keep every one
        if x not in objective:
            objective.addterm(x, 0)
    prob += objective
    for j, row in enumerate(lp.rows):
        expr = pulp.lpSum(coef * xs[n] for n, coef in row.expr.terms)
        if row.sense == "<=":
            prob += expr <= row.rhs, f"r{j}"
        elif row.sense == ">=":
            prob += expr >= row.rhs, f"r{j}"
        else:
            prob += expr == row.rhs, f"r{j}"
    return prob, xs


def cbc_path() -> str:
    """The CBC binary: the stable CBC 2.10 that PuLP bundles, else ``cbc`` on PATH.

    Not the ``cbcbox`` wheel (PuLP's suggested replacement): its development build 2.935 calls
    feasible integer programs infeasible (a bound-tightening bug; tests/milp has the instance).

    Example:
        >>> import os
        >>> os.access(cbc_path(), os.X_OK)
        True

    """
    from pulp.apis import coin_api

    bundled = Path(coin_api.pulp_cbc_path)
    if bundled.is_file():
        if not os.access(bundled, os.X_OK):  # wheels unpacked without the executable bit
            bundled.chmod(bundled.stat().st_mode | 0o111)
        return str(bundled.resolve())
    found = shutil.which("cbc")
    if found is None:
        raise SolverUnavailableError("CBC is not installed: put a cbc binary (CBC 2.10) on PATH", solver="cbc")
    return found


@functools.cache
def _silence_highs_banner() -> None:
    """Construct one ``Highs`` with file descriptor 1 on /dev/null.

    highspy 1.16 prints its copyright banner from C++ on the first ``Highs()`` of a process, before
    PuLP can turn its output off; it would land in the middle of ``neurosym solve``'s report.
    """
    try:
        import highspy
    except ImportError:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _solver(name: str, time_limit: float) -> Any:
    import pulp

    if name == "highs":
        _silence_highs_banner()
        return pulp.HiGHS(msg=False, timeLimit=max(time_limit, 0.1), gapRel=1e-9, threads=1)
    if name == "cbc":
        return pulp.COIN_CMD(
            path=cbc_path(), msg=False, timeLimit=max(1, math.ceil(time_limit)), gapRel=1e-9, threads=1
        )
    raise ValueError(f"unknown solver {name!r}; known: {', '.join(SOLVERS)}")


def run_solver(
    lp: LinearProgram,
    solver: str,
    *,
    time_limit: float = 10.0,
    relax: bool = False,
    all_integer: bool = False,
    zero_objective: bool = False,
    cap: float | None = None,
) -> SolverRun:
    r"""Solve ``lp`` with one solver (``highs`` or ``cbc``); never raises for solver trouble.

    ``relax`` drops integrality, ``all_integer`` makes every variable integer, ``zero_objective``
    asks only for a feasible point, ``cap`` bounds every variable by ``±cap``.

    Example:
        >>> from neurosym.milp.model import parse_model
        >>> lp = linearize(parse_model("continuous x <= 2.5\nmaximize x"))
        >>> run_solver(lp, "cbc").objective, run_solver(lp, "highs", all_integer=True).objective
        (2.5, 2.0)

    """
    import pulp

    started = time.perf_counter()
    prob, xs = _pulp_problem(lp, relax=relax, all_integer=all_integer, zero_objective=zero_objective, cap=cap)
    try:
        prob.solve(_solver(solver, time_limit))
    except Exception as exc:  # PuLP raises PulpSolverError and others for a missing or crashed solver
        return SolverRun(solver, "error", seconds=time.perf_counter() - started, message=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    status, solution = prob.status, prob.sol_status
    if status == pulp.LpStatusOptimal and solution == pulp.LpSolutionOptimal:
        kind: RunStatus = "optimal"
    elif solution == pulp.LpSolutionIntegerFeasible:
        kind = "feasible"
    elif status == pulp.LpStatusInfeasible:
        kind = "infeasible"
    elif status == pulp.LpStatusUnbounded:
        kind = "unbounded"
    elif status == pulp.LpStatusNotSolved:
        kind = "timeout"
    else:
        kind = "error"
    if kind not in ("optimal", "feasible"):
        return SolverRun(solver, kind, seconds=seconds, message=pulp.LpStatus.get(status, str(status)))
    values = {name: (var.varValue if var.varValue is not None else math.nan) for name, var in xs.items()}
    objective = pulp.value(prob.objective) if not zero_objective else 0.0
    objective = float(objective if objective is not None else lp.objective.constant)
    return SolverRun(solver, kind, objective, values, seconds, pulp.LpStatus.get(status, str(status)))


class _Clock:
    def __init__(self, limit: float):
        self.deadline = time.perf_counter() + limit

    @property
    def left(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())


def _feasible(model: Model, clock: _Clock) -> bool | None:
    """Whether ``model`` has any solution (``None``: could not tell in time)."""
    try:
        lp = linearize(model)
    except LinearizationError:
        return None
    run = run_solver(lp, "highs", time_limit=min(clock.left, 5.0), zero_objective=True)
    if run.status in ("optimal", "feasible"):
        return True
    return False if run.status == "infeasible" else None


def conflicting_constraints(model: Model, *, time_limit: float = 10.0) -> tuple[str, ...]:
    r"""Names of a small set of constraints that cannot hold together (a deletion filter).

    Each constraint is dropped in turn; if the rest stay infeasible it is left out for good.
    What remains is irreducible: dropping any one of them makes the model feasible. Empty when
    the model is feasible, or the variable bounds alone conflict.

    Example:
        >>> from neurosym.milp.model import parse_model
        >>> m = parse_model("integer x, y\nmaximize x\na: x >= 5\nb: y <= 3\nc: x + y <= 4")
        >>> conflicting_constraints(m)
        ('a', 'c')

    """
    clock = _Clock(time_limit)
    if _feasible(model, clock) is not False:
        return ()
    keep = list(model.constraints)
    i = 0
    while i < len(keep) and clock.left > 0:
        trial = keep[:i] + keep[i + 1 :]
        if _feasible(replace(model, constraints=tuple(trial)), clock) is False:
            keep = trial
        else:
            i += 1
    return tuple(c.name for c in keep)


def runaway_variables(model: Model, *, time_limit: float = 10.0) -> tuple[str, ...]:
    r"""The variables that grow without limit in an unbounded model (they hit a cap of :data:`RUNAWAY_CAP`).

    Example:
        >>> from neurosym.milp.model import parse_model
        >>> runaway_variables(parse_model("integer x, y\nmaximize x - y\ny <= 3"))
        ('x',)

    """
    try:
        lp = linearize(model)
    except LinearizationError:
        return ()
    run = run_solver(lp, "highs", time_limit=time_limit, cap=RUNAWAY_CAP)
    if run.status not in ("optimal", "feasible"):
        return ()
    names = [v.name for v in model.variables]
    hit = tuple(n for n in names if abs(run.values.get(n, 0.0)) >= 0.5 * RUNAWAY_CAP)
    return hit or tuple(n for n in names if abs(run.values.get(n, 0.0)) >= 1e4)


def _better(sense: str, a: float, b: float) -> bool:
    return a > b if sense == "maximize" else a < b


def solve_model(model: Model, *, time_limit: float = 10.0, solvers: Sequence[str] = SOLVERS) -> MilpResult:
    """Solve with each solver, compare, check, and explain what went wrong when there is no optimum.

    ``time_limit`` covers the whole call; each solver gets an equal share of it, and the
    diagnostics (conflict, runaway variables, relaxations) use what is left.
    """
    started = time.perf_counter()
    clock = _Clock(time_limit)
    try:
        lp = linearize(model)
    except LinearizationError as err:
        return MilpResult("not_linear", notes=(str(err),), seconds=time.perf_counter() - started)
    runs: list[SolverRun] = []
    for i, solver in enumerate(solvers):
        share = clock.left / max(1, len(solvers) - i) if i < len(solvers) - 1 else clock.left
        runs.append(run_solver(lp, solver, time_limit=max(share, 0.1)))
    notes: list[str] = []
    checked: list[tuple[SolverRun, SolutionCheck]] = []
    for run in runs:
        if run.status == "optimal":
            report = check_solution(model, run.values, reported_objective=run.objective)
            if report.ok:
                checked.append((run, report))
            else:
                notes.append(f"{run.solver}'s solution fails the independent check: {'; '.join(report.problems[:3])}")
    statuses = {run.status for run in runs}

    def finish(status: Any, check: SolutionCheck | None = None, **extra: Any) -> MilpResult:
        return MilpResult(status, tuple(runs), check, tuple(notes), seconds=time.perf_counter() - started, **extra)

    if checked:
        best_run, best = checked[0]
        for run, report in checked[1:]:
            if _better(model.sense, report.objective, best.objective) and not _same(report.objective, best.objective):
                best_run, best = run, report
        for run in runs:
            if run is best_run:
                continue
            if run.status == "optimal" and run.objective is not None and not _same(run.objective, best.objective):
                notes.append(
                    f"solvers disagree: {run.solver} reports optimum {run.objective:.10g}, {best_run.solver} "
                    f"{best.objective:.10g}; the better checked solution ({best_run.solver}) is kept"
                )
            elif run.status in ("infeasible", "unbounded", "error"):
                notes.append(
                    f"solvers disagree: {run.solver} said {run.status}, but {best_run.solver}'s solution passes "
                    "the independent check"
                )
            elif run.status in ("timeout", "feasible"):
                notes.append(f"{run.solver} did not prove optimality in time ({run.status})")
        if "unbounded" in statuses or any(abs(x) >= SUSPICIOUS_VALUE for x in best.values.values()):
            # A feasible model whose LP relaxation is unbounded is unbounded itself (rational data).
            relaxed = run_solver(lp, "highs", time_limit=max(clock.left, 0.5), relax=True)
            if relaxed.status == "unbounded":
                notes.append("the LP relaxation is unbounded and the model is feasible: the model is unbounded")
                return finish("unbounded", runaway=runaway_variables(model, time_limit=max(clock.left, 0.5)))
        extra: dict[str, Any] = {}
        if clock.left > 0:
            extra = _integrality(model, lp, best, clock)
        return finish("optimal", best, **extra)
    if statuses and statuses <= {"infeasible", "unbounded"}:
        # Never trust the status string alone: HiGHS and CBC both call some unbounded integer
        # programs "Infeasible". A feasibility solve (objective 0) settles which it is.
        feasible = _feasible(model, clock)
        status = next(iter(statuses)) if feasible is None else ("unbounded" if feasible else "infeasible")
        said = ", ".join(f"{r.solver} said {r.status}" for r in runs)
        if any(r.status != status for r in runs):
            notes.append(f"solvers disagree with the feasibility solve: {said}; the model is {status}")
        if status == "infeasible":
            return finish("infeasible", conflict=conflicting_constraints(model, time_limit=max(clock.left, 1.0)))
        return finish("unbounded", runaway=runaway_variables(model, time_limit=max(clock.left, 1.0)))
    if statuses & {"timeout", "feasible"}:
        notes.append("no solver proved an optimum within the time limit")
        return finish("timeout")
    notes.extend(f"{r.solver}: {r.status} {r.message}".strip() for r in runs if r.status == "error")
    return finish("error")


def _integrality(model: Model, lp: LinearProgram, best: SolutionCheck, clock: _Clock) -> dict[str, Any]:
    """Say when whole numbers matter: the LP relaxation of an integer model, or the integer version of an LP."""
    if model.integral:
        relaxed = run_solver(lp, "highs", time_limit=min(clock.left, 5.0), relax=True)
        if relaxed.status == "optimal" and relaxed.objective is not None:
            return {"lp_relaxation": relaxed.objective}
        return {}
    fractional = any(abs(x - round(x)) > 1e-6 for x in best.values.values())
    if not fractional:
        return {}
    whole = run_solver(lp, "highs", time_limit=min(clock.left, 5.0), all_integer=True)
    if whole.status == "optimal" and whole.objective is not None:
        return {"integer_optimum": whole.objective}
    return {}
