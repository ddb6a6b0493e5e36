"""How a proof-target result reads for people: the statement next to the text, the proof, what it rests on.

For a statement the model wrote itself (``neurosym solve --target coq "..."``), the report says
plainly that the kernel checked the proof, not that the statement means what the text says, and
prints the two side by side for a person to judge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neurosym.errors import ParseError
from neurosym.provers.coq import CoqProof
from neurosym.provers.coq.sentences import parse_theorem, split_sentences
from neurosym.provers.lean import LeanProof, parse_lean_theorem

if TYPE_CHECKING:
    from neurosym.solving import SolveResult

__all__ = ["FAITHFULNESS_NOTE", "UNPROVED_NOTE", "render_proof", "stated_theorem"]

FAITHFULNESS_NOTE = (
    "The kernel checked the proof of this statement. Whether the statement says what the text says is NOT "
    "machine-checked: compare them yourself."
)
UNPROVED_NOTE = (
    "The kernel did not accept the proof. Whether the statement says what the text says is NOT machine-checked "
    "either: compare them yourself."
)


def _indent(text: str) -> list[str]:
    return ["    " + line for line in text.rstrip("\n").splitlines()]


def stated_theorem(script: str) -> str | None:
    r"""The last theorem a Coq or Lean script states (its statement, without the proof), or ``None``.

    Example:
        >>> stated_theorem("Require Import Lia.\nTheorem t : forall n : nat, n + 0 = n.\nProof. lia. Qed.")
        'Theorem t : forall n : nat, n + 0 = n.'
        >>> stated_theorem("theorem t (n : Nat) : n + 0 = n := by\n  simp")
        'theorem t (n : Nat) : n + 0 = n'
        >>> stated_theorem("no theorem here") is None
        True

    """
    try:
        stated = [s.text for s in split_sentences(script) if parse_theorem(s.text) is not None]
    except ParseError:
        stated = []
    if stated:
        return stated[-1]
    head = parse_lean_theorem(script)
    if head is None:
        return None
    cut = script.find(":=")
    return script[:cut].strip() if cut != -1 else None


def render_proof(result: SolveResult) -> list[str]:
    """The statement (and, when the model wrote it, the text beside it and the note), then the proof or the error."""
    verdict = result.verdict
    given = bool(result.problem.metadata.get("statement"))
    certificate = verdict.certificate
    lines: list[str] = []
    if isinstance(certificate, (CoqProof, LeanProof)):
        if given:
            lines += ["Theorem (as given):", *_indent(certificate.statement)]
        else:
            lines += ["Statement written by the model:", *_indent(certificate.statement)]
            lines += ["The text it formalizes:", *_indent(result.problem.text)]
            lines.append(f"Note: {FAITHFULNESS_NOTE}")
        lines.append(certificate.render())
        return lines
    script = getattr(result.formalization.parsed, "script", None) if result.formalization is not None else None
    statement = stated_theorem(script) if not given and script else None
    if statement is not None:
        lines += ["Statement written by the model (not proved):", *_indent(statement)]
        lines += ["The text it formalizes:", *_indent(result.problem.text)]
        lines.append(f"Note: {UNPROVED_NOTE}")
    elif not given and result.problem.text:
        lines += ["The text:", *_indent(result.problem.text)]
    if result.formalization is not None:
        lines += [
            "Last proof script:",
            *_indent(getattr(result.formalization.parsed, "script", result.formalization.source)),
        ]
    if verdict.feedback or verdict.message:
        lines.append(verdict.feedback or verdict.message)
    return lines
