"""The LLM backend protocol: batch-first requests in, samples with usage out.

Every backend (embedded llama.cpp, an OpenAI-compatible server, in-process vLLM or transformers,
the scripted test double, record/replay) implements :class:`LLMBackend`:

    backend.generate([request, ...], settings=SamplingSettings(n=5)) -> [result, ...]

One result per request, each with ``n`` samples and the tokens and time it cost.

Example:
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> backend = ScriptedBackend(["P(a)"])
    >>> [result] = backend.generate([GenerationRequest.from_prompt("Formalise: a is P.")])
    >>> result.texts, result.usage.completion_tokens > 0
    (['P(a)'], True)

"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings

__all__ = [
    "ALLOW_LIVE_REQUESTS",
    "Constraint",
    "GenerationRequest",
    "GenerationResult",
    "LLMBackend",
    "Message",
    "Sample",
    "Usage",
    "check_allow_live_requests",
    "missing_runs",
    "request_key",
    "split_evenly",
]

ALLOW_LIVE_REQUESTS = True
"""Tests set this to False (see tests/conftest.py) so that no test reaches a real model by accident."""


def check_allow_live_requests(backend: str) -> None:
    """Raise if live model requests are switched off (the test suite's default).

    Example:
        >>> check_allow_live_requests("openai")  # allowed outside the test suite

    """
    import neurosym.translators.base as module

    if not module.ALLOW_LIVE_REQUESTS:
        raise ConfigurationError(
            f"live requests to the {backend!r} backend are switched off "
            "(neurosym.translators.base.ALLOW_LIVE_REQUESTS is False; "
            "tests opt in with the allow_live_requests fixture)"
        )


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str

    def to_dict(self) -> dict[str, str]:
        """The OpenAI wire form."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class Constraint:
    """A limit on what the model may write.

    ``kind`` is ``grammar`` (GBNF text, as llama.cpp and vLLM's xgrammar read it), ``regex`` or
    ``json_schema`` (a dict).

    Example:
        >>> Constraint("regex", r"(True|False|Uncertain)").kind
        'regex'

    """

    kind: Literal["grammar", "regex", "json_schema"]
    value: Any

    def __post_init__(self) -> None:
        if self.kind not in ("grammar", "regex", "json_schema"):
            raise ConfigurationError(f"unknown constraint kind {self.kind!r}; expected grammar, regex or json_schema")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (used in cache keys and cassettes)."""
        return {"kind": self.kind, "value": self.value}


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A chat prompt to complete, with an optional output constraint."""

    messages: tuple[Message, ...]
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise ConfigurationError("a generation request needs at least one message")

    @classmethod
    def from_prompt(
        cls, prompt: str, *, system: str | None = None, constraint: Constraint | None = None
    ) -> GenerationRequest:
        """A request with one user message (and an optional system message).

        Example:
            >>> GenerationRequest.from_prompt("hi", system="be brief").messages[0].role
            'system'

        """
        messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]
        return cls(tuple(messages), constraint)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "messages": [m.to_dict() for m in self.messages],
            "constraint": self.constraint.to_dict() if self.constraint else None,
        }


def request_key(backend: str, model: str, request: GenerationRequest, settings: SamplingSettings) -> str:
    """A stable hash of everything that determines a response (for cassettes and caches).

    Example:
        >>> r = GenerationRequest.from_prompt("hi")
        >>> request_key("x", "m", r, SamplingSettings(n=1)) == request_key("x", "m", r, SamplingSettings(n=1))
        True

    """
    payload = {"backend": backend, "model": model, "request": request.to_dict(), "settings": settings.to_dict()}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Sample:
    """One completion: its text, why it stopped and how many tokens it took."""

    text: str
    finish_reason: str | None = None
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"text": self.text, "finish_reason": self.finish_reason, "completion_tokens": self.completion_tokens}


@dataclass(frozen=True, slots=True)
class Usage:
    """What a request cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.latency_s + other.latency_s,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": round(self.latency_s, 6),
        }


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """The samples for one request, with usage and where they came from."""

    samples: tuple[Sample, ...]
    usage: Usage = field(default_factory=Usage)
    backend: str = ""
    model: str = ""

    @property
    def texts(self) -> list[str]:
        """The sample texts in order."""
        return [s.text for s in self.samples]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the cassette format)."""
        return {
            "samples": [s.to_dict() for s in self.samples],
            "usage": self.usage.to_dict(),
            "backend": self.backend,
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationResult:
        """Rebuild a result from :meth:`to_dict` output."""
        return cls(
            tuple(Sample(**s) for s in data["samples"]),
            Usage(**data["usage"]),
            data.get("backend", ""),
            data.get("model", ""),
        )


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` whole shares that add up to it exactly (a call's prompt tokens among its samples).

    Example:
        >>> split_evenly(10, 3)
        [4, 3, 3]

    """
    base, remainder = divmod(total, parts)
    return [base + (1 if i < remainder else 0) for i in range(parts)]


def missing_runs(present: Sequence[bool]) -> list[tuple[int, int]]:
    """The ``(first index, length)`` of each run of consecutive missing samples.

    Under the seed contract (sample ``i`` is drawn with seed ``seed + i``) each run is one call
    with ``n=length`` and seed ``seed + first index``.

    Example:
        >>> missing_runs([False, False, True, False])
        [(0, 2), (3, 1)]

    """
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, here in enumerate([*present, True]):
        if not here and start is None:
            start = index
        elif here and start is not None:
            runs.append((start, index - start))
            start = None
    return runs


@runtime_checkable
class LLMBackend(Protocol):
    """Anything that completes chat prompts in batches."""

    name: ClassVar[str]
    model: str
    supports_grammar: bool
    """Whether grammar constraints are applied (callers switch constrained decoding on by it)."""

    def generate(
        self, requests: Sequence[GenerationRequest], *, settings: SamplingSettings | None = None
    ) -> list[GenerationResult]:
        """One result per request, each with ``settings.n`` samples."""
        ...
