r"""One SMT solver session over a grounded choice program, written once for Z3 and for cvc5.

An :class:`Engine` asserts the program's domains (each unknown within its type) for good and each
condition behind an indicator literal, so that one solver answers every question the decision
asks by assumptions: "are the conditions consistent?", "with option B?", "with not B?", "without
condition c2, with B and not c2?". Each answer is an :class:`Outcome`: ``sat`` with the values of
every unknown, ``unsat`` with the conditions in the unsatisfiable core, ``unknown`` or
``timeout``. The translation of grounded expressions to solver terms (:func:`build`) is shared;
each solver supplies a small table of term constructors (:class:`Terms`).

Example:
    >>> from neurosym.targets.choice.language import parse_program
    >>> program = parse_program("var x: 1..3\nassert x > 1\noption A: x == 1")
    >>> engine = Z3Engine(program)
    >>> engine.solve([program.options[0].formula]).status, engine.solve([]).values["x"]
    ('unsat', '2')

"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from neurosym.deadlines import Deadline
from neurosym.targets.choice.language import Node, Program, Symbol, Type

__all__ = ["MAX_SHOWN_CELLS", "Engine", "Outcome", "Terms", "Z3Engine", "build"]

MAX_SHOWN_CELLS = 200
"""Most unknowns listed in a model (a certificate); the rest are counted."""


@dataclass(frozen=True)
class Outcome:
    """One solver answer: ``sat`` (with ``values``), ``unsat`` (with ``core``), ``unknown`` or ``timeout``."""

    status: str
    values: Mapping[str, str] = field(default_factory=dict)
    core: tuple[int, ...] = ()
    reason: str = ""
    hidden: int = 0


class Terms(Protocol):
    """The term constructors one solver provides to :func:`build`."""

    def integer(self, value: int) -> Any:
        """An integer constant."""
        ...

    def boolean(self, value: bool) -> Any:
        """``true`` or ``false``."""
        ...

    def symbol(self, symbol: Symbol) -> Any:
        """The solver's constant or function for a declared unknown."""
        ...

    def apply(self, function: Any, arguments: Sequence[Any]) -> Any:
        """A function applied to argument terms."""
        ...

    def op(self, name: str, arguments: Sequence[Any]) -> Any:
        """An operator (see :func:`build`) applied to terms."""
        ...


def build(node: Node, terms: Terms, symbols: Mapping[str, tuple[Symbol, Any]], memo: dict[Node, Any]) -> Any:
    """The solver term for a grounded expression (``memo`` shares equal subterms).

    Operators handed to :meth:`Terms.op`: not, and, or, implies, eq, lt, le, add, sub, mul, neg,
    distinct, ite, abs; a function's ``bool`` argument becomes 0 or 1.
    """
    found = memo.get(node)
    if found is not None:
        return found
    head = node[0]
    term: Any
    if head == "int":
        term = terms.integer(node[1])
    elif head == "bool":
        term = terms.boolean(node[1])
    elif head == "const":
        term = symbols[node[1]][1]
    elif head == "app":
        symbol, function = symbols[node[1]]
        arguments = []
        for argument, kind in zip(node[2:], symbol.arguments, strict=True):
            built = build(argument, terms, symbols, memo)
            if kind.kind == "bool":
                built = terms.op("ite", [built, terms.integer(1), terms.integer(0)])
            arguments.append(built)
        term = terms.apply(function, arguments)
    elif head in ("and", "or") and not node[1:]:
        term = terms.boolean(head == "and")
    elif head in ("and", "or", "add") and len(node) == 2:
        term = build(node[1], terms, symbols, memo)
    else:
        term = terms.op(head, [build(child, terms, symbols, memo) for child in node[1:]])
    memo[node] = term
    return term


def _bounds(t: Type) -> tuple[int, int] | None:
    if t.kind == "range":
        return t.low, t.high
    if t.kind == "sort":
        return 0, t.high
    return None


class Engine(ABC):
    """A solver holding a program's domains and its conditions (behind indicators); see the module docstring.

    Subclasses set :attr:`name` and supply the solver calls (:meth:`_terms`, :meth:`_assert`,
    :meth:`_check`, :meth:`_value`).
    """

    name: ClassVar[str] = ""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.terms = self._terms()
        self.memo: dict[Node, Any] = {}
        self.symbols: dict[str, tuple[Symbol, Any]] = {s.name: (s, self.terms.symbol(s)) for s in program.symbols}
        self.cells: list[tuple[str, Symbol, Any]] = []
        for symbol in program.symbols:
            for text, arguments in program.cells_of(symbol):
                node: Node = (
                    ("const", symbol.name) if not arguments else ("app", symbol.name, *(("int", a) for a in arguments))
                )
                term = build(node, self.terms, self.symbols, self.memo)
                self.cells.append((text, symbol, term))
                bounds = _bounds(symbol.result)
                if bounds is not None:
                    low, high = bounds
                    self._assert(self.terms.op("le", [self.terms.integer(low), term]))
                    self._assert(self.terms.op("le", [term, self.terms.integer(high)]))
        self.indicators: list[Any] = []
        for index, condition in enumerate(program.conditions):
            indicator = self._indicator(f"__condition_{index}")
            self._assert(self.terms.op("implies", [indicator, self.term(condition.formula)]))
            self.indicators.append(indicator)
        self.assumed: dict[Node, Any] = {}

    def term(self, node: Node) -> Any:
        """The solver term of a grounded expression."""
        return build(node, self.terms, self.symbols, self.memo)

    def solve(self, assume: Iterable[Node], *, drop: Iterable[int] = (), deadline: Deadline | None = None) -> Outcome:
        """Check the conditions (less those in ``drop``) together with the formulas in ``assume``."""
        dropped = set(drop)
        literals = [ind for i, ind in enumerate(self.indicators) if i not in dropped]
        for node in assume:
            literal = self.assumed.get(node)
            if literal is None:
                literal = self._indicator(f"__assumed_{len(self.assumed)}")
                self._assert(self.terms.op("implies", [literal, self.term(node)]))
                self.assumed[node] = literal
            literals.append(literal)
        seconds = deadline.left() if deadline is not None else 3600.0
        if seconds <= 0:
            return Outcome("timeout", reason="the deadline passed")
        status, detail = self._check(literals, seconds)
        if status == "sat":
            return Outcome("sat", *self._model())
        if status == "unsat":
            core_names = set(detail)
            return Outcome(
                "unsat", core=tuple(i for i in range(len(self.indicators)) if f"__condition_{i}" in core_names)
            )
        return Outcome(status, reason=str(detail))

    def _model(self) -> tuple[dict[str, str], tuple[int, ...], str, int]:
        values: dict[str, str] = {}
        for text, symbol, term in self.cells[:MAX_SHOWN_CELLS]:
            values[text] = self.program.show(symbol, self._value(term, symbol.result))
        return values, (), "", max(0, len(self.cells) - MAX_SHOWN_CELLS)

    # -- what each solver supplies ----------------------------------------------------------------

    @abstractmethod
    def _terms(self) -> Terms: ...

    @abstractmethod
    def _indicator(self, name: str) -> Any: ...

    @abstractmethod
    def _assert(self, term: Any) -> None: ...

    @abstractmethod
    def _check(self, literals: list[Any], seconds: float) -> tuple[str, Any]:
        """``("sat", None)``, ``("unsat", names of the core's literals)``, ``("unknown"|"timeout", reason)``."""
        ...

    @abstractmethod
    def _value(self, term: Any, result: Type) -> int | bool: ...


# --------------------------------------------------------------------------------------------- Z3


class _Z3Terms:
    def __init__(self, context: Any) -> None:
        import z3

        self.z3, self.ctx = z3, context

    def _sort(self, t: Type) -> Any:
        return self.z3.BoolSort(self.ctx) if t.kind == "bool" else self.z3.IntSort(self.ctx)

    def integer(self, value: int) -> Any:
        return self.z3.IntVal(value, self.ctx)

    def boolean(self, value: bool) -> Any:
        return self.z3.BoolVal(value, self.ctx)

    def symbol(self, symbol: Symbol) -> Any:
        if not symbol.arguments:
            return self.z3.Const(symbol.name, self._sort(symbol.result))
        sorts = [self.z3.IntSort(self.ctx) for _ in symbol.arguments]
        return self.z3.Function(symbol.name, *sorts, self._sort(symbol.result))

    def apply(self, function: Any, arguments: Sequence[Any]) -> Any:
        return function(*arguments)

    def op(self, name: str, arguments: Sequence[Any]) -> Any:
        return _Z3_OPS[name](self.z3, list(arguments))


_Z3_OPS: dict[str, Callable[[Any, list[Any]], Any]] = {
    "not": lambda z3, a: z3.Not(a[0]),
    "and": lambda z3, a: z3.And(*a),
    "or": lambda z3, a: z3.Or(*a),
    "implies": lambda z3, a: z3.Implies(a[0], a[1]),
    "eq": lambda z3, a: a[0] == a[1],
    "lt": lambda z3, a: a[0] < a[1],
    "le": lambda z3, a: a[0] <= a[1],
    "add": lambda z3, a: z3.Sum(*a),
    "sub": lambda z3, a: a[0] - a[1],
    "mul": lambda z3, a: a[0] * a[1],
    "neg": lambda z3, a: -a[0],
    "distinct": lambda z3, a: z3.Distinct(*a),
    "ite": lambda z3, a: z3.If(a[0], a[1], a[2]),
    "abs": lambda z3, a: z3.If(a[0] >= 0, a[0], -a[0]),
}


class Z3Engine(Engine):
    """The engine on Z3, in a context of its own (so that it can run beside another solver's thread)."""

    name: ClassVar[str] = "z3"

    def _terms(self) -> Terms:
        import z3

        self.ctx = z3.Context()
        self.solver = z3.Solver(ctx=self.ctx)
        self.solver.set("core.minimize", True)  # a short conflict or proof reads better as evidence
        return _Z3Terms(self.ctx)

    def _indicator(self, name: str) -> Any:
        import z3

        return z3.Bool(name, self.ctx)

    def _assert(self, term: Any) -> None:
        self.solver.add(term)

    def _check(self, literals: list[Any], seconds: float) -> tuple[str, Any]:
        import z3

        self.solver.set("timeout", max(1, int(seconds * 1000)))
        result = self.solver.check(*literals)
        if result == z3.sat:
            self.model = self.solver.model()
            return "sat", None
        if result == z3.unsat:
            return "unsat", [str(literal) for literal in self.solver.unsat_core()]
        reason = self.solver.reason_unknown()
        return ("timeout" if reason in ("timeout", "canceled") else "unknown"), reason

    def _value(self, term: Any, result: Type) -> int | bool:
        import z3

        value = self.model.eval(term, model_completion=True)
        if result.kind == "bool":
            return bool(z3.is_true(value))
        return int(value.as_long())
