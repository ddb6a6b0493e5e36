"""Test doubles for the decoders: a scripted backend that continues partial answers. Not public API."""

from __future__ import annotations

from typing import Any, ClassVar

from neurosym.translators.backends.scripted import ScriptedBackend

__all__ = ["ContinuingScriptedBackend"]


class ContinuingScriptedBackend(ScriptedBackend):
    """A test double: a :class:`ScriptedBackend` that says it continues a final assistant message.

    Each generated span takes one scripted reply; a grammar is recorded, not applied (as for
    :class:`ScriptedBackend`).

    Example:
        >>> ContinuingScriptedBackend(["x"]).continues_partial_answer
        True

    """

    continues_partial_answer: ClassVar[bool] = True

    def __init__(self, script: Any, *, model: str = "scripted") -> None:
        super().__init__(script, model=model)
