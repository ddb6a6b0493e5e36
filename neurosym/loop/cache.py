"""An on-disk, content-addressed cache (one SQLite file) of model samples and prover verdicts.

Re-running a finished benchmark costs no model calls, and a run killed half way resumes where it
stopped: every sample and every verdict is committed the moment it is known, so a kill loses at
most the model call (or prover call) that was in flight.

* **Samples** are keyed by :func:`~neurosym.translators.store.keys.sample_key` (also importable
  here as ``response_key``): the backend's identity (its kind, the model and, for a local model
  file, the file's sha256; see :mod:`neurosym.translators.identity`), the request (messages and
  constraint), the resolved sampling settings *without* ``n``, and the sample's index. Each
  sample is stored on its own, so asking for ``n=5`` after ``n=3`` was cached costs only samples
  3 and 4. Cassettes (:mod:`neurosym.translators.backends.replay`) key their samples with the
  same function.
* **Verdicts** are keyed by :func:`verdict_key`: the formalization's text, its target and the
  prover's settings (name, version, options, the time limit). ``timeout`` verdicts are never
  stored (see :meth:`Cache.put_verdict`).

:class:`SqliteSampleStore` is the samples table as a :class:`~neurosym.translators.store.SampleStore`;
:class:`CachedBackend` is the :class:`~neurosym.translators.store.StoredBackend` over it, which wraps
any :class:`~neurosym.translators.base.LLMBackend` with the cache. :class:`CachedChecker` wraps the
loop's checker (``refine(..., verdict_cache=cache)`` does it).

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
from typing import Any

from neurosym.errors import ConfigurationError, InputError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import GenerationRequest, LLMBackend, Sample, Usage
from neurosym.translators.store import SampleRecord, StoredBackend, StoredSample, canonical_json, keyed_settings
from neurosym.translators.store import sample_key as response_key  # its 0.1 name here, kept for one release
from neurosym.types import Formalization, Verdict

__all__ = [
    "SCHEMA_VERSION",
    "Cache",
    "CachedBackend",
    "CachedChecker",
    "CachedSample",
    "SqliteSampleStore",
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


def _sha256(blob: str) -> str:
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


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
    return _sha256(canonical_json(payload, "the prover settings"))


_INSERT_SAMPLE = (
    "INSERT OR IGNORE INTO responses (key, backend, model, identity_json, request_json, settings_json, "
    "sample_index, text, finish_reason, completion_tokens, prompt_tokens, latency_s, created) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _sample_row(
    key: str,
    sample: Sample,
    usage: Usage,
    backend: str,
    model: str,
    identity: Mapping[str, Any] | None,
    request: GenerationRequest | None,
    settings: SamplingSettings | None,
    sample_index: int,
) -> tuple[Any, ...]:
    """The values of one row of the samples table, in the order of ``_INSERT_SAMPLE``."""
    request_json = canonical_json(request.to_dict(), "the request") if request is not None else "null"
    settings_json = canonical_json(keyed_settings(settings or SamplingSettings()), "the settings")
    identity_json = canonical_json(dict(identity or {}), "the backend identity")
    return (
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
    )


CachedSample = StoredSample
"""A cached sample and its share of the usage of the call that produced it (the store's :class:`StoredSample`)."""


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
        row = _sample_row(key, sample, usage, backend, model, identity, request, settings, sample_index)
        self._execute(_INSERT_SAMPLE, row)

    def put_samples(self, records: Sequence[SampleRecord]) -> None:
        """Store the samples of one model call in one transaction, committed before this returns.

        As :meth:`put_sample` for each record: the first sample stored under a key wins.

        Example:
            >>> import tempfile, pathlib
            >>> from neurosym.translators.base import GenerationRequest
            >>> request, model = GenerationRequest.from_prompt("hi"), {"kind": "scripted", "model": "m"}
            >>> records = [SampleRecord.of(model, request, SamplingSettings(n=2), i, Sample(f"s{i}"), Usage())
            ...            for i in range(2)]
            >>> with Cache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite") as cache:
            ...     cache.put_samples(records)
            ...     cache.get_sample(response_key(model, request, SamplingSettings(), 1)).sample.text
            's1'

        """
        rows = [
            _sample_row(r.key, r.sample, r.usage, r.backend, r.model, r.identity, r.request, r.settings, r.sample_index)
            for r in records
        ]
        if not rows:
            return
        with self._lock:
            if self._closed:
                raise ConfigurationError(f"the cache {self.path} is closed")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT_SAMPLE, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

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
                canonical_json(dict(prover_settings or {}), "the prover settings"),
                target,
                formalization,
                json.dumps(verdict.to_dict(), ensure_ascii=False, default=str),
                time.time(),
            ),
        )
        return True


class SqliteSampleStore:
    """The samples table of ``cache`` as a :class:`~neurosym.translators.store.SampleStore`.

    Lookups are one query per 500 keys; the samples of one model call are stored in one
    transaction. The first sample stored under a key wins, so two processes that raced for the
    same sample agree on it from then on.

    Example:
        >>> import tempfile, pathlib
        >>> with Cache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite") as cache:
        ...     cache.put_sample("k", Sample("P(a)"))
        ...     [found, missing] = SqliteSampleStore(cache).get_many(["k", "other"])
        >>> found.sample.text, missing
        ('P(a)', None)

    """

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    @property
    def description(self) -> str:
        """``the cache PATH``, for messages."""
        return f"the cache {self.cache.path}"

    def __repr__(self) -> str:
        return f"SqliteSampleStore({self.cache!r})"

    def get_many(self, keys: Sequence[str]) -> list[StoredSample | None]:
        """The stored sample of each key, or None."""
        found = self.cache.get_samples(keys)
        return [found.get(key) for key in keys]

    def put(self, records: Sequence[SampleRecord]) -> None:
        """Store one model call's samples (see :meth:`Cache.put_samples`)."""
        self.cache.put_samples(records)


class CachedBackend(StoredBackend):
    """An :class:`~neurosym.translators.base.LLMBackend` that serves samples from ``cache`` first.

    The :class:`~neurosym.translators.store.StoredBackend` over :class:`SqliteSampleStore`
    ``(cache)`` in mode ``"reuse"``: for each request and each sample index ``0 … n-1`` the cache
    is looked up under the *inner* backend's identity (read once here), only the missing samples
    go to ``inner`` (in contiguous runs with seed ``seed + first index``, under the seed contract
    described there), and each call's samples are stored as soon as it returns. Requests whose
    samples are all cached never reach ``inner``.

    Each result carries the samples in index order and the usage of its cached samples (their
    stored shares) plus the usage of the new calls. ``hits`` and ``misses`` count samples served
    from the cache and asked of ``inner``, over the backend's life. Two threads (or processes)
    that miss the same sample at once both ask ``inner`` for it; the first to store it wins in the
    cache, and each caller gets the sample it was given.
    """

    def __init__(self, inner: LLMBackend, cache: Cache) -> None:
        self.cache = cache
        super().__init__(inner, SqliteSampleStore(cache))

    def __repr__(self) -> str:
        return f"CachedBackend({self.inner!r}, {self.cache!r})"


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
    canonical: dict[str, Any] = json.loads(canonical_json(settings, "the target's options"))
    return canonical


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
