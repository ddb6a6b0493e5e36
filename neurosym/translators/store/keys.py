"""The key that finds a stored sample: one function for every store (cache files and cassettes alike).

Example:
    >>> from neurosym.translators.base import GenerationRequest
    >>> request, model = GenerationRequest.from_prompt("hi"), {"kind": "openai", "model": "m"}
    >>> len(sample_key(model, request, SamplingSettings(n=3), 2))
    64

"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import GenerationRequest
from neurosym.translators.identity import normalize_identity

__all__ = ["canonical_json", "keyed_settings", "sample_key"]


def canonical_json(payload: Any, what: str) -> str:
    """``payload`` as the one JSON text keys are hashed from: sorted keys, no spaces, no NaN.

    ``what`` names the payload in the :class:`~neurosym.errors.ConfigurationError` raised for a
    value JSON cannot represent (``str()`` of an arbitrary object may hold a memory address, and a
    key built from it would never hit again).

    Example:
        >>> canonical_json({"b": 1, "a": [1.5, "é"]}, "the example")
        '{"a":[1.5,"é"],"b":1}'
        >>> canonical_json({"a": object()}, "the example")
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: the example cannot be part of a cache key: \
Object of type object is not JSON serializable

    """
    try:
        return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConfigurationError(f"{what} cannot be part of a cache key: {err}") from err


def keyed_settings(settings: SamplingSettings) -> dict[str, Any]:
    """The resolved settings as they enter a sample key: ``n`` dropped, whole-number floats made floats.

    Example:
        >>> keyed = keyed_settings(SamplingSettings(n=5, temperature=1))
        >>> keyed["temperature"], "n" in keyed
        (1.0, False)

    """
    resolved = settings.resolved().to_dict()
    resolved.pop("n", None)
    for name in ("temperature", "top_p"):  # temperature=1 and temperature=1.0 are the same setting
        if isinstance(resolved.get(name), int):
            resolved[name] = float(resolved[name])
    return resolved


def sample_key(
    identity: Mapping[str, Any], request: GenerationRequest, settings: SamplingSettings, sample_index: int = 0
) -> str:
    """The hash that identifies one sample: sha256 of the canonical JSON of everything that decides it.

    The key holds the backend's identity (:func:`~neurosym.translators.identity.backend_identity`:
    the kind of backend, the model and, for a local model file, its sha256), the request
    (messages and constraint) and the settings resolved against the defaults (so
    ``SamplingSettings()`` and the explicit defaults share keys), with the seed the sample was
    drawn with, ``seed + sample_index``, in place of the seed and the index. It leaves out
    ``settings.n``: sample ``i`` of a request is drawn with seed ``seed + i`` however many samples
    were asked for (the seed contract of :class:`~neurosym.translators.store.StoredBackend`), so
    sample 2 of an ``n=5`` call with seed 0 is sample 0 of an ``n=2`` call with seed 2, as
    adaptive sampling asks for it.

    The SQLite cache (:mod:`neurosym.loop.cache`) and cassettes
    (:mod:`neurosym.translators.backends.replay`) both key their samples with this function, so
    they cannot disagree on what makes two samples the same. It is pure: the same arguments give
    the same key in any process. Settings whose ``extra`` holds values JSON cannot represent raise
    :class:`~neurosym.errors.ConfigurationError`.

    Example:
        >>> r, m = GenerationRequest.from_prompt("hi"), {"kind": "x", "model": "m"}
        >>> sample_key(m, r, SamplingSettings(n=2), 0) == sample_key(m, r, SamplingSettings(n=7), 0)
        True
        >>> sample_key(m, r, SamplingSettings(), 0) == sample_key(m, r, SamplingSettings(), 1)
        False
        >>> s0, s2 = SamplingSettings(seed=0), SamplingSettings(seed=2)
        >>> sample_key(m, r, s0, 2) == sample_key(m, r, s2, 0)
        True
        >>> sample_key({"kind": "x", "model": "other"}, r, s0, 0) == sample_key(m, r, s0, 0)
        False

    """
    if isinstance(sample_index, bool) or not isinstance(sample_index, int) or sample_index < 0:
        raise ConfigurationError(f"sample_index must be a non-negative integer, got {sample_index!r}")
    keyed = keyed_settings(settings)
    keyed["seed"] = (keyed.get("seed") or 0) + sample_index
    payload = {"identity": normalize_identity(identity), "request": request.to_dict(), "settings": keyed}
    blob = canonical_json(payload, "the backend identity, the request or its sampling settings")
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
