"""Record every model exchange to a JSONL cassette, and replay it later without the model.

:class:`RecordingBackend` wraps any backend and appends one line per request (the request, the
sampling settings, the result) as soon as the result arrives, so a run that is killed keeps
everything it finished. :class:`ReplayBackend` serves those results by a hash of the request and
settings, and fails loudly (:class:`CassetteMiss`) on anything it has not seen, so a benchmark
re-run from a cassette is exactly the recorded one.

Example:
    >>> import tempfile, pathlib
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.translators.base import GenerationRequest
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.jsonl"
    >>> request = GenerationRequest.from_prompt("Formalise: Rex is a dog.")
    >>> recorded = RecordingBackend(ScriptedBackend(["Dog(rex)"]), path).generate([request])
    >>> ReplayBackend(path).generate([request])[0].texts
    ['Dog(rex)']

"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from neurosym.errors import ConfigurationError, InputError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import GenerationRequest, GenerationResult, LLMBackend

__all__ = ["CassetteMiss", "RecordingBackend", "ReplayBackend", "cassette_key"]

logger = logging.getLogger(__name__)


class CassetteMiss(ConfigurationError):
    """A replayed run asked for a request the cassette does not hold."""


def cassette_key(request: GenerationRequest, settings: SamplingSettings) -> str:
    """The hash that identifies a request in a cassette: the messages, constraint and settings.

    The backend and model are recorded beside the result but are not part of the key, so a
    cassette replays under any backend name.

    Example:
        >>> r = GenerationRequest.from_prompt("hi")
        >>> cassette_key(r, SamplingSettings(n=2)) != cassette_key(r, SamplingSettings(n=3))
        True

    """
    payload = {"request": request.to_dict(), "settings": settings.resolved().to_dict()}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RecordingBackend:
    """Pass requests to ``inner`` and append every exchange to the cassette at ``path``."""

    name: ClassVar[str] = "recording"

    def __init__(self, inner: LLMBackend, path: Path | str) -> None:
        self.inner = inner
        self.path = Path(path)
        self.model = inner.model
        self.supports_grammar: bool = getattr(inner, "supports_grammar", False)
        self._lock = threading.Lock()

    def generate(
        self, requests: Sequence[GenerationRequest], *, settings: SamplingSettings | None = None
    ) -> list[GenerationResult]:
        """Generate with the wrapped backend and record the results."""
        resolved = (settings or SamplingSettings()).resolved()
        results = self.inner.generate(requests, settings=resolved)
        lines = []
        for request, result in zip(requests, results, strict=False):
            record: dict[str, Any] = {
                "key": cassette_key(request, resolved),
                "backend": self.inner.name,
                "model": self.inner.model,
                "request": request.to_dict(),
                "settings": resolved.to_dict(),
                "result": result.to_dict(),
            }
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.writelines(lines)
                fh.flush()
        return results


class ReplayBackend:
    """Serve recorded results; any request not in the cassette raises :class:`CassetteMiss`.

    A request recorded several times (the same prompt and settings) is served in recorded order,
    then the last recording again.
    """

    name: ClassVar[str] = "replay"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"no cassette at {self.path}")
        self._entries: dict[str, list[GenerationResult]] = {}
        self._served: dict[str, int] = {}
        models = set()
        self.supports_grammar = False  # True when the recorded requests carried grammars
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    result = GenerationResult.from_dict(record["result"])
                    key = record["key"]
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    # A run killed mid-write leaves a torn last line; everything before it is good.
                    logger.warning("%s line %d is not a cassette record (%s); skipped", self.path, number, err)
                    continue
                self._entries.setdefault(key, []).append(result)
                constraint = (record.get("request") or {}).get("constraint")
                self.supports_grammar |= bool(constraint) and constraint.get("kind") == "grammar"
                models.add(record.get("model", ""))
        self.model = ", ".join(sorted(m for m in models if m)) or "replay"
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def generate(
        self, requests: Sequence[GenerationRequest], *, settings: SamplingSettings | None = None
    ) -> list[GenerationResult]:
        """Return the recorded result of each request."""
        resolved = (settings or SamplingSettings()).resolved()
        results = []
        for request in requests:
            key = cassette_key(request, resolved)
            recorded = self._entries.get(key)
            if not recorded:
                last = request.messages[-1].content
                raise CassetteMiss(
                    f"the cassette {self.path} has no recording of this request (last message ends "
                    f"{last[-120:]!r}, settings {resolved.to_dict()}); record it again with the real model",
                    key=key,
                )
            with self._lock:
                index = self._served.get(key, 0)
                self._served[key] = index + 1
            results.append(recorded[min(index, len(recorded) - 1)])
        return results
