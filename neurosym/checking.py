"""Check formal problems given as text: parse, check the signature, run the provers, compare them.

:func:`check_fol` is the entry point for first-order logic. Everything wrong with the input comes
back as a verdict (``invalid`` with a message that points at the line and column), never as an
exception.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, get_args

from neurosym.errors import ConfigurationError, ParseError
from neurosym.fol.parser import parse_formula
from neurosym.fol.signature import check_signature, repair_signature
from neurosym.fol.syntax import EntailmentProblem, Formula, to_text
from neurosym.provers import get_prover
from neurosym.types import DECIDED, Formalization, Verdict

__all__ = ["MAX_PROBLEM_CHARS", "check_fol", "combine_verdicts"]

MAX_PROBLEM_CHARS = 200_000
"""Largest FOL problem (all premises and the conclusion together) that :func:`check_fol` accepts."""

_SETTLED = DECIDED | {"inconsistent"}


def _invalid(message: str, feedback: str, started: float, **details: Any) -> Verdict:
    return Verdict(
        "invalid", message=message, feedback=feedback, elapsed_s=time.perf_counter() - started, details=details
    )


def _parse_all(
    premises: Sequence[str | Formula], conclusion: str | Formula, started: float
) -> tuple[list[Formula], Formula] | Verdict:
    items = [*premises, conclusion]
    texts = [item for item in items if isinstance(item, str)]
    total = sum(len(t) for t in texts)
    if total > MAX_PROBLEM_CHARS:
        return _invalid(
            f"problem too large: {total:,} characters (the limit is {MAX_PROBLEM_CHARS:,})",
            "The formulas are far too long; write one short formula per sentence.",
            started,
        )
    parsed: list[Formula] = []
    for index, item in enumerate(items):
        if isinstance(item, get_args(Formula)):  # already parsed; anything else but text is refused below
            parsed.append(item)
            continue
        where = "the conclusion" if index == len(items) - 1 else f"premise {index + 1}"
        try:
            parsed.append(parse_formula(item))
        except ParseError as err:
            return _invalid(
                f"{where}: {err.message}",
                f"{where[0].upper()}{where[1:]} is not a well-formed formula: {err.message}",
                started,
                formula_index=index,
                line=err.context.get("line"),
                column=err.context.get("column"),
                reason=err.context.get("reason", err.message),
                excerpt=err.context.get("excerpt", ""),
            )
    return parsed[:-1], parsed[-1]


def check_fol(
    premises: Sequence[str | Formula],
    conclusion: str | Formula,
    *,
    timeout: float = 10.0,
    provers: Sequence[str] = ("z3",),
    repair_signature_clashes: bool = False,
) -> Verdict:
    r"""Decide whether FOL ``premises`` entail ``conclusion`` (True), its negation (False), or neither.

    Args:
        premises: formulas as text (any spelling the parser accepts) or as parsed ASTs.
        conclusion: the formula to decide.
        timeout: seconds for each prover.
        provers: which provers to run; with more than one, their verdicts are compared and a
            disagreement is reported as ``unknown`` (see :func:`combine_verdicts`).
        repair_signature_clashes: rename a name used in two roles apart instead of returning
            ``invalid``; the verdict's ``details["repairs"]`` lists what was renamed.

    Returns:
        A :class:`~neurosym.types.Verdict`: ``proved`` / ``disproved`` / ``uncertain`` with a
        certificate, or ``inconsistent``, ``invalid``, ``unknown``, ``timeout``.

    Example:
        >>> v = check_fol(["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)")
        >>> v.status, v.answer.value, v.certificate.indices
        ('proved', 'True', (0, 1))
        >>> bad = check_fol(["P(a) ∧"], "P(a)")
        >>> bad.status, bad.details["reason"].split(" (")[0], bad.details["column"]
        ('invalid', 'formula ends too early', 7)

    """
    if timeout <= 0:
        raise ConfigurationError(f"timeout must be positive, got {timeout}")
    if not provers:
        raise ConfigurationError("name at least one prover")
    if isinstance(premises, str):
        raise ConfigurationError("premises must be a list of formulas, not one string")
    started = time.perf_counter()
    parsed = _parse_all(premises, conclusion, started)
    if isinstance(parsed, Verdict):
        return parsed
    premise_asts, conclusion_ast = parsed
    formulas = [*premise_asts, conclusion_ast]
    repairs: list[str] = []
    clashes = check_signature(formulas)
    if clashes:
        if not repair_signature_clashes:
            described = "; ".join(str(c).replace(f"formula {len(formulas)})", "the conclusion)") for c in clashes)
            return _invalid(
                f"signature clash: {described}",
                "Each name must have one role and one arity. "
                f"Fix: {described}. Use distinct names, e.g. a predicate Dog(x) and a constant rex.",
                started,
                clashes=[str(c) for c in clashes],
            )
        formulas, renames = repair_signature(formulas)
        premise_asts, conclusion_ast = formulas[:-1], formulas[-1]
        repairs = [str(r) for r in renames]
    problem = EntailmentProblem(tuple(premise_asts), conclusion_ast)
    source = "\n".join([*(to_text(p) for p in premise_asts), "⊢ " + to_text(conclusion_ast)])
    formalization = Formalization("fol", source, problem)
    verdicts = [get_prover(name).check(formalization, timeout_s=timeout) for name in provers]
    verdict = combine_verdicts(verdicts)
    if repairs:
        verdict = _with(
            verdict,
            message=(verdict.message + "; " if verdict.message else "") + "signature repaired: " + "; ".join(repairs),
            details={**verdict.details, "repairs": repairs},
        )
    return _with(verdict, elapsed_s=time.perf_counter() - started)


def _with(verdict: Verdict, **changes: Any) -> Verdict:
    fields = {
        "status": verdict.status,
        "answer": verdict.answer,
        "certificate": verdict.certificate,
        "feedback": verdict.feedback,
        "message": verdict.message,
        "elapsed_s": verdict.elapsed_s,
        "prover": verdict.prover,
        "details": verdict.details,
    }
    fields.update(changes)
    return Verdict(**fields)


def combine_verdicts(verdicts: Sequence[Verdict]) -> Verdict:
    """Merge the verdicts of several provers on one problem.

    The first settled verdict (decided or inconsistent) wins when every other prover agrees or
    failed to settle; when two settled verdicts differ, the result is ``unknown`` and the message
    names both. ``details["provers"]`` keeps each prover's status.

    Example:
        >>> from neurosym.types import EntailmentLabel
        >>> a = Verdict("proved", answer=EntailmentLabel.TRUE, prover="z3")
        >>> b = Verdict("uncertain", answer=EntailmentLabel.UNCERTAIN, prover="eprover")
        >>> combine_verdicts([a, b]).message
        'provers disagree: z3 says proved, eprover says uncertain'

    """
    if not verdicts:
        raise ConfigurationError("no verdicts to combine")
    if len(verdicts) == 1:
        return verdicts[0]
    statuses = {v.prover: v.status for v in verdicts}
    settled = [v for v in verdicts if v.status in _SETTLED]
    names = "+".join(v.prover for v in verdicts)
    details = {"provers": statuses}
    if not settled:
        first = verdicts[0]
        return _with(first, prover=names, details={**first.details, **details, "agree": None})
    if len({v.status for v in settled}) > 1:
        said = ", ".join(f"{v.prover} says {v.status}" for v in settled)
        return Verdict(
            "unknown",
            message=f"provers disagree: {said}",
            feedback="The provers disagree on this problem, so no answer is trusted.",
            elapsed_s=max(v.elapsed_s for v in verdicts),
            prover=names,
            details={**details, "agree": False, "verdicts": {v.prover: v.to_dict() for v in verdicts}},
        )
    chosen = settled[0]
    agree = len(settled) == len(verdicts)
    return _with(chosen, prover=names, details={**chosen.details, **details, "agree": agree if agree else None})
