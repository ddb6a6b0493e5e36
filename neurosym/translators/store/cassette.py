"""A JSONL cassette as a sample store: one line per sample, appended so that a kill never corrupts it.

A cassette holds one line per *sample*: the request, the sampling settings, the sample's index,
the identity of the model that drew it (:mod:`neurosym.translators.identity`) and the sample
itself with its share of the usage. Samples are keyed by
:func:`~neurosym.translators.store.keys.sample_key` (without ``n``), so a cassette recorded with
``n=5`` replays a run that asks for samples two at a time.

Surviving kills: each model call's records are appended with one ``os.write`` on a file opened
with ``O_APPEND``, under an ``flock`` (two recorders may share a cassette). A run killed during
that write leaves a torn last line, possibly cut inside a UTF-8 character. The loader reads bytes
and decodes line by line, skipping (with a warning naming the line) any line that is not a whole
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
    >>> from neurosym.translators.base import GenerationRequest, Sample, Usage
    >>> from neurosym.translators.store.backend import SampleRecord
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.jsonl"
    >>> request, model = GenerationRequest.from_prompt("hi"), {"kind": "scripted", "model": "m"}
    >>> record = SampleRecord.of(model, request, SamplingSettings(), 0, Sample("P(a)"), Usage(3, 1, 0.1))
    >>> CassetteStore(path).put([record])
    >>> reopened = CassetteStore(path, writable=False)
    >>> reopened.get_many([record.key])[0].sample.text, len(reopened), list(reopened.identities)
    ('P(a)', 1, ['scripted:m'])

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
from typing import Any

from neurosym.errors import ConfigurationError, InputError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import Constraint, GenerationRequest, Message, Sample, Usage
from neurosym.translators.identity import identity_label, recorded_identity
from neurosym.translators.store.backend import SampleRecord, StoredSample
from neurosym.translators.store.keys import sample_key

__all__ = ["CassetteStore"]

logger = logging.getLogger(__name__)

_RECORD_START = b'{"key": '
"""How every record line begins (``key`` is the first field written); a torn first record starts so too."""
_TAIL_CHUNK = 1 << 16
_SHOWN_SKIPS = 10


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    """One cassette line, read back."""

    key: str
    identity: dict[str, Any]
    sample: Sample
    usage: Usage
    grammar: bool
    continued: bool
    """Whether the request ends in a partial assistant message (drawn by a decoder on a continuing backend)."""


def _continues(request: GenerationRequest) -> bool:
    return bool(request.messages) and request.messages[-1].role == "assistant"


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
        key = sample_key(identity, request, settings, index)
    except KeyError as err:
        raise ValueError(f"no {err.args[0]!r} field") from None
    except (TypeError, AttributeError, ConfigurationError) as err:
        raise ValueError(f"not a cassette record ({err})") from None
    constraint = request_data.get("constraint") or {}
    return _Record(key, identity, sample, usage, constraint.get("kind") == "grammar", _continues(request))


def _record_line(record: SampleRecord) -> dict[str, Any]:
    """What a cassette line holds, in the order it is written (``key`` first: see ``_RECORD_START``)."""
    return {
        "key": record.key,
        "sample_index": record.sample_index,
        "backend": record.backend,
        "model": record.model,
        "identity": dict(record.identity),
        "request": record.request.to_dict(),
        "settings": record.settings.resolved().to_dict(),
        "sample": record.sample.to_dict(),
        "usage": record.usage.to_dict(),
    }


def _write_all(fd: int, data: bytes) -> None:
    """One ``os.write``; more only if the kernel took part of it (a full disk, a signal)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _looks_like_a_torn_record(tail: bytes) -> bool:
    """Whether a file's only, unfinished line is the start of a record (the first write was killed)."""
    return tail.startswith(_RECORD_START) or _RECORD_START.startswith(tail)


class CassetteStore:
    """The cassette at ``path`` as a :class:`~neurosym.translators.store.backend.SampleStore`, read into memory.

    Args:
        path: the ``.jsonl`` file.
        writable: create the file (and its folder) if missing and check here, before any model
            call, that it can be appended to. Without it the file must exist and :meth:`put`
            is refused.

    A sample recorded several times (the same request, settings and index) is served in recorded
    order by successive lookups, then the last recording again; a sample stored through this
    object counts as served already.

    Attributes:
        identities: every model the cassette holds samples of, by
            :func:`~neurosym.translators.identity.identity_label`, in recorded order.
        counts: how many samples each of them has, by label.
        grammar: by label, whether any of its recorded requests carried a grammar constraint.
        skipped: ``(line number, why)`` of every line that is not a record.

    Raises:
        InputError: no file (without ``writable``), a directory, a file that cannot be read or
            written, or a file that is not a cassette. The file is never changed in these cases.

    """

    def __init__(self, path: Path | str, *, writable: bool = True) -> None:
        self.path = Path(path)
        self.writable = writable
        self._entries: dict[str, list[StoredSample]] = {}
        self._served: dict[str, int] = {}
        self.identities: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, int] = {}
        self.grammar: dict[str, bool] = {}
        self.continued: dict[str, bool] = {}
        self.skipped: list[tuple[int, str]] = []
        self._torn_cut = 0
        self._lock = threading.Lock()
        if not writable:
            if self.path.is_dir():
                raise InputError(f"{self.path} is a directory, not a cassette")
            if not self.path.is_file():
                raise InputError(f"no cassette at {self.path}")
        if self.path.is_file():  # read even for writing: a file that is not a cassette is refused
            self._load()
        if writable:
            os.close(self._open_for_append())

    @property
    def description(self) -> str:
        """``the cassette PATH``, for messages."""
        return f"the cassette {self.path}"

    @property
    def torn_lines_cut(self) -> int:
        """How many torn last lines (left by killed runs) this store cut off before appending."""
        return self._torn_cut

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def __repr__(self) -> str:
        return f"CassetteStore({str(self.path)!r})"

    # -- reading ----------------------------------------------------------------------------------

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
        self._count(record.identity, record.grammar, record.continued)
        self._entries.setdefault(record.key, []).append(StoredSample(record.sample, record.usage))

    def _count(self, identity: dict[str, Any], grammar: bool, continued: bool) -> None:
        label = identity_label(identity)
        self.identities.setdefault(label, identity)
        self.counts[label] = self.counts.get(label, 0) + 1
        self.grammar[label] = self.grammar.get(label, False) or grammar
        self.continued[label] = self.continued.get(label, False) or continued

    def get_many(self, keys: Sequence[str]) -> list[StoredSample | None]:
        """The next recording of each key (repeats in recorded order, then the last again), or None."""
        found: list[StoredSample | None] = []
        with self._lock:
            for key in keys:
                recorded = self._entries.get(key)
                if not recorded:
                    found.append(None)
                    continue
                index = self._served.get(key, 0)
                self._served[key] = index + 1
                found.append(recorded[min(index, len(recorded) - 1)])
        return found

    # -- appending --------------------------------------------------------------------------------

    def _open_for_append(self) -> int:
        """The cassette opened for appending (created, with its folder); InputError if it cannot be."""
        if self.path.is_dir():
            raise InputError(f"the cassette path {self.path} is a directory; pass a .jsonl file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            raise InputError(f"cannot write the cassette {self.path}: {err}") from err

    def put(self, records: Sequence[SampleRecord]) -> None:
        """Append ``records`` (one model call's samples) with one write, after cutting off a torn last line."""
        if not self.writable:
            raise ConfigurationError(f"{self.description} was opened for replay only; it takes no new samples")
        if not records:
            return
        lines = [_record_line(record) for record in records]
        data = b"".join((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8") for line in lines)
        with self._lock:
            fd = self._open_for_append()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # another process appending to this cassette waits
                _write_all(fd, self._end_last_line(fd) + data)
            except OSError as err:
                raise InputError(f"cannot write the cassette {self.path}: {err}") from err
            finally:
                os.close(fd)  # also releases the lock
            for record, line in zip(records, lines, strict=True):
                # As it will read back: the usage rounded as to_dict wrote it.
                self._entries.setdefault(record.key, []).append(StoredSample(record.sample, Usage(**line["usage"])))
                self._served[record.key] = len(self._entries[record.key])
                constraint = record.request.constraint
                grammar = constraint is not None and constraint.kind == "grammar"
                self._count(line["identity"], grammar, _continues(record.request))

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
            self._torn_cut += 1
            logger.warning(
                "%s ended in a torn line (%d bytes, a run killed while writing it); cut off before appending",
                self.path,
                size - start,
            )
            return b""
        return b"\n"  # a whole record without its newline (an edited file): keep it
