"""How a MILP-target result reads for people: the model as a table, the checked solution or the feedback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from neurosym.errors import ParseError
from neurosym.milp.parser import parse_model
from neurosym.milp.report import CheckedSolution, iis_line, model_markdown
from neurosym.targets.milp.translator import extract_model

if TYPE_CHECKING:
    from neurosym.solving import SolveResult

__all__ = ["model_text", "render_milp"]


def model_text(result: SolveResult) -> str | None:
    """The model the model wrote: the parsed one, or (unreadable) what could be read out of its reply."""
    if result.formalization is not None:
        return result.formalization.source
    try:  # show what the model wrote, so that the parse error can be read against it
        return extract_model(result.raw_output) if result.raw_output else None
    except ParseError:
        return None


def render_milp(result: SolveResult) -> list[str]:
    """The model (as a table when it parses), then the checked solution or what was wrong."""
    verdict = result.verdict
    lines: list[str] = []
    text = model_text(result)
    if text is not None:
        try:
            shown = model_markdown(parse_model(text))
        except ParseError:
            shown = text.rstrip("\n")
        lines += ["Model:", *(("    " + line).rstrip() for line in shown.splitlines())]
    if isinstance(verdict.certificate, CheckedSolution):
        lines += ["Solution:", *(("    " + line).rstrip() for line in verdict.certificate.render().splitlines())]
    elif verdict.feedback or verdict.message:
        lines.append(verdict.feedback or verdict.message)
    iis = verdict.details.get("iis")
    if isinstance(iis, Mapping) and iis.get("constraints"):
        lines.append(iis_line(iis))
    return lines
