"""Check formal problems given as text: parse, check the signature, run the provers, compare them.

:func:`check_fol` is the entry point for first-order logic. Everything wrong with the input comes
back as a verdict (``invalid`` with a message that points at the line and column), never as an
exception.

**Deadlines.** ``timeout`` bounds the whole call, not each step: one
:class:`~neurosym.deadlines.Deadline` is shared by parsing, the signature check, every prover
(run side by side when there are several) and the countermodels. When it passes before the
question is settled the verdict is ``timeout``; when it passes after (Z3 found both models but was
still reading them) the decided verdict stands and its countermodels are marked ``truncated``.
The call returns within a fraction of a second of ``timeout`` (``benchmarks/deadlines.py``
measures by how much).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from neurosym.deadlines import Deadline, check_seconds
from neurosym.errors import ConfigurationError, ParseError
from neurosym.fol.parser import ParseTimeout, parse_formula
from neurosym.fol.signature import check_signature, repair_signature
from neurosym.fol.syntax import EntailmentProblem, Formula, to_text
from neurosym.provers import Prover, get_prover
from neurosym.types import DECIDED, Formalization, Verdict

__all__ = ["MAX_PROBLEM_CHARS", "check_fol", "combine_verdicts"]

MAX_PROBLEM_CHARS = 200_000
"""Largest FOL problem (all premises and the conclusion together) that :func:`check_fol` accepts."""

_SETTLED = DECIDED | {"inconsistent"}


def _invalid(message: str, feedback: str, started: float, **details: Any) -> Verdict:
    return Verdict(
        "invalid", message=message, feedback=feedback, elapsed_s=time.perf_counter() - started, details=details
    )


def _out_of_time(stage: str, timeout: float, started: float) -> Verdict:
    return Verdict(
        "timeout",
        message=f"ran out of time ({timeout:g} s) while {stage}",
        feedback="The problem is too large to check in time; write fewer, shorter formulas.",
        elapsed_s=time.perf_counter() - started,
        details={"stage": stage},
    )


def _parse_all(
    premises: Sequence[str | Formula], conclusion: str | Formula, started: float, deadline: Deadline, timeout: float
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
        if isinstance(item, Formula):  # already parsed; anything else but text is refused below
            parsed.append(item)
            continue
        where = "the conclusion" if index == len(items) - 1 else f"premise {index + 1}"
        if deadline.expired():
            return _out_of_time(f"parsing {where}", timeout, started)
        try:
            parsed.append(parse_formula(item, deadline=deadline))
        except ParseTimeout:
            return _out_of_time(f"parsing {where}", timeout, started)
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
        timeout: seconds for the whole call (parsing, every prover, countermodels); a finite
            number above 0 and at most a week.
        provers: which provers to run; with more than one they run side by side under the same
            deadline, their verdicts are compared and a disagreement is reported as ``unknown``
            (see :func:`combine_verdicts`).
        repair_signature_clashes: rename a name used in two roles apart instead of returning
            ``invalid``; the verdict's ``details["repairs"]`` lists what was renamed.

    Returns:
        A :class:`~neurosym.types.Verdict`: ``proved`` / ``disproved`` / ``uncertain`` with a
        certificate, or ``inconsistent``, ``invalid``, ``unknown``, ``timeout``.

    Raises:
        ConfigurationError: a bad ``timeout`` (``nan``, ``inf``, 0, negative, not a number), no
            prover or an unknown one, or one string as ``premises``.

    Example:
        >>> v = check_fol(["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)")
        >>> v.status, v.answer.value, v.certificate.indices
        ('proved', 'True', (0, 1))
        >>> bad = check_fol(["P(a) ∧"], "P(a)")
        >>> bad.status, bad.details["reason"].split(" (")[0], bad.details["column"]
        ('invalid', 'formula ends too early', 7)

    """
    seconds = check_seconds(timeout, "timeout")
    deadline = Deadline.after(seconds)
    started = time.perf_counter()
    if not provers:
        raise ConfigurationError("name at least one prover")
    if isinstance(premises, str):
        raise ConfigurationError("premises must be a list of formulas, not one string")
    chosen = [get_prover(name) for name in provers]  # an unknown name is refused before any work
    parsed = _parse_all(premises, conclusion, started, deadline, seconds)
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
    if deadline.expired():
        return _out_of_time("checking the signature", seconds, started)
    problem = EntailmentProblem(tuple(premise_asts), conclusion_ast)
    source = "\n".join([*(to_text(p) for p in premise_asts), "⊢ " + to_text(conclusion_ast)])
    formalization = Formalization("fol", source, problem)
    verdict = combine_verdicts(_run_provers(chosen, formalization, seconds, deadline))
    if repairs:
        verdict = _with(
            verdict,
            message=(verdict.message + "; " if verdict.message else "") + "signature repaired: " + "; ".join(repairs),
            details={**verdict.details, "repairs": repairs},
        )
    return _with(verdict, elapsed_s=time.perf_counter() - started)


def _run_provers(
    provers: Sequence[Prover], formalization: Formalization, seconds: float, deadline: Deadline
) -> list[Verdict]:
    """Each prover's verdict, in order; several run side by side (threads) under the one deadline."""
    if len(provers) == 1:
        return [provers[0].check(formalization, timeout_s=seconds, deadline=deadline)]
    # Z3 releases the GIL inside its solver and E runs as processes, so threads really overlap.
    with ThreadPoolExecutor(max_workers=len(provers), thread_name_prefix="neurosym-prover") as pool:
        futures = [pool.submit(p.check, formalization, timeout_s=seconds, deadline=deadline) for p in provers]
        return [future.result() for future in futures]


def _with(verdict: Verdict, **changes: Any) -> Verdict:
    return dataclasses.replace(verdict, **changes)


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
