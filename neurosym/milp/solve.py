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

Time: one :class:`~neurosym.deadlines.Deadline` covers a whole :func:`solve_model` call. CBC
runs its serial search (``-threads 1`` made CBC 2.10.3 stall for 10 s now and then, see
:func:`_solver`) in a private folder, and is killed :data:`CBC_GRACE_S` after its time limit. A
solve that a time limit ended is ``feasible`` or ``timeout``, never ``optimal``, and says so.

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
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from neurosym.deadlines import Deadline, check_seconds
from neurosym.errors import SolverUnavailableError
from neurosym.milp.check import SolutionCheck, check_solution
from neurosym.milp.linearize import LinearizationError, LinearProgram, linearize
from neurosym.milp.model import Model

__all__ = [
    "CBC_GRACE_S",
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
CBC_GRACE_S = 0.5
"""How long CBC may run past its own time limit before it is killed (it reads its clock between steps)."""
MIN_SOLVE_S = 0.02
"""A solve is not started with less time than this left: it could only report a timeout, late."""
FEASIBILITY_S = 5.0
"""The most one diagnostic solve (a feasibility check, a relaxation) may take."""

RunStatus = Literal["optimal", "feasible", "infeasible", "unbounded", "timeout", "error"]


@dataclass(frozen=True)
class SolverRun:
    """One solver's answer: its status, objective, values and wall time.

    ``status`` is ``optimal``, ``feasible`` (stopped early with a solution), ``infeasible``,
    ``unbounded``, ``timeout`` or ``error``; ``message`` says what stopped a run that is not
    optimal ("CBC stopped at its time limit with a feasible solution, optimality not proved").
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

    ``status`` is ``optimal`` (a checked optimum), ``infeasible``, ``unbounded``, ``timeout`` (no
    optimum proved in time, or the solvers disagree and no time was left to settle it),
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
    diagnosed: bool = True
    """False when the deadline cut a diagnostic short (the feasibility solve, conflict search or capped solve)."""

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


@functools.cache
def _cbc_solver_class() -> type:
    """PuLP's ``COIN_CMD`` with a hard wall: the process is killed :data:`CBC_GRACE_S` after its time limit.

    CBC reads its clock only between steps of its search, so its ``-sec`` alone does not bound a
    solve. The files go to a private folder that is removed even when CBC is killed or fails.
    ``status_line`` keeps CBC's own first line of the solution file ("Stopped on time - ...") and
    ``log`` what it printed.
    """
    import pulp

    class DeadlineCbc(pulp.COIN_CMD):  # type: ignore[misc, name-defined]
        status_line = ""
        log = ""
        killed = False

        def solve_CBC(self, lp: Any, use_mps: bool = True) -> int:  # PuLP's name for the method it calls
            with tempfile.TemporaryDirectory(prefix="neurosym-cbc-") as folder:
                mps, sol = os.path.join(folder, "model.mps"), os.path.join(folder, "model.sol")
                variables, variable_names, constraint_names, _ = lp.writeMPS(mps, rename=1)
                args = [self.path, mps, *(["-max"] if lp.sense == pulp.LpMaximize else [])]
                args += ["-sec", repr(self.timeLimit)]
                for option in self.options + self.getOptions():
                    args += f"-{option}".split()
                args += ["-solve" if self.mip else "-initialSolve", "-printingOptions", "all", "-solution", sol]
                try:
                    done = subprocess.run(
                        args, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                        timeout=self.timeLimit + CBC_GRACE_S, check=False,
                    )  # fmt: skip
                except subprocess.TimeoutExpired as expired:
                    self.killed = True
                    output = expired.stdout or ""
                    self.log = output.decode(errors="replace") if isinstance(output, bytes) else output
                    lp.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
                    return pulp.LpStatusNotSolved
                self.log = done.stdout + done.stderr
                if done.returncode != 0 or not os.path.exists(sol):
                    last = (self.log.strip().splitlines() or ["no output"])[-1]
                    raise pulp.PulpSolverError(f"CBC exited with code {done.returncode}: {last}")
                with open(sol, encoding="utf-8", errors="replace") as solution:
                    self.status_line = solution.readline().strip()
                status, values, reduced, shadow, slacks, sol_status = self.readsol_MPS(
                    sol, lp, variables, variable_names, constraint_names
                )
            lp.assignVarsVals(values)
            lp.assignVarsDj(reduced)
            lp.assignConsPi(shadow)
            lp.assignConsSlack(slacks, activity=True)
            lp.assignStatus(status, sol_status)
            return status

    return DeadlineCbc


def _solver(name: str, time_limit: float) -> Any:
    import pulp

    if name == "highs":
        _silence_highs_banner()
        return pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=1e-9, threads=1)
    if name == "cbc":
        # No ``threads``: CBC's default, 0, is its serial search. With ``-threads 1`` CBC 2.10.3 starts
        # a worker thread that can miss the wake-up its start-up handshake sends (the signal is sent
        # without the worker's mutex held); it then sleeps out a 10 s timed wait (CbcThread::waitThread)
        # and the solve ends "Stopped on time" with the optimum found in milliseconds.
        return _cbc_solver_class()(path=cbc_path(), msg=False, timeLimit=time_limit, gapRel=1e-9, timeMode="elapsed")
    raise ValueError(f"unknown solver {name!r}; known: {', '.join(SOLVERS)}")


_SOLVER_NAMES = {"highs": "HiGHS", "cbc": "CBC"}


def _stopped_by(engine: Any, prob: Any) -> tuple[bool, str]:
    """Whether the solver stopped at its time limit, and its own word for the outcome."""
    if isinstance(engine, _cbc_solver_class()):
        if engine.killed:
            return True, "killed"
        return engine.status_line.startswith("Stopped on time"), engine.status_line
    highs = getattr(prob, "solverModel", None)
    if highs is None or not hasattr(highs, "getModelStatus"):
        return False, ""
    import highspy

    status = highs.getModelStatus()
    return status == highspy.HighsModelStatus.kTimeLimit, highs.modelStatusToString(status)


def _describe(solver: str, kind: RunStatus, timed_out: bool, detail: str, fallback: str) -> tuple[RunStatus, str]:
    """The run's status and a message that says when a time limit, not a proof, ended it."""
    name = _SOLVER_NAMES.get(solver, solver)
    if kind == "feasible":
        if timed_out:
            return kind, f"{name} stopped at its time limit with a feasible solution, optimality not proved"
        return kind, f"{name} stopped early with a feasible solution, optimality not proved ({detail})"
    if kind == "timeout":
        if detail == "killed":
            return kind, f"{name} did not stop at its time limit and was killed {CBC_GRACE_S:g} s after it"
        if timed_out:
            return kind, f"{name} stopped at its time limit without a solution"
        return "error", f"{name} stopped without a solution ({detail or fallback})"  # not the clock: a failure
    if kind == "infeasible" and detail.lower().endswith("infeasible or unbounded"):
        return kind, f"Infeasible ({name}: {detail.lower()})"
    return kind, fallback


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
    r"""Solve ``lp`` with ``highs`` or ``cbc`` within ``time_limit`` seconds; never raises for solver trouble.

    ``relax`` drops integrality, ``all_integer`` makes every variable integer, ``zero_objective``
    asks only for a feasible point, ``cap`` bounds every variable by ``±cap``. A run the time limit
    ended is ``feasible`` (with a solution) or ``timeout``, never ``optimal``, and its message says so.

    Example:
        >>> from neurosym.milp.model import parse_model
        >>> lp = linearize(parse_model("continuous x <= 2.5\nmaximize x"))
        >>> run_solver(lp, "cbc").objective, run_solver(lp, "highs", all_integer=True).objective
        (2.5, 2.0)

    """
    import pulp

    time_limit = check_seconds(time_limit, "time_limit")
    started = time.perf_counter()
    prob, xs = _pulp_problem(lp, relax=relax, all_integer=all_integer, zero_objective=zero_objective, cap=cap)
    try:
        engine = _solver(solver, time_limit)
        prob.solve(engine)
        timed_out, detail = _stopped_by(engine, prob)
    except Exception as exc:  # PuLP raises PulpSolverError and others for a missing or crashed solver
        return SolverRun(solver, "error", seconds=time.perf_counter() - started, message=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    status, solution = prob.status, prob.sol_status
    # PuLP calls a time-limited stop with a solution "Optimal" (status 1): only the solution status tells.
    if status == pulp.LpStatusOptimal and solution == pulp.LpSolutionOptimal and not timed_out:
        kind: RunStatus = "optimal"
    elif solution == pulp.LpSolutionIntegerFeasible or (timed_out and solution == pulp.LpSolutionOptimal):
        kind = "feasible"
    elif status == pulp.LpStatusInfeasible:
        kind = "infeasible"
    elif status == pulp.LpStatusUnbounded:
        kind = "unbounded"
    elif status == pulp.LpStatusNotSolved:
        kind = "timeout"
    else:
        kind = "error"
    kind, message = _describe(solver, kind, timed_out, detail, pulp.LpStatus.get(status, str(status)))
    if kind not in ("optimal", "feasible"):
        return SolverRun(solver, kind, seconds=seconds, message=message)
    values = {name: (var.varValue if var.varValue is not None else math.nan) for name, var in xs.items()}
    objective = pulp.value(prob.objective) if not zero_objective else 0.0
    objective = float(objective if objective is not None else lp.objective.constant)
    return SolverRun(solver, kind, objective, values, seconds, message)


def _run_before(
    deadline: Deadline, lp: LinearProgram, solver: str, *, most: float | None = None, **options: Any
) -> SolverRun:
    """``run_solver`` with what is left of ``deadline`` (at most ``most`` s); a timeout run when nothing is left."""
    seconds = deadline.left() if most is None else min(deadline.left(), most)
    if seconds < MIN_SOLVE_S:
        return SolverRun(solver, "timeout", message=f"{_SOLVER_NAMES.get(solver, solver)} not run: no time left")
    return run_solver(lp, solver, time_limit=seconds, **options)


def _feasible(model: Model, deadline: Deadline) -> bool | None:
    """Whether ``model`` has any solution (``None``: could not tell in time)."""
    try:
        lp = linearize(model)
    except LinearizationError:
        return None
    # One feasibility solve gets at most FEASIBILITY_S, so that the deletion filter has time for the others.
    run = _run_before(deadline, lp, "highs", most=FEASIBILITY_S, zero_objective=True)
    if run.status in ("optimal", "feasible"):
        return True
    return False if run.status == "infeasible" else None


def _conflict(model: Model, deadline: Deadline, *, known_infeasible: bool = False) -> tuple[tuple[str, ...], bool]:
    """The deletion filter: (constraint names, whether it finished before the deadline)."""
    if not known_infeasible and _feasible(model, deadline) is not False:
        return (), True
    keep = list(model.constraints)
    i = 0
    while i < len(keep):
        if deadline.left() < MIN_SOLVE_S:
            return tuple(c.name for c in keep), False
        trial = keep[:i] + keep[i + 1 :]
        if _feasible(replace(model, constraints=tuple(trial)), deadline) is False:
            keep = trial
        else:
            i += 1
    return tuple(c.name for c in keep), True


def conflicting_constraints(model: Model, *, time_limit: float = 10.0) -> tuple[str, ...]:
    r"""Names of a small set of constraints that cannot hold together (a deletion filter).

    Each constraint is dropped in turn; if the rest stay infeasible it is left out for good.
    What remains is irreducible: dropping any one of them makes the model feasible. Empty when
    the model is feasible, or the variable bounds alone conflict. When ``time_limit`` runs out
    first, the constraints not yet tried stay in (the set still conflicts, but may not be minimal).

    Example:
        >>> from neurosym.milp.model import parse_model
        >>> m = parse_model("integer x, y\nmaximize x\na: x >= 5\nb: y <= 3\nc: x + y <= 4")
        >>> conflicting_constraints(m)
        ('a', 'c')

    """
    return _conflict(model, Deadline.after(check_seconds(time_limit, "time_limit")))[0]


def _runaway(model: Model, deadline: Deadline) -> tuple[tuple[str, ...], bool]:
    """The capped solve: (runaway variables, whether it finished before the deadline)."""
    try:
        lp = linearize(model)
    except LinearizationError:
        return (), True
    run = _run_before(deadline, lp, "highs", cap=RUNAWAY_CAP)
    if run.status not in ("optimal", "feasible"):
        return (), run.status != "timeout"
    names = [v.name for v in model.variables]
    hit = tuple(n for n in names if abs(run.values.get(n, 0.0)) >= 0.5 * RUNAWAY_CAP)
    return hit or tuple(n for n in names if abs(run.values.get(n, 0.0)) >= 1e4), True


def runaway_variables(model: Model, *, time_limit: float = 10.0) -> tuple[str, ...]:
    r"""The variables that grow without limit in an unbounded model (they hit a cap of :data:`RUNAWAY_CAP`).

    Example:
        >>> from neurosym.milp.model import parse_model
        >>> runaway_variables(parse_model("integer x, y\nmaximize x - y\ny <= 3"))
        ('x',)

    """
    return _runaway(model, Deadline.after(check_seconds(time_limit, "time_limit")))[0]


def _better(sense: str, a: float, b: float) -> bool:
    return a > b if sense == "maximize" else a < b


def solve_model(model: Model, *, time_limit: float = 10.0, solvers: Sequence[str] = SOLVERS) -> MilpResult:
    r"""Solve with each solver, compare, check, and explain what went wrong when there is no optimum.

    ``time_limit`` covers the whole call: one deadline is shared by the solvers (each gets an
    equal share of what is left when it starts) and the diagnostics after them (feasibility,
    conflict, runaway variables, relaxations), which are skipped or cut short when it has passed.
    The call returns within ``time_limit`` plus :data:`CBC_GRACE_S` and some milliseconds.

    Raises:
        ConfigurationError: ``time_limit`` is not a finite number of seconds greater than 0.

    Example:
        >>> from neurosym.milp.model import parse_model
        >>> result = solve_model(parse_model("integer x\nmaximize x\nx <= 2.5"), time_limit=5)
        >>> result.status, result.objective, result.seconds < 5 + CBC_GRACE_S
        ('optimal', 2.0, True)

    """
    time_limit = check_seconds(time_limit, "time_limit")
    started = time.perf_counter()
    deadline = Deadline.after(time_limit)
    try:
        lp = linearize(model)
    except LinearizationError as err:
        return MilpResult("not_linear", notes=(str(err),), seconds=time.perf_counter() - started)
    runs: list[SolverRun] = []
    for i, solver in enumerate(solvers):
        runs.append(_run_before(deadline, lp, solver, most=deadline.left() / (len(solvers) - i)))
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
                notes.append(f"{run.solver} did not prove optimality in time: {run.message or run.status}")
        if "unbounded" in statuses or any(abs(x) >= SUSPICIOUS_VALUE for x in best.values.values()):
            # A feasible model whose LP relaxation is unbounded is unbounded itself (rational data).
            relaxed = _run_before(deadline, lp, "highs", relax=True)
            if relaxed.status == "unbounded":
                notes.append("the LP relaxation is unbounded and the model is feasible: the model is unbounded")
                runaway, complete = _runaway(model, deadline)
                return finish("unbounded", runaway=runaway, diagnosed=complete)
        return finish("optimal", best, **_integrality(model, lp, best, deadline))
    if statuses and statuses <= {"infeasible", "unbounded"}:
        # Never trust the status string alone: HiGHS and CBC both call some unbounded integer
        # programs "Infeasible". A feasibility solve (objective 0) settles which it is.
        feasible = _feasible(model, deadline)
        said = ", ".join(f"{r.solver} said {r.status}" for r in runs)
        if feasible is None:  # no time left (or HiGHS failed) for the solve that settles it
            if len(statuses) > 1:
                notes.append(f"solvers disagree ({said}) and the feasibility solve did not finish in time")
                return finish("timeout", diagnosed=False)
            status = next(iter(statuses))
            notes.append(f"the feasibility solve did not finish in time: {status} on the solvers' word alone")
            return finish(status, diagnosed=False)
        status = "unbounded" if feasible else "infeasible"
        if any(r.status != status for r in runs):
            notes.append(f"solvers disagree with the feasibility solve: {said}; the model is {status}")
        if status == "infeasible":
            conflict, complete = _conflict(model, deadline, known_infeasible=True)
            if not complete:
                notes.append(
                    "the conflict search ran out of time: the constraints listed conflict, but not all are needed"
                )
            return finish("infeasible", conflict=conflict, diagnosed=complete)
        runaway, complete = _runaway(model, deadline)
        return finish("unbounded", runaway=runaway, diagnosed=complete)
    if statuses & {"timeout", "feasible"}:
        notes.append("no solver proved an optimum within the time limit")
        notes.extend(f"{r.solver}: {r.message}" for r in runs if r.status in ("timeout", "feasible") and r.message)
        return finish("timeout")
    notes.extend(f"{r.solver}: {r.status} {r.message}".strip() for r in runs if r.status == "error")
    return finish("error")


def _integrality(model: Model, lp: LinearProgram, best: SolutionCheck, deadline: Deadline) -> dict[str, Any]:
    """Say when whole numbers matter: the LP relaxation of an integer model, or the integer version of an LP."""
    if model.integral:
        relaxed = _run_before(deadline, lp, "highs", most=FEASIBILITY_S, relax=True)
        if relaxed.status == "optimal" and relaxed.objective is not None:
            return {"lp_relaxation": relaxed.objective}
        return {}
    fractional = any(abs(x - round(x)) > 1e-6 for x in best.values.values())
    if not fractional:
        return {}
    whole = _run_before(deadline, lp, "highs", most=FEASIBILITY_S, all_integer=True)
    if whole.status == "optimal" and whole.objective is not None:
        return {"integer_optimum": whole.objective}
    return {}
