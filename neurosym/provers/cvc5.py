r"""cvc5 (the PyPI ``cvc5`` bindings, in process) as a prover for ``choice`` formalizations.

cvc5 is the second solver of the choice target: it decides the same grounded program as Z3
(:mod:`neurosym.targets.choice.engine`) through its own term API, so the decision of each option
is cross-checked by an independent SMT solver, as E cross-checks Z3 on FOL. Each check runs with
cvc5's own per-call time limit (``tlimit-per``), taken from the shared deadline.

Why the PyPI bindings rather than Debian's ``cvc5`` on SMT-LIB text: ``pip install`` brings the
same version everywhere (CI included) with no system package, the solver runs in this process
(no child to start or kill per check), and terms, models and unsatisfiable cores come back as
objects rather than text to parse.

Example:
    >>> from neurosym.targets.choice.check import choice_task
    >>> from neurosym.types import Formalization
    >>> task = choice_task("var x: 1..3\nassert x > 2\noption A: x == 3\noption B: x == 1",
    ...                    "Which one of the following must be true?", "AB")
    >>> verdict = Cvc5Prover().check(Formalization("choice", task.source, task))
    >>> verdict.status, verdict.answer.exact, verdict.prover
    ('proved', 'A', 'cvc5')

"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from importlib import metadata
from typing import Any, ClassVar

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, ParseError
from neurosym.provers.base import prover_deadline
from neurosym.targets.choice.engine import Engine, Terms
from neurosym.targets.choice.language import Symbol, Type
from neurosym.types import Formalization, Verdict

__all__ = ["Cvc5Engine", "Cvc5Prover"]


class _Cvc5Terms:
    def __init__(self, manager: Any) -> None:
        import cvc5

        self.cvc5, self.tm = cvc5, manager
        kind = cvc5.Kind
        self.kinds = {
            "not": kind.NOT,
            "and": kind.AND,
            "or": kind.OR,
            "implies": kind.IMPLIES,
            "eq": kind.EQUAL,
            "lt": kind.LT,
            "le": kind.LEQ,
            "add": kind.ADD,
            "sub": kind.SUB,
            "mul": kind.MULT,
            "neg": kind.NEG,
            "distinct": kind.DISTINCT,
            "ite": kind.ITE,
            "abs": kind.ABS,
        }

    def _sort(self, t: Type) -> Any:
        return self.tm.getBooleanSort() if t.kind == "bool" else self.tm.getIntegerSort()

    def integer(self, value: int) -> Any:
        return self.tm.mkInteger(str(value))  # as text: Python ints beyond 64 bits overflow the int overload

    def boolean(self, value: bool) -> Any:
        return self.tm.mkBoolean(value)

    def symbol(self, symbol: Symbol) -> Any:
        if not symbol.arguments:
            return self.tm.mkConst(self._sort(symbol.result), symbol.name)
        domain = [self.tm.getIntegerSort() for _ in symbol.arguments]
        return self.tm.mkConst(self.tm.mkFunctionSort(domain, self._sort(symbol.result)), symbol.name)

    def apply(self, function: Any, arguments: Sequence[Any]) -> Any:
        return self.tm.mkTerm(self.cvc5.Kind.APPLY_UF, function, *arguments)

    def op(self, name: str, arguments: Sequence[Any]) -> Any:
        return self.tm.mkTerm(self.kinds[name], *arguments)


class Cvc5Engine(Engine):
    """The choice engine on cvc5: a term manager and a solver of its own, incremental, with models and cores."""

    name: ClassVar[str] = "cvc5"

    def _terms(self) -> Terms:
        import cvc5

        self.tm = cvc5.TermManager()
        self.solver = cvc5.Solver(self.tm)
        settings = (("produce-models", "true"), ("produce-unsat-cores", "true"), ("minimal-unsat-cores", "true"),
                    ("incremental", "true"))  # fmt: skip
        for option, value in settings:
            self.solver.setOption(option, value)
        self.solver.setLogic("ALL")
        return _Cvc5Terms(self.tm)

    def _indicator(self, name: str) -> Any:
        return self.tm.mkConst(self.tm.getBooleanSort(), name)

    def _assert(self, term: Any) -> None:
        self.solver.assertFormula(term)

    def _check(self, literals: list[Any], seconds: float) -> tuple[str, Any]:
        self.solver.setOption("tlimit-per", str(max(1, int(seconds * 1000))))
        result = self.solver.checkSatAssuming(*literals) if literals else self.solver.checkSat()
        if result.isSat():
            return "sat", None
        if result.isUnsat():
            return "unsat", [str(term) for term in self.solver.getUnsatCore()]
        explanation = str(result.getUnknownExplanation())
        return ("timeout" if "TIMEOUT" in explanation else "unknown"), explanation

    def _value(self, term: Any, result: Type) -> int | bool:
        value = self.solver.getValue(term)
        if result.kind == "bool":
            return bool(value.getBooleanValue())
        return int(value.getIntegerValue())


class Cvc5Prover:
    """cvc5 on a ``choice`` formalization: the full decision of :func:`neurosym.targets.choice.check.decide`.

    Example:
        >>> Cvc5Prover().available(), Cvc5Prover().to_dict()["name"]
        (True, 'cvc5')

    """

    name: ClassVar[str] = "cvc5"
    target: ClassVar[str] = "choice"

    def available(self) -> bool:
        """True when the ``cvc5`` package is installed (nothing is imported)."""
        return importlib.util.find_spec("cvc5") is not None

    def to_dict(self) -> dict[str, Any]:
        """The solver's name and the version of the bindings."""
        try:
            version = metadata.version("cvc5")
        except metadata.PackageNotFoundError:
            version = None
        return {"name": self.name, "version": version, "target": self.target}

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Decide a choice formalization (its parsed task, or else its source) with cvc5 alone."""
        return check_with(self.name, formalization, timeout_s=timeout_s, deadline=deadline)


def check_with(
    solver: str, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
) -> Verdict:
    r"""One solver's verdict on a choice formalization: the shared checks of every prover, then the decision.

    Example:
        >>> check_with("z3", Formalization("choice", "# question: must_be_true\n# options: A\noption A: 1 +")).status
        'invalid'

    """
    from neurosym.targets.choice.check import ChoiceTask, decide, read_task

    until = prover_deadline(timeout_s, deadline)
    if formalization.target != "choice":
        raise ConfigurationError(f"{solver} (choice) decides choice formalizations, not {formalization.target!r}")
    task = formalization.parsed
    if not isinstance(task, ChoiceTask):
        try:
            task = read_task(formalization.source)
        except ParseError as err:
            return Verdict("invalid", message=str(err), feedback=f"The program is not well formed: {err}",
                           prover=solver, details={"problem": "parse"})  # fmt: skip
    if until.expired():
        return Verdict("timeout", message="the deadline had passed before the solver started", prover=solver,
                       details={"problem": "timeout", "complete": False})  # fmt: skip
    verdict = decide(task, solver, deadline=until)
    if not verdict.prover:
        from neurosym.targets.choice.check import _with

        verdict = _with(verdict, prover=solver)
    return verdict
