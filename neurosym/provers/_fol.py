r"""The entailment problem a FOL formalization holds, shared by the FOL provers (Z3, E).

A formalization from :class:`~neurosym.targets.fol.FolTarget` or :func:`~neurosym.check_fol`
carries its parsed :class:`~neurosym.fol.syntax.EntailmentProblem`; one without it (read back
from a file, written by hand) is read from its source: one premise a line, the conclusion on the
line that starts with ``⊢``. A source that does not parse is an ``invalid`` verdict, as any
malformed formalization is; a formalization of another target is a usage mistake.

Example:
    >>> from neurosym.types import Formalization
    >>> entailment_problem(Formalization("fol", "P(a)\n⊢ P(a)"), "z3").conclusion
    Pred(name='P', args=(Const(name='a'),))
    >>> entailment_problem(Formalization("fol", "P(a) ∧\n⊢ P(a)"), "z3").status
    'invalid'

"""

from __future__ import annotations

from neurosym.errors import ConfigurationError, ParseError
from neurosym.fol.parser import parse_formula
from neurosym.fol.syntax import EntailmentProblem
from neurosym.types import Formalization, Verdict

__all__ = ["CONCLUSION_MARK", "entailment_problem"]

CONCLUSION_MARK = "⊢"
"""The mark that starts the conclusion's line in a FOL formalization's source."""


def entailment_problem(formalization: Formalization, prover: str) -> EntailmentProblem | Verdict:
    """The problem ``formalization`` holds, or an ``invalid`` verdict (from ``prover``) when its source does not parse.

    Raises:
        ConfigurationError: the formalization is of another target, or holds something other
            than an entailment problem.

    """
    if formalization.target != "fol":
        raise ConfigurationError(
            f"{prover} checks FOL entailment problems, not a {formalization.target!r} formalization"
        )
    parsed = formalization.parsed
    if isinstance(parsed, EntailmentProblem):
        return parsed
    if parsed is not None:
        raise ConfigurationError(f"{prover} checks FOL entailment problems, not {type(parsed).__name__}")
    lines = [line.strip() for line in str(formalization.source).splitlines() if line.strip()]
    conclusions = [i for i, line in enumerate(lines) if line.startswith(CONCLUSION_MARK)]
    if len(conclusions) != 1:
        return _invalid(prover, f"the source needs exactly one conclusion line starting with {CONCLUSION_MARK}")
    formulas = []
    for number, line in enumerate(lines, start=1):
        text = line.removeprefix(CONCLUSION_MARK).strip()
        try:
            formulas.append(parse_formula(text))
        except ParseError as err:
            return _invalid(prover, f"line {number} is not a formula: {err}")
    conclusion = formulas.pop(conclusions[0])
    return EntailmentProblem(tuple(formulas), conclusion)


def _invalid(prover: str, problem: str) -> Verdict:
    return Verdict("invalid", feedback=problem, message=problem, prover=prover)
