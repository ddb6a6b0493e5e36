"""The embedded backend: a ``llama_cpp.Llama`` in this process, on CPU (or GPU where llama.cpp has one).

Wrap a model you loaded yourself with :func:`from_llamacpp`, or let
:meth:`LlamaCppBackend.from_path` load one of the embedded models (``"default"``, ``"small"``) or any
GGUF file; ``llama_cpp`` is imported only then. llama.cpp has no ``n``, so the ``n`` samples of a
request are drawn one after another with seeds ``seed, seed + 1, …``: distinct and reproducible.

Constraints: a ``grammar`` constraint is GBNF text (for example
:func:`neurosym.fol.gbnf.formula_root_gbnf`), checked by llama.cpp's own parser once per text;
``json_schema`` goes through llama-cpp-python's JSON-schema-to-GBNF converter; ``regex`` is not
supported by llama.cpp and raises :class:`~neurosym.errors.ConfigurationError`.

Grammar speed: by default the grammar is matched against the 64 likeliest tokens first and the
whole vocabulary only when it rejects all of them (see
:mod:`neurosym.translators.backends._llama_grammar`), as llama.cpp's own server does. On 2 CPU
cores, greedy FOL translation went from 115-160 to 71-84 ms a token with the 1.5B model (99 to
42 ms with the 0.5B), with the same output (``python -m benchmarks.grammar_speed``);
``fast_grammar=False`` keeps llama-cpp-python's sampler.

Prompt reuse: llama-cpp-python keeps the last prompt's KV cache and re-evaluates only the tokens
after the longest common prefix, so requests that share a few-shot prefix one after another, and
the ``n`` samples of one request, evaluate the prefix once without further help.
``prompt_cache=True`` adds a ``LlamaRAMCache`` that also keeps the states of earlier prompts. It
pays off only when requests alternate between several long prefixes: measured on 2 CPU cores with
a 536-token few-shot prefix, alternating two prefixes took 6-7 s per request without it and
0.5-1.7 s with it (0.5B model; 13-16 s against 0.7-1.7 s for 1.5B), while a single repeated
prefix went from 0.5 s to 1.0 s per request, because the cache copies the model state after every
completion (about 0.5 s). It is therefore off by default; the backend saves the state once per
request, not once per sample.

Partial answers: a request whose last message is an assistant message is *continued*: the chat
template renders the messages before it with the assistant's turn opened, the partial answer
follows as prompt text, and the model writes on from there (``continues_partial_answer`` is
True; see :mod:`neurosym.translators.decoding.plan`). Consecutive spans of one answer share
their prefix, so only the new tokens are evaluated.

Example:
    >>> backend = LlamaCppBackend.from_path("small", n_ctx=2048)  # doctest: +SKIP
    >>> from neurosym.translators.base import GenerationRequest
    >>> [result] = backend.generate([GenerationRequest.from_prompt("Say hi.")])  # doctest: +SKIP

"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from neurosym.errors import BackendError, ConfigurationError, MissingDependencyError, NeurosymError
from neurosym.settings import SamplingSettings, merge
from neurosym.translators.base import (
    Constraint,
    GenerationRequest,
    GenerationResult,
    Progress,
    ProgressCallback,
    Sample,
    Usage,
    check_allow_live_requests,
)

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar
    from llama_cpp.llama_types import ChatCompletionRequestMessage

__all__ = ["LlamaCppBackend", "from_llamacpp"]

logger = logging.getLogger(__name__)

_INSTALL = 'pip install "neurosym-toolkit[embedded]"'
_CACHE_BYTES = 1 << 30
"""Capacity of the prompt cache ``prompt_cache=True`` attaches (1 GiB: a few dozen prompt states)."""


def _import_llama_cpp() -> Any:
    """``import llama_cpp``, or a MissingDependencyError that names the extra."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise MissingDependencyError(f"the llamacpp backend needs llama-cpp-python: {_INSTALL}") from exc
    return llama_cpp


def _sampling_kwargs(settings: SamplingSettings) -> dict[str, Any]:
    r"""``create_chat_completion`` keyword arguments for resolved settings (``n`` and ``seed`` excluded).

    Example:
        >>> _sampling_kwargs(SamplingSettings(temperature=0.7, max_tokens=32, stop=("\n",), extra={"top_k": 20}))
        {'temperature': 0.7, 'max_tokens': 32, 'stop': ['\n'], 'top_k': 20}

    """
    kwargs: dict[str, Any] = {}
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.top_p is not None:
        kwargs["top_p"] = settings.top_p
    if settings.max_tokens is not None:
        kwargs["max_tokens"] = settings.max_tokens
    if settings.stop:
        kwargs["stop"] = list(settings.stop)
    kwargs.update(settings.extra)
    return kwargs


def _threads() -> int:
    """The CPUs this process may use (llama-cpp-python's own default is half of them)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - macOS and Windows
        return max(os.cpu_count() or 1, 1)


class LlamaCppBackend:
    """Generate with a ``llama_cpp.Llama`` you built.

    Args:
        llm: the loaded model; it stays yours (this backend never closes it).
        model_name: the name to report in results (default: the GGUF file's name).
        settings: this backend's sampling defaults, merged under each call's settings.
        prompt_cache: ``True`` (1 GiB) or a capacity in bytes to attach a ``LlamaRAMCache`` to
            ``llm`` (this changes ``llm``); ``False`` leaves ``llm`` as it is.

    Calls are serialized with a lock: a ``Llama`` is not safe to use from two threads at once.

    """

    name: ClassVar[str] = "llamacpp"
    supports_grammar: ClassVar[bool] = True
    continues_partial_answer: ClassVar[bool] = True
    """A final assistant message is continued, not answered (see the module docstring)."""

    def __init__(
        self,
        llm: Llama,
        model_name: str | None = None,
        *,
        settings: SamplingSettings | None = None,
        prompt_cache: bool | int = False,
        fast_grammar: bool = True,
    ) -> None:
        self.llm = llm
        self.model = model_name or Path(str(getattr(llm, "model_path", "") or "llamacpp")).name
        self.settings = settings or SamplingSettings()
        self._grammars: dict[str, LlamaGrammar] = {}
        self._formatter: Any = None
        self._lock = threading.Lock()
        if prompt_cache:
            llama_cpp = _import_llama_cpp()
            capacity = _CACHE_BYTES if prompt_cache is True else int(prompt_cache)
            llm.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=capacity))
        self.fast_grammar = False
        if fast_grammar:
            from neurosym.translators.backends._llama_grammar import install

            self.fast_grammar = install(llm)

    @classmethod
    def from_path(
        cls,
        path_or_model_name: str | os.PathLike[str] = "default",
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        verbose: bool = False,
        settings: SamplingSettings | None = None,
        prompt_cache: bool | int = False,
        fast_grammar: bool = True,
        **llama_kwargs: Any,
    ) -> LlamaCppBackend:
        """Load a GGUF model: an embedded name (``"default"``, ``"small"``), a path, or ``org/repo:file.gguf``.

        The embedded models are assembled on first use (see :func:`neurosym.translators.models.ensure_model`).
        ``n_ctx`` is 8192 tokens by default (both embedded models read 32k): the longest IndustryOR problem
        with the MILP prompt takes 6,700. ``n_threads`` defaults to every CPU this process may use;
        ``llama_kwargs`` go to ``llama_cpp.Llama``
        (for example ``n_gpu_layers=-1``); ``prompt_cache`` and ``fast_grammar`` are as in the
        constructor (see the module docstring).

        Raises:
            MissingDependencyError: llama-cpp-python or the model's slices are not installed.
            BackendError: llama.cpp could not load the file.

        """
        from neurosym.translators.models import EMBEDDED_MODELS, ensure_model, resolve_model_name

        llama_cpp = _import_llama_cpp()
        spec = str(path_or_model_name)
        path = ensure_model(spec, cache_dir=cache_dir)
        name = resolve_model_name(spec) if resolve_model_name(spec) in EMBEDDED_MODELS else path.name
        try:
            llm = llama_cpp.Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or _threads(), verbose=verbose, **llama_kwargs
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp could not load the model: {exc}", backend=cls.name, model=name) from exc
        return cls(llm, model_name=name, settings=settings, prompt_cache=prompt_cache, fast_grammar=fast_grammar)

    @property
    def identity(self) -> dict[str, Any]:
        """The model identity in cassette and cache keys: the name and the GGUF file's sha256.

        An embedded model's digest is the registered one; any other file is hashed once and the
        digest remembered (see :func:`neurosym.translators.identity.gguf_identity`).

        Example:
            >>> from_llamacpp(object(), model_name="m").identity  # a stand-in with no model file
            {'kind': 'llamacpp', 'model': 'm'}

        """
        from neurosym.translators.identity import gguf_identity

        return gguf_identity(self.name, self.model, getattr(self.llm, "model_path", None))

    # --- generation ---------------------------------------------------------------------------

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """Complete each request ``n`` times (seeds ``seed … seed + n - 1``); ``progress`` sees every token.

        Raises:
            ConfigurationError: live requests are switched off, a regex constraint, or a grammar
                llama.cpp cannot parse.
            BackendError: llama.cpp refused or failed the request (for example a prompt longer
                than the context window).

        """
        check_allow_live_requests(self.name)
        resolved = merge(self.settings, settings).resolved()
        kwargs = _sampling_kwargs(resolved)
        n, seed = resolved.n or 1, resolved.seed or 0
        results = []
        with self._lock:
            for position, request in enumerate(requests):
                messages = [m.to_dict() for m in request.messages]
                constraint_kwargs = self._constraint_kwargs(request.constraint)
                samples: list[Sample] = []
                prompt_tokens, started = 0, time.perf_counter()
                for index in range(n):
                    with (
                        self._normalize_errors(),
                        self._cache_saves(index == 0),
                        self._watch_tokens(progress, position, index),
                    ):
                        response: Any
                        if request.messages[-1].role == "assistant":
                            response = self._continue(messages, seed + index, kwargs, constraint_kwargs)
                        else:
                            response = self.llm.create_chat_completion(
                                messages=cast("list[ChatCompletionRequestMessage]", messages),
                                seed=seed + index,
                                **kwargs,
                                **constraint_kwargs,
                            )
                    samples.append(_sample(response))
                    if progress is not None:
                        progress(Progress(position, index, samples[-1].completion_tokens, "", done=True))
                    prompt_tokens = int(response.get("usage", {}).get("prompt_tokens", 0))
                usage = Usage(prompt_tokens, sum(s.completion_tokens for s in samples), time.perf_counter() - started)
                results.append(GenerationResult(tuple(samples), usage, self.name, self.model))
        return results

    def _continue(
        self, messages: list[dict[str, str]], seed: int, kwargs: dict[str, Any], constraint_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Complete the final assistant message: the template up to the assistant's turn, then its text as prompt.

        The sampling defaults are those of llama-cpp-python's chat handler (repeat penalty 1.1), so
        that a span is drawn as the same words would be in a whole answer.
        """
        formatter = self._chat_formatter()
        rendered = formatter(messages=messages[:-1])
        prompt = self.llm.tokenize(
            (rendered.prompt + messages[-1]["content"]).encode("utf-8"),
            add_bos=not rendered.added_special,
            special=True,
        )
        stop = list(kwargs.pop("stop", None) or [])
        extra_stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop] if rendered.stop else []
        options = {"temperature": 0.2, "repeat_penalty": 1.1, **kwargs}
        completion: Any = self.llm.create_completion(  # a dict: no stream=True
            prompt=prompt, seed=seed, stop=stop + extra_stop, **options, **constraint_kwargs
        )
        choice = completion["choices"][0]
        return {
            "choices": [{"message": {"content": choice.get("text", "")}, "finish_reason": choice.get("finish_reason")}],
            "usage": completion.get("usage", {}),
        }

    def _chat_formatter(self) -> Any:
        """The GGUF file's chat template as llama-cpp-python builds it (opening the assistant's turn)."""
        if self._formatter is None:
            from llama_cpp import llama_chat_format

            metadata = getattr(self.llm, "metadata", None) or {}
            template = metadata.get("tokenizer.chat_template")
            if not template:
                raise ConfigurationError(
                    "this model has no chat template in its GGUF file, so a partial answer cannot be continued",
                    backend=self.name,
                    model=self.model,
                )
            llm = self.llm
            eos_id, bos_id = llm.token_eos(), llm.token_bos()
            self._formatter = llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=llm._model.token_get_text(eos_id) if eos_id != -1 else "",
                bos_token=llm._model.token_get_text(bos_id) if bos_id != -1 else "",
                stop_token_ids=[eos_id],
            )
        return self._formatter

    def _constraint_kwargs(self, constraint: Constraint | None) -> dict[str, Any]:
        if constraint is None:
            return {}
        if constraint.kind == "grammar":
            return {"grammar": self._grammar(str(constraint.value), json_schema=False)}
        if constraint.kind == "json_schema":
            value = constraint.value
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            return {"grammar": self._grammar(text, json_schema=True)}
        raise ConfigurationError(
            "llama.cpp does not support regex constraints; write the pattern as a GBNF grammar "
            "(Constraint('grammar', ...)) or use the vLLM backend",
            backend=self.name,
        )

    def _grammar(self, text: str, *, json_schema: bool) -> LlamaGrammar:
        """Compile GBNF (or a JSON schema) once per text, checking it with llama.cpp's parser.

        llama-cpp-python hands a grammar llama.cpp cannot parse to the sampler chain as a null
        pointer, which crashes the process; the check turns that into a ConfigurationError.
        """
        key = ("json:" if json_schema else "gbnf:") + text
        grammar = self._grammars.get(key)
        if grammar is None:
            llama_cpp = _import_llama_cpp()
            try:
                if json_schema:
                    grammar = llama_cpp.LlamaGrammar.from_json_schema(text, verbose=False)
                else:
                    grammar = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
            except (ValueError, RuntimeError, TypeError) as exc:
                kind = "JSON schema" if json_schema else "grammar"
                raise ConfigurationError(f"llama.cpp cannot use this {kind}: {exc}", backend=self.name) from exc
            self._check_grammar(grammar._grammar, llama_cpp)
            self._grammars[key] = grammar
        return grammar

    def _check_grammar(self, gbnf: str, llama_cpp: Any) -> None:
        vocab = getattr(getattr(self.llm, "_model", None), "vocab", None)
        if vocab is None:  # pragma: no cover - an unfamiliar llama-cpp-python; let it parse at use
            return
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
        if not sampler:
            raise ConfigurationError(
                "llama.cpp could not parse the GBNF grammar (its parser printed the reason to stderr); "
                "a grammar needs a 'root' rule and no left recursion",
                backend=self.name,
                model=self.model,
            )
        llama_cpp.llama_sampler_free(sampler)

    @contextmanager
    def _watch_tokens(self, progress: ProgressCallback | None, request_index: int, sample_index: int) -> Iterator[None]:
        """Report each sampled token to ``progress``, by wrapping ``Llama.sample`` for one completion.

        ``Llama.generate`` calls ``self.sample`` once per token; shadowing it on the instance sees
        every token without changing what is sampled (a ``logits_processor`` would switch off the
        fast grammar path).
        """
        if progress is None:
            yield
            return
        llm = self.llm
        original = llm.sample
        count = 0

        def sample(*args: Any, **kwargs: Any) -> Any:
            nonlocal count
            token = original(*args, **kwargs)
            count += 1
            try:
                text = llm.detokenize([int(token)]).decode("utf-8", "ignore")
            except Exception:
                text = ""
            progress(Progress(request_index, sample_index, count, text))
            return token

        llm.sample = sample  # type: ignore[method-assign]  # on this instance, for this call; del restores it
        try:
            yield
        finally:
            del llm.sample  # the class's method again

    @contextmanager
    def _cache_saves(self, enabled: bool) -> Iterator[None]:
        """Detach the prompt cache for samples after the first: their prompt state is already saved."""
        cache = getattr(self.llm, "cache", None)
        if enabled or cache is None:
            yield
            return
        self.llm.cache = None
        try:
            yield
        finally:
            self.llm.cache = cache

    @contextmanager
    def _normalize_errors(self) -> Iterator[None]:
        """Turn llama-cpp-python's exceptions into BackendError, keeping the original as the cause."""
        try:
            yield
        except NeurosymError:
            raise
        except ValueError as exc:
            message = str(exc)
            if "context window" in message or "exceed" in message:
                raise BackendError(
                    f"the prompt does not fit the model's context window: {message}; "
                    "shorten the prompt or load the model with a larger n_ctx",
                    backend=self.name,
                    model=self.model,
                ) from exc
            raise BackendError(
                f"llama.cpp rejected the request: {message}", backend=self.name, model=self.model
            ) from exc
        except TypeError as exc:  # an option llama-cpp-python does not know, e.g. from settings.extra
            raise ConfigurationError(
                f"llama.cpp rejected the sampling options: {exc}", backend=self.name, model=self.model
            ) from exc
        except (RuntimeError, OSError, KeyError) as exc:
            raise BackendError(
                f"llama.cpp failed: {type(exc).__name__}: {exc}", backend=self.name, model=self.model
            ) from exc


def _sample(response: Mapping[str, Any]) -> Sample:
    choice = response["choices"][0]
    text = choice.get("message", {}).get("content") or ""
    return Sample(text, choice.get("finish_reason"), int(response.get("usage", {}).get("completion_tokens", 0)))


def from_llamacpp(llm: Llama, model_name: str | None = None, **options: Any) -> LlamaCppBackend:
    """Wrap a ``llama_cpp.Llama`` you loaded; ``options`` go to :class:`LlamaCppBackend`.

    Example:
        >>> from_llamacpp(object(), model_name="m").model
        'm'

    """
    return LlamaCppBackend(llm, model_name, **options)
