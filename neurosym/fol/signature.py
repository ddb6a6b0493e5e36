"""The signature of a set of formulas, the clashes a prover cannot accept, and their repair.

A clash is one name used in two roles (a predicate and a constant, say) or one predicate or
function used with two arities. Z3 and E reject such input or silently read it wrongly; it is the
most common solver failure of LLM-written FOL (LINC: 9.1% of GPT-4 samples, 20.6% of GPT-3.5).

Example:
    >>> from neurosym.fol import parse_formulas
    >>> clashes = check_signature(parse_formulas(["Dog(rex)", "Owns(john, Dog)"]))
    >>> print(clashes[0])
    'Dog' is used as a predicate of arity 1 (formula 1) and as a constant (formula 2)

"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from neurosym.fol.syntax import (
    And,
    Const,
    Eq,
    Exists,
    Forall,
    Formula,
    Func,
    Iff,
    Implies,
    Not,
    Or,
    Pred,
    Term,
    Xor,
    iter_formulas,
    iter_terms,
)

__all__ = ["Rename", "Signature", "SignatureClash", "check_signature", "repair_signature", "signature_of"]

Role = tuple[str, int]  # ("pred", arity) | ("func", arity) | ("const", 0)


@dataclass(frozen=True, slots=True)
class Signature:
    """The symbols of a set of formulas: predicates and functions as ``(name, arity)`` pairs."""

    predicates: frozenset[tuple[str, int]]
    functions: frozenset[tuple[str, int]]
    constants: frozenset[str]


@dataclass(frozen=True, slots=True)
class SignatureClash:
    """One name used in incompatible roles; ``uses`` maps each role to the formulas (0-based) using it."""

    name: str
    uses: tuple[tuple[Role, tuple[int, ...]], ...]

    def __str__(self) -> str:
        parts = []
        for (kind, arity), where in self.uses:
            role = {
                "pred": f"a predicate of arity {arity}",
                "func": f"a function of arity {arity}",
                "const": "a constant",
            }[kind]
            formulas = ", ".join(str(i + 1) for i in where)
            parts.append(f"as {role} (formula{'s' if len(where) > 1 else ''} {formulas})")
        return f"'{self.name}' is used " + " and ".join(parts)


@dataclass(frozen=True, slots=True)
class Rename:
    """One renaming made by :func:`repair_signature`."""

    name: str
    role: Role
    new_name: str

    def __str__(self) -> str:
        kind, arity = self.role
        role = {"pred": f"predicate/{arity}", "func": f"function/{arity}", "const": "constant"}[kind]
        return f"renamed {role} '{self.name}' to '{self.new_name}'"


@dataclass
class _Uses:
    where: dict[str, dict[Role, list[int]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    counts: Counter[tuple[str, Role]] = field(default_factory=Counter)

    def add(self, name: str, role: Role, index: int) -> None:
        places = self.where[name][role]
        if not places or places[-1] != index:
            places.append(index)
        self.counts[(name, role)] += 1


def _collect(formulas: Sequence[Formula]) -> _Uses:
    uses = _Uses()
    for index, f in enumerate(formulas):
        for g in iter_formulas(f):
            if isinstance(g, Pred):
                uses.add(g.name, ("pred", len(g.args)), index)
        for t in iter_terms(f):
            if isinstance(t, Const):
                uses.add(t.name, ("const", 0), index)
            elif isinstance(t, Func):
                uses.add(t.name, ("func", len(t.args)), index)
    return uses


def signature_of(formulas: Sequence[Formula]) -> Signature:
    """Collect the predicates, functions and constants of ``formulas``.

    Example:
        >>> from neurosym.fol import parse_formulas
        >>> sig = signature_of(parse_formulas(["∀x (P(x) → Q(f(x), a))"]))
        >>> sorted(sig.predicates), sorted(sig.functions), sorted(sig.constants)
        ([('P', 1), ('Q', 2)], [('f', 1)], ['a'])

    """
    uses = _collect(formulas)
    preds, funcs, consts = set(), set(), set()
    for name, roles in uses.where.items():
        for kind, arity in roles:
            if kind == "pred":
                preds.add((name, arity))
            elif kind == "func":
                funcs.add((name, arity))
            else:
                consts.add(name)
    return Signature(frozenset(preds), frozenset(funcs), frozenset(consts))


def check_signature(formulas: Sequence[Formula]) -> list[SignatureClash]:
    """Every name used in two roles or with two arities, in order of first use.

    Example:
        >>> from neurosym.fol import parse_formulas
        >>> [str(c) for c in check_signature(parse_formulas(["Likes(a, b)", "Likes(a)"]))]
        ["'Likes' is used as a predicate of arity 2 (formula 1) and as a predicate of arity 1 (formula 2)"]

    """
    uses = _collect(formulas)
    clashes = []
    for name, roles in uses.where.items():
        if len(roles) > 1:
            clashes.append(SignatureClash(name, tuple((role, tuple(where)) for role, where in roles.items())))
    return clashes


def repair_signature(formulas: Sequence[Formula]) -> tuple[list[Formula], list[Rename]]:
    """Rename clashing symbols apart so that every name has one role and one arity.

    The most frequent use of a name keeps it; each other use gets a fresh name that says its role
    (``Dog_const``, ``Likes_1``). Returns the new formulas and the renames made.

    Example:
        >>> from neurosym.fol import parse_formulas
        >>> fixed, renames = repair_signature(parse_formulas(["Dog(rex)", "Dog(fido)", "Owns(john, Dog)"]))
        >>> [str(f) for f in fixed], [str(r) for r in renames]
        (['Dog(rex)', 'Dog(fido)', 'Owns(john, Dog_const)'], ["renamed constant 'Dog' to 'Dog_const'"])

    """
    uses = _collect(formulas)
    taken = set(uses.where)
    mapping: dict[tuple[str, Role], str] = {}
    renames: list[Rename] = []
    for name, roles in uses.where.items():
        if len(roles) < 2:
            continue
        keep = max(roles, key=lambda role: (uses.counts[(name, role)], role[0] == "pred"))
        for role in roles:
            if role == keep:
                continue
            kind, arity = role
            base = (
                f"{name}_const"
                if kind == "const"
                else f"{name}_{arity}"
                if kind == keep[0]
                else f"{name}_{kind}{arity}"
            )
            new_name, n = base, 2
            while new_name in taken:
                new_name, n = f"{base}{n}", n + 1
            taken.add(new_name)
            mapping[(name, role)] = new_name
            renames.append(Rename(name, role, new_name))
    if not mapping:
        return list(formulas), []
    return [_rename(f, mapping) for f in formulas], renames


def _rename_term(t: Term, mapping: dict[tuple[str, Role], str]) -> Term:
    if isinstance(t, Const):
        return Const(mapping.get((t.name, ("const", 0)), t.name))
    if isinstance(t, Func):
        args = tuple(_rename_term(a, mapping) for a in t.args)
        return Func(mapping.get((t.name, ("func", len(args))), t.name), args)
    return t


def _rename(f: Formula, mapping: dict[tuple[str, Role], str]) -> Formula:
    if isinstance(f, Pred):
        args = tuple(_rename_term(a, mapping) for a in f.args)
        return Pred(mapping.get((f.name, ("pred", len(args))), f.name), args)
    if isinstance(f, Eq):
        return Eq(_rename_term(f.left, mapping), _rename_term(f.right, mapping))
    if isinstance(f, Not):
        return Not(_rename(f.body, mapping))
    if isinstance(f, (And, Or)):
        return type(f)(tuple(_rename(g, mapping) for g in f.items))
    if isinstance(f, (Xor, Implies, Iff)):
        return type(f)(_rename(f.left, mapping), _rename(f.right, mapping))
    if isinstance(f, (Forall, Exists)):
        return type(f)(f.var, _rename(f.body, mapping))
    raise TypeError(f"not a formula: {f!r}")
