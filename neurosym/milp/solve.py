r"""Solve a model with HiGHS and CBC (through PuLP), compare them, and check the answer independently.

Both solvers solve every model. Their statuses and objectives are compared, and each optimal
solution is re-checked against the declared model (:func:`~neurosym.milp.check.check_solution`).
The verdict never rests on one status string: through PuLP, HiGHS has called unbounded integer
programs "Infeasible" where CBC said "Unbounded", so a disagreement is settled by a feasibility
solve, and an "optimal" that fails the check is not believed.

What else :func:`solve_model` finds:

- optimal: what HiGHS knows about the optimum (:mod:`neurosym.milp.sensitivity`): dual values,
  reduced costs, ranging, slack and binding rows, of the LP or of the LP with the integers fixed;
- infeasible: a small set of constraints that conflict (``conflict``, a deletion filter: drop each
  constraint whose removal leaves the rest infeasible; the translator's repair feedback quotes it,
  so recorded repair prompts stay the same), and the solver's irreducible infeasible subset
  (``iis``): HiGHS's IIS where it finds one, checked (and made irreducible for the integer model)
  by the deletion filter, else the deletion filter's set;
- unbounded: the variables that run away (solve with every variable capped, see which hit a cap);
- integrality: where the LP relaxation and the integer optimum differ, and, for an all-continuous
  model with a fractional optimum, what the optimum would be in whole numbers.

The solver runs themselves are the provers :class:`~neurosym.provers.highs.HighsProver` and
:class:`~neurosym.provers.cbc.CbcProver` (:func:`run_solver` picks one by name); this module is
the orchestration around them.

Time: one :class:`~neurosym.deadlines.Deadline` covers a whole :func:`solve_model` call. CBC
runs its serial search in a private folder, and is killed :data:`CBC_GRACE_S` after its time
limit. A solve that a time limit ended is ``feasible`` or ``timeout``, never ``optimal``, and
says so.

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> result = solve_model(parse_model("integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4.5"))
    >>> result.status, result.objective, [r.solver for r in result.runs], result.check.ok
    ('optimal', 12.0, ['highs', 'cbc'], True)
    >>> result.lp_relaxation
    13.5

"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from neurosym.deadlines import Deadline, check_seconds
from neurosym.milp.check import SolutionCheck, check_solution
from neurosym.milp.linearize import LinearizationError, LinearProgram, linearize
from neurosym.milp.sensitivity import Sensitivity, analyse, highs_iis
from neurosym.milp.syntax import Model
from neurosym.provers._pulp import MIN_SOLVE_S, PulpProver, SolverRun
from neurosym.provers.cbc import CBC_GRACE_S, CbcProver, cbc_path
from neurosym.provers.highs import HighsProver

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
FEASIBILITY_S = 5.0
"""The most one diagnostic solve (a feasibility check, a relaxation) may take."""

_PROVERS: dict[str, PulpProver] = {"highs": HighsProver(), "cbc": CbcProver()}


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
    sensitivity: Sensitivity | None = None
    """HiGHS's duals, reduced costs and ranging at the optimum (``None`` when not optimal or not computed)."""
    iis: tuple[str, ...] = ()
    """An irreducible infeasible subset of the constraints: the solver's where it has one (see ``iis_method``)."""
    iis_method: str = ""
    """How ``iis`` was found: ``highs_iis`` (HiGHS's IIS, confirmed irreducible by the deletion filter),
    ``highs_iis+deletion_filter`` (HiGHS's IIS of the LP relaxation, reduced further for the integer model) or
    ``deletion_filter`` (HiGHS found none: the conflict needs integrality, or no IIS in this highspy)."""
    iis_bounds: tuple[str, ...] = ()
    """The variable bounds HiGHS found in its IIS (``"x >= 0"``), when ``iis`` is HiGHS's set as it came."""

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

    def to_dict(self) -> dict[str, Any]:
        r"""A JSON-ready form: status, objective, values, the runs, the check, the diagnostics and the sensitivity.

        Example:
            >>> from neurosym.milp.parser import parse_model
            >>> data = solve_model(parse_model("continuous x\nmaximize x\ncap: x <= 2")).to_dict()
            >>> data["status"], data["objective"], data["sensitivity"]["rows"][0]["dual"]
            ('optimal', 2.0, 1.0)

        """
        check = None
        if self.check is not None:
            check = {"ok": self.check.ok, "objective": self.check.objective, "problems": list(self.check.problems),
                     "binding": list(self.check.binding),
                     "constraints": [c.to_dict() for c in self.check.constraints]}  # fmt: skip
        return {
            "status": self.status, "objective": self.objective, "values": dict(self.values),
            "runs": [r.to_dict() for r in self.runs], "check": check, "notes": list(self.notes),
            "conflict": list(self.conflict), "iis": list(self.iis), "iis_method": self.iis_method,
            "iis_bounds": list(self.iis_bounds), "runaway": list(self.runaway),
            "lp_relaxation": self.lp_relaxation, "integer_optimum": self.integer_optimum,
            "sensitivity": self.sensitivity.to_dict() if self.sensitivity is not None else None,
            "seconds": round(self.seconds, 6), "diagnosed": self.diagnosed,
        }  # fmt: skip


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=OBJ_REL_TOL, abs_tol=1e-6)


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
    asks only for a feasible point, ``cap`` bounds every variable by ``±cap`` (see
    :meth:`neurosym.provers.highs.HighsProver.solve`). A run the time limit ended is ``feasible``
    (with a solution) or ``timeout``, never ``optimal``, and its message says so; an unknown
    solver is an ``error`` run.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> lp = linearize(parse_model("continuous x <= 2.5\nmaximize x"))
        >>> run_solver(lp, "cbc").objective, run_solver(lp, "highs", all_integer=True).objective
        (2.5, 2.0)

    """
    time_limit = check_seconds(time_limit, "time_limit")
    prover = _PROVERS.get(solver)
    if prover is None:
        return SolverRun(solver, "error", message=f"unknown solver {solver!r}; known: {', '.join(SOLVERS)}")
    return prover.solve(
        lp, time_limit=time_limit, relax=relax, all_integer=all_integer, zero_objective=zero_objective, cap=cap
    )


def _run_before(
    deadline: Deadline, lp: LinearProgram, solver: str, *, most: float | None = None, **options: Any
) -> SolverRun:
    """``run_solver`` with what is left of ``deadline`` (at most ``most`` s); a timeout run when nothing is left."""
    seconds = deadline.left() if most is None else min(deadline.left(), most)
    if seconds < MIN_SOLVE_S:
        name = _PROVERS[solver].display_name if solver in _PROVERS else solver
        return SolverRun(solver, "timeout", message=f"{name} not run: no time left")
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
        >>> from neurosym.milp.parser import parse_model
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
        >>> from neurosym.milp.parser import parse_model
        >>> runaway_variables(parse_model("integer x, y\nmaximize x - y\ny <= 3"))
        ('x',)

    """
    return _runaway(model, Deadline.after(check_seconds(time_limit, "time_limit")))[0]


def _better(sense: str, a: float, b: float) -> bool:
    return a > b if sense == "maximize" else a < b


def _solver_iis(model: Model, deadline: Deadline, filtered: tuple[str, ...]) -> dict[str, Any]:
    """HiGHS's IIS passed through the deletion filter, else ``filtered`` (the deletion filter's set).

    The deletion filter over HiGHS's set keeps every member when the set is irreducible (each
    drop leaves a feasible model), so the one pass both checks it and, where the IIS of the LP
    relaxation is reducible for the integer model, reduces it.
    """
    found = None
    if deadline.left() >= MIN_SOLVE_S:
        found = highs_iis(model, time_limit=min(deadline.left(), FEASIBILITY_S))
    if found is not None:
        names, bounds = found
        if set(names) == set(filtered):  # the deletion filter has shown this set irreducible already
            return {"iis": filtered, "iis_method": "highs_iis", "iis_bounds": bounds}
        members = set(names)
        kept, complete = _conflict(
            replace(model, constraints=tuple(c for c in model.constraints if c.name in members)), deadline
        )
        if kept and complete:
            same = len(kept) == len(names)
            return {"iis": kept, "iis_method": "highs_iis" if same else "highs_iis+deletion_filter",
                    "iis_bounds": bounds if same else ()}  # fmt: skip
    return {"iis": filtered, "iis_method": "deletion_filter"} if filtered else {}


def _sensitivity(model: Model, values: Mapping[str, float], deadline: Deadline) -> dict[str, Any]:
    """HiGHS's sensitivity analysis at the optimum, within what is left of ``deadline``."""
    seconds = min(deadline.left(), FEASIBILITY_S)
    if seconds < MIN_SOLVE_S:
        return {}
    report = analyse(model, values, time_limit=seconds)
    return {"sensitivity": report} if report is not None else {}


def solve_model(
    model: Model, *, time_limit: float = 10.0, solvers: Sequence[str] = SOLVERS, sensitivity: bool = True
) -> MilpResult:
    r"""Solve with each solver, compare, check, and explain what went wrong when there is no optimum.

    ``time_limit`` covers the whole call: one deadline is shared by the solvers (each gets an
    equal share of what is left when it starts) and the diagnostics after them (feasibility,
    conflict, runaway variables, relaxations, the sensitivity analysis, which ``sensitivity=False``
    leaves out), which are skipped or cut short when it has passed.
    The call returns within ``time_limit`` plus :data:`CBC_GRACE_S` and some milliseconds.

    Raises:
        ConfigurationError: ``time_limit`` is not a finite number of seconds greater than 0.

    Example:
        >>> from neurosym.milp.parser import parse_model
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
        extra = _integrality(model, lp, best, deadline)
        if sensitivity:
            extra.update(_sensitivity(model, {**best_run.values, **best.values}, deadline))
        return finish("optimal", best, **extra)
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
            iis = _solver_iis(model, deadline, conflict if complete else ())
            return finish("infeasible", conflict=conflict, diagnosed=complete, **iis)
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
