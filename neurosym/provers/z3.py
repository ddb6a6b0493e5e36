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
from collections.abc import Sequence
from typing import Any, ClassVar

from neurosym.errors import ConfigurationError, MissingDependencyError
from neurosym.fol.certificates import Countermodel, Countermodels, PremisesUsed
from neurosym.fol.signature import signature_of
from neurosym.fol.syntax import (
    And,
    Const,
    EntailmentProblem,
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
from neurosym.types import EntailmentLabel, Formalization, Verdict

__all__ = ["Z3Prover"]

_MAX_MODEL_ROWS = 2000  # atoms evaluated per predicate when printing a countermodel


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

    def check(self, formalization: Formalization, *, timeout_s: float = 10.0) -> Verdict:
        """Decide a FOL formalization whose ``parsed`` is an :class:`EntailmentProblem`."""
        problem = formalization.parsed
        if not isinstance(problem, EntailmentProblem):
            raise ConfigurationError(f"z3 checks FOL entailment problems, not {type(problem).__name__}")
        return self.prove(problem.premises, problem.conclusion, timeout_s=timeout_s)

    def prove(self, premises: Sequence[Formula], conclusion: Formula, *, timeout_s: float = 10.0) -> Verdict:
        """Decide whether ``premises`` entail ``conclusion``, its negation, or neither.

        The signature must be free of clashes (see :func:`neurosym.fol.signature.check_signature`).
        """
        try:
            import z3
        except ImportError as exc:  # pragma: no cover - z3-solver is a core dependency
            raise MissingDependencyError("z3 is not installed: pip install z3-solver") from exc
        if timeout_s <= 0:
            raise ConfigurationError(f"timeout_s must be positive, got {timeout_s}")
        started = time.perf_counter()
        deadline = started + timeout_s
        ctx = z3.Context()
        encoder = _Encoder(z3, ctx, [*premises, conclusion])
        solver = z3.Solver(ctx=ctx)
        solver.set("unsat_core", True)
        if self.minimize_cores:
            solver.set("core.minimize", True)
        # "#" cannot occur in a parsed name, so trackers never collide with a proposition.
        trackers = [z3.Bool(f"premise#{i}", ctx) for i in range(len(premises))]
        for tracker, premise in zip(trackers, premises, strict=False):
            solver.add(z3.Implies(tracker, encoder.formula(premise)))
        goal = encoder.formula(conclusion)
        negated_goal_on = z3.Bool("#not_conclusion", ctx)
        goal_on = z3.Bool("#conclusion", ctx)
        solver.add(z3.Implies(negated_goal_on, z3.Not(goal)))
        solver.add(z3.Implies(goal_on, goal))

        def run(*assumptions: Any) -> tuple[str, Any]:
            remaining_ms = int((deadline - time.perf_counter()) * 1000)
            if remaining_ms <= 0:
                return "unknown", "timeout"
            solver.set("timeout", remaining_ms)
            result = solver.check(*assumptions)
            if result == z3.unsat:
                return "unsat", solver.unsat_core()
            if result == z3.sat:
                return "sat", solver.model()
            return "unknown", solver.reason_unknown()

        def done(status: str, **kw: Any) -> Verdict:
            return Verdict(status, prover=self.name, elapsed_s=time.perf_counter() - started, **kw)  # type: ignore[arg-type]

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
            models = Countermodels(
                encoder.countermodel(outcome, "a model of the premises where the conclusion is false"),
                encoder.countermodel(outcome2, "a model of the premises where the conclusion is true"),
            )
            return done("uncertain", answer=EntailmentLabel.UNCERTAIN, certificate=models, message="sat, sat")
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


class _Encoder:
    """Translate AST formulas to Z3 terms in one context."""

    def __init__(self, z3: Any, ctx: Any, formulas: Sequence[Formula]) -> None:
        self.z3 = z3
        self.ctx = ctx
        self.sort = z3.DeclareSort("U", ctx)
        self.signature = signature_of(formulas)
        boolean = z3.BoolSort(ctx)
        self.preds = {
            (name, arity): z3.Function(name, *([self.sort] * arity), boolean) if arity else z3.Bool(name, ctx)
            for name, arity in self.signature.predicates
        }
        self.funcs = {
            (name, arity): z3.Function(name, *([self.sort] * arity), self.sort)
            for name, arity in self.signature.functions
        }
        self.consts = {name: z3.Const(name, self.sort) for name in self.signature.constants}

    def term(self, t: Term, env: dict[str, Any]) -> Any:
        if isinstance(t, Var):
            return env[t.name]
        if isinstance(t, Const):
            return self.consts[t.name]
        return self.funcs[(t.name, len(t.args))](*(self.term(a, env) for a in t.args))

    def formula(self, f: Formula, env: dict[str, Any] | None = None) -> Any:
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

    def countermodel(self, model: Any, title: str) -> Countermodel:
        universe = list(model.get_universe(self.sort) or [])
        if not universe:  # no symbol of sort U was constrained; any one-element domain does
            universe = [model.eval(self.z3.Const("#witness", self.sort), model_completion=True)]
        names = {str(element): f"e{i}" for i, element in enumerate(universe)}

        def show(value: Any) -> str:
            return names.get(str(value), str(value))

        constants = tuple((name, show(model.eval(c, model_completion=True))) for name, c in sorted(self.consts.items()))
        truncated = False
        predicates = []
        for (name, arity), symbol in sorted(self.preds.items()):
            if arity == 0:
                holds = self.z3.is_true(model.eval(symbol, model_completion=True))
                predicates.append((name, 0, ((),) if holds else ()))
                continue
            rows = []
            for count, args in enumerate(itertools.product(universe, repeat=arity)):
                if count >= _MAX_MODEL_ROWS:
                    truncated = True
                    break
                if self.z3.is_true(model.eval(symbol(*args), model_completion=True)):
                    rows.append(tuple(show(a) for a in args))
            predicates.append((name, arity, tuple(rows)))
        functions = []
        for (name, arity), symbol in sorted(self.funcs.items()):
            table = []
            for count, args in enumerate(itertools.product(universe, repeat=arity)):
                if count >= _MAX_MODEL_ROWS:
                    truncated = True
                    break
                table.append((tuple(show(a) for a in args), show(model.eval(symbol(*args), model_completion=True))))
            functions.append((name, tuple(table)))
        return Countermodel(
            title, tuple(names.values()), constants, tuple(predicates), tuple(functions), truncated=truncated
        )
