"""How a Python-target result reads for people: the program, what it printed and returned."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neurosym.targets.python.target import ProgramRun

if TYPE_CHECKING:
    from neurosym.solving import SolveResult

__all__ = ["render_python"]


def render_python(result: SolveResult) -> list[str]:
    """The program run (the certificate), or the program and what went wrong with it."""
    verdict = result.verdict
    if isinstance(verdict.certificate, ProgramRun):
        return [verdict.certificate.render()]
    lines: list[str] = []
    if result.formalization is not None:
        program = result.formalization.source
        lines += ["Program:", *("    " + line for line in program.rstrip("\n").splitlines())]
    if verdict.feedback or verdict.message:
        lines.append(verdict.feedback or verdict.message)
    return lines
