"""LLM backends, one module per provider, and :func:`get_backend` to choose one by a short string.

Heavy libraries (llama_cpp, vllm, transformers) are imported only when their backend is built.

=============================  ==============================================================
spec                           backend
=============================  ==============================================================
``embedded``                   llama.cpp in-process with the default model (Qwen2.5-Coder-1.5B)
``embedded:small``             the same with the small model (Qwen2.5-Coder-0.5B)
``embedded:PATH.gguf``         the same with any local GGUF file
``openai`` / ``openai:MODEL``  an OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama,
                               OpenAI); ``base_url`` from the argument or ``OPENAI_BASE_URL``
``vllm:MODEL``                 vLLM in-process (needs a GPU and ``neurosym-toolkit[vllm]``)
``transformers:MODEL``         Hugging Face transformers in-process (``neurosym-toolkit[transformers]``)
``replay:CASSETTE.jsonl``      recorded responses, no model (see :mod:`.replay`)
=============================  ==============================================================

Example:
    >>> get_backend("embeded")
    Traceback (most recent call last):
    ...
    neurosym.errors.ConfigurationError: unknown backend 'embeded'; did you mean 'embedded'? \
Known: embedded, openai, replay, transformers, vllm

"""

from __future__ import annotations

import difflib
import os
from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.translators.base import LLMBackend

__all__ = ["BACKEND_KINDS", "DEFAULT_LLM_ENV", "default_llm_spec", "get_backend"]

BACKEND_KINDS = ("embedded", "openai", "replay", "transformers", "vllm")
DEFAULT_LLM_ENV = "NEUROSYM_LLM"
"""The environment variable that names the backend used when none is given (``neurosym solve``, ``solve()``)."""


def default_llm_spec() -> str:
    """The backend spec used when none is given: ``$NEUROSYM_LLM``, else ``"embedded"``.

    Example:
        >>> import os
        >>> os.environ.pop("NEUROSYM_LLM", None) and None
        >>> default_llm_spec()
        'embedded'

    """
    return os.environ.get(DEFAULT_LLM_ENV, "").strip() or "embedded"


def get_backend(spec: str, **options: Any) -> LLMBackend:
    """Build a backend from a short string ``KIND[:ARGUMENT]`` (see the module docstring).

    ``options`` go to the backend's constructor (e.g. ``base_url`` and ``api_key`` for
    ``openai``, ``n_ctx`` for ``embedded``, ``cache_dir`` for model files).
    """
    kind, _, argument = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "embedded":
        from neurosym.translators.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend.from_path(argument or "default", **options)
    if kind == "openai":
        from neurosym.translators.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend.from_url(model=argument or options.pop("model", None), **options)
    if kind == "replay":
        from neurosym.translators.backends.replay import ReplayBackend

        if not argument:
            raise ConfigurationError("replay needs a cassette: replay:PATH.jsonl")
        return ReplayBackend(argument)
    if kind == "vllm":
        from neurosym.translators.backends.vllm_offline import VLLMOfflineBackend

        if not argument:
            raise ConfigurationError("vllm needs a model: vllm:MODEL")
        return VLLMOfflineBackend.from_model(argument, **options)
    if kind == "transformers":
        from neurosym.translators.backends.transformers import TransformersBackend

        if not argument:
            raise ConfigurationError("transformers needs a model: transformers:MODEL")
        return TransformersBackend.from_pretrained(argument, **options)
    close = difflib.get_close_matches(kind, BACKEND_KINDS, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    raise ConfigurationError(f"unknown backend {spec!r}{hint} Known: {', '.join(BACKEND_KINDS)}")
