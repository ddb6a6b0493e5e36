"""A backend for any server that speaks the OpenAI chat-completions API.

One backend serves ``vllm serve``, SGLang, llama.cpp's server (``llama-server`` or
``python -m llama_cpp.server``), Ollama and OpenAI itself; they differ only in how an output
constraint is spelled, which ``structured_output`` selects:

=================  ===========================================================================
``"vllm"``         ``extra_body={"structured_outputs": {"grammar"|"regex"|"json": ...}}``
                   (vLLM >= 0.10.2; the form current vLLM and SGLang's vLLM-compatible API read)
``"vllm-legacy"``  ``extra_body={"guided_grammar"|"guided_regex"|"guided_json": ...}``
                   (vLLM < 0.10.2; these names were deprecated in 0.10.2 and removed in 0.12.0)
``"llamacpp"``     ``grammar`` (GBNF) for grammars, ``response_format={"type": "json_object",
                   "schema": ...}`` for JSON schemas; regexes are refused
``"openai"``       ``response_format={"type": "json_schema", ...}``; grammars and regexes are refused
``"none"``         no constraint may be given (a constraint is never dropped silently)
=================  ===========================================================================

Only one vLLM spelling is sent per request: sending both is harmless on vLLM < 0.10.2 and >= 0.12
(an unknown field is logged and ignored) but untested on the releases in between, where both exist.

Example:
    >>> import httpx, openai
    >>> from neurosym.translators.base import GenerationRequest
    >>> def handler(request):
    ...     return httpx.Response(200, json={
    ...         "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
    ...         "choices": [{"index": 0, "finish_reason": "stop",
    ...                      "message": {"role": "assistant", "content": "P(a)"}}],
    ...         "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})
    >>> client = openai.AsyncOpenAI(base_url="http://llm.invalid/v1", api_key="EMPTY",
    ...     http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    >>> with OpenAICompatBackend(client, model="m") as backend:
    ...     [result] = backend.generate([GenerationRequest.from_prompt("Formalise: a is P.")])
    >>> result.texts, result.usage.prompt_tokens, result.samples[0].completion_tokens
    (['P(a)'], 9, 3)

"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar, get_args

import openai

from neurosym.errors import (
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    ConfigurationError,
    RateLimitError,
)
from neurosym.settings import SamplingSettings
from neurosym.translators.base import (
    Constraint,
    GenerationRequest,
    GenerationResult,
    Sample,
    Usage,
    check_allow_live_requests,
)

__all__ = ["OpenAICompatBackend", "StructuredOutput"]

StructuredOutput = Literal["vllm", "vllm-legacy", "llamacpp", "openai", "none"]
"""How a request's :class:`~neurosym.translators.base.Constraint` is sent to the server."""

_MODES: tuple[str, ...] = get_args(StructuredOutput)
_VLLM_KEYS = {"grammar": "grammar", "regex": "regex", "json_schema": "json"}
_VLLM_LEGACY_KEYS = {"grammar": "guided_grammar", "regex": "guided_regex", "json_schema": "guided_json"}
_CONTEXT_MARKERS = ("context length", "context window", "context_length", "maximum context", "n_ctx", "too many tokens")
_CONTEXT_HINT = "shorten the prompt or lower max_tokens, or serve the model with a larger context window"
_UNRESOLVED_MODEL = "<unresolved>"

T = TypeVar("T")


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """``(timeouts, other request errors)`` of whichever httpx flavours are loaded (httpx, httpx2)."""
    timeouts: list[type[BaseException]] = []
    requests: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        module = sys.modules.get(name)
        if module is not None:
            timeouts.append(module.TimeoutException)
            requests.append(module.RequestError)
    return tuple(timeouts), tuple(requests)


def _split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers that differ by at most one and sum to ``total``."""
    base, remainder = divmod(max(total, 0), parts)
    return [base + (1 if i < remainder else 0) for i in range(parts)]


class _LoopThread:
    """An asyncio event loop running forever in a daemon thread; coroutines are submitted to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="neurosym-openai-loop", daemon=True)
        try:
            self.thread.start()
        except BaseException:
            self.loop.close()
            raise

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, closer: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run ``closer`` (if any) on the loop, then stop the loop and its thread."""
        try:
            if closer is not None:
                if self.thread.is_alive() and not self.loop.is_closed():
                    with contextlib.suppress(Exception):
                        self.submit(closer).result(timeout=10)
                else:
                    closer.close()
            if self.thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(timeout=10)
        finally:
            if not self.thread.is_alive() and not self.loop.is_closed():
                self.loop.close()


def _shutdown(runner_box: list[_LoopThread], client: Any, owns_client: bool) -> None:
    """Stop the loop thread, closing the client on it first when the backend built the client."""
    if runner_box:
        runner: _LoopThread | None = runner_box.pop()
    elif owns_client:  # never used: close it on a short-lived loop (no thread can start at interpreter exit)
        try:
            runner = _LoopThread()
        except RuntimeError:
            return
    else:
        return
    runner.stop(client.close() if owns_client else None)


class OpenAICompatBackend:
    """Complete chat prompts on an OpenAI-compatible server through a client the caller built.

    Requests are sent concurrently, at most ``max_concurrency`` HTTP requests in flight, from an
    event loop that the backend runs in its own thread; so :meth:`generate` works the same from
    plain code, from a notebook and from inside a running event loop, and :meth:`agenerate` serves
    async callers. The client is driven only from that thread, so do not share it with another
    event loop while the backend is in use.

    Retries: 429, 408/409, 5xx answers, timeouts and dropped connections are retried with
    exponential backoff (0.5 s doubling to 8 s, with jitter, honouring ``Retry-After``) by the
    openai client itself, up to the client's ``max_retries``; the backend adds no retry loop of
    its own. What is left after the retries is raised as a :class:`~neurosym.errors.BackendError`
    (see :meth:`_normalize_errors`).

    Sampling: the caller's :class:`~neurosym.settings.SamplingSettings` are merged onto the
    defaults (``n=1``, greedy, 512 tokens, seed 0) and sent as ``n``, ``temperature``, ``top_p``,
    ``max_tokens``, ``stop`` and ``seed``; ``settings.extra`` goes into the request body unchanged
    (``extra_body``). Servers that return fewer than ``n`` choices (llama.cpp's servers ignore
    ``n``) are asked again for the rest, with ``seed + i`` where ``i`` is the index of the first
    sample still missing, until ``n`` samples are collected.

    Usage: prompt and completion tokens are summed over every HTTP request made for a generation
    request; ``latency_s`` is the wall time of those HTTP requests (``time.perf_counter``), not
    counting time spent waiting for a concurrency slot. The API reports completion tokens only
    per response, so each :class:`~neurosym.translators.base.Sample` gets an even share of its
    response's completion tokens (they differ by at most one and add up to the total).

    Args:
        client: an ``openai.AsyncOpenAI``, or an ``openai.OpenAI`` whose ``base_url``,
            ``api_key``, ``timeout`` and ``max_retries`` are copied into a new ``AsyncOpenAI``
            (which the backend then owns and closes).
        model: the model name the server knows (``GET /v1/models``).
        max_concurrency: most HTTP requests in flight at once.
        structured_output: how constraints are sent; see the module docstring.

    Example:
        >>> import openai
        >>> client = openai.AsyncOpenAI(base_url="http://localhost:8000/v1", api_key="EMPTY")
        >>> backend = OpenAICompatBackend(client, model="Qwen/Qwen2.5-7B", max_concurrency=4)
        >>> backend
        OpenAICompatBackend(model='Qwen/Qwen2.5-7B', base_url='http://localhost:8000/v1/', structured_output='vllm')
        >>> backend.close()

    """

    name: ClassVar[str] = "openai"
    model: str

    def __init__(
        self,
        client: openai.AsyncOpenAI | openai.OpenAI,
        model: str,
        *,
        max_concurrency: int = 16,
        structured_output: StructuredOutput = "vllm",
    ) -> None:
        if isinstance(client, openai.AsyncOpenAI):
            owns_client = False
        elif isinstance(client, openai.OpenAI):
            client = openai.AsyncOpenAI(
                api_key=client.api_key,
                base_url=client.base_url,
                timeout=client.timeout,
                max_retries=client.max_retries,
            )
            owns_client = True
        else:
            raise ConfigurationError(
                "OpenAICompatBackend needs an openai.AsyncOpenAI or openai.OpenAI client, "
                f"not {type(client).__name__}; or use OpenAICompatBackend.from_url(base_url, model)"
            )
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"model must be a non-empty string, got {model!r}")
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
        if structured_output not in _MODES:
            raise ConfigurationError(
                f"unknown structured_output {structured_output!r}; expected one of {', '.join(_MODES)}"
            )
        self.client: openai.AsyncOpenAI = client
        self.model = model
        self.max_concurrency = max_concurrency
        self.structured_output: StructuredOutput = structured_output
        self._owns_client = owns_client
        self._runner_box: list[_LoopThread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._semaphore: asyncio.Semaphore | None = None
        self._finalizer = weakref.finalize(self, _shutdown, self._runner_box, client, owns_client)

    @property
    def supports_grammar(self) -> bool:
        """Whether the server applies GBNF grammars in this ``structured_output`` mode."""
        return self.structured_output in ("vllm", "vllm-legacy", "llamacpp")

    @classmethod
    def from_url(
        cls,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_concurrency: int = 16,
        structured_output: StructuredOutput = "vllm",
        http_client: Any = None,
    ) -> OpenAICompatBackend:
        """Build a backend (and its own client) for the server at ``base_url``.

        Arguments left as ``None`` are read from the environment: ``OPENAI_BASE_URL``,
        ``OPENAI_API_KEY`` (else ``"EMPTY"``, which local servers accept) and ``NEUROSYM_MODEL``.
        If no model is named anywhere, the server is asked (``GET /v1/models``) and the one model
        it serves is used.

        Args:
            base_url: the API root, e.g. ``http://localhost:8000/v1``.
            model: the served model name.
            api_key: the bearer token.
            timeout: seconds allowed per HTTP request.
            max_retries: retries (with exponential backoff) on 429, 5xx, timeouts and dropped
                connections, done by the openai client.
            max_concurrency: most HTTP requests in flight at once.
            structured_output: how constraints are sent; see the module docstring.
            http_client: an ``httpx.AsyncClient`` for the openai client to use (proxies, tests);
                it is closed with the backend.

        Raises:
            ConfigurationError: no base URL anywhere, or no model named and the server serves
                none or several (the message lists them).
            BackendError: the model list could not be fetched.

        Example:
            >>> import httpx
            >>> def handler(request):
            ...     assert request.url.path == "/v1/models"
            ...     return httpx.Response(200, json={"object": "list", "data": [
            ...         {"id": "qwen2.5-coder", "object": "model", "created": 0, "owned_by": "me"}]})
            >>> backend = OpenAICompatBackend.from_url(
            ...     "http://llm.invalid/v1", http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
            >>> backend.model
            'qwen2.5-coder'
            >>> backend.close()

        """
        base_url = base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigurationError(
                "no server URL: pass base_url= or set OPENAI_BASE_URL "
                "(e.g. http://localhost:8000/v1 for vllm serve, https://api.openai.com/v1 for OpenAI)"
            )
        api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or "EMPTY"
        model = model if model is not None else os.environ.get("NEUROSYM_MODEL") or None
        client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries, http_client=http_client
        )
        backend = cls(
            client,
            model or _UNRESOLVED_MODEL,
            max_concurrency=max_concurrency,
            structured_output=structured_output,
        )
        backend._adopt_client()
        if model is None:
            try:
                served = backend.list_models()
                if len(served) != 1:
                    listing = ", ".join(served) if served else "none"
                    raise ConfigurationError(
                        f"{backend.base_url} serves {len(served)} models ({listing}); "
                        "pass model= or set NEUROSYM_MODEL to choose one"
                    )
            except BaseException:
                backend.close()
                raise
            backend.model = served[0]
        return backend

    def _adopt_client(self) -> None:
        """Take ownership of the client (it is closed with the backend)."""
        self._owns_client = True
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _shutdown, self._runner_box, self.client, True)

    @property
    def base_url(self) -> str:
        """The server's API root, as the client sends requests to it.

        Example:
            >>> import openai
            >>> backend = OpenAICompatBackend(openai.AsyncOpenAI(base_url="http://h:1/v1", api_key="k"), model="m")
            >>> backend.base_url
            'http://h:1/v1/'
            >>> backend.close()

        """
        return str(self.client.base_url)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r}, "
            f"structured_output={self.structured_output!r})"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the backend's event-loop thread, and close the client if the backend built it.

        A client the caller passed in stays open. Closing twice is harmless.

        Example:
            >>> import openai
            >>> backend = OpenAICompatBackend(openai.AsyncOpenAI(base_url="http://h/v1", api_key="k"), model="m")
            >>> backend.close(); backend.close()

        """
        with self._lock:
            self._closed = True
        self._finalizer()

    def __enter__(self) -> OpenAICompatBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _runner(self) -> _LoopThread:
        with self._lock:
            if self._closed:
                raise ConfigurationError("this OpenAICompatBackend is closed")
            if not self._runner_box:
                self._runner_box.append(_LoopThread())
            runner = self._runner_box[0]
        if threading.current_thread() is runner.thread:
            raise ConfigurationError("generate() was called from the backend's own event loop; use agenerate()")
        return runner

    def _run(self, make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``make_coro()`` on the backend's loop and wait for it from this (synchronous) thread."""
        runner = self._runner()  # before the coroutine exists, so a refusal leaves none un-awaited
        future = runner.submit(make_coro())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    async def _arun(self, make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``make_coro()`` on the backend's loop and await it from the caller's loop."""
        runner = self._runner()
        return await asyncio.wrap_future(runner.submit(make_coro()))

    # -- public API --------------------------------------------------------------------------

    def generate(
        self, requests: Sequence[GenerationRequest], *, settings: SamplingSettings | None = None
    ) -> list[GenerationResult]:
        """Complete every request, each with ``settings.n`` samples, concurrently.

        Args:
            requests: the chat prompts, each with an optional constraint.
            settings: sampling settings, merged onto the defaults.

        Returns:
            One :class:`~neurosym.translators.base.GenerationResult` per request, in order.

        Raises:
            ConfigurationError: a constraint the chosen ``structured_output`` cannot send, or live
                requests are switched off.
            BackendError: the server failed (after the client's retries); see :meth:`_normalize_errors`.

        Example:
            >>> import httpx, openai
            >>> from neurosym.translators.base import GenerationRequest
            >>> def handler(request):  # a server that ignores n, like llama.cpp's
            ...     body = json.loads(request.content)
            ...     return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 0,
            ...         "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
            ...         "message": {"role": "assistant", "content": f"seed {body['seed']}"}}]})
            >>> client = openai.AsyncOpenAI(base_url="http://llm.invalid/v1", api_key="EMPTY",
            ...     http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
            >>> with OpenAICompatBackend(client, model="m") as backend:
            ...     [result] = backend.generate([GenerationRequest.from_prompt("hi")],
            ...                                 settings=SamplingSettings(n=3, seed=10, temperature=0.7))
            >>> result.texts
            ['seed 10', 'seed 11', 'seed 12']

        """
        resolved, bodies = self._prepare(requests, settings)
        return self._run(lambda: self._generate_all(list(requests), resolved, bodies))

    async def agenerate(
        self, requests: Sequence[GenerationRequest], *, settings: SamplingSettings | None = None
    ) -> list[GenerationResult]:
        """The async form of :meth:`generate`, for callers already inside an event loop.

        Example:
            >>> import asyncio, httpx, openai
            >>> from neurosym.translators.base import GenerationRequest
            >>> reply = {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [
            ...     {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]}
            >>> transport = httpx.MockTransport(lambda request: httpx.Response(200, json=reply))
            >>> client = openai.AsyncOpenAI(base_url="http://llm.invalid/v1", api_key="EMPTY",
            ...     http_client=httpx.AsyncClient(transport=transport))
            >>> with OpenAICompatBackend(client, model="m") as backend:
            ...     results = asyncio.run(backend.agenerate([GenerationRequest.from_prompt("hi")] * 2))
            >>> [r.texts for r in results]
            [['ok'], ['ok']]

        """
        resolved, bodies = self._prepare(requests, settings)
        return await self._arun(lambda: self._generate_all(list(requests), resolved, bodies))

    def list_models(self) -> list[str]:
        """The model names the server serves (``GET /v1/models``).

        Example:
            >>> import httpx, openai
            >>> listing = {"object": "list", "data": [{"id": "a", "object": "model", "created": 0, "owned_by": "x"},
            ...                                       {"id": "b", "object": "model", "created": 0, "owned_by": "x"}]}
            >>> transport = httpx.MockTransport(lambda request: httpx.Response(200, json=listing))
            >>> client = openai.AsyncOpenAI(base_url="http://llm.invalid/v1", api_key="EMPTY",
            ...     http_client=httpx.AsyncClient(transport=transport))
            >>> with OpenAICompatBackend(client, model="a") as backend:
            ...     backend.list_models()
            ['a', 'b']

        """
        check_allow_live_requests(self.name)
        return self._run(self._list_models)

    # -- internals ---------------------------------------------------------------------------

    def _prepare(
        self, requests: Sequence[GenerationRequest], settings: SamplingSettings | None
    ) -> tuple[SamplingSettings, list[dict[str, Any]]]:
        """Resolve settings and translate every constraint before any request is sent."""
        if isinstance(requests, GenerationRequest):
            raise ConfigurationError("generate() takes a list of requests; wrap a single request in [...]")
        resolved = (settings or SamplingSettings()).resolved()
        bodies = [self._constraint_body(request.constraint) for request in requests]
        check_allow_live_requests(self.name)
        return resolved, bodies

    def _constraint_body(self, constraint: Constraint | None) -> dict[str, Any]:
        """The request-body fields that carry ``constraint`` for this server kind."""
        if constraint is None:
            return {}
        mode, kind, value = self.structured_output, constraint.kind, constraint.value
        if kind == "json_schema" and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"a json_schema constraint must be a dict or JSON text: {exc}") from exc
        if mode == "vllm":
            return {"structured_outputs": {_VLLM_KEYS[kind]: value}}
        if mode == "vllm-legacy":
            return {_VLLM_LEGACY_KEYS[kind]: value}
        if mode == "llamacpp":
            if kind == "grammar":
                return {"grammar": value}
            if kind == "json_schema":
                return {"response_format": {"type": "json_object", "schema": value}}
            raise ConfigurationError(
                "llama.cpp servers take no regex constraint; write it as a GBNF grammar (Constraint('grammar', ...))"
            )
        if mode == "openai":
            if kind == "json_schema":
                name = value.get("title") if isinstance(value, Mapping) else None
                name = "".join(c if c.isalnum() or c in "_-" else "_" for c in str(name or "output"))[:64]
                return {"response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": value}}}
            raise ConfigurationError(
                f"structured_output='openai' supports only json_schema constraints, not {kind}; "
                "use structured_output='vllm' or 'llamacpp' for a server that can"
            )
        raise ConfigurationError(
            f"a {kind} constraint was given but structured_output='none'; choose 'vllm', 'vllm-legacy', "
            "'llamacpp' or 'openai' to match the server, or drop the constraint"
        )

    async def _generate_all(
        self, requests: list[GenerationRequest], settings: SamplingSettings, bodies: list[dict[str, Any]]
    ) -> list[GenerationResult]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        tasks = [
            asyncio.ensure_future(self._generate_one(request, settings, body))
            for request, body in zip(requests, bodies, strict=True)
        ]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _generate_one(
        self, request: GenerationRequest, settings: SamplingSettings, body: dict[str, Any]
    ) -> GenerationResult:
        n = settings.n or 1
        messages = [message.to_dict() for message in request.messages]
        extra_body = {**settings.extra, **body}
        samples: list[Sample] = []
        usage = Usage()
        while len(samples) < n:
            wanted = n - len(samples)
            kwargs: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "n": wanted,
                "temperature": settings.temperature,
                "top_p": settings.top_p,
                "max_tokens": settings.max_tokens,
            }
            if settings.seed is not None:
                kwargs["seed"] = settings.seed + len(samples)
            if settings.stop:
                kwargs["stop"] = list(settings.stop)
            if extra_body:
                kwargs["extra_body"] = extra_body
            assert self._semaphore is not None
            async with self._semaphore:
                started = time.perf_counter()
                with self._normalize_errors():
                    response = await self.client.chat.completions.create(**kwargs)
                elapsed = time.perf_counter() - started
            new_samples, prompt_tokens, completion_tokens = self._read_response(response)
            samples.extend(new_samples[:wanted])
            usage = usage + Usage(prompt_tokens, completion_tokens, elapsed)
        return GenerationResult(tuple(samples), usage, self.name, self.model)

    def _read_response(self, response: Any) -> tuple[list[Sample], int, int]:
        """Samples and token counts from a chat completion; anything unexpected is a malformed response."""
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            shown = type(response).__name__ if not isinstance(response, str) else repr(response[:200])
            raise self._error(
                BackendError, f"malformed response from {self.base_url}: no choices in the completion ({shown})"
            )
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        shares = _split_evenly(completion_tokens, len(choices))
        samples = []
        for choice, share in zip(choices, shares, strict=True):
            try:
                text = choice.message.content
                finish_reason = choice.finish_reason
            except AttributeError as exc:
                raise self._error(
                    BackendError, f"malformed response from {self.base_url}: a choice has no message ({exc})"
                ) from exc
            samples.append(Sample(text or "", finish_reason, share))
        return samples, prompt_tokens, completion_tokens

    async def _list_models(self) -> list[str]:
        with self._normalize_errors():
            page = await self.client.models.list()
        data = getattr(page, "data", None)
        if not isinstance(data, list):
            raise self._error(BackendError, f"malformed response from {self.base_url}: no model list")
        return [str(getattr(entry, "id", entry)) for entry in data]

    def _error(self, cls: type[BackendError], message: str, **context: Any) -> BackendError:
        fields: dict[str, Any] = {"backend": self.name, "model": self.model, "base_url": self.base_url}
        fields.update(context)
        if fields.get("model") == _UNRESOLVED_MODEL:
            fields["model"] = None
        return cls(message, **fields)

    @contextlib.contextmanager
    def _normalize_errors(self, **context: Any) -> Iterator[None]:
        """Translate openai and httpx exceptions into neurosym's error tree (``raise ... from exc``).

        Every error carries ``backend``, ``model``, ``base_url`` and, for HTTP answers,
        ``status_code`` and ``request_id``; the message names the URL too:

        - ``openai.APITimeoutError``, an httpx timeout → :class:`~neurosym.errors.BackendTimeoutError`
        - ``openai.APIConnectionError``, other httpx request errors → :class:`~neurosym.errors.BackendConnectionError`
        - ``openai.RateLimitError`` (429) → :class:`~neurosym.errors.RateLimitError`
        - a 400 about the context length → :class:`~neurosym.errors.BackendError` with a ``hint``
        - any other status → :class:`~neurosym.errors.BackendError` with ``status_code``
        - truncated JSON, a body that is not a completion → ``BackendError("malformed response ...")``

        Example:
            >>> import openai
            >>> backend = OpenAICompatBackend(openai.AsyncOpenAI(base_url="http://h/v1", api_key="k"), model="m")
            >>> with backend._normalize_errors():  # doctest: +ELLIPSIS
            ...     raise json.JSONDecodeError("Expecting value", "{", 1)
            Traceback (most recent call last):
            ...
            neurosym.errors.BackendError: malformed response from http://h/v1/: Expecting value: ...
            >>> backend.close()

        """
        url = self.base_url
        timeouts, request_errors = _transport_errors()
        try:
            yield
        except openai.APITimeoutError as exc:
            raise self._error(BackendTimeoutError, f"{url} did not answer in time: {exc}", **context) from exc
        except openai.APIConnectionError as exc:
            raise self._error(BackendConnectionError, f"could not reach {url}: {exc}", **context) from exc
        except openai.RateLimitError as exc:
            raise self._error(
                RateLimitError,
                f"{url} is rate limiting (HTTP 429) after the client's retries: {exc.message}",
                status_code=429,
                request_id=getattr(exc, "request_id", None),
                **context,
            ) from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            detail = str(exc.message)[:500]
            fields: dict[str, Any] = {"status_code": status, "request_id": getattr(exc, "request_id", None)}
            if status == 400 and any(marker in detail.lower() for marker in _CONTEXT_MARKERS):
                message = f"{url} refused the request (HTTP 400): the prompt does not fit the context: {detail}"
                fields["hint"] = _CONTEXT_HINT
            else:
                message = f"{url} answered HTTP {status}: {detail}"
            raise self._error(BackendError, message, **fields, **context) from exc
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise self._error(BackendError, f"malformed response from {url}: {exc}", **context) from exc
        except openai.OpenAIError as exc:
            raise self._error(BackendError, f"request to {url} failed: {exc}", **context) from exc
        except timeouts as exc:
            raise self._error(BackendTimeoutError, f"{url} did not answer in time: {exc!r}", **context) from exc
        except request_errors as exc:
            raise self._error(BackendConnectionError, f"could not reach {url}: {exc!r}", **context) from exc
