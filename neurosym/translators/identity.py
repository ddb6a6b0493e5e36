"""Which model answered: a small JSON dict per backend that cassette and cache keys are built from.

A sample depends on the model as much as on the prompt, so the key that finds a stored sample
(:func:`neurosym.translators.store.keys.sample_key`, for cache files and cassettes alike) holds
the backend's *identity*:

==========================  ===================================================================
backend                     identity
==========================  ===================================================================
llama.cpp, embedded model   ``{"kind": "llamacpp", "model": NAME, "sha256": DIGEST}`` with the
                            digest from :data:`~neurosym.translators.models.EMBEDDED_MODELS`
                            (nothing is hashed)
llama.cpp, any other GGUF   the same, the file hashed once and the digest remembered in the
                            model cache folder by path, size and modification time
OpenAI-compatible server    ``{"kind": "openai", "model": NAME}``
vLLM, transformers          ``{"kind": ..., "model": NAME, "revision": ...}`` (revision where known)
scripted test double        ``{"kind": "scripted", "model": NAME}``
anything else               ``{"kind": backend.name, "model": backend.model}``
==========================  ===================================================================

Example:
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> backend_identity(ScriptedBackend(["x"], model="m1"))
    {'kind': 'scripted', 'model': 'm1'}
    >>> identity_label({"kind": "llamacpp", "model": "qwen", "sha256": "cc324af070c2"})
    'llamacpp:qwen (sha256 cc324af0)'

"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from neurosym.errors import ConfigurationError

__all__ = ["backend_identity", "gguf_identity", "identity_label", "normalize_identity", "recorded_identity"]


def normalize_identity(identity: Any) -> dict[str, Any]:
    """``identity`` checked (a mapping with string ``kind`` and ``model``, JSON values) and without ``None`` values.

    Example:
        >>> normalize_identity({"kind": "vllm-offline", "model": "Qwen/Qwen2.5-0.5B", "revision": None})
        {'kind': 'vllm-offline', 'model': 'Qwen/Qwen2.5-0.5B'}
        >>> normalize_identity({"model": "m"})
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: a backend identity needs string 'kind' and 'model' fields, \
got {'model': 'm'}

    """
    if not isinstance(identity, Mapping):
        raise ConfigurationError(f"a backend identity is a dict, got {type(identity).__name__}")
    cleaned = {str(k): v for k, v in identity.items() if v is not None}
    if not isinstance(cleaned.get("kind"), str) or not isinstance(cleaned.get("model"), str):
        raise ConfigurationError(f"a backend identity needs string 'kind' and 'model' fields, got {cleaned!r}")
    try:
        json.dumps(cleaned, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConfigurationError(f"a backend identity must hold JSON values only: {err}") from err
    return cleaned


def backend_identity(backend: Any) -> dict[str, Any]:
    """The identity of ``backend``: its ``identity`` attribute, else ``{"kind": backend.name, "model": backend.model}``.

    Example:
        >>> class Plain:
        ...     name, model = "custom", "my-model"
        >>> backend_identity(Plain())
        {'kind': 'custom', 'model': 'my-model'}

    """
    identity = getattr(backend, "identity", None)
    if identity is None:
        identity = {"kind": str(getattr(backend, "name", type(backend).__name__)), "model": str(backend.model)}
    return normalize_identity(identity)


def gguf_identity(kind: str, model: str, path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The identity of a backend that runs the GGUF file at ``path`` under the name ``model``.

    An embedded model's file (its registered name, file name and size) takes the registered
    digest; any other existing file is hashed once (:func:`neurosym.translators.models.file_sha256`).
    Without a file (a stand-in model object) the identity holds no digest.

    Example:
        >>> gguf_identity("llamacpp", "m", None)
        {'kind': 'llamacpp', 'model': 'm'}

    """
    from neurosym.translators.models import EMBEDDED_MODELS, file_sha256

    identity: dict[str, Any] = {"kind": kind, "model": model}
    if path is None or not str(path):
        return identity
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError:
        return identity
    spec = EMBEDDED_MODELS.get(model)
    if spec is not None and file.name == spec.filename and size == spec.size:
        identity["sha256"] = spec.sha256  # ensure_model verified it when it handed the path out
    elif file.is_file():
        identity["sha256"] = file_sha256(file)
    return identity


def recorded_identity(record: Mapping[str, Any]) -> dict[str, Any]:
    """The identity a cassette record was recorded with.

    Records written before identities existed name only the backend and the model: they read as
    that backend and model, with the registered digest for an embedded llama.cpp model (the only
    file those names could mean).

    Example:
        >>> recorded_identity({"backend": "openai", "model": "gpt-4o-mini"})
        {'kind': 'openai', 'model': 'gpt-4o-mini'}
        >>> recorded_identity({"backend": "llamacpp", "model": "qwen2.5-coder-0.5b-instruct"})["sha256"][:8]
        '1d961463'

    """
    if "identity" in record:
        return normalize_identity(record["identity"])
    from neurosym.translators.models import EMBEDDED_MODELS

    backend, model = str(record.get("backend", "")), str(record.get("model", ""))
    identity: dict[str, Any] = {"kind": backend, "model": model}
    if backend == "llamacpp" and model in EMBEDDED_MODELS:
        identity["sha256"] = EMBEDDED_MODELS[model].sha256
    return identity


def identity_label(identity: Mapping[str, Any]) -> str:
    """A short human-readable form: ``kind:model`` and the first digits of a digest or a revision.

    Example:
        >>> identity_label({"kind": "openai", "model": "gpt-4o-mini"})
        'openai:gpt-4o-mini'

    """
    label = f"{identity.get('kind')}:{identity.get('model')}"
    details = [f"sha256 {identity['sha256'][:8]}"] if isinstance(identity.get("sha256"), str) else []
    details += [f"{k} {v}" for k, v in sorted(identity.items()) if k not in ("kind", "model", "sha256")]
    return label + (f" ({', '.join(details)})" if details else "")
