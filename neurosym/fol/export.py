"""Print formulas for other tools: TPTP ``fof`` (for E and other ATPs) and SMT-LIB 2.

TPTP wants functors in lower case and variables in upper case, so names are mangled injectively:
``p_`` predicates, ``f_`` functions, ``c_`` constants, ``V_`` variables; characters outside
``[A-Za-z0-9]`` become ``_u`` and the code point in four hex digits (``_U`` and eight beyond
U+FFFF), and ``_`` becomes ``__``.

Example:
    >>> from neurosym.fol import parse_formula
    >>> tptp_formula(parse_formula("∀x (Dog(x) → Animal(x))"))
    '(! [V_x] : (p_Dog(V_x) => p_Animal(V_x)))'

"""

from __future__ import annotations

from collections.abc import Sequence

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
)

__all__ = ["smtlib_problem", "tptp_formula", "tptp_name", "tptp_problem"]


def _escape(name: str) -> str:
    out = []
    for ch in name:
        if ch == "_":
            out.append("__")
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        else:
            # Fixed width keeps the mangling injective: 4 hex digits, or 8 after _U outside the BMP.
            out.append(f"_u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"_U{ord(ch):08x}")
    return "".join(out)


def tptp_name(kind: str, name: str) -> str:
    """The TPTP spelling of a symbol; ``kind`` is ``pred``, ``func``, ``const`` or ``var``.

    Example:
        >>> tptp_name("const", "mr.smith"), tptp_name("var", "x")
        ('c_mr_u002esmith', 'V_x')

    """
    prefix = {"pred": "p_", "func": "f_", "const": "c_", "var": "V_"}[kind]
    return prefix + _escape(name)


def _tptp_term(t: Term) -> str:
    if isinstance(t, Var):
        return tptp_name("var", t.name)
    if isinstance(t, Const):
        return tptp_name("const", t.name)
    return f"{tptp_name('func', t.name)}({','.join(_tptp_term(a) for a in t.args)})"


def tptp_formula(f: Formula) -> str:
    """One formula in TPTP ``fof`` syntax, fully bracketed."""
    if isinstance(f, Pred):
        name = tptp_name("pred", f.name)
        return f"{name}({','.join(_tptp_term(a) for a in f.args)})" if f.args else name
    if isinstance(f, Eq):
        return f"({_tptp_term(f.left)} = {_tptp_term(f.right)})"
    if isinstance(f, Not):
        return f"~({tptp_formula(f.body)})"
    if isinstance(f, (And, Or)):
        symbol = " & " if isinstance(f, And) else " | "
        return "(" + symbol.join(tptp_formula(g) for g in f.items) + ")"
    if isinstance(f, (Xor, Implies, Iff)):
        symbol = {Xor: "<~>", Implies: "=>", Iff: "<=>"}[type(f)]
        return f"({tptp_formula(f.left)} {symbol} {tptp_formula(f.right)})"
    if isinstance(f, (Forall, Exists)):
        symbol = "!" if isinstance(f, Forall) else "?"
        return f"({symbol} [{tptp_name('var', f.var)}] : {tptp_formula(f.body)})"
    raise TypeError(f"not a formula: {f!r}")


def tptp_problem(premises: Sequence[Formula], conclusion: Formula | None = None) -> str:
    """A TPTP problem: premise ``i`` is the axiom ``p<i>``, the conclusion the conjecture ``goal``.

    Example:
        >>> from neurosym.fol import parse_formula
        >>> print(tptp_problem([parse_formula("P(a)")], parse_formula("∃x P(x)")))
        fof(p0, axiom, p_P(c_a)).
        fof(goal, conjecture, (? [V_x] : p_P(V_x))).

    """
    lines = [f"fof(p{i}, axiom, {tptp_formula(f)})." for i, f in enumerate(premises)]
    if conclusion is not None:
        lines.append(f"fof(goal, conjecture, {tptp_formula(conclusion)}).")
    return "\n".join(lines)


def _smt_symbol(name: str) -> str:
    return f"|{name}|"


def _smt_term(t: Term) -> str:
    if isinstance(t, (Var, Const)):
        return _smt_symbol(t.name)
    return f"({_smt_symbol(t.name)} {' '.join(_smt_term(a) for a in t.args)})"


def _smt_formula(f: Formula) -> str:
    if isinstance(f, Pred):
        if not f.args:
            return _smt_symbol(f.name)
        return f"({_smt_symbol(f.name)} {' '.join(_smt_term(a) for a in f.args)})"
    if isinstance(f, Eq):
        return f"(= {_smt_term(f.left)} {_smt_term(f.right)})"
    if isinstance(f, Not):
        return f"(not {_smt_formula(f.body)})"
    if isinstance(f, (And, Or)):
        op = "and" if isinstance(f, And) else "or"
        return f"({op} {' '.join(_smt_formula(g) for g in f.items)})"
    if isinstance(f, (Xor, Implies, Iff)):
        op = {Xor: "xor", Implies: "=>", Iff: "="}[type(f)]
        return f"({op} {_smt_formula(f.left)} {_smt_formula(f.right)})"
    if isinstance(f, (Forall, Exists)):
        op = "forall" if isinstance(f, Forall) else "exists"
        return f"({op} (({_smt_symbol(f.var)} U)) {_smt_formula(f.body)})"
    raise TypeError(f"not a formula: {f!r}")


def smtlib_problem(premises: Sequence[Formula], conclusion: Formula | None = None) -> str:
    """An SMT-LIB 2 script over the sort ``U``: premises as named assertions, then the negated conclusion.

    ``unsat`` from a solver means the premises entail the conclusion. The symbols must not clash
    (see :func:`neurosym.fol.signature.check_signature`).

    Example:
        >>> from neurosym.fol import parse_formula
        >>> print(smtlib_problem([parse_formula("P(a)")], parse_formula("P(a)")))
        (set-logic UF)
        (declare-sort U 0)
        (declare-fun |a| () U)
        (declare-fun |P| (U) Bool)
        (assert (! (|P| |a|) :named p0))
        (assert (not (|P| |a|)))
        (check-sat)

    """
    signature: Signature = signature_of([*premises, *([conclusion] if conclusion is not None else [])])
    lines = ["(set-logic UF)", "(declare-sort U 0)"]
    for name in sorted(signature.constants):
        lines.append(f"(declare-fun {_smt_symbol(name)} () U)")
    for name, arity in sorted(signature.functions):
        lines.append(f"(declare-fun {_smt_symbol(name)} ({' '.join(['U'] * arity)}) U)")
    for name, arity in sorted(signature.predicates):
        lines.append(f"(declare-fun {_smt_symbol(name)} ({' '.join(['U'] * arity)}) Bool)")
    for i, f in enumerate(premises):
        lines.append(f"(assert (! {_smt_formula(f)} :named p{i}))")
    if conclusion is not None:
        lines.append(f"(assert (not {_smt_formula(conclusion)}))")
    lines.append("(check-sat)")
    return "\n".join(lines)
