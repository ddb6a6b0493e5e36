"""How a FOL result reads for people and in JSON: each premise beside its formula, the premises used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neurosym.types import Formalization

if TYPE_CHECKING:
    from neurosym.solving import SolveResult

__all__ = ["describe_fol", "formulas_of", "render_fol"]


def formulas_of(formalization: Formalization | None) -> tuple[list[str], str] | None:
    r"""The premise formulas and the conclusion formula of a FOL formalization, as the model wrote them.

    Example:
        >>> formulas_of(Formalization("fol", "Dog(rex)\n⊢ Animal(rex)"))
        (['Dog(rex)'], 'Animal(rex)')

    """
    if formalization is None or not formalization.source:
        return None
    *premises, conclusion = formalization.source.splitlines()
    return premises, conclusion.removeprefix("⊢ ")


def describe_fol(formalization: Formalization) -> dict[str, Any]:
    r"""The JSON form of a FOL formalization: premise formulas, conclusion, and the signature if one was declared.

    Example:
        >>> describe_fol(Formalization("fol", "Dog(rex)\n⊢ Dog(rex)", declared="Dog(x): x is a dog\nConstants: rex"))
        {'premises': ['Dog(rex)'], 'conclusion': 'Dog(rex)', 'signature': ['Dog(x): x is a dog', 'Constants: rex']}

    """
    found = formulas_of(formalization)
    premises, conclusion = found if found is not None else ([], "")
    described: dict[str, Any] = {"premises": premises, "conclusion": conclusion}
    if formalization.declared:
        described["signature"] = formalization.declared.splitlines()
    return described


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_fol(result: SolveResult) -> list[str]:
    """The formalization side by side with the English, then the evidence (premises used, countermodels)."""
    lines: list[str] = []
    verdict, problem = result.verdict, result.problem
    found = formulas_of(result.formalization)
    if result.formalization is not None and result.formalization.declared:
        lines.append("Signature (declared before the formulas):")
        lines.extend(f"     {line}" for line in result.formalization.declared.splitlines())
    if found is not None:
        premises, conclusion = found
        lines.append("Formalization:")
        width = min(48, max(len(p) for p in [*problem.premises, problem.conclusion or ""]))
        for i, (text, formula) in enumerate(zip(problem.premises, premises, strict=False), start=1):
            lines.append(f"  {i:>2}. {_clip(text, width):<{width}}  {formula}")
        lines.append(f"   ⊢  {_clip(problem.conclusion or '', width):<{width}}  {conclusion}")
    if result.premises_used:
        lines.append("Premises used: " + ", ".join(str(i) for i, _ in result.premises_used))
    elif verdict.certificate is not None and verdict.status != "inconsistent":
        lines.append(verdict.certificate.render())
    if verdict.status == "inconsistent" and verdict.certificate is not None:
        lines.append("The premises as translated contradict each other: " + verdict.certificate.render())
    if not verdict.decided and verdict.message:
        lines.append(verdict.message)
    return lines
