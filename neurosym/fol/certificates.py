"""Evidence for FOL verdicts: the premises a proof used, and countermodels.

Example:
    >>> print(PremisesUsed((0, 2), ("P(a)", "∀x (P(x) → Q(x))")).render())
    premises used: 1, 3
      [1] P(a)
      [3] ∀x (P(x) → Q(x))

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["Countermodel", "Countermodels", "PremisesUsed"]


@dataclass(frozen=True, slots=True)
class PremisesUsed:
    """The premises (0-based indices, with their text) that a proof needs."""

    KIND: ClassVar[str] = "premises_used"
    indices: tuple[int, ...]
    formulas: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": "premises_used", "indices": list(self.indices), "formulas": list(self.formulas)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PremisesUsed:
        """Read back :meth:`to_dict`."""
        return cls(tuple(int(i) for i in data["indices"]), tuple(str(f) for f in data["formulas"]))

    def render(self) -> str:
        """One line per premise, numbered from 1 as people count."""
        if not self.indices:
            return "premises used: none (the conclusion holds on its own)"
        head = "premises used: " + ", ".join(str(i + 1) for i in self.indices)
        return "\n".join([head, *(f"  [{i + 1}] {text}" for i, text in zip(self.indices, self.formulas, strict=False))])


@dataclass(frozen=True, slots=True)
class Countermodel:
    """A finite structure: its domain, what constants denote and which atoms hold.

    ``predicates`` lists each predicate as ``(name, arity, tuples it holds for)``; ``functions``
    lists each function with its table. A model too large to show in full, or one whose reading
    was stopped by a deadline, is ``truncated``: a table may list only some of its rows,
    ``omitted`` names the symbols (``name/arity``) left out altogether and ``note`` says why.

    Example:
        >>> m = Countermodel("a model", ("e0",), (("a", "e0"),), (("P", 1, (("e0",),)),), omitted=("Q/2",),
        ...                  truncated=True, note="the deadline passed")
        >>> print(m.render())
        a model:
          domain: {e0}
          a = e0
          P: {e0}
          (cut short: the deadline passed; not shown: Q/2)
        >>> Countermodel.from_dict(m.to_dict()) == m
        True

    """

    title: str
    domain: tuple[str, ...]
    constants: tuple[tuple[str, str], ...]
    predicates: tuple[tuple[str, int, tuple[tuple[str, ...], ...]], ...]
    functions: tuple[tuple[str, tuple[tuple[tuple[str, ...], str], ...]], ...] = ()
    truncated: bool = False
    omitted: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "title": self.title,
            "domain": list(self.domain),
            "constants": dict(self.constants),
            "predicates": {name: [list(t) for t in rows] for name, _, rows in self.predicates},
            "functions": {name: [[list(args), value] for args, value in rows] for name, rows in self.functions},
            "arities": {name: arity for name, arity, _ in self.predicates},
            "truncated": self.truncated,
            "omitted": list(self.omitted),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Countermodel:
        """Read back :meth:`to_dict` (also the older form without ``omitted`` and ``note``)."""
        arities = data.get("arities") or {}
        predicates = tuple(
            (name, int(arities.get(name, len(rows[0]) if rows else 1)), tuple(tuple(row) for row in rows))
            for name, rows in data["predicates"].items()
        )
        functions = tuple(
            (name, tuple((tuple(args), value) for args, value in rows)) for name, rows in data["functions"].items()
        )
        return cls(
            data["title"],
            tuple(data["domain"]),
            tuple(data["constants"].items()),
            predicates,
            functions,
            bool(data.get("truncated", False)),
            tuple(str(name) for name in data.get("omitted", ())),
            str(data.get("note", "")),
        )

    def render(self) -> str:
        """The model as a few readable lines."""
        lines = [f"{self.title}:", f"  domain: {{{', '.join(self.domain)}}}"]
        if self.constants:
            lines.append("  " + ", ".join(f"{name} = {value}" for name, value in self.constants))
        for name, arity, rows in self.predicates:
            if arity == 0:
                lines.append(f"  {name}: {'true' if rows else 'false'}")
            else:
                shown = ", ".join(row[0] if len(row) == 1 else f"({', '.join(row)})" for row in rows)
                lines.append(f"  {name}: {{{shown}}}")
        for name, table in self.functions:
            shown = ", ".join(f"{name}({', '.join(args)}) = {value}" for args, value in table)
            lines.append(f"  {shown}")
        if self.truncated:
            lines.append(f"  ({self._cut_short()})")
        return "\n".join(lines)

    def _cut_short(self) -> str:
        parts = [f"cut short: {self.note}" if self.note else "tables cut short"]
        if self.omitted:
            listed = ", ".join(self.omitted[:_OMITTED_LISTED])
            more = len(self.omitted) - _OMITTED_LISTED
            parts.append(f"not shown: {listed}" + (f" and {more} more" if more > 0 else ""))
        return "; ".join(parts)


_OMITTED_LISTED = 10  # symbols named in a rendered "not shown" line; the rest are counted


@dataclass(frozen=True, slots=True)
class Countermodels:
    """Why a conclusion is Uncertain: one model where it fails and one where it holds."""

    KIND: ClassVar[str] = "countermodels"
    conclusion_false: Countermodel
    conclusion_true: Countermodel

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "kind": "countermodels",
            "conclusion_false": self.conclusion_false.to_dict(),
            "conclusion_true": self.conclusion_true.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Countermodels:
        """Read back :meth:`to_dict`."""
        return cls(Countermodel.from_dict(data["conclusion_false"]), Countermodel.from_dict(data["conclusion_true"]))

    def render(self) -> str:
        """Both models, one after the other."""
        return self.conclusion_false.render() + "\n" + self.conclusion_true.render()
