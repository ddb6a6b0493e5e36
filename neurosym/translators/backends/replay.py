"""Record every model sample to a JSONL cassette, and replay it later without the model.

Both are a :class:`~neurosym.translators.store.StoredBackend` over a
:class:`~neurosym.translators.store.cassette.CassetteStore` (the file format and how it survives
kills are described there). Sample ``i`` of a request is the one drawn with seed ``seed + i``
(the seed contract of :class:`~neurosym.translators.store.StoredBackend`), so it is keyed by
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

from pathlib import Path
from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.translators.base import LLMBackend
from neurosym.translators.store import CassetteMiss, CassetteStore, StoredBackend, sample_key

__all__ = ["CassetteMiss", "RecordingBackend", "ReplayBackend", "cassette_key"]

cassette_key = sample_key
"""The key of one sample in a cassette: :func:`neurosym.translators.store.keys.sample_key` itself."""


class RecordingBackend(StoredBackend):
    """Pass requests to ``inner`` and append every sample to the cassette at ``path``.

    A :class:`~neurosym.translators.store.StoredBackend` over a
    :class:`~neurosym.translators.store.cassette.CassetteStore`, in mode ``"reuse"`` when
    resuming and ``"record"`` otherwise. Requests with the same missing samples share one call to
    ``inner`` (unless ``one_at_a_time``), and the samples of each call are appended with one write
    as soon as it returns.

    Args:
        inner: the real backend.
        path: the cassette (created, or appended to). It is checked here, before any model call:
            a directory, an unwritable path or a file that is not a cassette is an
            :class:`~neurosym.errors.InputError`.
        resume: serve samples the cassette already holds for this model (the inner backend's
            identity) and ask ``inner`` only for the missing ones, in contiguous runs with seed
            ``seed + first index``. Without it every request goes to ``inner``.
        one_at_a_time: ask ``inner`` for one sample of one request per call (seed ``seed + i``),
            so a killed recording loses at most the sample in flight. For backends that loop over
            samples anyway (llama.cpp) it costs nothing.

    """

    def __init__(
        self, inner: LLMBackend, path: Path | str, *, resume: bool = False, one_at_a_time: bool = False
    ) -> None:
        self.path = Path(path)
        self.resume = resume
        self.cassette = CassetteStore(self.path)  # read even without resume: a file that is not a cassette is refused
        super().__init__(
            inner, self.cassette, mode="reuse" if resume else "record", one_at_a_time=one_at_a_time, name="recording"
        )

    @property
    def torn_lines_cut(self) -> int:
        """How many torn last lines (left by killed runs) this recorder cut off before appending."""
        return self.cassette.torn_lines_cut

    def __repr__(self) -> str:
        return f"RecordingBackend({self.inner!r}, {str(self.path)!r}, resume={self.resume})"


class ReplayBackend(StoredBackend):
    """Serve recorded samples as the model that recorded them; a sample it lacks raises :class:`CassetteMiss`.

    A :class:`~neurosym.translators.store.StoredBackend` in mode ``"replay"``, without an inner
    backend, over the cassette opened read-only.

    Args:
        path: the cassette.
        model: which model to serve when the cassette holds several: a model name, or a label as
            the error lists them (``kind:model (sha256 …)``). Not needed for a cassette of one model.

    A sample recorded several times (the same request, settings and index) is served in recorded
    order, then the last recording again. ``identity`` is the recording model's, so a cache in
    front of a replay keys its samples as the live model's. ``supports_grammar`` says whether the
    recorded requests carried grammars, ``continues_partial_answer`` whether any ended in a partial
    assistant message (a decoder's, on a backend that continues one), so that a decoder replays the
    requests it made when recording.

    Raises:
        InputError: no file at ``path``, a directory, or a file that is not a cassette.
        ConfigurationError: the cassette holds several models and ``model`` does not pick one.

    """

    def __init__(self, path: Path | str, *, model: str | None = None) -> None:
        self.path = Path(path)
        self.cassette = CassetteStore(self.path, writable=False)
        label = self._pick(model)
        identity: dict[str, Any] = self.cassette.identities.get(label) or {"kind": "replay", "model": "replay"}
        super().__init__(
            None,
            self.cassette,
            mode="replay",
            identity=identity,
            name="replay",
            supports_grammar=self.cassette.grammar.get(label, False),
            continues_partial_answer=self.cassette.continued.get(label, False),
        )
        self._count = self.cassette.counts.get(label, 0)

    def _pick(self, model: str | None) -> str:
        """The label of the model to serve (``""`` for a cassette with no whole record)."""
        identities, counts = self.cassette.identities, self.cassette.counts
        labels = list(identities)
        chosen = labels
        if model is not None:
            chosen = [label for label in labels if model in (label, identities[label]["model"])]
        if len(chosen) == 1 or (model is None and not labels):
            return chosen[0] if chosen else ""
        listed = "; ".join(f"{label} ({counts[label]} samples)" for label in labels)
        if not chosen:
            raise ConfigurationError(f"the cassette {self.path} holds no samples of {model!r}; it holds: {listed}")
        raise ConfigurationError(
            f"the cassette {self.path} holds samples of {len(chosen)} models; pick one with "
            f"ReplayBackend(path, model=...): {'; '.join(f'{c} ({counts[c]} samples)' for c in chosen)}"
        )

    def __len__(self) -> int:
        """How many samples the cassette holds of the model served."""
        return self._count

    def __repr__(self) -> str:
        return f"ReplayBackend({str(self.path)!r})"
