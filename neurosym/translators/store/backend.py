"""One wrapper backend over a store of samples: serve what is stored, ask the model for the rest, store it.

Example:
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.translators.base import GenerationRequest
    >>> store = MemoryStore()
    >>> backend = StoredBackend(ScriptedBackend(lambda request, index: f"P{index}(a)"), store)
    >>> request = GenerationRequest.from_prompt("Formalise: a is P.")
    >>> backend.generate([request], settings=SamplingSettings(n=2))[0].texts
    ['P0(a)', 'P1(a)']
    >>> StoredBackend(None, store, mode="replay", identity=backend.identity).generate([request])[0].texts
    ['P0(a)']

"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from neurosym.errors import BackendError, ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import (
    GenerationRequest,
    GenerationResult,
    LLMBackend,
    ProgressCallback,
    Sample,
    Usage,
    missing_runs,
    renumber_progress,
    report_finished,
    split_evenly,
)
from neurosym.translators.identity import backend_identity, identity_label, normalize_identity
from neurosym.translators.store.keys import sample_key

__all__ = ["MODES", "CassetteMiss", "MemoryStore", "SampleRecord", "SampleStore", "StoredBackend", "StoredSample"]

logger = logging.getLogger(__name__)

Mode = Literal["reuse", "record", "replay"]
MODES: tuple[Mode, ...] = ("reuse", "record", "replay")
"""What a :class:`StoredBackend` does with its store: see its ``mode`` argument."""


class CassetteMiss(ConfigurationError):
    """A replayed run asked for a sample the store does not hold (a cassette, or a cache replayed without a model)."""


class StoredSample(NamedTuple):
    """A stored sample and its share of the usage of the call that produced it.

    Example:
        >>> StoredSample(Sample("P(a)", "stop", 3), Usage(5, 3, 0.25)).usage.prompt_tokens
        5

    """

    sample: Sample
    usage: Usage


@dataclasses.dataclass(frozen=True, slots=True)
class SampleRecord:
    """One new sample on its way into a store: its key, the sample and its usage share, and where it came from.

    ``settings`` are the resolved settings of the caller's request (with its ``n`` and its seed),
    ``sample_index`` the sample's index in it: the key is
    ``sample_key(identity, request, settings, sample_index)``. ``backend`` and ``model`` are the
    name and model of the backend that drew it. Stores keep what they need for inspection; only
    ``key`` finds the sample again.

    Example:
        >>> from neurosym.translators.base import GenerationRequest
        >>> request, identity = GenerationRequest.from_prompt("hi"), {"kind": "scripted", "model": "m"}
        >>> record = SampleRecord.of(identity, request, SamplingSettings(n=2), 1, Sample("x"), Usage(1, 1, 0.0))
        >>> record.key == sample_key(identity, request, SamplingSettings(), 1)
        True

    """

    key: str
    sample: Sample
    usage: Usage
    identity: Mapping[str, Any]
    request: GenerationRequest
    settings: SamplingSettings
    sample_index: int
    backend: str = ""
    model: str = ""

    @classmethod
    def of(
        cls,
        identity: Mapping[str, Any],
        request: GenerationRequest,
        settings: SamplingSettings,
        sample_index: int,
        sample: Sample,
        usage: Usage,
        *,
        backend: str = "",
        model: str = "",
    ) -> SampleRecord:
        """The record of ``sample``, its key computed with :func:`~neurosym.translators.store.keys.sample_key`."""
        key = sample_key(identity, request, settings, sample_index)
        return cls(key, sample, usage, identity, request, settings, sample_index, backend, model)


@runtime_checkable
class SampleStore(Protocol):
    """Where a :class:`StoredBackend` keeps samples: looked up many keys at once, added one model call at a time.

    Implementations: :class:`~neurosym.translators.store.cassette.CassetteStore` (a JSONL
    cassette), :class:`neurosym.loop.cache.SqliteSampleStore` (the samples table of a cache file)
    and :class:`MemoryStore` (a dict, for tests and examples). A store must be safe to use from
    several threads.
    """

    @property
    def description(self) -> str:
        """What the store is, for messages: ``the cassette PATH``."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[StoredSample | None]:
        """One entry per key, in order: the stored sample, or None where none is stored."""
        ...

    def put(self, records: Sequence[SampleRecord]) -> None:
        """Store the samples of one model call, durably before returning (a kill afterwards loses none)."""
        ...


class MemoryStore:
    """A :class:`SampleStore` in a dict: nothing survives the process (tests, examples, a run's own repeats).

    The first sample stored under a key wins, as in the cache file.

    Example:
        >>> store = MemoryStore()
        >>> store.get_many(["k"]), len(store)
        ([None], 0)

    """

    description = "the in-memory store"

    def __init__(self) -> None:
        self._samples: dict[str, StoredSample] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._samples)

    def get_many(self, keys: Sequence[str]) -> list[StoredSample | None]:
        """The stored sample of each key, or None."""
        with self._lock:
            return [self._samples.get(key) for key in keys]

    def put(self, records: Sequence[SampleRecord]) -> None:
        """Keep each record's sample under its key, unless one is there already."""
        with self._lock:
            for record in records:
                self._samples.setdefault(record.key, StoredSample(record.sample, record.usage))


class StoredBackend:
    """An :class:`~neurosym.translators.base.LLMBackend` that serves samples from ``store`` and stores new ones.

    For each request and each sample index ``0 … n-1`` the store is looked up by
    :func:`~neurosym.translators.store.keys.sample_key` under ``identity`` (the inner backend's,
    read once here). Only the missing samples go to ``inner``, and the samples of each inner call
    are stored as soon as it returns, so a killed run keeps everything it finished. A call with no
    misses makes no inner call.

    **The seed contract.** Sample ``i`` of a request is the sample drawn with seed ``seed + i``.
    The backends that loop over samples keep it: the embedded llama.cpp backend draws sample ``i``
    with seed ``seed + i``, and so does the OpenAI-compatible backend against a server that
    ignores ``n`` (llama.cpp's). So the missing samples of a request are asked for in contiguous
    runs: a run of ``k`` missing samples starting at index ``i`` is one inner call with ``n=k``
    and ``seed=seed + i``, and sample ``i`` comes out the same whichever samples happened to be
    stored. Requests with the same missing run share one inner call. Backends that draw all
    ``n`` samples from one seeded stream (vLLM's ``SamplingParams(n)``, an OpenAI-compatible
    server that honours ``n``, transformers' ``num_return_sequences``) keep it only at
    temperature 0: otherwise their stored samples are valid samples, but sample 3 drawn by a
    later call with seed ``seed + 3`` is not the sample 3 an unstored ``n=5`` call would have
    drawn, and a resumed run is not bit-identical to an uninterrupted one.

    Args:
        inner: the backend that draws new samples; None only with ``mode="replay"``.
        store: the :class:`SampleStore`.
        mode: ``"reuse"`` (the default) serves what the store holds and asks ``inner`` for the
            rest; ``"record"`` asks ``inner`` for every sample and stores it (no lookups);
            ``"replay"`` serves only what the store holds and raises :class:`CassetteMiss` for
            anything else, never asking ``inner``.
        identity: whose samples to look up and store; defaults to ``inner``'s identity
            (:func:`~neurosym.translators.identity.backend_identity`). Needed without ``inner``.
        one_at_a_time: ask ``inner`` for one sample of one request per call (seed ``seed + i``),
            so a kill loses at most the sample in flight. Backends that loop over samples anyway
            (llama.cpp) lose no speed by it.
        name: the backend's ``name``; defaults to ``inner``'s, else ``"replay"``.
        supports_grammar: what to report without ``inner`` (a replay); with one, its own
            ``supports_grammar`` is read each time it is asked (an OpenAI-compatible backend may
            probe its server for it).
        continues_partial_answer: the same for whether a final assistant message is continued
            (:func:`~neurosym.translators.decoding.plan.continues_partial_answer`): what to report
            without ``inner``; with one, ``inner``'s own. A replay of samples drawn by a decoder
            must say what the recording backend said, or the decoder asks for other requests.

    Each result carries the samples in index order and the usage of its stored samples (their
    stored shares) plus the usage of the new calls. Results name ``inner``'s backend and model,
    or ``name`` and the identity's model without ``inner``. ``hits`` and ``misses`` count samples
    served from the store and asked of ``inner``, over the backend's life. ``progress`` sees
    stored samples whole, at once, and new ones as the inner backend writes them, numbered as
    the caller asked.

    Two threads (or processes) that miss the same sample at once both ask ``inner`` for it; what
    the store keeps is the store's rule (the cache file keeps the first, a cassette both), and
    each caller gets the sample it was given.

    Raises:
        ConfigurationError: an unknown ``mode``, or no ``inner`` outside ``mode="replay"``, or no
            identity at all.

    """

    def __init__(
        self,
        inner: LLMBackend | None,
        store: SampleStore,
        *,
        mode: Mode = "reuse",
        identity: Mapping[str, Any] | None = None,
        one_at_a_time: bool = False,
        name: str | None = None,
        supports_grammar: bool = False,
        continues_partial_answer: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"unknown mode {mode!r} for a stored backend; expected one of {', '.join(MODES)}")
        if inner is None and mode != "replay":
            raise ConfigurationError(f"a stored backend in mode {mode!r} needs an inner backend to ask for samples")
        if identity is None and inner is None:
            raise ConfigurationError("a stored backend without an inner backend needs the identity of its samples")
        self.inner = inner
        self.store = store
        self.mode: Mode = mode
        self.one_at_a_time = one_at_a_time
        self.identity: dict[str, Any] = (
            normalize_identity(identity) if identity is not None else backend_identity(inner)
        )
        self.name: str = name if name is not None else (inner.name if inner is not None else "replay")
        self.model: str = inner.model if inner is not None else str(self.identity["model"])
        self._replayed_grammar = supports_grammar
        self._replayed_continuation = continues_partial_answer
        self.hits = 0
        self.misses = 0
        self._counter_lock = threading.Lock()

    @property
    def supports_grammar(self) -> bool:
        """The wrapped backend's (read when asked), or without one what the constructor was told."""
        if self.inner is None:
            return self._replayed_grammar
        return bool(getattr(self.inner, "supports_grammar", False))

    @property
    def continues_partial_answer(self) -> bool:
        """Whether a final assistant message is continued: the wrapped backend's, or what the constructor was told."""
        if self.inner is None:
            return self._replayed_continuation
        return getattr(self.inner, "continues_partial_answer", False) is True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r}, {self.store!r}, mode={self.mode!r})"

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """One result per request with ``settings.n`` samples, from the store where it can."""
        resolved = (settings or SamplingSettings()).resolved()
        n = resolved.n or 1
        keys = [[sample_key(self.identity, request, resolved, i) for i in range(n)] for request in requests]
        slots: list[list[Sample | None]] = [[None] * n for _ in requests]
        usages = [Usage() for _ in requests]
        if self.mode != "record":
            found = iter(self.store.get_many([key for request_keys in keys for key in request_keys]))
            for position in range(len(requests)):
                for index in range(n):
                    stored = next(found)
                    if stored is not None:
                        slots[position][index] = stored.sample
                        usages[position] += stored.usage
            if self.mode == "replay":
                self._raise_on_a_miss(requests, keys, slots, resolved)
            for position, samples in enumerate(slots):
                for index, sample in enumerate(samples):
                    if sample is not None:
                        report_finished(progress, position, [sample], first_sample=index)

        calls = self._missing_calls(slots)
        misses = sum(length * len(positions) for _, length, positions in calls)
        with self._counter_lock:
            self.hits += n * len(requests) - misses
            self.misses += misses
        if misses:
            logger.debug("%s: %d samples to generate in %d calls", self.store.description, misses, len(calls))
        for start, length, positions in calls:
            self._generate_run(requests, keys, resolved, (start, length, positions), slots, usages, progress)

        backend, model = (self.inner.name, self.inner.model) if self.inner is not None else (self.name, self.model)
        return [
            GenerationResult(tuple(s for s in samples if s is not None), usage, backend, model)
            for samples, usage in zip(slots, usages, strict=True)
        ]

    def _raise_on_a_miss(
        self,
        requests: Sequence[GenerationRequest],
        keys: Sequence[Sequence[str]],
        slots: Sequence[Sequence[Sample | None]],
        settings: SamplingSettings,
    ) -> None:
        for position, samples in enumerate(slots):
            for index, sample in enumerate(samples):
                if sample is None:
                    last = requests[position].messages[-1].content
                    raise CassetteMiss(
                        f"{self.store.description} has no recording of sample {index} of this request by "
                        f"{identity_label(self.identity)} (last message ends {last[-120:]!r}, settings "
                        f"{settings.to_dict()}); record it again with the real model",
                        key=keys[position][index],
                    )

    def _missing_calls(self, slots: Sequence[Sequence[Sample | None]]) -> list[tuple[int, int, list[int]]]:
        """The inner calls that fill the empty slots: ``(first index, length, request positions)``."""
        if self.one_at_a_time:
            return [
                (start + offset, 1, [position])
                for position, samples in enumerate(slots)
                for start, length in missing_runs([s is not None for s in samples])
                for offset in range(length)
            ]
        runs: dict[tuple[int, int], list[int]] = {}
        for position, samples in enumerate(slots):
            for run in missing_runs([s is not None for s in samples]):
                runs.setdefault(run, []).append(position)
        return [(start, length, positions) for (start, length), positions in runs.items()]

    def _generate_run(
        self,
        requests: Sequence[GenerationRequest],
        keys: Sequence[Sequence[str]],
        settings: SamplingSettings,
        call: tuple[int, int, Sequence[int]],
        slots: list[list[Sample | None]],
        usages: list[Usage],
        progress: ProgressCallback | None,
    ) -> None:
        """Ask ``inner`` for one run (``call``: first index, length, request positions); store and slot its samples."""
        start, length, positions = call
        inner = self.inner
        assert inner is not None  # only replay has no inner backend, and it never gets here
        run_settings = dataclasses.replace(settings, n=length, seed=(settings.seed or 0) + start)
        batch = [requests[p] for p in positions]
        inner_progress = renumber_progress(progress, positions, first_sample=start)
        if inner_progress is None:  # a backend written before progress existed takes no such argument
            results = inner.generate(batch, settings=run_settings)
        else:
            results = inner.generate(batch, settings=run_settings, progress=inner_progress)
        if len(results) != len(batch):
            raise BackendError(
                f"the {inner.name!r} backend returned {len(results)} results for {len(batch)} requests",
                backend=inner.name,
                model=inner.model,
            )
        records: list[SampleRecord] = []
        for position, result in zip(positions, results, strict=True):
            samples = result.samples[:length]
            prompt_shares = split_evenly(result.usage.prompt_tokens, len(samples)) if samples else []
            for offset, sample in enumerate(samples):
                share = Usage(prompt_shares[offset], sample.completion_tokens, result.usage.latency_s / len(samples))
                index = start + offset
                request = requests[position]
                key = keys[position][index]
                records.append(
                    SampleRecord(key, sample, share, self.identity, request, settings, index, inner.name, inner.model)
                )
        self.store.put(records)  # what came is kept even when it is short of what was asked for
        for position, result in zip(positions, results, strict=True):
            if len(result.samples) != length:
                raise BackendError(
                    f"the {inner.name!r} backend returned {len(result.samples)} samples, {length} were asked for",
                    backend=inner.name,
                    model=inner.model,
                )
            slots[position][start : start + length] = result.samples
            usages[position] += result.usage
