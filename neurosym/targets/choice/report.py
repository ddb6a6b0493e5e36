"""How a choice result reads for people and in JSON: the program, each option's status, the evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neurosym.targets.choice.certificate import ChoiceEvidence
from neurosym.targets.choice.check import ChoiceTask
from neurosym.types import Formalization

if TYPE_CHECKING:
    from neurosym.solving import SolveResult

__all__ = ["describe_choice", "render_choice"]


def describe_choice(formalization: Formalization) -> dict[str, Any]:
    r"""The JSON form of a choice formalization: the program, the question's kind and the option letters.

    Example:
        >>> from neurosym.targets.choice.check import choice_task
        >>> task = choice_task("var x: bool\noption A: x\noption B: not x", "Which could be true?", "AB")
        >>> describe_choice(Formalization("choice", task.source, task))["question_kind"]
        'could be true'

    """
    task = formalization.parsed
    if not isinstance(task, ChoiceTask):
        return {"source": formalization.source}
    return {"program": task.program.source, "question_kind": task.kind.describe(), "options": list(task.letters)}


def render_choice(result: SolveResult) -> list[str]:
    """The program, then each option (its English, its status) and the evidence, then what went wrong."""
    lines: list[str] = []
    verdict, problem = result.verdict, result.problem
    task = result.formalization.parsed if result.formalization is not None else None
    english = {o[0]: o[3:] for o in problem.options}
    if isinstance(task, ChoiceTask):
        english.update({o[0]: o[3:] for o in task.texts})
        lines.append(f"Question ({task.kind.describe()}): {task.question or problem.question or ''}")
        lines.append("Program:")
        lines += ["    " + line for line in task.program.source.splitlines() if line.strip()]
    certificate = verdict.certificate
    if isinstance(certificate, ChoiceEvidence) and certificate.options:
        lines.append("Options:")
        for option in certificate.options:
            mark = "  <- chosen" if option.letter == certificate.chosen else ""
            lines.append(f"  {option.letter}) {english.get(option.letter, '')}  [{option.status}]{mark}")
        lines.append("Evidence:")
        lines += ["  " + line for line in certificate.render().splitlines()]
    elif isinstance(certificate, ChoiceEvidence) and certificate.conflict:
        lines.append("The conditions contradict each other: " + "; ".join(certificate.conflict))
    agree = verdict.details.get("agree")
    solvers = verdict.details.get("solvers") or {}
    if len(solvers) > 1 and agree is True:
        lines.append(f"Cross-check: {' and '.join(solvers)} agree on every option.")
    elif len(solvers) > 1 and agree is None:
        said = ", ".join(f"{name} {status}" for name, status in solvers.items())
        lines.append(f"Cross-check incomplete: {said}.")
    if not verdict.decided and verdict.message:
        lines.append(verdict.message)
    return lines
