r"""MILP results for people: the model in Markdown or LaTeX, and the checked solution as a certificate.

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> from neurosym.milp.solve import solve_model
    >>> model = parse_model("integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\n"
    ...                     "wood: 2 chairs + 4 tables <= 40\nhours: 3 chairs + 2 tables <= 36")
    >>> print(CheckedSolution.from_result(model, solve_model(model)).render())
    optimum (maximize profit): 540
    variable  value  kind
    chairs    8      integer
    tables    6      integer
    check: every bound, integrality and constraint holds (2 checked); objective recomputed: 540
    binding: wood, hours
    solvers: highs optimal 540, cbc optimal 540
    LP relaxation: 540 (whole numbers do not change the optimum)

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from neurosym.milp.sensitivity import Sensitivity
from neurosym.milp.solve import MilpResult
from neurosym.milp.syntax import Cardinality, Comparison, Disjunction, Indicator, LinearExpr, Model

__all__ = ["CheckedSolution", "iis_line", "model_latex", "model_markdown"]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


@dataclass(frozen=True)
class CheckedSolution:
    """The certificate of an optimal model: the solution, the independent check and what each solver said."""

    KIND: ClassVar[str] = "milp_solution"
    model: str
    sense: str
    objective_name: str
    objective: float
    values: Mapping[str, float]
    kinds: Mapping[str, str]
    checked: int
    binding: tuple[str, ...] = ()
    solvers: tuple[Mapping[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    lp_relaxation: float | None = None
    integer_optimum: float | None = None
    constraints: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    sensitivity: Sensitivity | None = field(default=None, compare=False)
    """HiGHS's duals, reduced costs and ranging at the optimum (:mod:`neurosym.milp.sensitivity`)."""

    @classmethod
    def from_result(cls, model: Model, result: MilpResult) -> CheckedSolution:
        """The certificate for an ``optimal`` :class:`~neurosym.milp.solve.MilpResult`."""
        if result.check is None or result.objective is None:
            raise ValueError(f"only an optimal result has a certificate (this one is {result.status})")
        return cls(
            model=model.render(),
            sense=model.sense,
            objective_name=model.objective_name,
            objective=result.objective,
            values=dict(result.values),
            kinds={v.name: v.kind for v in model.variables},
            checked=len(result.check.constraints),
            binding=result.check.binding,
            solvers=tuple(
                {"solver": r.solver, "status": r.status, "objective": r.objective, "seconds": round(r.seconds, 6)}
                for r in result.runs
            ),
            notes=result.notes,
            lp_relaxation=result.lp_relaxation,
            integer_optimum=result.integer_optimum,
            constraints=tuple(c.to_dict() for c in result.check.constraints),
            sensitivity=result.sensitivity,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "kind": "milp_solution", "model": self.model, "sense": self.sense, "objective_name": self.objective_name,
            "objective": self.objective, "values": dict(self.values), "kinds": dict(self.kinds),
            "checked": self.checked, "binding": list(self.binding), "solvers": [dict(s) for s in self.solvers],
            "notes": list(self.notes), "lp_relaxation": self.lp_relaxation, "integer_optimum": self.integer_optimum,
            "constraints": [dict(c) for c in self.constraints],
            "sensitivity": self.sensitivity.to_dict() if self.sensitivity is not None else None,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckedSolution:
        """Read back :meth:`to_dict`."""
        return cls(
            data["model"], data["sense"], data.get("objective_name", ""), float(data["objective"]),
            {k: float(v) for k, v in data["values"].items()}, dict(data.get("kinds", {})), int(data["checked"]),
            tuple(data.get("binding", ())), tuple(data.get("solvers", ())), tuple(data.get("notes", ())),
            data.get("lp_relaxation"), data.get("integer_optimum"), tuple(data.get("constraints", ())),
            Sensitivity.from_dict(data["sensitivity"]) if data.get("sensitivity") else None,
        )  # fmt: skip

    def table(self) -> str:
        """The solution as an aligned text table (variable, value, kind); helper variables left out."""
        rows = [("variable", "value", "kind")]
        rows += [(n, _num(v), self.kinds.get(n, "")) for n, v in self.values.items() if not n.startswith("_")]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)

    def render(self) -> str:
        """Optimum, solution table, the check, binding constraints, the solvers and integrality notes."""
        name = f" {self.objective_name}" if self.objective_name else ""
        lines = [f"optimum ({self.sense}{name}): {_num(self.objective)}", self.table()]
        lines.append(
            f"check: every bound, integrality and constraint holds ({self.checked} checked); "
            f"objective recomputed: {_num(self.objective)}"
        )
        lines.append("binding: " + (", ".join(self.binding) if self.binding else "none"))
        lines.append(
            "solvers: " + ", ".join(f"{s['solver']} {s['status']} {_num(s['objective'])}" for s in self.solvers)
        )
        if self.lp_relaxation is not None:
            same = abs(self.lp_relaxation - self.objective) <= 1e-6 * max(1.0, abs(self.objective))
            lines.append(
                f"LP relaxation: {_num(self.lp_relaxation)} "
                + ("(whole numbers do not change the optimum)" if same else "(integrality changes the optimum)")
            )
        if self.integer_optimum is not None:
            lines.append(
                f"in whole numbers the optimum would be {_num(self.integer_optimum)}: declare the variables integer "
                "if the quantities are counted"
            )
        lines += [f"note: {n}" for n in self.notes]
        if self.sensitivity is not None and any(not v.fixed for v in self.sensitivity.variables):
            # With every variable integer, fixing them leaves no LP: its duals and ranges would say nothing.
            lines.append(self.sensitivity.render())
        return "\n".join(lines)


def iis_line(iis: Mapping[str, Any]) -> str:
    """One line naming an irreducible infeasible subset and who found it (``iis``: a verdict's ``details["iis"]``).

    Example:
        >>> iis_line({"constraints": ["a", "c"], "method": "highs_iis", "bounds": ["y >= 0"]})
        'irreducible infeasible subset (HiGHS IIS, checked): a, c; with the bounds y >= 0'

    """
    who = {
        "highs_iis": "HiGHS IIS, checked",
        "highs_iis+deletion_filter": "HiGHS IIS of the LP relaxation, reduced for the integer model",
        "deletion_filter": "deletion filter",
    }.get(str(iis.get("method", "")), str(iis.get("method", "")))
    text = f"irreducible infeasible subset ({who}): " + ", ".join(map(str, iis.get("constraints", ())))
    bounds = list(iis.get("bounds", ()))
    return text + (f"; with the bounds {', '.join(map(str, bounds))}" if bounds else "")


_LATEX_SENSE = {"<=": r"\le", ">=": r"\ge", "==": "="}
_TEXT_SENSE = {"<=": "≤", ">=": "≥", "==": "="}


def _tex_name(name: str) -> str:
    escaped = name.replace("_", r"\_")
    return rf"\mathit{{{escaped}}}"


def _latex_token(token: str) -> str:
    if token[:1] == "-" and len(token) > 1:  # a leading negative term: "-x"
        return "-" + _latex_token(token[1:])
    return _tex_name(token) if token[:1].isalpha() or token[:1] == "_" else token


def _latex_expr(expr: LinearExpr) -> str:
    return " ".join(_latex_token(t) for t in expr.render().split())


def _latex_comparison(c: Comparison) -> str:
    return f"{_latex_expr(c.expr)} {_LATEX_SENSE[c.sense]} {_num(c.rhs)}"


def _constraint_latex(c: object) -> str:
    if isinstance(c, Comparison):
        return _latex_comparison(c)
    if isinstance(c, Cardinality):
        return _latex_comparison(c.as_comparison())
    if isinstance(c, Indicator):
        condition = f"{_tex_name(c.binary)} = {c.value}"
        return condition + r" \Rightarrow " + r" \land ".join(_latex_comparison(p) for p in c.then)
    assert isinstance(c, Disjunction)
    return r" \lor ".join(_latex_comparison(p) for p in c.options)


def model_latex(model: Model) -> str:
    r"""The model as a LaTeX ``aligned`` block.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> print(model_latex(parse_model("integer x\nmaximize 2 x\ncap: x <= 4")))
        \begin{aligned}
        \max\quad & 2 \mathit{x} \\
        \text{s.t.}\quad & \mathit{x} \le 4 && \text{(cap)} \\
        & \mathit{x} \in \mathbb{Z}_{\ge 0}
        \end{aligned}

    """
    lines = [r"\begin{aligned}", rf"\{model.sense[:3]}\quad & {_latex_expr(model.objective)} \\"]
    for i, c in enumerate(model.constraints):
        lead = r"\text{s.t.}\quad & " if i == 0 else "& "
        name = c.name.replace("_", r"\_")
        lines.append(rf"{lead}{_constraint_latex(c)} && \text{{({name})}} \\")
    domains = []
    for v in model.variables:
        if v.kind == "binary":
            domains.append(rf"{_tex_name(v.name)} \in \{{0, 1\}}")
        elif v.kind == "integer" and v.lower == 0 and v.upper is None:
            domains.append(rf"{_tex_name(v.name)} \in \mathbb{{Z}}_{{\ge 0}}")
        else:
            lo = "-\\infty" if v.lower is None else _num(v.lower)
            hi = "\\infty" if v.upper is None else _num(v.upper)
            whole = rf",\ {_tex_name(v.name)} \in \mathbb{{Z}}" if v.kind == "integer" else ""
            domains.append(rf"{lo} \le {_tex_name(v.name)} \le {hi}{whole}")
    lines.append("& " + r",\ ".join(domains))
    lines.append(r"\end{aligned}")
    return "\n".join(lines)


def model_markdown(model: Model) -> str:
    r"""The model as Markdown: the objective, a table of named constraints, and the variables.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> print(model_markdown(parse_model("integer x\nbinary b\nmaximize 2 x\ncap: x <= 4\nif b then x >= 1")))
        **maximize** 2 x
        <BLANKLINE>
        | constraint | |
        |---|---|
        | cap | x ≤ 4 |
        | c5 | if b then x ≥ 1 |
        <BLANKLINE>
        variables: x integer ≥ 0; b binary

    """
    name = f" {model.objective_name} =" if model.objective_name else ""
    lines = [f"**{model.sense}**{name} {model.objective.render()}", "", "| constraint | |", "|---|---|"]
    for c in model.constraints:
        text = c.render()
        for ascii_sense, symbol in _TEXT_SENSE.items():
            text = text.replace(f" {ascii_sense} ", f" {symbol} ")
        lines.append(f"| {c.name} | {text.replace('|', '/')} |")
    described = []
    for v in model.variables:
        if v.kind == "binary":
            described.append(f"{v.name} binary")
        elif v.lower == 0 and v.upper is None:
            described.append(f"{v.name} {v.kind} ≥ 0")
        else:
            lo = "-∞" if v.lower is None else _num(v.lower)
            hi = "∞" if v.upper is None else _num(v.upper)
            described.append(f"{v.name} {v.kind} in [{lo}, {hi}]")
    lines += ["", "variables: " + "; ".join(described)]
    return "\n".join(lines)
