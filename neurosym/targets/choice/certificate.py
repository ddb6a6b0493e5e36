r"""Evidence for a choice verdict: for every option, what the solver found and the witness for it.

For an option the conditions entail, the witness is the proof's core (the conditions that force
it) and a model; for one they leave open, a model where it holds and a countermodel where it
fails; for one they contradict, the conflict (the conditions that rule it out). When the
conditions contradict each other, ``conflict`` names those that do.

Example:
    >>> evidence = ChoiceEvidence("must be true", "A", (
    ...     OptionEvidence("A", "x == 2", "entailed", True, core=("line 2: x > 1",)),
    ...     OptionEvidence("B", "x == 1", "contradicted", False, core=("line 2: x > 1",)),
    ... ))
    >>> print(evidence.render())
    question: must be true; chosen: A
      A) entailed, chosen: x == 2
         proof uses: line 2: x > 1
      B) contradicted: x == 1
         ruled out by: line 2: x > 1
    >>> ChoiceEvidence.from_dict(evidence.to_dict()) == evidence
    True

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["ChoiceEvidence", "OptionEvidence"]


def _pairs(values: Mapping[str, str] | tuple[tuple[str, str], ...] | None) -> tuple[tuple[str, str], ...]:
    if not values:
        return ()
    items = values.items() if isinstance(values, Mapping) else values
    return tuple((str(k), str(v)) for k, v in items)


def _show_model(values: tuple[tuple[str, str], ...], hidden: int, limit: int = 12) -> str:
    shown = ", ".join(f"{k} = {v}" for k, v in values[:limit])
    more = len(values) - limit + hidden
    return shown + (f", … ({more} more)" if more > 0 else "")


@dataclass(frozen=True, slots=True)
class OptionEvidence:
    """One option: its status, whether it qualifies, the core, a model where it holds and one where it fails.

    The status is ``entailed``, ``contingent`` or ``contradicted`` (for substitution ``equivalent``
    or ``not equivalent``; for counting ``the count`` or ``not the count``).
    """

    letter: str
    formula: str
    status: str
    qualifies: bool
    core: tuple[str, ...] = ()
    holds_in: tuple[tuple[str, str], ...] = ()
    fails_in: tuple[tuple[str, str], ...] = ()
    hidden: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "letter": self.letter,
            "formula": self.formula,
            "status": self.status,
            "qualifies": self.qualifies,
            "core": list(self.core),
            "holds_in": dict(self.holds_in),
            "fails_in": dict(self.fails_in),
            "hidden": self.hidden,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptionEvidence:
        """Read back :meth:`to_dict`."""
        return cls(
            str(data["letter"]),
            str(data.get("formula", "")),
            str(data["status"]),
            bool(data.get("qualifies", False)),
            tuple(str(c) for c in data.get("core", ())),
            _pairs(data.get("holds_in")),
            _pairs(data.get("fails_in")),
            int(data.get("hidden", 0)),
            str(data.get("note", "")),
        )


@dataclass(frozen=True, slots=True)
class ChoiceEvidence:
    """The evidence for every option, the question's kind, the chosen letter and any conflict."""

    KIND: ClassVar[str] = "choice_evidence"
    question: str
    chosen: str | None
    options: tuple[OptionEvidence, ...] = ()
    conflict: tuple[str, ...] = ()
    solver: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "kind": self.KIND,
            "question": self.question,
            "chosen": self.chosen,
            "options": [o.to_dict() for o in self.options],
            "conflict": list(self.conflict),
            "solver": self.solver,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChoiceEvidence:
        """Read back :meth:`to_dict`."""
        return cls(
            str(data.get("question", "")),
            data.get("chosen"),
            tuple(OptionEvidence.from_dict(o) for o in data.get("options", ())),
            tuple(str(c) for c in data.get("conflict", ())),
            str(data.get("solver", "")),
        )

    def render(self) -> str:
        """The question's kind, then one block per option with its witness."""
        lines = [f"question: {self.question}; chosen: {self.chosen or 'none'}"]
        if self.conflict:
            lines.append("  the conditions contradict each other: " + "; ".join(self.conflict))
        for option in self.options:
            mark = ", chosen" if option.letter == self.chosen else ""
            lines.append(f"  {option.letter}) {option.status}{mark}: {option.formula}")
            if option.core:
                verb = "proof uses" if option.status in ("entailed", "equivalent") else "ruled out by"
                lines.append(f"     {verb}: " + "; ".join(option.core))
            if option.holds_in and option.status != "entailed":
                lines.append("     holds in: " + _show_model(option.holds_in, option.hidden))
            if option.fails_in:
                lines.append("     fails in: " + _show_model(option.fails_in, option.hidden))
            if option.note:
                lines.append(f"     {option.note}")
        return "\n".join(lines)
