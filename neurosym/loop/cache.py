"""An on-disk, content-addressed cache (one SQLite file) of model samples and prover verdicts.

Re-running a finished benchmark costs no model calls, and a run killed half way resumes where it
stopped: every sample and every verdict is committed the moment it is known, so a kill loses at
most the model call (or prover call) that was in flight.

* **Samples** are keyed by :func:`response_key`: the backend's identity (its kind, the model and,
  for a local model file, the file's sha256; see :mod:`neurosym.translators.identity`), the
  request (messages and constraint), the resolved sampling settings *without* ``n``, and the
  sample's index. Each sample is stored on its own, so asking for ``n=5`` after ``n=3`` was
  cached costs only samples 3 and 4. Cassettes (:mod:`neurosym.translators.backends.replay`) key
  their samples with the same function.
* **Verdicts** are keyed by :func:`verdict_key`: the formalization's text, its target and the
  prover's settings (name, version, options, the time limit). ``timeout`` verdicts are never
  stored (see :meth:`Cache.put_verdict`).

:class:`CachedBackend` wraps any :class:`~neurosym.translators.base.LLMBackend` with the cache, and
:class:`CachedChecker` wraps the loop's checker (``refine(..., verdict_cache=cache)`` does it).

The file is safe to share between threads (one connection behind a lock) and between processes
(SQLite's WAL mode, a busy timeout and one short transaction per write). WAL needs a local file
system; do not put the cache on NFS.

Example:
    >>> import tempfile, pathlib
    >>> from neurosym.settings import SamplingSettings
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.translators.base import GenerationRequest
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite"
    >>> request = GenerationRequest.from_prompt("Formalise: Rex is a dog.")
    >>> with Cache(path) as cache:
    ...     backend = CachedBackend(ScriptedBackend(lambda request, index: "Dog(rex)"), cache)
    ...     first = backend.generate([request], settings=SamplingSettings(n=2, temperature=0.8))
    ...     again = backend.generate([request], settings=SamplingSettings(n=3, temperature=0.8))
    ...     print(again[0].texts, backend.hits, backend.misses, cache.stats())
    ['Dog(rex)', 'Dog(rex)', 'Dog(rex)'] 2 3 {'responses': 3, 'verdicts': 0}

The second call found samples 0 and 1 in the cache and asked the scripted backend only for
sample 2 (one sample, seed ``0 + 2``).

"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from neurosym.errors import BackendError, ConfigurationError, InputError
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
from neurosym.translators.identity import backend_identity, normalize_identity
from neurosym.types import Formalization, Verdict

__all__ = [
    "SCHEMA_VERSION",
    "Cache",
    "CachedBackend",
    "CachedChecker",
    "CachedSample",
    "response_key",
    "target_settings",
    "verdict_key",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
"""The layout of the cache file (tables and key derivation); a file with another version is refused.

Version 2 (response keys from the backend's identity, which holds a local model file's sha256;
an ``identity_json`` column) replaced version 1 (keys from the backend's and the model's names).
"""

_OLDER_VERSIONS = {
    "1": "version 1 keys its samples by the backend's and the model's names, not the model file's checksum, "
    "so this version would never find them",
}

_APPLICATION = "neurosym-cache"
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS responses (
        key TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        model TEXT NOT NULL,
        identity_json TEXT NOT NULL,
        request_json TEXT NOT NULL,
        settings_json TEXT NOT NULL,
        sample_index INTEGER NOT NULL,
        text TEXT NOT NULL,
        finish_reason TEXT,
        completion_tokens INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        latency_s REAL NOT NULL,
        created REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS verdicts (
        key TEXT PRIMARY KEY,
        prover_settings_json TEXT NOT NULL,
        target TEXT NOT NULL,
        formalization TEXT NOT NULL,
        verdict_json TEXT NOT NULL,
        created REAL NOT NULL
    )""",
)


def _canonical_json(payload: Any, what: str) -> str:
    try:
        return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        # str() of an arbitrary object may hold a memory address; such a key would never hit again.
        raise ConfigurationError(f"{what} cannot be part of a cache key: {err}") from err


def _sha256(blob: str) -> str:
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _keyed_settings(settings: SamplingSettings) -> dict[str, Any]:
    """The resolved settings as they enter a response key: ``n`` dropped, floats made floats."""
    resolved = settings.resolved().to_dict()
    resolved.pop("n", None)
    for name in ("temperature", "top_p"):  # temperature=1 and temperature=1.0 are the same setting
        if isinstance(resolved.get(name), int):
            resolved[name] = float(resolved[name])
    return resolved


def response_key(
    identity: Mapping[str, Any], request: GenerationRequest, settings: SamplingSettings, sample_index: int
) -> str:
    """The hash that identifies one sample: sha256 of the canonical JSON of everything that decides it.

    The key holds the backend's identity (:func:`~neurosym.translators.identity.backend_identity`:
    the kind of backend, the model and, for a local model file, its sha256), the request
    (messages and constraint) and the settings resolved against the defaults (so
    ``SamplingSettings()`` and the explicit defaults share keys), with the seed the sample was
    drawn with, ``seed + sample_index``, in place of the seed and the index. It leaves out
    ``settings.n``: sample ``i`` of a request is drawn with seed ``seed + i`` however many samples
    were asked for (the seed contract of :class:`CachedBackend`), so sample 2 of an ``n=5`` call
    with seed 0 is sample 0 of an ``n=2`` call with seed 2, as adaptive sampling asks for it.

    The function is pure: the same arguments give the same key in any process. Settings whose
    ``extra`` holds values JSON cannot represent raise :class:`~neurosym.errors.ConfigurationError`.

    Example:
        >>> r, m = GenerationRequest.from_prompt("hi"), {"kind": "x", "model": "m"}
        >>> response_key(m, r, SamplingSettings(n=2), 0) == response_key(m, r, SamplingSettings(n=7), 0)
        True
        >>> response_key(m, r, SamplingSettings(), 0) == response_key(m, r, SamplingSettings(), 1)
        False
        >>> s0, s2 = SamplingSettings(seed=0), SamplingSettings(seed=2)
        >>> response_key(m, r, s0, 2) == response_key(m, r, s2, 0)
        True
        >>> response_key({"kind": "x", "model": "other"}, r, s0, 0) == response_key(m, r, s0, 0)
        False

    """
    if isinstance(sample_index, bool) or not isinstance(sample_index, int) or sample_index < 0:
        raise ConfigurationError(f"sample_index must be a non-negative integer, got {sample_index!r}")
    keyed = _keyed_settings(settings)
    keyed["seed"] = (keyed.get("seed") or 0) + sample_index
    payload = {"identity": normalize_identity(identity), "request": request.to_dict(), "settings": keyed}
    return _sha256(_canonical_json(payload, "the backend identity, the request or its sampling settings"))


def verdict_key(formalization_text: str, target: str, prover_settings: Mapping[str, Any]) -> str:
    """The hash that identifies a prover's verdict on one formalization.

    ``prover_settings`` should be the prover's ``to_dict()`` (name, version, options) plus
    anything else the verdict depends on, the time limit in particular (``{**prover.to_dict(),
    "timeout_s": 10.0}``). The text is hashed exactly as given: two formalizations that differ
    only in white space are different keys. The function is pure.

    Example:
        >>> verdict_key("P(a)", "fol", {"name": "z3", "timeout_s": 5}) == verdict_key(
        ...     "P(a)", "fol", {"timeout_s": 5, "name": "z3"})
        True
        >>> verdict_key("P(a)", "fol", {"name": "z3"}) == verdict_key("P(a)", "fol", {"name": "eprover"})
        False

    """
    payload = {"formalization": formalization_text, "target": target, "prover": dict(prover_settings)}
    return _sha256(_canonical_json(payload, "the prover settings"))


class CachedSample(NamedTuple):
    """A cached sample and its share of the usage of the call that produced it."""

    sample: Sample
    usage: Usage


class Cache:
    """The cache file at ``path`` (created, with its folder, if missing).

    Raises:
        InputError: the file is not SQLite, is a SQLite file that is not a neurosym cache, or is a
            neurosym cache of another schema version. The file is never changed in these cases.

    Example:
        >>> import tempfile, pathlib
        >>> with Cache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite") as cache:
        ...     key = verdict_key("P(a)", "fol", {"name": "z3", "timeout_s": 5})
        ...     cache.put_verdict(key, Verdict("proved", prover="z3"))
        ...     cache.get_verdict(key)["status"], cache.stats()
        True
        ('proved', {'responses': 0, 'verdicts': 1})

    """

    def __init__(self, path: Path | str, *, busy_timeout_s: float = _BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the folder of the cache {self.path}: {err}", path=str(self.path)) from err
        try:
            # isolation_level=None: autocommit, so every single-statement write is its own
            # transaction, committed before the call returns.
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as err:
            raise InputError(f"cannot open the cache {self.path}: {err}", path=str(self.path)) from err
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._check_or_create_schema()
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a killed process loses nothing committed; only a power cut or an
            # OS crash may lose the last few commits (the file stays consistent either way).
            self._db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as err:
            self._db.close()
            if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
                raise InputError(
                    f"the cache {self.path} stayed locked by another process for {busy_timeout_s} s: {err}",
                    path=str(self.path),
                ) from err
            raise InputError(
                f"{self.path} is not a readable SQLite file ({err}); it is not a neurosym cache, or it is "
                "corrupt. Move it away or pass another path; it was left untouched",
                path=str(self.path),
            ) from err
        except InputError:
            self._db.close()
            raise

    def _check_or_create_schema(self) -> None:
        db = self._db
        # An immediate transaction takes the write lock first, so two processes that open a new
        # file at once cannot both create the schema (the second waits, then finds it).
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("application", _APPLICATION), ("schema_version", str(SCHEMA_VERSION))],
                )
                logger.info("created the cache %s (schema version %d)", self.path, SCHEMA_VERSION)
            else:
                meta: dict[str, str] = {}
                if "meta" in tables:
                    try:
                        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
                    except sqlite3.OperationalError:
                        meta = {}
                if meta.get("application") != _APPLICATION:
                    raise InputError(
                        f"{self.path} is a SQLite file but not a neurosym cache (tables: {', '.join(sorted(tables))}); "
                        "pass another path; it was left untouched",
                        path=str(self.path),
                    )
                version = meta.get("schema_version")
                if version != str(SCHEMA_VERSION):
                    why = f" ({_OLDER_VERSIONS[version]})" if version in _OLDER_VERSIONS else ""
                    raise InputError(
                        f"the cache {self.path} has schema version {version}, this neurosym reads version "
                        f"{SCHEMA_VERSION}{why}; use another path, or delete the file to start an empty cache",
                        path=str(self.path),
                        schema_version=version,
                    )
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the failure already ended the transaction
            raise
        db.execute("COMMIT")

    # -- plumbing ---------------------------------------------------------------------------------

    def _execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            if self._closed:
                raise ConfigurationError(f"the cache {self.path} is closed")
            return self._db.execute(sql, parameters).fetchall()

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r})"

    def stats(self) -> dict[str, int]:
        """How many rows each table holds: ``{"responses": ..., "verdicts": ...}``."""
        return {table: self._execute(f"SELECT COUNT(*) FROM {table}")[0][0] for table in ("responses", "verdicts")}

    # -- samples ----------------------------------------------------------------------------------

    def get_sample(self, key: str) -> CachedSample | None:
        """The sample stored under ``key`` with its usage share, or None."""
        rows = self._execute(
            "SELECT text, finish_reason, completion_tokens, prompt_tokens, latency_s FROM responses WHERE key = ?",
            (key,),
        )
        if not rows:
            return None
        text, finish_reason, completion_tokens, prompt_tokens, latency_s = rows[0]
        return CachedSample(
            Sample(text, finish_reason, completion_tokens), Usage(prompt_tokens, completion_tokens, latency_s)
        )

    def get_samples(self, keys: Sequence[str]) -> dict[str, CachedSample]:
        """The samples stored under any of ``keys`` (one query per 500 keys), by key."""
        found: dict[str, CachedSample] = {}
        unique = list(dict.fromkeys(keys))
        for first in range(0, len(unique), 500):
            chunk = unique[first : first + 500]
            rows = self._execute(
                "SELECT key, text, finish_reason, completion_tokens, prompt_tokens, latency_s FROM responses "
                f"WHERE key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            for key, text, finish_reason, completion_tokens, prompt_tokens, latency_s in rows:
                found[key] = CachedSample(
                    Sample(text, finish_reason, completion_tokens), Usage(prompt_tokens, completion_tokens, latency_s)
                )
        return found

    def put_sample(
        self,
        key: str,
        sample: Sample,
        usage: Usage | None = None,
        *,
        backend: str = "",
        model: str = "",
        identity: Mapping[str, Any] | None = None,
        request: GenerationRequest | None = None,
        settings: SamplingSettings | None = None,
        sample_index: int = 0,
    ) -> None:
        """Store ``sample`` under ``key`` and commit at once.

        ``usage`` is the sample's share of its call's usage (its completion tokens are the
        sample's own). The keyword arguments are stored beside the sample for inspection; only
        ``key`` finds it. The first sample stored under a key wins: a second put of the same key
        (another thread or process that raced for the same sample) is ignored.
        """
        usage = usage or Usage(0, sample.completion_tokens, 0.0)
        request_json = _canonical_json(request.to_dict(), "the request") if request is not None else "null"
        settings_json = _canonical_json(_keyed_settings(settings or SamplingSettings()), "the settings")
        identity_json = _canonical_json(dict(identity or {}), "the backend identity")
        self._execute(
            "INSERT OR IGNORE INTO responses (key, backend, model, identity_json, request_json, settings_json, "
            "sample_index, text, finish_reason, completion_tokens, prompt_tokens, latency_s, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                backend,
                model,
                identity_json,
                request_json,
                settings_json,
                sample_index,
                sample.text,
                sample.finish_reason,
                sample.completion_tokens,
                usage.prompt_tokens,
                usage.latency_s,
                time.time(),
            ),
        )

    # -- verdicts ---------------------------------------------------------------------------------

    def get_verdict(self, key: str) -> dict[str, Any] | None:
        """The verdict stored under ``key`` in its :meth:`Verdict.to_dict` form, or None."""
        rows = self._execute("SELECT verdict_json FROM verdicts WHERE key = ?", (key,))
        if not rows:
            return None
        verdict: dict[str, Any] = json.loads(rows[0][0])
        return verdict

    def put_verdict(
        self,
        key: str,
        verdict: Verdict,
        *,
        formalization: str = "",
        target: str = "",
        prover_settings: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store ``verdict`` under ``key`` and commit at once; return whether it was stored.

        A ``timeout`` is never stored (False is returned): it says how long the prover had, not
        what the formalization is, and a retry with more time or on a less loaded machine may
        decide it. Every other status is a deterministic outcome of the formalization and the
        prover settings in the key (the provers report running out of time or memory as
        ``timeout``, not ``unknown``). A stored verdict is replaced by a newer one for the same key.
        The keyword arguments are stored beside it for inspection.
        """
        if verdict.status == "timeout":
            return False
        self._execute(
            "INSERT OR REPLACE INTO verdicts (key, prover_settings_json, target, formalization, verdict_json, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                _canonical_json(dict(prover_settings or {}), "the prover settings"),
                target,
                formalization,
                json.dumps(verdict.to_dict(), ensure_ascii=False, default=str),
                time.time(),
            ),
        )
        return True


class CachedBackend:
    """An :class:`~neurosym.translators.base.LLMBackend` that serves samples from ``cache`` first.

    For each request and each sample index ``0 … n-1`` the cache is looked up by
    :func:`response_key` (under the *inner* backend's identity, read once here). Only the missing
    samples go to ``inner``, and each is stored as soon as the call that made it returns. Requests whose
    samples are all cached never reach ``inner``; a call with no misses at all makes no inner
    call.

    **The seed contract.** Sample ``i`` of a request is the sample drawn with seed ``seed + i``.
    The backends that loop over samples keep it: the embedded llama.cpp backend draws sample ``i``
    with seed ``seed + i``, and so does the OpenAI-compatible backend against a server that
    ignores ``n`` (llama.cpp's). So the missing samples of a request are asked for in contiguous
    runs: a run of ``k`` missing samples starting at index ``i`` is one inner call with ``n=k``
    and ``seed=seed + i``, and sample ``i`` comes out the same whichever samples happened to be
    cached. Requests with the same missing run share one inner call. Backends that draw all
    ``n`` samples from one seeded stream (vLLM's ``SamplingParams(n)``, an OpenAI-compatible
    server that honours ``n``, transformers' ``num_return_sequences``) keep it only at
    temperature 0: otherwise their cached samples are valid samples, but sample 3 drawn by a
    later call with seed ``seed + 3`` is not the sample 3 an uncached ``n=5`` call would have
    drawn, and a run resumed from the cache is not bit-identical to an uncached one.

    Each result carries the samples in index order and the usage of its cached samples (their
    stored shares) plus the usage of the new calls. ``hits`` and ``misses`` count samples served
    from the cache and asked of ``inner``, over the backend's life.

    Two threads (or processes) that miss the same sample at once both ask ``inner`` for it; the
    first to store it wins in the cache, and each caller gets the sample it was given.
    """

    def __init__(self, inner: LLMBackend, cache: Cache) -> None:
        self.inner = inner
        self.cache = cache
        self.name: str = inner.name
        self.model: str = inner.model
        self.identity: dict[str, Any] = backend_identity(inner)
        self.hits = 0
        self.misses = 0
        self._counter_lock = threading.Lock()

    @property
    def supports_grammar(self) -> bool:
        """The wrapped backend's (read when asked: an OpenAI-compatible backend may probe its server for it)."""
        return bool(getattr(self.inner, "supports_grammar", False))

    def __repr__(self) -> str:
        return f"CachedBackend({self.inner!r}, {self.cache!r})"

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """One result per request with ``settings.n`` samples, from the cache where it can.

        ``progress`` sees cached samples whole, at once, and new ones as the inner backend writes them.
        """
        resolved = (settings or SamplingSettings()).resolved()
        n, seed = resolved.n or 1, resolved.seed or 0
        backend, model = self.inner.name, self.inner.model

        keys = [[response_key(self.identity, r, resolved, i) for i in range(n)] for r in requests]
        cached = self.cache.get_samples([key for request_keys in keys for key in request_keys])
        slots: list[list[Sample | None]] = []
        usages: list[Usage] = []
        runs: dict[tuple[int, int], list[int]] = {}  # (first index, length) -> request positions
        hits = 0
        for position, request_keys in enumerate(keys):
            samples: list[Sample | None] = []
            usage = Usage()
            for key in request_keys:
                found = cached.get(key)
                if found is None:
                    samples.append(None)
                else:
                    report_finished(progress, position, [found.sample], first_sample=len(samples))
                    samples.append(found.sample)
                    usage += found.usage
                    hits += 1
            for run in missing_runs([s is not None for s in samples]):
                runs.setdefault(run, []).append(position)
            slots.append(samples)
            usages.append(usage)
        misses = sum(length * len(positions) for (_, length), positions in runs.items())
        with self._counter_lock:
            self.hits += hits
            self.misses += misses
        if misses:
            logger.debug("cache: %d samples cached, %d to generate in %d calls", hits, misses, len(runs))

        for (start, length), positions in runs.items():
            run_settings = dataclasses.replace(resolved, n=length, seed=seed + start)
            batch = [requests[p] for p in positions]
            inner_progress = renumber_progress(progress, positions, first_sample=start)
            if inner_progress is None:
                results = self.inner.generate(batch, settings=run_settings)
            else:
                results = self.inner.generate(batch, settings=run_settings, progress=inner_progress)
            if len(results) != len(batch):
                raise BackendError(
                    f"the {backend!r} backend returned {len(results)} results for {len(batch)} requests",
                    backend=backend,
                    model=model,
                )
            for position, result in zip(positions, results, strict=True):
                self._store(requests[position], resolved, keys[position][start : start + length], start, result)
                if len(result.samples) != length:
                    raise BackendError(
                        f"the {backend!r} backend returned {len(result.samples)} samples, {length} were asked for",
                        backend=backend,
                        model=model,
                    )
                slots[position][start : start + length] = result.samples
                usages[position] += result.usage

        out = []
        for samples, usage in zip(slots, usages, strict=True):
            complete = tuple(s for s in samples if s is not None)
            out.append(GenerationResult(complete, usage, backend, model))
        return out

    def _store(
        self,
        request: GenerationRequest,
        settings: SamplingSettings,
        keys: Sequence[str],
        start: int,
        result: GenerationResult,
    ) -> None:
        """Store the samples of one inner result under ``keys`` (indices ``start …``), with usage shares."""
        samples = result.samples[: len(keys)]
        if not samples:
            return
        prompt_shares = split_evenly(result.usage.prompt_tokens, len(samples))
        latency_share = result.usage.latency_s / len(samples)
        for offset, (key, sample) in enumerate(zip(keys, samples, strict=False)):
            self.cache.put_sample(
                key,
                sample,
                Usage(prompt_shares[offset], sample.completion_tokens, latency_share),
                backend=self.inner.name,
                model=self.inner.model,
                identity=self.identity,
                request=request,
                settings=settings,
                sample_index=start + offset,
            )


def target_settings(target: Any, timeout_s: float) -> dict[str, Any]:
    """What a verdict depends on besides the formalization: the target's fingerprint, the time limit, versions.

    The fingerprint is ``target.fingerprint()`` (its options and its tools' versions); a target
    without one is described by its dataclass fields.

    Example:
        >>> from neurosym.targets.fol import FolTarget
        >>> settings = target_settings(FolTarget(), 10.0)
        >>> settings["target"]["provers"], settings["timeout_s"]
        (['z3'], 10.0)

    """
    import neurosym

    if callable(getattr(target, "fingerprint", None)):
        fingerprint = dict(target.fingerprint())
    elif dataclasses.is_dataclass(target) and not isinstance(target, type):
        fingerprint = {"target": dataclasses.asdict(target)}
    else:
        fingerprint = {"target": {"repr": repr(target)}}
    settings: dict[str, Any] = {**fingerprint, "timeout_s": timeout_s, "neurosym": neurosym.__version__}
    return json.loads(_canonical_json(settings, "the target's options"))


class CachedChecker:
    r"""A loop checker that looks verdicts up in the cache first and stores the ones it computes.

    Keyed by :func:`verdict_key` over the formalization's text, the target's name and
    :func:`target_settings`. A hit costs no prover call. ``timeout`` and ``unknown`` verdicts are
    not stored: behind the loop's checker, ``unknown`` may also mean a crashed worker or sandbox.
    ``hits`` and ``misses`` count lookups.

    Example:
        >>> import tempfile, pathlib
        >>> from neurosym.loop.refine import check_inline
        >>> from neurosym.targets.fol import FolTarget
        >>> from neurosym.types import Problem
        >>> target = FolTarget(constrained=False)
        >>> text = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"
        >>> f = target.parse(Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?"), text)
        >>> with Cache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite") as cache:
        ...     checker = CachedChecker(check_inline, cache)
        ...     first, again = checker(target, f, 5.0), checker(target, f, 5.0)
        >>> first.to_dict() == again.to_dict(), again.certificate.render(), (checker.hits, checker.misses)
        (True, 'premises used: 1\n  [1] Dog(rex)', (1, 1))

    """

    def __init__(self, checker: Callable[[Any, Formalization, float], Verdict], cache: Cache) -> None:
        self.checker = checker
        self.cache = cache
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def __call__(self, target: Any, formalization: Formalization, timeout_s: float) -> Verdict:
        """The stored verdict on ``formalization``, or the wrapped checker's (then stored)."""
        settings = target_settings(target, timeout_s)
        key = verdict_key(formalization.source, getattr(target, "name", type(target).__name__), settings)
        stored = self.cache.get_verdict(key)
        if stored is not None:
            try:
                verdict = Verdict.from_dict(stored)
            except (KeyError, TypeError, ValueError):  # written by another version: decide again
                verdict = None
            if verdict is not None:
                with self._lock:
                    self.hits += 1
                return verdict
        with self._lock:
            self.misses += 1
        verdict = self.checker(target, formalization, timeout_s)
        if verdict.status == "unknown":
            return verdict
        self.cache.put_verdict(key, verdict, formalization=formalization.source,
                               target=getattr(target, "name", ""), prover_settings=settings)  # fmt: skip
        return verdict

    def __repr__(self) -> str:
        return f"CachedChecker({self.checker!r}, {self.cache!r})"
