"""Record every model sample to a JSONL cassette, and replay it later without the model.

A cassette holds one line per *sample*: the request, the sampling settings, the sample's index,
the identity of the model that drew it (:mod:`neurosym.translators.identity`) and the sample
itself with its share of the usage. Sample ``i`` of a request is the one drawn with seed
``seed + i`` (the seed contract of :class:`neurosym.loop.cache.CachedBackend`), so it is keyed by
:func:`cassette_key` without ``n``: a cassette recorded with ``n=5`` replays a run that asks for
samples two at a time, and two strategies that draw the same samples share one recording. The key
holds the model's identity, so samples of one model are never served as another's.

* :class:`RecordingBackend` passes requests to a real backend and appends each sample as soon as
  its call returns, so a killed run keeps everything it finished. With ``resume=True`` it first
  serves what the cassette already holds *for this model* and asks the model only for the rest
  (a long benchmark recording picks up where it stopped).
* :class:`ReplayBackend` serves recorded samples as the model that recorded them and fails loudly
  (:class:`CassetteMiss`) on anything it has not seen, so a benchmark re-run from a cassette is
  exactly the recorded one.

Surviving kills: each call's records are appended with one ``os.write`` on a file opened with
``O_APPEND``, under an ``flock`` (two recorders may share a cassette). A run killed during that
write leaves a torn last line, possibly cut inside a UTF-8 character. The loader reads bytes and
decodes line by line, skipping (with a warning naming the line) any line that is not a whole
record, and the next append first cuts the torn line off, so the next record starts on its own
line. There is no ``fsync``: a killed process loses nothing that ``os.write`` handed to the
kernel, and what an operating-system crash could lose is at most the last few samples, which a
resumed recording asks for again.

Keys are recomputed from each record's content when a cassette is read, not taken from its
``key`` field, so cassettes written before keys held the model (records with ``backend`` and
``model`` fields only) replay as the model that recorded them, and any later change of the key
derivation needs no migration.

Example:
    >>> import tempfile, pathlib
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.translators.base import GenerationRequest
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.jsonl"
    >>> request = GenerationRequest.from_prompt("Formalise: Rex is a dog.")
    >>> recorded = RecordingBackend(ScriptedBackend(["Dog(rex)"]), path).generate([request])
    >>> ReplayBackend(path).generate([request])[0].texts
    ['Dog(rex)']
    >>> ReplayBackend(path).identity
    {'kind': 'scripted', 'model': 'scripted'}

"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from neurosym.errors import BackendError, ConfigurationError, InputError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import (
    Constraint,
    GenerationRequest,
    GenerationResult,
    LLMBackend,
    Message,
    ProgressCallback,
    Sample,
    Usage,
    missing_runs,
    renumber_progress,
    report_finished,
    split_evenly,
)
from neurosym.translators.identity import backend_identity, identity_label, recorded_identity

__all__ = ["CassetteMiss", "RecordingBackend", "ReplayBackend", "cassette_key"]

logger = logging.getLogger(__name__)

_RECORD_START = b'{"key": '
"""How every record line begins (``key`` is the first field written); a torn first record starts so too."""
_TAIL_CHUNK = 1 << 16
_SHOWN_SKIPS = 10


class CassetteMiss(ConfigurationError):
    """A replayed run asked for a request the cassette does not hold."""


def cassette_key(
    identity: Mapping[str, Any], request: GenerationRequest, settings: SamplingSettings, sample_index: int = 0
) -> str:
    """The hash that identifies one sample in a cassette: model, messages, constraint, settings (not ``n``), index.

    It is :func:`neurosym.loop.cache.response_key` itself, so a cassette and a cache cannot
    disagree on what makes two samples the same.

    Example:
        >>> r, model = GenerationRequest.from_prompt("hi"), {"kind": "openai", "model": "m"}
        >>> cassette_key(model, r, SamplingSettings(n=2)) == cassette_key(model, r, SamplingSettings(n=3))
        True
        >>> cassette_key(model, r, SamplingSettings(), 0) == cassette_key(model, r, SamplingSettings(), 1)
        False
        >>> cassette_key({"kind": "openai", "model": "other"}, r, SamplingSettings()) == cassette_key(
        ...     model, r, SamplingSettings())
        False

    """
    from neurosym.loop.cache import response_key  # imported here: the loop package imports the translators

    return response_key(identity, request, settings, sample_index)


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    """One cassette line, read back."""

    key: str
    identity: dict[str, Any]
    sample: Sample
    usage: Usage
    grammar: bool


def _request_from_dict(data: Mapping[str, Any]) -> GenerationRequest:
    constraint = data.get("constraint")
    return GenerationRequest(
        tuple(Message(m["role"], m["content"]) for m in data["messages"]),
        Constraint(constraint["kind"], constraint["value"]) if constraint else None,
    )


def _settings_from_dict(data: Mapping[str, Any]) -> SamplingSettings:
    fields = dict(data)
    if fields.get("stop") is not None:
        fields["stop"] = tuple(fields["stop"])
    return SamplingSettings(**fields)


def _parse_record(line: bytes) -> _Record:
    """A record from one line's bytes; ValueError (with the reason) for anything else."""
    try:
        data = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"not valid UTF-8 at byte {err.start}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not a record")
    try:
        request_data = data["request"]
        request = _request_from_dict(request_data)
        settings = _settings_from_dict(data["settings"])
        index = data["sample_index"]
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"sample_index {index!r} is not an integer")
        identity = recorded_identity(data)
        sample = Sample(**data["sample"])
        usage = Usage(**data["usage"])
        key = cassette_key(identity, request, settings, index)
    except KeyError as err:
        raise ValueError(f"no {err.args[0]!r} field") from None
    except (TypeError, AttributeError, ConfigurationError) as err:
        raise ValueError(f"not a cassette record ({err})") from None
    constraint = request_data.get("constraint") or {}
    return _Record(key, identity, sample, usage, constraint.get("kind") == "grammar")


def _write_all(fd: int, data: bytes) -> None:
    """One ``os.write``; more only if the kernel took part of it (a full disk, a signal)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Cassette:
    """The samples of a cassette file in memory, by key, in recorded order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, list[tuple[Sample, Usage]]] = {}
        self.served: dict[str, int] = {}
        self.identities: dict[str, dict[str, Any]] = {}  # by label, in recorded order
        self.counts: dict[str, int] = {}  # samples by identity label
        self.grammar: dict[str, bool] = {}  # by identity label: whether recorded requests carried grammars
        self.skipped: list[tuple[int, str]] = []  # (line number, why) of lines that are not records
        self.torn_cut = 0  # torn last lines cut off before appending
        self.lock = threading.Lock()
        if path.is_file():
            self._load()

    def _load(self) -> None:
        complete = 0
        binary = False
        tail = b""
        try:
            fh = self.path.open("rb")
        except OSError as err:
            raise InputError(f"cannot read the cassette {self.path}: {err}") from err
        with fh:
            for number, line in enumerate(fh, start=1):
                if not line.endswith(b"\n"):
                    tail = line  # the last line, without its newline: a run was killed while writing it?
                    try:
                        self._add(_parse_record(line))
                    except ValueError as err:
                        self.skipped.append((number, f"torn, no newline at the end ({err})"))
                    continue
                if not line.strip():
                    continue
                complete += 1
                try:
                    self._add(_parse_record(line))
                except ValueError as err:
                    binary |= b"\0" in line or str(err).startswith("not valid UTF-8")
                    self.skipped.append((number, str(err)))
        if not self.identities and (complete or (tail and not _looks_like_a_torn_record(tail))):
            what = "a binary file" if binary or b"\0" in tail else "not a cassette"
            first = self.skipped[0] if self.skipped else (1, "")
            raise InputError(
                f"{self.path} is {what}: no line is a cassette record (line {first[0]}: {first[1]}); "
                "pass the .jsonl file a RecordingBackend wrote"
            )
        for number, why in self.skipped[:_SHOWN_SKIPS]:
            logger.warning("%s line %d is not a cassette record: %s; skipped", self.path, number, why)
        if len(self.skipped) > _SHOWN_SKIPS:
            logger.warning("%s: %d more lines skipped", self.path, len(self.skipped) - _SHOWN_SKIPS)

    def _add(self, record: _Record) -> None:
        label = identity_label(record.identity)
        self.identities.setdefault(label, record.identity)
        self.counts[label] = self.counts.get(label, 0) + 1
        self.grammar[label] = self.grammar.get(label, False) or record.grammar
        self.entries.setdefault(record.key, []).append((record.sample, record.usage))

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

    def open_for_append(self) -> int:
        """The cassette opened for appending (created, with its folder); InputError if it cannot be."""
        if self.path.is_dir():
            raise InputError(f"the cassette path {self.path} is a directory; pass a .jsonl file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            raise InputError(f"cannot write the cassette {self.path}: {err}") from err

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Append ``records`` (one call's samples) with one write, after cutting off a torn last line."""
        data = b"".join((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8") for record in records)
        with self.lock:
            fd = self.open_for_append()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # another process appending to this cassette waits
                _write_all(fd, self._end_last_line(fd) + data)
            except OSError as err:
                raise InputError(f"cannot write the cassette {self.path}: {err}") from err
            finally:
                os.close(fd)  # also releases the lock
            for record in records:
                entry = (Sample(**record["sample"]), Usage(**record["usage"]))
                self.entries.setdefault(record["key"], []).append(entry)
                # A sample recorded in this session counts as served, so a repeat asks the model again.
                self.served[record["key"]] = len(self.entries[record["key"]])
                label = identity_label(record["identity"])
                self.identities.setdefault(label, record["identity"])
                self.counts[label] = self.counts.get(label, 0) + 1

    def _end_last_line(self, fd: int) -> bytes:
        """Make the file end at a line end: cut a torn last line off, or return the newline a whole record lacks."""
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return b""
        start = size
        while start > 0:  # back to the last newline
            chunk_start = max(0, start - _TAIL_CHUNK)
            newline = os.pread(fd, start - chunk_start, chunk_start).rfind(b"\n")
            if newline >= 0:
                start = chunk_start + newline + 1
                break
            start = chunk_start
        tail = os.pread(fd, size - start, start)
        try:
            _parse_record(tail)
        except ValueError:
            os.ftruncate(fd, start)
            self.torn_cut += 1
            logger.warning(
                "%s ended in a torn line (%d bytes, a run killed while writing it); cut off before appending",
                self.path,
                size - start,
            )
            return b""
        return b"\n"  # a whole record without its newline (an edited file): keep it


def _looks_like_a_torn_record(tail: bytes) -> bool:
    """Whether a file's only, unfinished line is the start of a record (the first write was killed)."""
    return tail.startswith(_RECORD_START) or _RECORD_START.startswith(tail)


class RecordingBackend:
    """Pass requests to ``inner`` and append every sample to the cassette at ``path``.

    Args:
        inner: the real backend.
        path: the cassette (created, or appended to). It is checked here, before any model call:
            a directory, an unwritable path or a file that is not a cassette is an
            :class:`~neurosym.errors.InputError`.
        resume: serve samples the cassette already holds for this model (the inner backend's
            identity) and ask ``inner`` only for the missing ones, in contiguous runs with seed
            ``seed + first index``. Without it every request goes to ``inner``.
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
        self.identity = backend_identity(inner)
        self.resume = resume
        self.one_at_a_time = one_at_a_time
        self._cassette = _Cassette(self.path)  # read even without resume: a file that is not a cassette is refused
        os.close(self._cassette.open_for_append())
        self.hits = 0
        self.misses = 0

    @property
    def supports_grammar(self) -> bool:
        """The wrapped backend's (read when asked: an OpenAI-compatible backend may probe its server for it)."""
        return bool(getattr(self.inner, "supports_grammar", False))

    @property
    def torn_lines_cut(self) -> int:
        """How many torn last lines (left by killed runs) this recorder cut off before appending."""
        return self._cassette.torn_cut

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """Generate with the wrapped backend (or the cassette, when resuming) and record new samples."""
        resolved = (settings or SamplingSettings()).resolved()
        n, seed = resolved.n or 1, resolved.seed or 0
        out: list[GenerationResult] = []
        for position, request in enumerate(requests):
            slots: list[Sample | None] = [None] * n
            usage = Usage()
            if self.resume:
                for i in range(n):
                    found = self._cassette.take(cassette_key(self.identity, request, resolved, i))
                    if found is not None:
                        slots[i], usage = found[0], usage + found[1]
                        self.hits += 1
                        report_finished(progress, position, [found[0]], first_sample=i)
            runs = missing_runs([s is not None for s in slots])
            if self.one_at_a_time:
                runs = [(start + i, 1) for start, length in runs for i in range(length)]
            for start, length in runs:
                run_settings = dataclasses.replace(resolved, n=length, seed=seed + start)
                inner_progress = renumber_progress(progress, [position], first_sample=start)
                if inner_progress is None:
                    [result] = self.inner.generate([request], settings=run_settings)
                else:
                    [result] = self.inner.generate([request], settings=run_settings, progress=inner_progress)
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
                            "key": cassette_key(self.identity, request, resolved, start + offset),
                            "sample_index": start + offset,
                            "backend": self.inner.name,
                            "model": self.inner.model,
                            "identity": self.identity,
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
    """Serve recorded samples as the model that recorded them; a sample it lacks raises :class:`CassetteMiss`.

    Args:
        path: the cassette.
        model: which model to serve when the cassette holds several: a model name, or a label as
            the error lists them (``kind:model (sha256 …)``). Not needed for a cassette of one model.

    A sample recorded several times (the same request, settings and index) is served in recorded
    order, then the last recording again. ``identity`` is the recording model's, so a cache in
    front of a replay keys its samples as the live model's.

    Raises:
        InputError: no file at ``path``, a directory, or a file that is not a cassette.
        ConfigurationError: the cassette holds several models and ``model`` does not pick one.

    """

    name: ClassVar[str] = "replay"

    def __init__(self, path: Path | str, *, model: str | None = None) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"{self.path} is a directory, not a cassette")
        if not self.path.is_file():
            raise InputError(f"no cassette at {self.path}")
        self._cassette = _Cassette(self.path)
        label = self._pick(model)
        self.identity: dict[str, Any] = self._cassette.identities.get(label) or {"kind": "replay", "model": "replay"}
        self.model: str = self.identity["model"]
        self.supports_grammar = self._cassette.grammar.get(label, False)  # the recorded requests carried grammars
        self._count = self._cassette.counts.get(label, 0)

    def _pick(self, model: str | None) -> str:
        labels = list(self._cassette.identities)
        chosen = labels
        if model is not None:
            chosen = [label for label in labels if model in (label, self._cassette.identities[label]["model"])]
        if len(chosen) == 1 or (model is None and not labels):
            return chosen[0] if chosen else ""
        listed = "; ".join(f"{label} ({self._cassette.counts[label]} samples)" for label in labels)
        if not chosen:
            raise ConfigurationError(f"the cassette {self.path} holds no samples of {model!r}; it holds: {listed}")
        raise ConfigurationError(
            f"the cassette {self.path} holds samples of {len(chosen)} models; pick one with "
            f"ReplayBackend(path, model=...): {'; '.join(f'{c} ({self._cassette.counts[c]} samples)' for c in chosen)}"
        )

    def __len__(self) -> int:
        return self._count

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """Return the recorded samples of each request (``progress`` sees each one whole)."""
        resolved = (settings or SamplingSettings()).resolved()
        results = []
        for request in requests:
            samples, usage = [], Usage()
            for i in range(resolved.n or 1):
                key = cassette_key(self.identity, request, resolved, i)
                found = self._cassette.take(key)
                if found is None:
                    last = request.messages[-1].content
                    raise CassetteMiss(
                        f"the cassette {self.path} has no recording of sample {i} of this request by "
                        f"{identity_label(self.identity)} (last message ends {last[-120:]!r}, settings "
                        f"{resolved.to_dict()}); record it again with the real model",
                        key=key,
                    )
                samples.append(found[0])
                usage += found[1]
            report_finished(progress, len(results), samples)
            results.append(GenerationResult(tuple(samples), usage, self.name, self.model))
        return results
