"""Decide FOL entailment with Z3 over an uninterpreted sort.

Two satisfiability checks settle a problem: premises ∧ ¬conclusion and premises ∧ conclusion.

=====================  =====================  ===================================================
premises ∧ ¬C          premises ∧ C           verdict
=====================  =====================  ===================================================
unsat                  sat                    ``proved`` (True); certificate: premises used
sat                    unsat                  ``disproved`` (False); certificate: premises used
sat                    sat                    ``uncertain``; certificate: one model of each
unsat                  unsat                  ``inconsistent``; the conflicting premises
unknown (either)       —                      ``timeout`` or ``unknown``, with Z3's reason
=====================  =====================  ===================================================

Each call builds its own ``z3.Context`` (Z3 objects are not thread-safe), tracks premise ``i``
with its own literal, and minimises unsat cores, so "premises used" is small.

**Deadlines.** One :class:`~neurosym.deadlines.Deadline` (the earlier of ``timeout_s`` and the
``deadline`` passed in) covers the whole call: encoding, both checks and the countermodels. Each
check gets what is left; encoding stops at the deadline with a ``timeout`` verdict. Reading a
countermodel is bounded twice: by size (at most :data:`MAX_SYMBOLS_SHOWN` predicates and functions,
the conclusion's first, :data:`MAX_ROWS_SHOWN` rows a table and :data:`MAX_CONSTANTS_SHOWN`
constants) and by time (the first model gets half of what is left). Once both checks are ``sat`` the
verdict is decided, so a deadline that passes while the models are read keeps the ``uncertain``
verdict and marks the countermodels ``truncated``: what is shown holds in the model, what is left out is
named in ``omitted``.

Example:
    >>> from neurosym.fol import parse_formulas
    >>> *premises, conclusion = parse_formulas(["∀x (Dog(x) → Animal(x))", "Dog(rex)", "Cat(tom)", "Animal(rex)"])
    >>> v = Z3Prover().prove(premises, conclusion, timeout_s=5)
    >>> v.status, v.answer.value, v.certificate.indices
    ('proved', 'True', (0, 1))

"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from neurosym.deadlines import Deadline
from neurosym.errors import MissingDependencyError
from neurosym.fol.certificates import Countermodel, Countermodels, PremisesUsed
from neurosym.fol.signature import Signature, signature_of
from neurosym.fol.syntax import (
    And,
    Const,
    Eq,
    Exists,
    Forall,
    Formula,
    Iff,
    Implies,
    Not,
    Or,
    Pred,
    Term,
    Var,
    Xor,
    to_text,
)
from neurosym.provers._fol import entailment_problem
from neurosym.provers.base import prover_deadline
from neurosym.types import EntailmentLabel, Formalization, Status, Verdict

__all__ = ["MAX_CONSTANTS_SHOWN", "MAX_ROWS_SHOWN", "MAX_SYMBOLS_SHOWN", "Z3Prover"]

MAX_SYMBOLS_SHOWN = 60
"""Predicates and functions a countermodel shows (those of the conclusion first); the rest are named in ``omitted``."""

MAX_ROWS_SHOWN = 50
"""Rows a countermodel shows per predicate or function table."""

MAX_CONSTANTS_SHOWN = 200
"""Constants a countermodel shows (those of the conclusion first)."""

_MAX_TUPLES_EXAMINED = 2000  # argument tuples evaluated per table when Z3's interpretation is not a plain table


class _OutOfTime(Exception):
    """The deadline passed while encoding a problem or reading a model (caught inside this module)."""


class Z3Prover:
    """FOL entailment through Z3 (the ``z3-solver`` package).

    Args:
        minimize_cores: ask Z3 for small unsat cores (slower on large problems).

    Example:
        >>> Z3Prover().available()
        True

    """

    name: ClassVar[str] = "z3"
    target: ClassVar[str] = "fol"

    def __init__(self, *, minimize_cores: bool = True) -> None:
        self.minimize_cores = minimize_cores

    def available(self) -> bool:
        """True when the ``z3`` module imports."""
        try:
            import z3  # noqa: F401
        except ImportError:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """The prover's settings, for results files."""
        import z3

        return {"name": self.name, "version": z3.get_version_string(), "minimize_cores": self.minimize_cores}

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Decide a FOL formalization whose ``parsed`` is an :class:`EntailmentProblem` (or whose source is one).

        ``timeout_s`` and ``deadline`` as in :meth:`prove`. A formalization without a parsed problem
        is read from its source (premises a line each, the conclusion's line starting with ``⊢``);
        one that does not parse is an ``invalid`` verdict.

        Example:
            >>> from neurosym.fol import parse_formula
            >>> from neurosym.fol.syntax import EntailmentProblem
            >>> problem = EntailmentProblem((parse_formula("P(a)"),), parse_formula("P(a)"))
            >>> Z3Prover().check(Formalization("fol", "P(a) ⊢ P(a)", problem), timeout_s=5).status
            'proved'

        """
        prover_deadline(timeout_s, deadline)  # refuse a bad time limit before looking at the problem
        problem = entailment_problem(formalization, self.name)
        if isinstance(problem, Verdict):  # a source that does not parse
            return problem
        return self.prove(problem.premises, problem.conclusion, timeout_s=timeout_s, deadline=deadline)

    def prove(
        self,
        premises: Sequence[Formula],
        conclusion: Formula,
        *,
        timeout_s: float = 10.0,
        deadline: Deadline | None = None,
    ) -> Verdict:
        """Decide whether ``premises`` entail ``conclusion``, its negation, or neither.

        The signature must be free of clashes (see :func:`neurosym.fol.signature.check_signature`).
        The call returns by the earlier of ``timeout_s`` seconds and ``deadline`` (shared with
        other steps), with a ``timeout`` verdict when the question is not settled by then.

        Raises:
            ConfigurationError: ``timeout_s`` is not a finite number of seconds above 0.

        Example:
            >>> from neurosym.fol import parse_formula
            >>> Z3Prover().prove([parse_formula("P(a)")], parse_formula("Q(a)"), timeout_s=5).status
            'uncertain'
            >>> Z3Prover().prove([], parse_formula("P(a)"), timeout_s=float("nan"))
            Traceback (most recent call last):
            ...
            neurosym.errors.ConfigurationError: timeout_s must be a finite number of seconds greater than 0, got nan

        """
        limit = prover_deadline(timeout_s, deadline)
        try:
            import z3
        except ImportError as exc:  # pragma: no cover - z3-solver is a core dependency
            raise MissingDependencyError("z3 is not installed: pip install z3-solver") from exc
        started = time.perf_counter()

        def done(status: Status, **kw: Any) -> Verdict:
            return Verdict(status, prover=self.name, elapsed_s=time.perf_counter() - started, **kw)

        ctx = z3.Context()
        solver = z3.Solver(ctx=ctx)
        solver.set("unsat_core", True)
        if self.minimize_cores:
            solver.set("core.minimize", True)
        # "#" cannot occur in a parsed name, so trackers never collide with a proposition.
        trackers = [z3.Bool(f"premise#{i}", ctx) for i in range(len(premises))]
        negated_goal_on = z3.Bool("#not_conclusion", ctx)
        goal_on = z3.Bool("#conclusion", ctx)
        try:
            encoder = _Encoder(z3, ctx, [*premises, conclusion], limit)
            for tracker, premise in zip(trackers, premises, strict=False):
                solver.add(z3.Implies(tracker, encoder.formula(premise)))
            goal = encoder.formula(conclusion)
        except _OutOfTime:
            return done(
                "timeout",
                message="z3 ran out of time while encoding the problem",
                feedback="The problem is too large to check in time; write fewer, shorter formulas.",
            )
        solver.add(z3.Implies(negated_goal_on, z3.Not(goal)))
        solver.add(z3.Implies(goal_on, goal))

        def run(*assumptions: Any) -> tuple[str, Any]:
            remaining_ms = int(limit.left() * 1000)
            if remaining_ms <= 0:
                return "unknown", "timeout"
            solver.set("timeout", remaining_ms)
            result = solver.check(*assumptions)
            if result == z3.unsat:
                return "unsat", solver.unsat_core()
            if result == z3.sat:
                return "sat", solver.model()
            return "unknown", solver.reason_unknown()

        def undecided(reason: str, step: str) -> Verdict:
            timed_out = reason in ("timeout", "canceled") or "timeout" in reason
            return done(
                "timeout" if timed_out else "unknown",
                message=f"z3 {'ran out of time' if timed_out else 'returned unknown'} while checking {step}: {reason}",
                feedback="The solver could not decide this problem; "
                "simpler formulas (fewer nested quantifiers) may help.",
            )

        first, outcome = run(*trackers, negated_goal_on)
        if first == "unknown":
            return undecided(str(outcome), "premises ∧ ¬conclusion")
        second, outcome2 = run(*trackers, goal_on)
        if second == "unknown":
            return undecided(str(outcome2), "premises ∧ conclusion")

        def used(core: Any) -> PremisesUsed:
            names = {str(lit) for lit in core}
            indices = tuple(i for i in range(len(premises)) if f"premise#{i}" in names)
            return PremisesUsed(indices, tuple(to_text(premises[i]) for i in indices))

        if first == "unsat" and second == "sat":
            return done("proved", answer=EntailmentLabel.TRUE, certificate=used(outcome), message="unsat")
        if first == "sat" and second == "unsat":
            return done("disproved", answer=EntailmentLabel.FALSE, certificate=used(outcome2), message="unsat")
        if first == "sat" and second == "sat":
            relevant = signature_of([conclusion])
            halfway = Deadline(time.monotonic() + limit.left() / 2)  # leave the second model its share
            models = Countermodels(
                encoder.countermodel(
                    outcome, "a model of the premises where the conclusion is false", halfway, relevant
                ),
                encoder.countermodel(outcome2, "a model of the premises where the conclusion is true", limit, relevant),
            )
            late = any(m.note.startswith(_LATE) for m in (models.conclusion_false, models.conclusion_true))
            message = "sat, sat" + ("; countermodels cut short at the deadline" if late else "")
            return done("uncertain", answer=EntailmentLabel.UNCERTAIN, certificate=models, message=message)
        # Both unsat: the premises alone are contradictory. Find which ones.
        third, core = run(*trackers)
        certificate = used(core) if third == "unsat" else used(outcome)
        listed = "; ".join(
            f"[{i + 1}] {text}" for i, text in zip(certificate.indices, certificate.formulas, strict=False)
        )
        return done(
            "inconsistent",
            certificate=certificate,
            message="the premises are unsatisfiable",
            feedback="The premises contradict each other, so any conclusion would follow. "
            f"Conflicting premises: {listed}",
        )


_LATE = "the deadline passed"


class _Encoder:
    """Translate AST formulas to Z3 terms in one context, stopping when ``deadline`` passes."""

    def __init__(self, z3: Any, ctx: Any, formulas: Sequence[Formula], deadline: Deadline) -> None:
        self.z3 = z3
        self.ctx = ctx
        self.deadline = deadline
        self.sort = z3.DeclareSort("U", ctx)
        self.signature = signature_of(formulas)
        boolean = z3.BoolSort(ctx)
        self.preds = {}
        for name, arity in sorted(self.signature.predicates):
            self._tick()
            self.preds[(name, arity)] = (
                z3.Function(name, *([self.sort] * arity), boolean) if arity else z3.Bool(name, ctx)
            )
        self.funcs = {}
        for name, arity in sorted(self.signature.functions):
            self._tick()
            self.funcs[(name, arity)] = z3.Function(name, *([self.sort] * arity), self.sort)
        self.consts = {}
        for name in sorted(self.signature.constants):
            self._tick()
            self.consts[name] = z3.Const(name, self.sort)

    def _tick(self) -> None:
        # A clock read costs well under a microsecond; each Z3 call it guards costs far more.
        if self.deadline.expired():
            raise _OutOfTime

    def term(self, t: Term, env: dict[str, Any]) -> Any:
        self._tick()
        if isinstance(t, Var):
            return env[t.name]
        if isinstance(t, Const):
            return self.consts[t.name]
        return self.funcs[(t.name, len(t.args))](*(self.term(a, env) for a in t.args))

    def formula(self, f: Formula, env: dict[str, Any] | None = None) -> Any:
        self._tick()
        z3, env = self.z3, env or {}
        if isinstance(f, Pred):
            symbol = self.preds[(f.name, len(f.args))]
            return symbol(*(self.term(a, env) for a in f.args)) if f.args else symbol
        if isinstance(f, Eq):
            return self.term(f.left, env) == self.term(f.right, env)
        if isinstance(f, Not):
            return z3.Not(self.formula(f.body, env))
        if isinstance(f, And):
            return z3.And(*(self.formula(g, env) for g in f.items))
        if isinstance(f, Or):
            return z3.Or(*(self.formula(g, env) for g in f.items))
        if isinstance(f, Xor):
            return z3.Xor(self.formula(f.left, env), self.formula(f.right, env))
        if isinstance(f, Implies):
            return z3.Implies(self.formula(f.left, env), self.formula(f.right, env))
        if isinstance(f, Iff):
            return self.formula(f.left, env) == self.formula(f.right, env)
        if isinstance(f, (Forall, Exists)):
            bound = z3.Const(f.var, self.sort)
            body = self.formula(f.body, {**env, f.var: bound})
            return z3.ForAll([bound], body) if isinstance(f, Forall) else z3.Exists([bound], body)
        raise TypeError(f"not a formula: {f!r}")

    def countermodel(
        self, model: Any, title: str, deadline: Deadline, relevant: Signature | None = None
    ) -> Countermodel:
        """Read ``model`` as a :class:`Countermodel`, within the size bounds and before ``deadline``.

        The symbols of ``relevant`` (the conclusion's) come first; whatever the bounds or the
        deadline leave out is named in ``omitted`` and the model is marked ``truncated``.
        """
        reader = _ModelReader(self.z3, model, self.sort, deadline)
        first = relevant or Signature(frozenset(), frozenset(), frozenset())
        constants: list[tuple[str, str]] = []
        predicates: list[tuple[str, int, tuple[tuple[str, ...], ...]]] = []
        functions: list[tuple[str, tuple[tuple[tuple[str, ...], str], ...]]] = []
        omitted: list[str] = []
        notes: set[str] = set()
        cut_tables = False

        for shown, name in enumerate(_first(self.consts, first.constants)):
            if shown >= MAX_CONSTANTS_SHOWN or _LATE in notes:
                omitted.append(name)
                notes.add(_LATE if _LATE in notes else f"at most {MAX_CONSTANTS_SHOWN} constants shown")
                continue
            try:
                constants.append((name, reader.element(self.consts[name])))
            except _OutOfTime:
                notes.add(_LATE)
                omitted.append(name)

        symbols = [("pred", key) for key in _first(self.preds, first.predicates)]
        symbols += [("func", key) for key in _first(self.funcs, first.functions)]
        symbols.sort(key=lambda item: item[1] not in (first.predicates | first.functions))  # stable: relevant first
        for shown, (kind, (name, arity)) in enumerate(symbols):
            if shown >= MAX_SYMBOLS_SHOWN or _LATE in notes:
                omitted.append(f"{name}/{arity}")
                notes.add(_LATE if _LATE in notes else f"at most {MAX_SYMBOLS_SHOWN} predicates and functions shown")
                continue
            try:
                if kind == "pred":
                    rows, complete = reader.predicate(self.preds[(name, arity)], arity)
                    predicates.append((name, arity, rows))
                else:
                    table, complete = reader.function(self.funcs[(name, arity)], arity)
                    functions.append((name, table))
            except _OutOfTime:
                notes.add(_LATE)
                omitted.append(f"{name}/{arity}")
                continue
            cut_tables = cut_tables or not complete
        if cut_tables:
            notes.add(f"at most {MAX_ROWS_SHOWN} rows a table")
        return Countermodel(
            title,
            tuple(reader.names.values()),
            tuple(constants),
            tuple(predicates),
            tuple(functions),
            truncated=bool(omitted) or cut_tables,
            omitted=tuple(omitted),
            note="; ".join(sorted(notes, key=lambda n: (n != _LATE, n))),  # the deadline first, then by name
        )


def _first(symbols: Iterable[Any], relevant: Iterable[Any]) -> list[Any]:
    """``symbols`` in sorted order, those in ``relevant`` first."""
    wanted = set(relevant)
    return sorted(symbols, key=lambda s: (s not in wanted, s))


class _ModelReader:
    """Evaluate symbols in one Z3 model, naming its elements e0, e1, ...; raises _OutOfTime at the deadline."""

    def __init__(self, z3: Any, model: Any, sort: Any, deadline: Deadline) -> None:
        self.z3 = z3
        self.model = model
        self.deadline = deadline
        universe = list(model.get_universe(sort) or [])
        if not universe:  # no symbol of sort U was constrained; any one-element domain does
            universe = [model.eval(z3.Const("#witness", sort), model_completion=True)]
        self.universe = universe
        self.names = {str(element): f"e{i}" for i, element in enumerate(universe)}

    def _tick(self) -> None:
        if self.deadline.expired():
            raise _OutOfTime

    def _show(self, value: Any) -> str:
        return self.names.get(str(value), str(value))

    def element(self, term: Any) -> str:
        """The element a ground term denotes."""
        self._tick()
        return self._show(self.model.eval(term, model_completion=True))

    def predicate(self, symbol: Any, arity: int) -> tuple[tuple[tuple[str, ...], ...], bool]:
        """The tuples the predicate holds for (at most MAX_ROWS_SHOWN) and whether that is all of them."""
        z3 = self.z3
        self._tick()
        if arity == 0:
            return (((),) if z3.is_true(self.model.eval(symbol, model_completion=True)) else ()), True
        table = self._plain_table(symbol, arity, self._truth)
        if table is not None and table[1] is False:  # false but for the entries: no need to walk every tuple
            true = sorted((args for args, holds in table[0].items() if holds), key=self._order)
            return tuple(true[:MAX_ROWS_SHOWN]), len(true) <= MAX_ROWS_SHOWN
        rows: list[tuple[str, ...]] = []
        for examined, args in enumerate(self._tuples(arity)):
            if table is not None:  # true but for the entries: stops after MAX_ROWS_SHOWN + the false entries
                holds = table[0].get(args, True)
            else:
                if examined >= _MAX_TUPLES_EXAMINED:
                    return tuple(rows), False
                self._tick()
                holds = z3.is_true(self.model.eval(symbol(*self._elements(args)), model_completion=True))
            if holds:
                if len(rows) == MAX_ROWS_SHOWN:
                    return tuple(rows), False
                rows.append(args)
        return tuple(rows), True

    def _truth(self, value: Any) -> bool | None:
        if self.z3.is_true(value):
            return True
        return False if self.z3.is_false(value) else None

    @staticmethod
    def _order(args: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(int(name[1:]) for name in args)  # e2 before e10

    def function(self, symbol: Any, arity: int) -> tuple[tuple[tuple[tuple[str, ...], str], ...], bool]:
        """The function's table (at most MAX_ROWS_SHOWN rows) and whether that is all of it."""
        table = self._plain_table(symbol, arity, lambda value: self.names.get(str(value)))
        rows: list[tuple[tuple[str, ...], str]] = []
        for args in self._tuples(arity):
            if len(rows) == MAX_ROWS_SHOWN:
                return tuple(rows), False
            self._tick()
            if table is not None:
                entries, default = table
                rows.append((args, entries.get(args, default)))
            else:
                rows.append((args, self._show(self.model.eval(symbol(*self._elements(args)), model_completion=True))))
        return tuple(rows), True

    def _tuples(self, arity: int) -> Iterable[tuple[str, ...]]:
        return itertools.product(list(self.names.values()), repeat=arity)

    def _elements(self, args: tuple[str, ...]) -> list[Any]:
        return [self.universe[int(name[1:])] for name in args]

    def _plain_table(self, symbol: Any, arity: int, read: Any) -> tuple[dict[tuple[str, ...], Any], Any] | None:
        """Z3's interpretation of ``symbol`` as explicit entries and a default, when it is that simple.

        Much faster than evaluating every atom; None when the interpretation is missing or its
        default is an expression (then every atom is evaluated). ``read`` turns a Z3 value into
        a row value, or None when it is not a plain value.
        """
        try:
            interp = self.model[symbol]
            if interp is None:
                return None
            default = read(interp.else_value())
            if default is None:
                return None
            entries: dict[tuple[str, ...], Any] = {}
            for i in range(interp.num_entries()):
                self._tick()
                entry = interp.entry(i)
                args = tuple(self.names.get(str(entry.arg_value(j))) for j in range(arity))
                value = read(entry.value())
                if value is None or None in args:
                    return None
                entries[args] = value  # type: ignore[index]  # `None in args` returned above: all are names
        except self.z3.Z3Exception:
            return None
        return entries, default
