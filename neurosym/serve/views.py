r"""What the page shows of one outcome: a solve through the model, or a check of a model the person edited.

An :class:`Outcome` is built from a :class:`~neurosym.solving.SolveResult` (:func:`outcome_of_result`),
from a re-check of edited text (:func:`check_text`, no model call) or from an error; :func:`result_view`
turns it into the plain values the page template lays out (the model as MathML, the solution
table, the check, binding constraints and slack, sensitivity and the conflict where the solver
reported them). Nothing here writes HTML except the MathML, which escapes every name.

Example:
    >>> outcome = check_text("milp", "", "integer x\nmaximize 2 x\ncap: x <= 4", timeout_s=10)
    >>> view = result_view(outcome)
    >>> view.status, view.objective, [row.name for row in view.solution]
    ('optimal', '8', ['x'])

"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from neurosym.errors import InputError, NeurosymError, ParseError
from neurosym.types import Formalization, Problem, Verdict

if TYPE_CHECKING:
    from neurosym.solving import SolveResult

__all__ = ["PAGE_TARGETS", "Outcome", "ResultView", "Table", "check_text", "outcome_of_result", "result_view",
           "sensitivity_tables"]  # fmt: skip

logger = logging.getLogger(__name__)

PAGE_TARGETS = ("milp", "fol", "python")
"""The targets the page offers (the proof targets work on files, through ``neurosym prove``)."""
_MAX_TABLE_ROWS = 500


@dataclass(frozen=True)
class Outcome:
    r"""One thing the page shows: what was asked, the formalization, the verdict, or what went wrong.

    Attributes:
        target: the target's name.
        problem: the problem text (empty for a model the person brought).
        text: the formalization as the person can edit it (a MILP model, FOL premises, a program).
        verdict: the verdict on ``text`` (``None`` when an error came before any).
        raw_output: what the model wrote (empty for a re-check).
        formalization: the parsed formalization, when ``text`` parsed.
        error: what stopped the run (a dead backend, a bad option), for people.
        hint: what to do about it.
        by_model: whether the model wrote ``text`` (else the person edited it).
        elapsed_s: wall time of the run.
        model: the model that wrote it.
        notes: what reading a model file changed (renamed variables, rows left out).

    Example:
        >>> Outcome("milp", "Maximize x ...", "integer x\nmaximize x\nx <= 2").milp_model is None  # not checked yet
        True

    """

    target: str
    problem: str = ""
    text: str = ""
    verdict: Verdict | None = None
    raw_output: str = ""
    formalization: Formalization | None = None
    error: str = ""
    hint: str = ""
    by_model: bool = True
    elapsed_s: float = 0.0
    model: str = ""
    notes: tuple[str, ...] = ()

    @property
    def milp_model(self) -> Any:
        """The parsed MILP model, when this is a MILP outcome whose text parsed (else ``None``)."""
        from neurosym.milp.syntax import Model

        if self.formalization is not None and isinstance(self.formalization.parsed, Model):
            return self.formalization.parsed
        return None


def error_outcome(target: str, problem: str, exc: BaseException, *, text: str = "", by_model: bool = True) -> Outcome:
    """An outcome that says what went wrong, in the error's own words (never a traceback).

    Example:
        >>> error_outcome("milp", "p", InputError("the problem text is empty")).error
        'InputError: the problem text is empty'

    """
    if isinstance(exc, NeurosymError):
        message = f"{type(exc).__name__}: {exc}"
    else:  # a bug: say so briefly; the server's log has the traceback
        message = f"internal error ({type(exc).__name__}): {exc}"
    return Outcome(target, problem, text, error=message, hint=getattr(exc, "hint", "") or "", by_model=by_model)


def outcome_of_result(result: SolveResult, problem: str) -> Outcome:
    r"""The outcome of :func:`neurosym.solve`: the model's formalization (or what could be read of it) and verdict.

    Example:
        >>> from neurosym.solving import solve
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> llm = ScriptedBackend(["continuous x\nmaximize x\nx <= 2"] * 2)  # the MILP default samples two first
        >>> outcome_of_result(solve("Maximize x up to 2.", target="milp", llm=llm), "").verdict.answer.objective
        2.0

    """
    text = ""
    if result.target == "milp":
        from neurosym.targets.milp.report import model_text

        text = model_text(result) or result.raw_output
    elif result.formalization is not None:
        text = result.formalization.source
    else:
        text = result.raw_output
    return Outcome(
        target=result.target,
        problem=problem,
        text=text,
        verdict=result.verdict,
        raw_output=result.raw_output,
        formalization=result.formalization,
        elapsed_s=result.elapsed_s,
        model=result.model,
    )


def check_text(target: str, problem: str, text: str, *, timeout_s: float, fmt: str = "nsm") -> Outcome:
    r"""Check a formalization the person wrote or edited, with the target's solvers and no model call.

    ``text`` is what the page's editor holds: a MILP model, FOL premises one a line with the
    conclusion after ``⊢`` (as ``neurosym check`` reads them), or a Python program. A MILP model
    may come as an LP or MPS file's text (``fmt``), read by HiGHS and turned into the modeling
    language, which the outcome's text then holds.

    Example:
        >>> check_text("fol", "", "P(a)\n∀x (P(x) → Q(x))\n⊢ Q(a)", timeout_s=10).verdict.status
        'proved'

    """
    import time

    started = time.perf_counter()
    if not text.strip():
        return error_outcome(target, problem, InputError("the model text is empty"), by_model=False)
    notes: tuple[str, ...] = ()
    try:
        if fmt != "nsm":
            text, notes = _imported(target, text, fmt)
        formalization, verdict = _check(target, problem, text, timeout_s)
    except ParseError as exc:
        formalization, verdict = None, Verdict("invalid", message=f"could not read it: {exc}")
    except NeurosymError as exc:
        return error_outcome(target, problem, exc, text=text, by_model=False)
    except Exception as exc:  # a bug: the page says so briefly, the server's log keeps the traceback
        logger.exception("checking edited text failed")
        return error_outcome(target, problem, exc, text=text, by_model=False)
    elapsed = time.perf_counter() - started
    return Outcome(target, problem, text, verdict, formalization=formalization, by_model=False, elapsed_s=elapsed,
                   notes=notes)  # fmt: skip


def _imported(target: str, text: str, fmt: str) -> tuple[str, tuple[str, ...]]:
    from neurosym.milp.files import load_model_text

    if target != "milp" or fmt not in ("lp", "mps"):
        raise InputError(f"an {fmt.upper()} file is a MILP model: choose the optimization target")
    loaded = load_model_text(text, "lp" if fmt == "lp" else "mps", source=f"the {fmt.upper()} file")
    return loaded.model.render() + "\n", loaded.notes


def _check(target: str, problem: str, text: str, timeout_s: float) -> tuple[Formalization | None, Verdict]:
    if target == "fol":
        from neurosym.cli import read_fol_input
        from neurosym.targets.fol.check import check_fol

        read = read_fol_input(text, fmt="text")
        formalization = Formalization("fol", text)
        return formalization, check_fol(read.premises, read.conclusion, timeout=timeout_s)
    from neurosym.targets.registry import SolveOptions, target_spec

    if target not in PAGE_TARGETS:
        raise InputError(f"the page checks {', '.join(PAGE_TARGETS)}, not {target!r}")
    chosen = target_spec(target).build(SolveOptions(constrained=False, timeout_s=timeout_s))
    if target == "milp":
        from neurosym.milp.parser import parse_model

        # All of the text, strictly: a person's stray line is an error to show, not prose to skip as in model output.
        parsed = Formalization("milp", text, parse_model(text))
    else:
        parsed = chosen.parse(Problem(text=problem or "(a program written by hand)"), text)
    return parsed, chosen.check(parsed, timeout_s=timeout_s)


@dataclass(frozen=True)
class Row:
    """A variable of the solution: its name, value and kind.

    Example:
        >>> Row("x", "3", "integer").value
        '3'

    """

    name: str
    value: str
    kind: str


@dataclass(frozen=True)
class CheckRow:
    """A constraint at the solution: does it hold, its slack, whether it binds.

    Example:
        >>> CheckRow("cap", "x <= 4", True, "0", True).binding
        True

    """

    name: str
    text: str
    ok: bool
    slack: str
    binding: bool
    note: str = ""


@dataclass(frozen=True)
class Table:
    """A titled table of text cells (the sensitivity report's constraints and variables).

    Example:
        >>> Table("duals", ("constraint", "dual"), (("cap", "2"),)).rows[0]
        ('cap', '2')

    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ResultView:
    """The values the page template shows for one outcome (see :func:`result_view`).

    Example:
        >>> ResultView("optimal", "optimal: 8", objective="8").objective
        '8'

    """

    status: str
    headline: str
    message: str = ""
    feedback: str = ""
    objective: str = ""
    objective_label: str = ""
    mathml: Markup | None = None
    solution: tuple[Row, ...] = ()
    checks: tuple[CheckRow, ...] = ()
    binding: tuple[str, ...] = ()
    solvers: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    sensitivity_notes: tuple[str, ...] = ()
    conflict: tuple[tuple[str, str], ...] = ()
    conflict_caption: str = ""
    certificate: str = ""
    downloads: tuple[str, ...] = field(default=())


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def result_view(outcome: Outcome) -> ResultView:
    r"""What the page shows of ``outcome``: its status, the model as mathematics, solution, check, sensitivity.

    Example:
        >>> view = result_view(check_text("milp", "", "continuous x\nmaximize x\ncap: x <= 2", timeout_s=10))
        >>> view.headline, view.binding, [t.title for t in view.tables]
        ('optimal: 2', ('cap',), ['constraints', 'variables'])

    """
    verdict = outcome.verdict
    if verdict is None:
        return ResultView("error", "the run failed")
    model = outcome.milp_model
    mathml = None
    downloads: list[str] = []
    if model is not None:
        from neurosym.serve.mathml import model_mathml

        mathml = model_mathml(model)
        downloads += ["model.lp", "model.mps", "model.nsm"]
    certificate = verdict.certificate
    values: dict[str, Any] = {
        "status": verdict.status,
        "headline": _headline(verdict),
        "message": verdict.message,
        "feedback": verdict.feedback,
        "mathml": mathml,
    }
    from neurosym.milp.report import CheckedSolution

    if isinstance(certificate, CheckedSolution):
        values["objective"] = _num(certificate.objective)
        values["objective_label"] = f"{certificate.sense} {certificate.objective_name}".strip()
        kinds, solution = certificate.kinds, certificate.values.items()
        values["solution"] = tuple(Row(n, _num(v), kinds.get(n, "")) for n, v in solution if not n.startswith("_"))
        values["checks"] = tuple(_check_row(c) for c in certificate.constraints)
        values["binding"] = tuple(certificate.binding)
        values["solvers"] = tuple(f"{s['solver']} {s['status']} {_num(s['objective'])}" for s in certificate.solvers)
        values["notes"] = _integrality_notes(certificate)
        report = certificate.to_dict().get("sensitivity")
        if report and any(not v.get("fixed") for v in report.get("variables", ())):
            values["tables"] = sensitivity_tables(report)
            values["sensitivity_notes"] = tuple(report.get("notes", ()))
        elif report:  # every variable integer: fixing them leaves no LP whose duals or ranges would say anything
            values["sensitivity_notes"] = ("every variable is a whole number: there is no LP left to analyse",)
        downloads.append("solution.csv")
    elif certificate is not None:
        values["certificate"] = certificate.render()
    iis = verdict.details.get("iis")
    names = iis.get("constraints", ()) if isinstance(iis, Mapping) else verdict.details.get("conflict", ())
    if model is not None and names:
        from neurosym.milp.report import iis_line

        values["conflict"] = tuple((str(name), _constraint_text(model, str(name))) for name in names)
        values["conflict_caption"] = iis_line(iis) if isinstance(iis, Mapping) else ""
    runaway = verdict.details.get("runaway")
    if runaway:
        values["notes"] = (*values.get("notes", ()), "unbounded in: " + ", ".join(map(str, runaway)))
    return ResultView(downloads=tuple(downloads), **values)


def _check_row(c: Mapping[str, Any]) -> CheckRow:
    return CheckRow(
        str(c.get("name", "")), str(c.get("text", "")), bool(c.get("ok")), _num(c.get("slack")),
        bool(c.get("binding")), str(c.get("note", "")),
    )  # fmt: skip


def _headline(verdict: Verdict) -> str:
    from neurosym.types import Assignment, NumberAnswer

    answer = verdict.answer
    if verdict.status == "optimal" and isinstance(answer, Assignment):
        return f"optimal: {_num(answer.objective)}"
    if verdict.status == "inconsistent":
        return "infeasible: the constraints cannot all hold"
    if verdict.decided and isinstance(answer, NumberAnswer):
        return f"{verdict.status}: {answer.exact or _num(answer.value)}"
    if verdict.decided and answer is not None:
        return f"{verdict.status}: {getattr(answer, 'value', answer)}"
    return verdict.status


def _integrality_notes(certificate: Any) -> tuple[str, ...]:
    notes = []
    if certificate.lp_relaxation is not None:
        same = abs(certificate.lp_relaxation - certificate.objective) <= 1e-6 * max(1.0, abs(certificate.objective))
        effect = "whole numbers do not change the optimum" if same else "integrality changes the optimum"
        notes.append(f"LP relaxation: {_num(certificate.lp_relaxation)} ({effect})")
    if certificate.integer_optimum is not None:
        notes.append(f"in whole numbers the optimum would be {_num(certificate.integer_optimum)}")
    return (*notes, *certificate.notes)


def _constraint_text(model: Any, name: str) -> str:
    try:
        rendered: str = model.constraint(name).render()
    except (KeyError, ValueError, LookupError):
        return ""
    return rendered


def sensitivity_tables(sensitivity: Mapping[str, Any]) -> tuple[Table, ...]:
    r"""The sensitivity report (a :class:`~neurosym.milp.sensitivity.Sensitivity`'s ``to_dict()``) as two tables.

    One row per constraint (activity, slack, binding, dual value, the right-hand-side range over
    which the dual holds) and one per variable (value, cost, reduced cost, the cost range over
    which the solution stays optimal); an infinite end of a range shows as ∞.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> from neurosym.milp.sensitivity import analyse
        >>> report = analyse(parse_model("continuous x\nmaximize 2 x\ncap: x <= 4")).to_dict()
        >>> rows, variables = sensitivity_tables(report)
        >>> rows.columns
        ('constraint', 'activity', 'slack', 'binding', 'dual', 'rhs range')
        >>> rows.rows
        (('cap', '4', '0', 'yes', '2', '[0, ∞]'),)
        >>> variables.rows
        (('x', '4', '2', '0', '[0, ∞]'),)

    """
    rows = tuple(_row_cells(r) for r in list(sensitivity.get("rows", ()))[:_MAX_TABLE_ROWS])
    listed = list(sensitivity.get("variables", ()))[:_MAX_TABLE_ROWS]
    variables = tuple(_variable_cells(v) for v in listed if not str(v["name"]).startswith("_"))
    return (
        Table("constraints", ("constraint", "activity", "slack", "binding", "dual", "rhs range"), rows),
        Table("variables", ("variable", "value", "cost", "reduced cost", "cost range"), variables),
    )


def _row_cells(r: Mapping[str, Any]) -> tuple[str, ...]:
    binding = "yes" if r.get("binding") else ""
    name, activity, slack = str(r["name"]), _num(r.get("activity")), _num(r.get("slack"))
    return (name, activity, slack, binding, _num(r.get("dual")), _range_text(r.get("rhs_range")))


def _variable_cells(v: Mapping[str, Any]) -> tuple[str, ...]:
    cost_range = "fixed at the optimum" if v.get("fixed") else _range_text(v.get("cost_range"))
    return (str(v["name"]), _num(v.get("value")), _num(v.get("cost")), _num(v.get("reduced_cost")), cost_range)


def _range_text(pair: Any) -> str:
    low, high = pair if isinstance(pair, Sequence) and len(pair) == 2 else (None, None)
    return f"[{'−∞' if low is None else _num(low)}, {'∞' if high is None else _num(high)}]"
