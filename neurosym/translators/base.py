"""The LLM backend protocol: batch-first requests in, samples with usage out.

Every backend (embedded llama.cpp, an OpenAI-compatible server, in-process vLLM or transformers,
the scripted test double, record/replay) implements :class:`LLMBackend`:

    backend.generate([request, ...], settings=SamplingSettings(n=5)) -> [result, ...]

One result per request, each with ``n`` samples and the tokens and time it cost. A caller that
wants to watch the model write (a status line, a web page) passes ``progress=callback``: the
backend calls it with a :class:`Progress` as tokens arrive (backends that cannot stream call it
once per finished sample), and the results are the same as without it.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings

__all__ = [
    "ALLOW_LIVE_REQUESTS",
    "Constraint",
    "GenerationRequest",
    "GenerationResult",
    "LLMBackend",
    "Message",
    "Progress",
    "ProgressCallback",
    "Sample",
    "Usage",
    "check_allow_live_requests",
    "missing_runs",
    "renumber_progress",
    "report_finished",
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


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one sample has got, sent while a backend generates (for status lines and web pages).

    Example:
        >>> Progress(request_index=0, sample_index=2, completion_tokens=17, text=" x").done
        False

    """

    request_index: int
    """Which request of the ``generate`` call."""
    sample_index: int
    """Which of its ``n`` samples."""
    completion_tokens: int
    """Tokens generated so far in this sample (an estimate where the backend does not say)."""
    text: str
    """The new text since the previous Progress of this sample (``""`` when unknown)."""
    done: bool = False
    """True once, when the sample is finished."""


ProgressCallback = Callable[[Progress], None]
"""What ``generate(..., progress=...)`` calls; it should return quickly (it runs on the generating thread)."""


def report_finished(
    progress: ProgressCallback | None, request_index: int, samples: Sequence[Sample], first_sample: int = 0
) -> None:
    """Tell ``progress`` about samples that are already whole: their text, then ``done``, for each.

    For backends that cannot stream, and for samples served from a cache or a cassette.

    Example:
        >>> seen = []
        >>> report_finished(seen.append, 0, [Sample("P(a)", "stop", 3)], first_sample=2)
        >>> [(p.sample_index, p.text, p.done) for p in seen]
        [(2, 'P(a)', False), (2, '', True)]

    """
    if progress is None:
        return
    for offset, sample in enumerate(samples):
        index = first_sample + offset
        if sample.text:
            progress(Progress(request_index, index, sample.completion_tokens, sample.text))
        progress(Progress(request_index, index, sample.completion_tokens, "", done=True))


def renumber_progress(
    progress: ProgressCallback | None, request_indices: Sequence[int], first_sample: int = 0
) -> ProgressCallback | None:
    """A callback for an inner call that asks for some of the requests and samples: events say the outer numbers.

    ``request_indices[i]`` is the outer index of the inner call's request ``i``; inner sample ``j``
    is outer sample ``first_sample + j`` (a wrapper that asks only for the missing samples).

    Example:
        >>> seen = []
        >>> inner = renumber_progress(seen.append, [3], first_sample=2)
        >>> inner(Progress(0, 1, 5, "x"))
        >>> seen[0].request_index, seen[0].sample_index
        (3, 3)

    """
    if progress is None:
        return None
    outer = progress

    def renumbered(event: Progress) -> None:
        outer(
            Progress(
                request_indices[event.request_index],
                first_sample + event.sample_index,
                event.completion_tokens,
                event.text,
                event.done,
            )
        )

    return renumbered


@runtime_checkable
class LLMBackend(Protocol):
    """Anything that completes chat prompts in batches.

    The three attributes are read-only here, so an implementation may provide each as a class
    attribute, an instance attribute or a property.
    """

    @property
    def name(self) -> str:
        """The kind of backend (``"llamacpp"``, ``"openai"``...), recorded with every sample."""
        ...

    @property
    def model(self) -> str:
        """The model that writes the samples, as results report it."""
        ...

    @property
    def supports_grammar(self) -> bool:
        """Whether grammar constraints are applied (callers switch constrained decoding on by it)."""
        ...

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """One result per request, each with ``settings.n`` samples; ``progress`` sees them being written."""
        ...
