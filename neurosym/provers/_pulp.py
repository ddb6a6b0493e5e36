r"""What HiGHS and CBC share: a linear program as a PuLP problem, one solver run, and that run's own verdict.

:class:`PulpProver` is the base of :class:`~neurosym.provers.highs.HighsProver` and
:class:`~neurosym.provers.cbc.CbcProver`; each says how to build its PuLP engine and how to tell
that its time limit stopped it. :meth:`PulpProver.solve` runs one solve of a
:class:`~neurosym.milp.linearize.LinearProgram` and returns a :class:`SolverRun`;
:meth:`PulpProver.check` decides a ``milp`` formalization with that one solver. Comparing the two
solvers and checking the solution against the model is :func:`neurosym.milp.solve.solve_model`'s job.

Example:
    >>> from neurosym.milp.linearize import linearize
    >>> from neurosym.milp.parser import parse_model
    >>> from neurosym.provers.highs import HighsProver
    >>> HighsProver().solve(linearize(parse_model("integer x\nmaximize x\n2 x <= 5")), time_limit=5).objective
    2.0

"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from neurosym.deadlines import Deadline, check_seconds
from neurosym.errors import ConfigurationError, ParseError
from neurosym.provers.base import prover_deadline
from neurosym.types import Assignment, Formalization, Verdict

if TYPE_CHECKING:  # neurosym.milp imports its solve module, which imports this one: read neurosym.milp lazily
    from neurosym.milp.linearize import LinearProgram
    from neurosym.milp.syntax import Model

__all__ = ["MIN_SOLVE_S", "PulpProver", "RunStatus", "SolverRun", "pulp_problem"]

RunStatus = Literal["optimal", "feasible", "infeasible", "unbounded", "timeout", "error"]

MIN_SOLVE_S = 0.02
"""A solve is not started with less time than this left: it could only report a timeout, late."""


@dataclass(frozen=True)
class SolverRun:
    """One solver's answer: its status, objective, values and wall time.

    ``status`` is ``optimal``, ``feasible`` (stopped early with a solution), ``infeasible``,
    ``unbounded``, ``timeout`` or ``error``; ``message`` says what stopped a run that is not
    optimal ("CBC stopped at its time limit with a feasible solution, optimality not proved").

    Example:
        >>> SolverRun("highs", "optimal", 3.0, {"x": 1.0}).to_dict()["objective"]
        3.0

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


def pulp_problem(
    lp: LinearProgram, *, relax: bool, all_integer: bool, zero_objective: bool, cap: float | None
) -> tuple[Any, dict[str, Any]]:
    r"""The PuLP problem of ``lp`` and its variables by name (options as in :meth:`PulpProver.solve`).

    Example:
        >>> from neurosym.milp.linearize import linearize
        >>> from neurosym.milp.parser import parse_model
        >>> prob, xs = pulp_problem(linearize(parse_model("integer x\nmaximize x\nx <= 2")), relax=True,
        ...                         all_integer=False, zero_objective=False, cap=None)
        >>> sorted(xs), xs["x"].cat
        (['x'], 'Continuous')

    """
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


class PulpProver(ABC):
    """A MILP solver run through PuLP; subclasses say how to build the engine and read its stop.

    Class attributes: ``name`` (``highs``, ``cbc``), ``display_name`` (``HiGHS``, ``CBC``) and
    ``kill_grace_s``: how long past its time limit the solver runs before it is killed (``None``:
    it runs in this process and stops itself).
    """

    name: ClassVar[str]
    target: ClassVar[str] = "milp"
    display_name: ClassVar[str]
    kill_grace_s: ClassVar[float | None] = None

    @abstractmethod
    def available(self) -> bool:
        """Whether this machine can run the solver (cheap: nothing is started)."""
        ...

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The solver's name and versions, for results files."""
        ...

    @abstractmethod
    def _engine(self, time_limit: float) -> Any:
        """The PuLP solver object for one solve of at most ``time_limit`` seconds."""
        ...

    @abstractmethod
    def _stopped_by(self, engine: Any, prob: Any) -> tuple[bool, str]:
        """Whether the solver stopped at its time limit, and its own word for the outcome."""
        ...

    def solve(
        self,
        lp: LinearProgram,
        *,
        time_limit: float = 10.0,
        relax: bool = False,
        all_integer: bool = False,
        zero_objective: bool = False,
        cap: float | None = None,
    ) -> SolverRun:
        """Solve ``lp`` within ``time_limit`` seconds; never raises for solver trouble (an ``error`` run).

        ``relax`` drops integrality, ``all_integer`` makes every variable integer, ``zero_objective``
        asks only for a feasible point, ``cap`` bounds every variable by ``±cap``. A run the time
        limit ended is ``feasible`` (with a solution) or ``timeout``, never ``optimal``, and its
        message says so.

        Raises:
            ConfigurationError: ``time_limit`` is not a finite number of seconds greater than 0.

        """
        import pulp

        time_limit = check_seconds(time_limit, "time_limit")
        started = time.perf_counter()
        prob, xs = pulp_problem(lp, relax=relax, all_integer=all_integer, zero_objective=zero_objective, cap=cap)
        try:
            engine = self._engine(time_limit)
            prob.solve(engine)
            timed_out, detail = self._stopped_by(engine, prob)
        except Exception as exc:  # PuLP raises PulpSolverError and others for a missing or crashed solver
            seconds = time.perf_counter() - started
            return SolverRun(self.name, "error", seconds=seconds, message=f"{type(exc).__name__}: {exc}")
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
        kind, message = self._describe(kind, timed_out, detail, pulp.LpStatus.get(status, str(status)))
        if kind not in ("optimal", "feasible"):
            return SolverRun(self.name, kind, seconds=seconds, message=message)
        values = {name: (var.varValue if var.varValue is not None else math.nan) for name, var in xs.items()}
        objective = pulp.value(prob.objective) if not zero_objective else 0.0
        objective = float(objective if objective is not None else lp.objective.constant)
        return SolverRun(self.name, kind, objective, values, seconds, message)

    def _describe(self, kind: RunStatus, timed_out: bool, detail: str, fallback: str) -> tuple[RunStatus, str]:
        """The run's status and a message that says when a time limit, not a proof, ended it."""
        name = self.display_name
        if kind == "feasible":
            if timed_out:
                return kind, f"{name} stopped at its time limit with a feasible solution, optimality not proved"
            return kind, f"{name} stopped early with a feasible solution, optimality not proved ({detail})"
        if kind == "timeout":
            if detail == "killed":
                return kind, f"{name} did not stop at its time limit and was killed {self.kill_grace_s:g} s after it"
            if timed_out:
                return kind, f"{name} stopped at its time limit without a solution"
            return "error", f"{name} stopped without a solution ({detail or fallback})"  # not the clock: a failure
        if kind == "infeasible" and detail.lower().endswith("infeasible or unbounded"):
            return kind, f"Infeasible ({name}: {detail.lower()})"
        return kind, fallback

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Decide a ``milp`` formalization (its parsed model, or its source parsed) with this solver alone.

        ``optimal`` with the solution as the answer (not re-checked against the model: that, and
        comparing with the other solver, is :func:`neurosym.milp.solve.solve_model`'s job),
        ``inconsistent`` for an infeasible model, ``invalid`` for an unbounded one or a model that
        does not parse or linearise, ``timeout`` when the time limit stopped it (a feasible
        point's objective is in ``details["best_feasible_objective"]``), ``unknown`` when the
        solver failed. The call returns by the earlier of ``timeout_s`` and ``deadline`` (plus
        :attr:`kill_grace_s` for a solver that must be killed).

        Raises:
            ConfigurationError: a bad ``timeout_s``, or a formalization of another target.

        """
        from neurosym.milp.linearize import LinearizationError, linearize

        limit = prover_deadline(timeout_s, deadline)
        started = time.perf_counter()
        model = self._model(formalization)
        if isinstance(model, Verdict):
            return model
        try:
            lp = linearize(model)
        except LinearizationError as err:
            return Verdict("invalid", feedback=str(err), message=str(err), prover=self.name)
        seconds = limit.left()
        if seconds < MIN_SOLVE_S:
            return Verdict("timeout", message=f"{self.display_name} not run: no time left", prover=self.name)
        run = self.solve(lp, time_limit=seconds)
        return run_verdict(model, run, elapsed_s=time.perf_counter() - started)

    def _model(self, formalization: Formalization) -> Model | Verdict:
        from neurosym.milp.parser import parse_model
        from neurosym.milp.syntax import Model

        if formalization.target != self.target:
            raise ConfigurationError(f"{self.name} solves milp models, not a {formalization.target!r} formalization")
        if isinstance(formalization.parsed, Model):
            return formalization.parsed
        if formalization.parsed is not None:
            raise ConfigurationError(f"{self.name} solves milp models, not {type(formalization.parsed).__name__}")
        try:
            return parse_model(str(formalization.source))
        except ParseError as err:
            return Verdict("invalid", feedback=str(err), message=str(err), prover=self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def run_verdict(model: Model, run: SolverRun, *, elapsed_s: float = 0.0) -> Verdict:
    r"""The verdict one solver's run supports on its own (see :meth:`PulpProver.check`).

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> run_verdict(parse_model("integer x\nmaximize x\nx <= 2"), SolverRun("highs", "infeasible")).status
        'inconsistent'

    """
    common: dict[str, Any] = {"prover": run.solver, "elapsed_s": elapsed_s or run.seconds, "message": run.message}
    details: dict[str, Any] = {"run": {k: v for k, v in run.to_dict().items() if k != "values"}}
    if run.status == "optimal":
        names = [v.name for v in model.variables]  # not the helper binaries of the linearisation
        answer = Assignment({n: run.values[n] for n in names if n in run.values}, objective=run.objective)
        return Verdict("optimal", answer=answer, details=details, **common)
    if run.status == "feasible":
        details["best_feasible_objective"] = run.objective
        return Verdict("timeout", details=details, **common)
    if run.status == "infeasible":
        feedback = "The model is infeasible: its constraints cannot all hold together."
        return Verdict("inconsistent", feedback=feedback, details=details, **common)
    if run.status == "unbounded":
        feedback = f"The objective is unbounded: nothing in the model limits the {model.sense[:3]}imum."
        return Verdict("invalid", feedback=feedback, details=details, **common)
    if run.status == "timeout":
        return Verdict("timeout", details=details, **common)
    return Verdict("unknown", details=details, **common)
