"""Sample storage: one wrapper backend over a pluggable store of model samples.

Caching samples (a run that resumes where it stopped), recording them to a cassette and
replaying a cassette without the model are one algorithm over different stores:

* :class:`StoredBackend` wraps any :class:`~neurosym.translators.base.LLMBackend`: for each
  request and sample index it looks the store up by :func:`sample_key`, asks the inner backend
  only for the contiguous runs of missing samples (``n=length``, ``seed=seed + first index``,
  requests with the same run in one call), and stores each call's samples as soon as it returns.
  Its ``mode`` says what it does with the store: ``"reuse"`` (serve, then ask), ``"record"``
  (always ask) or ``"replay"`` (serve only; a miss raises :class:`CassetteMiss`).
* A :class:`SampleStore` has ``get_many(keys)`` and ``put(records)``:
  :class:`~neurosym.translators.store.cassette.CassetteStore` (a JSONL cassette that survives
  kills), :class:`neurosym.loop.cache.SqliteSampleStore` (the samples table of a
  :class:`neurosym.loop.cache.Cache` file) and :class:`MemoryStore` (a dict).

The familiar wrappers are configurations of it: ``CachedBackend(inner, cache)``
(:mod:`neurosym.loop.cache`), ``RecordingBackend(inner, path)`` and ``ReplayBackend(path)``
(:mod:`neurosym.translators.backends.replay`).

Example:
    >>> import tempfile, pathlib
    >>> from neurosym.settings import SamplingSettings
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.translators.base import GenerationRequest
    >>> cassette = CassetteStore(pathlib.Path(tempfile.mkdtemp()) / "run.jsonl")
    >>> backend = StoredBackend(ScriptedBackend(lambda request, index: "Dog(rex)"), cassette)
    >>> request = GenerationRequest.from_prompt("Formalise: Rex is a dog.")
    >>> first = backend.generate([request], settings=SamplingSettings(n=2, temperature=0.8))
    >>> again = backend.generate([request], settings=SamplingSettings(n=3, temperature=0.8))
    >>> again[0].texts, backend.hits, backend.misses, len(cassette)
    (['Dog(rex)', 'Dog(rex)', 'Dog(rex)'], 2, 3, 3)

"""

from neurosym.translators.store.backend import (
    MODES,
    CassetteMiss,
    MemoryStore,
    SampleRecord,
    SampleStore,
    StoredBackend,
    StoredSample,
)
from neurosym.translators.store.cassette import CassetteStore
from neurosym.translators.store.keys import canonical_json, keyed_settings, sample_key

__all__ = [
    "MODES",
    "CassetteMiss",
    "CassetteStore",
    "MemoryStore",
    "SampleRecord",
    "SampleStore",
    "StoredBackend",
    "StoredSample",
    "canonical_json",
    "keyed_settings",
    "sample_key",
]
