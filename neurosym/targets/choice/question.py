"""What a multiple-choice question asks, read from its wording by a fixed rule (never by a model).

:func:`question_kind` lower-cases the question and applies these rules in order; the first that
matches decides:

1. ``substitut`` (AR-LSAT's "Which one of the following, if substituted for the condition that
   ..., would have the same effect ...?"): **substitution**, the option whose condition, put in
   place of the ``replace``-d one, leaves the same worlds.
2. ``how many``: **counting**; "must" in the question counts the values for which the
   ``how_many`` formula must hold, otherwise ("could", "can", "may") those for which it could.
3. The question (after any leading sentence) starts with ``if`` or ``suppose``: **conditional**:
   the hypothesis, written by the program as ``given``, joins the conditions; the rest of the
   question is read by the rules below.
4. ``except`` / ``not true that`` ... ``except``: the **EXCEPT form** of what the rest asks: the one
   option that does *not* meet it.
5. The modality, the earliest phrase in the question (at one place, the first group listed):
   "cannot be true", "could not be true", "must be false", "cannot", "could never" →
   **cannot be true** (the option contradicts the conditions); "could be false", "can be false",
   "need not be true" → **could be false** (not entailed); "must be true", "must", "has to",
   "necessarily" → **must be true** (entailed); "could be true", "can be true", "could", "can",
   "may", "might", "possible", "acceptable", "allowable" → **could be true** (consistent).
6. Only when none of those appears: "is true", "is correct", "is accurate", "which of the
   following is", "which one of the following is" → **is true** (entailed, and a world that
   leaves the answer open is reported as under-determined).
7. Anything else: **unhandled**, and the target abstains, saying so.

Example:
    >>> question_kind("Which one of the following could be true EXCEPT:")
    QuestionKind(modality='could_be_true', negated=True, conditional=False)
    >>> question_kind("If Fred is in locker 3, then which one of the following must be true?").conditional
    True
    >>> question_kind("Who wrote it?").modality
    'unhandled'

"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MODALITIES", "QuestionKind", "question_kind"]

MODALITIES = (
    "must_be_true",
    "could_be_true",
    "cannot_be_true",
    "could_be_false",
    "is_true",
    "count_could",
    "count_must",
    "substitution",
    "unhandled",
)
"""Every modality :func:`question_kind` gives."""


@dataclass(frozen=True, slots=True)
class QuestionKind:
    """What the question asks: a modality, negated by EXCEPT, and whether it is conditional (``If X, ...``).

    Example:
        >>> QuestionKind("must_be_true", negated=True).describe()
        'must be true EXCEPT (the one option that need not be true)'

    """

    modality: str
    negated: bool = False
    conditional: bool = False

    @property
    def handled(self) -> bool:
        """Whether the target decides this kind."""
        return self.modality != "unhandled"

    @property
    def counting(self) -> bool:
        """A "how many" question: the options are numbers."""
        return self.modality in ("count_could", "count_must")

    def describe(self) -> str:
        """The kind in words, as reports print it."""
        words = {
            "must_be_true": ("must be true", "the one option that need not be true"),
            "could_be_true": ("could be true", "the one option that cannot be true"),
            "cannot_be_true": ("cannot be true", "the one option that could be true"),
            "could_be_false": ("could be false", "the one option that must be true"),
            "is_true": ("is true", "the one option that is not true"),
            "count_could": ("how many could", ""),
            "count_must": ("how many must", ""),
            "substitution": ("substitution (same effect as the replaced condition)", ""),
            "unhandled": ("a question this target does not handle", ""),
        }[self.modality]
        text = words[0] + (f" EXCEPT ({words[1]})" if self.negated and words[1] else "")
        return ("if ... then " if self.conditional else "") + text

    def to_text(self) -> str:
        """A one-line form that :meth:`from_text` reads back (kept at the top of a formalization's source).

        Example:
            >>> QuestionKind.from_text(QuestionKind("is_true", conditional=True).to_text())
            QuestionKind(modality='is_true', negated=False, conditional=True)

        """
        flags = [self.modality] + (["except"] if self.negated else []) + (["if"] if self.conditional else [])
        return " ".join(flags)

    @classmethod
    def from_text(cls, text: str) -> QuestionKind:
        """Read :meth:`to_text`; an unknown modality is ``unhandled``."""
        words = text.split()
        modality = words[0] if words and words[0] in MODALITIES else "unhandled"
        return cls(modality, "except" in words[1:], "if" in words[1:])


_CANNOT = ("cannot be true", "could not be true", "can not be true", "must be false", "cannot be", "could never",
           "can never", "could not", "cannot")  # fmt: skip
_COULD_FALSE = ("could be false", "can be false", "need not be true", "might be false")
_MUST = ("must be true", "must", "has to", "necessarily")
_COULD = ("could be true", "can be true", "could", "can", "may", "might", "possible", "acceptable", "allowable")
_IS_TRUE = ("is true", "is correct", "which of the following is", "which one of the following is", "is accurate")


def _first(text: str, phrases: tuple[str, ...]) -> int:
    positions = [m.start() for p in phrases for m in [re.search(rf"\b{re.escape(p)}\b", text)] if m]
    return min(positions) if positions else -1


def question_kind(question: str) -> QuestionKind:
    """The kind of ``question`` by the rules of the module docstring.

    Example:
        >>> question_kind("Which of the following is true?").modality
        'is_true'
        >>> question_kind("How many of the children could be assigned to locker 2?").modality
        'count_could'

    """
    text = " ".join(question.lower().replace("’", "'").split())
    if "substitut" in text:
        return QuestionKind("substitution")
    if re.search(r"\bhow many\b", text):
        return QuestionKind("count_must" if re.search(r"\bmust\b", text) else "count_could")
    conditional = bool(re.match(r"^(?:[^.?!]*[.?!]\s+)?(if|suppose|assume)\b", text))
    negated = bool(re.search(r"\bexcept\b", text))
    scope = text
    if conditional:  # the modality is in the main clause, after the hypothesis
        comma = text.find(",")
        scope = text[comma + 1 :] if comma >= 0 else text
    found = [
        (position, modality)
        for modality, phrases in (
            ("cannot_be_true", _CANNOT),
            ("could_be_false", _COULD_FALSE),
            ("must_be_true", _MUST),
            ("could_be_true", _COULD),
        )
        if (position := _first(scope, phrases)) >= 0
    ]
    if not found and _first(scope, _IS_TRUE) >= 0:
        return QuestionKind("is_true", negated, conditional)
    if not found:
        return QuestionKind("unhandled", negated, conditional)
    # The earliest phrase wins; among phrases at one place, the order above (longer, more specific first).
    found.sort(key=lambda item: item[0])
    return QuestionKind(found[0][1], negated, conditional)
