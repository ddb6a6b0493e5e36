"""Record every model sample to a JSONL cassette, and replay it later without the model.

A cassette holds one line per *sample*: the request, the sampling settings, the sample's index
and the sample itself with its share of the usage. Sample ``i`` of a request is the one drawn with
seed ``seed + i`` (the seed contract of :class:`neurosym.loop.cache.CachedBackend`), so it is keyed
by :func:`cassette_key` without ``n``: a cassette recorded with ``n=5`` replays a run that asks
for samples two at a time, and two strategies that draw the same samples share one recording.

* :class:`RecordingBackend` passes requests to a real backend and appends each sample as soon as
  its call returns, so a killed run keeps everything it finished. With ``resume=True`` it first
  serves what the cassette already holds and asks the model only for the rest (a long benchmark
  recording picks up where it stopped).
* :class:`ReplayBackend` serves recorded samples and fails loudly (:class:`CassetteMiss`) on
  anything it has not seen, so a benchmark re-run from a cassette is exactly the recorded one.

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

import dataclasses
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from neurosym.errors import BackendError, ConfigurationError, InputError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import (
    GenerationRequest,
    GenerationResult,
    LLMBackend,
    Sample,
    Usage,
    missing_runs,
    split_evenly,
)

__all__ = ["CassetteMiss", "RecordingBackend", "ReplayBackend", "cassette_key"]

logger = logging.getLogger(__name__)


class CassetteMiss(ConfigurationError):
    """A replayed run asked for a request the cassette does not hold."""


def cassette_key(request: GenerationRequest, settings: SamplingSettings, sample_index: int = 0) -> str:
    """The hash that identifies one sample in a cassette: messages, constraint, settings (not ``n``), index.

    The backend and model are recorded beside the sample but are not part of the key, so a
    cassette replays under any backend name.

    Example:
        >>> r = GenerationRequest.from_prompt("hi")
        >>> cassette_key(r, SamplingSettings(n=2)) == cassette_key(r, SamplingSettings(n=3))
        True
        >>> cassette_key(r, SamplingSettings(), 0) == cassette_key(r, SamplingSettings(), 1)
        False

    """
    from neurosym.loop.cache import response_key  # imported here: the loop package imports the translators

    return response_key("", "", request, settings, sample_index)


class _Cassette:
    """The samples of a cassette file in memory, by key, in recorded order."""

    def __init__(self, path: Path, *, load: bool = True) -> None:
        self.path = path
        self.entries: dict[str, list[tuple[Sample, Usage]]] = {}
        self.served: dict[str, int] = {}
        self.models: set[str] = set()
        self.grammar = False
        self.lock = threading.Lock()
        if load and path.is_file():
            self._load()

    def _load(self) -> None:
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    sample = Sample(**record["sample"])
                    usage = Usage(**record["usage"])
                    key = record["key"]
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    # A run killed mid-write leaves a torn last line; everything before it is good.
                    logger.warning("%s line %d is not a cassette record (%s); skipped", self.path, number, err)
                    continue
                self.entries.setdefault(key, []).append((sample, usage))
                constraint = (record.get("request") or {}).get("constraint")
                self.grammar |= bool(constraint) and constraint.get("kind") == "grammar"
                self.models.add(record.get("model", ""))

    def __len__(self) -> int:
        return sum(len(v) for v in self.entries.values())

    def take(self, key: str) -> tuple[Sample, Usage] | None:
        """The next recording of ``key`` (repeats replay in recorded order, then the last again)."""
        recorded = self.entries.get(key)
        if not recorded:
            return None
        with self.lock:
            index = self.served.get(key, 0)
            self.served[key] = index + 1
        return recorded[min(index, len(recorded) - 1)]

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        lines = [json.dumps(record, ensure_ascii=False) + "\n" for record in records]
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.writelines(lines)
                fh.flush()
            for record in records:
                entry = (Sample(**record["sample"]), Usage(**record["usage"]))
                self.entries.setdefault(record["key"], []).append(entry)
                # A sample recorded in this session counts as served, so a repeat asks the model again.
                self.served[record["key"]] = len(self.entries[record["key"]])
                self.models.add(record["model"])


class RecordingBackend:
    """Pass requests to ``inner`` and append every sample to the cassette at ``path``.

    Args:
        inner: the real backend.
        path: the cassette (created, or appended to).
        resume: serve samples the cassette already holds and ask ``inner`` only for the missing
            ones, in contiguous runs with seed ``seed + first index``. Without it every request
            goes to ``inner``.
        one_at_a_time: ask ``inner`` for one sample per call (seed ``seed + i``), so a killed
            recording loses at most the sample in flight. For backends that loop over samples
            anyway (llama.cpp) it costs nothing.

    """

    name: ClassVar[str] = "recording"

    def __init__(
        self, inner: LLMBackend, path: Path | str, *, resume: bool = False, one_at_a_time: bool = False
    ) -> None:
        self.inner = inner
        self.path = Path(path)
        self.model = inner.model
        self.supports_grammar: bool = getattr(inner, "supports_grammar", False)
        self.resume = resume
        self.one_at_a_time = one_at_a_time
        self._cassette = _Cassette(self.path, load=resume)
        self.hits = 0
        self.misses = 0

    def generate(
        self, requests: Sequence[GenerationRequest], *, settings: SamplingSettings | None = None
    ) -> list[GenerationResult]:
        """Generate with the wrapped backend (or the cassette, when resuming) and record new samples."""
        resolved = (settings or SamplingSettings()).resolved()
        n, seed = resolved.n or 1, resolved.seed or 0
        out: list[GenerationResult] = []
        for request in requests:
            slots: list[Sample | None] = [None] * n
            usage = Usage()
            if self.resume:
                for i in range(n):
                    found = self._cassette.take(cassette_key(request, resolved, i))
                    if found is not None:
                        slots[i], usage = found[0], usage + found[1]
                        self.hits += 1
            runs = missing_runs([s is not None for s in slots])
            if self.one_at_a_time:
                runs = [(start + i, 1) for start, length in runs for i in range(length)]
            for start, length in runs:
                run_settings = dataclasses.replace(resolved, n=length, seed=seed + start)
                [result] = self.inner.generate([request], settings=run_settings)
                if len(result.samples) != length:
                    raise BackendError(
                        f"the {self.inner.name!r} backend returned {len(result.samples)} samples, "
                        f"{length} were asked for",
                        backend=self.inner.name,
                        model=self.inner.model,
                    )
                self.misses += length
                prompt_shares = split_evenly(result.usage.prompt_tokens, length)
                records = []
                for offset, sample in enumerate(result.samples):
                    share = Usage(prompt_shares[offset], sample.completion_tokens, result.usage.latency_s / length)
                    records.append(
                        {
                            "key": cassette_key(request, resolved, start + offset),
                            "sample_index": start + offset,
                            "backend": self.inner.name,
                            "model": self.inner.model,
                            "request": request.to_dict(),
                            "settings": resolved.to_dict(),
                            "sample": sample.to_dict(),
                            "usage": share.to_dict(),
                        }
                    )
                    slots[start + offset] = sample
                self._cassette.append(records)
                usage += result.usage
            samples = tuple(s for s in slots if s is not None)
            out.append(GenerationResult(samples, usage, self.inner.name, self.inner.model))
        return out


class ReplayBackend:
    """Serve recorded samples; any sample not in the cassette raises :class:`CassetteMiss`.

    A sample recorded several times (the same request, settings and index) is served in recorded
    order, then the last recording again.
    """

    name: ClassVar[str] = "replay"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"no cassette at {self.path}")
        self._cassette = _Cassette(self.path)
        self.supports_grammar = self._cassette.grammar  # True when the recorded requests carried grammars
        self.model = ", ".join(sorted(m for m in self._cassette.models if m)) or "replay"

    def __len__(self) -> int:
        return len(self._cassette)

    def generate(
        self, requests: Sequence[GenerationRequest], *, settings: SamplingSettings | None = None
    ) -> list[GenerationResult]:
        """Return the recorded samples of each request."""
        resolved = (settings or SamplingSettings()).resolved()
        results = []
        for request in requests:
            samples, usage = [], Usage()
            for i in range(resolved.n or 1):
                key = cassette_key(request, resolved, i)
                found = self._cassette.take(key)
                if found is None:
                    last = request.messages[-1].content
                    raise CassetteMiss(
                        f"the cassette {self.path} has no recording of sample {i} of this request (last "
                        f"message ends {last[-120:]!r}, settings {resolved.to_dict()}); record it again "
                        "with the real model",
                        key=key,
                    )
                samples.append(found[0])
                usage += found[1]
            results.append(GenerationResult(tuple(samples), usage, self.name, self.model))
        return results
