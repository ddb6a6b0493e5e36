r"""The MILP modeling language's syntax tree: a :class:`Model` and its parts, and their printing.

A model holds its variables (:class:`Variable`), an objective (a :class:`LinearExpr`) and named
constraints, each a :class:`Comparison`, an :class:`Indicator` (if-then on a binary), a
:class:`Disjunction` (either-or) or a :class:`Cardinality` (at most / at least / exactly k of
some binaries). Every part prints itself in the modeling language (``render``), and
:meth:`Model.render` gives canonical text that parses back to the same model. The text form and
its reading are in :mod:`neurosym.milp.parser`.

Example:
    >>> x = LinearExpr((("x", 2.0), ("y", -1.0)))
    >>> Comparison(x, "<=", 4.0, "cap").render()
    '2 x - y <= 4'

"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Cardinality",
    "Comparison",
    "Constraint",
    "Disjunction",
    "Indicator",
    "LinearExpr",
    "Model",
    "Sense",
    "VarKind",
    "Variable",
]

VarKind = Literal["continuous", "integer", "binary"]
"""The kinds of decision variable."""
Sense = Literal["<=", ">=", "=="]
"""The senses of a comparison (a strict one is tightened while the model is read)."""


def _number_text(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.10g}"
    return text if float(text) == value else repr(value)  # exact, so that parsing the text gives the value back


@dataclass(frozen=True)
class LinearExpr:
    """``sum(coef * variable) + constant``; ``terms`` keeps first-mention order and no zero coefficients.

    Example:
        >>> LinearExpr((("x", 2.0), ("y", -1.0)), 3.0).render()
        '2 x - y + 3'

    """

    terms: tuple[tuple[str, float], ...] = ()
    constant: float = 0.0

    @property
    def coefficients(self) -> dict[str, float]:
        """The terms as a dict."""
        return dict(self.terms)

    @property
    def names(self) -> tuple[str, ...]:
        """The variables, in order."""
        return tuple(name for name, _ in self.terms)

    def value(self, values: Mapping[str, float]) -> float:
        """The expression's value at ``values``.

        Example:
            >>> LinearExpr((("x", 2.0),), 1.0).value({"x": 3})
            7.0

        """
        return math.fsum([coef * values[name] for name, coef in self.terms] + [self.constant])

    def render(self) -> str:
        """The expression as the modeling language writes it."""
        parts: list[str] = []
        for name, coef in self.terms:
            sign = "-" if coef < 0 else "+"
            size = abs(coef)
            text = name if size == 1 else f"{_number_text(size)} {name}"
            parts.append(f"{sign} {text}")
        if self.constant or not parts:
            parts.append(f"{'-' if self.constant < 0 else '+'} {_number_text(abs(self.constant))}")
        text = " ".join(parts)
        return text[2:] if text.startswith("+ ") else "-" + text[2:]

    @staticmethod
    def combine(pairs: list[tuple[LinearExpr, float]], constant: float = 0.0) -> LinearExpr:
        """``sum(weight * expr) + constant``, dropping terms that cancel.

        Example:
            >>> x = LinearExpr((("x", 1.0),))
            >>> LinearExpr.combine([(x, 2.0), (x, -2.0)], 5.0).render()
            '5'

        """
        coefficients: dict[str, float] = {}
        total = constant
        for expr, weight in pairs:
            for name, coef in expr.terms:
                coefficients[name] = coefficients.get(name, 0.0) + weight * coef
            total += weight * expr.constant
        return LinearExpr(tuple((n, c) for n, c in coefficients.items() if c != 0.0), total)


@dataclass(frozen=True)
class Variable:
    """A decision variable: its name, kind and bounds (``None`` for no bound).

    Example:
        >>> Variable("x", "integer", 0.0, 3.0).render()
        'integer x in [0, 3]'

    """

    name: str
    kind: VarKind = "continuous"
    lower: float | None = 0.0
    upper: float | None = None

    @property
    def integral(self) -> bool:
        """Whether the variable must take whole values."""
        return self.kind != "continuous"

    def render(self) -> str:
        """The declaration in the modeling language."""
        if self.kind == "binary":
            return f"binary {self.name}"
        if self.lower is None and self.upper is None:
            return f"{self.kind} {self.name} free"
        if self.upper is None:
            return f"{self.kind} {self.name}" + ("" if self.lower == 0 else f" >= {_number_text(self.lower or 0)}")
        lower = "-inf" if self.lower is None else _number_text(self.lower)
        return f"{self.kind} {self.name} in [{lower}, {_number_text(self.upper)}]"


@dataclass(frozen=True)
class Comparison:
    """``expr sense rhs``, with every variable on the left and the constant on the right.

    Example:
        >>> Comparison(LinearExpr((("x", 1.0),)), "==", 2.0).render()
        'x = 2'

    """

    expr: LinearExpr
    sense: Sense
    rhs: float
    name: str = ""
    line: int = field(default=0, compare=False)

    def slack(self, values: Mapping[str, float]) -> float:
        """How far the comparison is from being violated at ``values`` (negative when violated).

        Example:
            >>> Comparison(LinearExpr((("x", 1.0),)), "<=", 4.0).slack({"x": 3.0})
            1.0

        """
        activity = self.expr.value(values)
        if self.sense == "<=":
            return self.rhs - activity
        if self.sense == ">=":
            return activity - self.rhs
        return -abs(activity - self.rhs)

    def render(self) -> str:
        """The comparison in the modeling language."""
        return f"{self.expr.render()} {'=' if self.sense == '==' else self.sense} {_number_text(self.rhs)}"

    def variables(self) -> tuple[str, ...]:
        """The variables it mentions."""
        return self.expr.names


@dataclass(frozen=True)
class Indicator:
    """``if binary = value then comparisons``: the comparisons must hold when the binary takes ``value``.

    Example:
        >>> Indicator("b", 0, (Comparison(LinearExpr((("x", 1.0),)), "<=", 0.0),)).render()
        'if not b then x <= 0'

    """

    binary: str
    value: int
    then: tuple[Comparison, ...]
    name: str = ""
    line: int = field(default=0, compare=False)

    def render(self) -> str:
        """The constraint in the modeling language."""
        condition = self.binary if self.value == 1 else f"not {self.binary}"
        if len(self.then) == 2:  # from a chained comparison: a <= e <= b is read as -e <= -a and e <= b
            first, second = self.then
            negated = LinearExpr(tuple((n, -c) for n, c in second.expr.terms))
            if first.sense == second.sense != "==" and first.expr == negated:
                chain = f"{_number_text(-first.rhs)} {first.sense} {second.render()}"
                return f"if {condition} then {chain}"
        return f"if {condition} then " + " and ".join(c.render() for c in self.then)

    def variables(self) -> tuple[str, ...]:
        """The variables it mentions."""
        return (self.binary, *(n for c in self.then for n in c.variables()))


@dataclass(frozen=True)
class Disjunction:
    """At least one of ``options`` holds (either-or).

    Example:
        >>> x, y = LinearExpr((("x", 1.0),)), LinearExpr((("y", 1.0),))
        >>> Disjunction((Comparison(x, "<=", 2.0), Comparison(y, ">=", 4.0))).render()
        'x <= 2 or y >= 4'

    """

    options: tuple[Comparison, ...]
    name: str = ""
    line: int = field(default=0, compare=False)

    def render(self) -> str:
        """The constraint in the modeling language."""
        return " or ".join(c.render() for c in self.options)

    def variables(self) -> tuple[str, ...]:
        """The variables it mentions."""
        return tuple(n for c in self.options for n in c.variables())


@dataclass(frozen=True)
class Cardinality:
    """``at most`` / ``at least`` / ``exactly`` ``k`` of the binaries are 1.

    Example:
        >>> Cardinality("at most", 1, ("a", "b")).as_comparison().render()
        'a + b <= 1'

    """

    kind: Literal["at most", "at least", "exactly"]
    k: int
    binaries: tuple[str, ...]
    name: str = ""
    line: int = field(default=0, compare=False)

    def render(self) -> str:
        """The constraint in the modeling language."""
        return f"{self.kind} {self.k} of {', '.join(self.binaries)}"

    def variables(self) -> tuple[str, ...]:
        """The variables it mentions."""
        return self.binaries

    def as_comparison(self) -> Comparison:
        """The same constraint as one linear comparison (exact: no big-M needed)."""
        senses: dict[str, Sense] = {"at most": "<=", "at least": ">=", "exactly": "=="}
        sense = senses[self.kind]
        return Comparison(
            LinearExpr(tuple((b, 1.0) for b in self.binaries)), sense, float(self.k), self.name, self.line
        )


Constraint = Comparison | Indicator | Disjunction | Cardinality


@dataclass(frozen=True)
class Model:
    """A parsed model: variables (in declaration order), the objective and the named constraints.

    Every constraint has a unique name: the one written, or ``c<line>`` (``c<line>_2`` for the
    second half of a chained comparison). A name written twice stays on its first constraint and
    the later one becomes ``<name>_<line>``.

    Example:
        >>> x = LinearExpr((("x", 1.0),))
        >>> m = Model((Variable("x"),), "maximize", x, (Comparison(x, "<=", 3.0, "cap"),))
        >>> m.constraint("cap").render(), m.integral
        ('x <= 3', False)

    """

    variables: tuple[Variable, ...]
    sense: Literal["maximize", "minimize"]
    objective: LinearExpr
    constraints: tuple[Constraint, ...]
    objective_name: str = ""
    source: str = field(default="", compare=False)

    @property
    def variable_map(self) -> dict[str, Variable]:
        """Variables by name."""
        return {v.name: v for v in self.variables}

    def constraint(self, name: str) -> Constraint:
        """The constraint called ``name``."""
        for c in self.constraints:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def integral(self) -> bool:
        """Whether any variable must take whole values."""
        return any(v.integral for v in self.variables)

    def render(self) -> str:
        r"""The model in the modeling language (canonical form: parsing it gives the same model).

        Example:
            >>> from neurosym.milp.parser import parse_model
            >>> print(parse_model("integer x <= 3\nmaximize 2 x").render())
            integer x in [0, 3]
            maximize 2 x

        """
        name = f"{self.objective_name}: " if self.objective_name else ""
        lines = [v.render() for v in self.variables]
        lines.append(f"{self.sense} {name}{self.objective.render()}")
        lines += [f"{c.name}: {c.render()}" for c in self.constraints]
        return "\n".join(lines)
