"""A backend for any server that speaks the OpenAI chat-completions API.

One backend serves ``vllm serve``, SGLang, llama.cpp's server (``llama-server`` or
``python -m llama_cpp.server``), Ollama and OpenAI itself; they differ only in how an output
constraint is spelled, which ``structured_output`` selects (one
:class:`~neurosym.translators.backends.structured_output.StructuredOutputFormat` per server
dialect: ``vllm``, ``vllm-legacy``, ``llamacpp``, ``openai``, ``none``). The default, ``auto``,
probes the server once per process: it sends a tiny request whose constraint allows only the
text ``neurosym-probe-7`` in each format in turn and keeps the first format whose reply is
exactly that (a server that ignores fields it does not know, as llama.cpp's does, answers with
free text). Where no format is applied, requests go unconstrained, a warning is logged and
``supports_grammar`` is False.

Time: ``timeout`` is a deadline for each HTTP request as a whole (connecting, every read of the
body and the retries), not for each read: a server that dribbles its answer a byte a second
still fails after ``timeout`` seconds, with a :class:`~neurosym.errors.BackendTimeoutError`.

Answers are read as raw JSON and checked (see :mod:`._openai_wire`): a body that is not a chat
completion (HTML, empty, not JSON, larger than ``max_response_bytes``, content that is not text,
no choices) is a :class:`~neurosym.errors.BackendError` that says what the server sent; token
counts that make no sense count 0, with a logged warning.

Progress: ``generate(..., progress=callback)`` streams the answers (server-sent events) and calls
``callback`` with a :class:`~neurosym.translators.base.Progress` for each piece of text and once
per finished sample; the results are the same as without it.

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
    >>> with OpenAICompatBackend(client, model="m", structured_output="vllm") as backend:
    ...     [result] = backend.generate([GenerationRequest.from_prompt("Formalise: a is P.")])
    >>> result.texts, result.usage.prompt_tokens, result.samples[0].completion_tokens
    (['P(a)'], 9, 3)

"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import json
import logging
import math
import os
import random
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import openai

from neurosym.deadlines import Deadline, check_seconds
from neurosym.errors import (
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    ConfigurationError,
    RateLimitError,
)
from neurosym.settings import SamplingSettings
from neurosym.translators.backends._openai_wire import (
    Completion,
    EventStreamDecoder,
    MalformedResponse,
    ServerSentEvent,
    StreamReader,
    decode_json_body,
    read_completion,
    summarize_error_body,
)
from neurosym.translators.backends.structured_output import (
    FORMATS,
    MODES,
    PROBE_LOCK,
    PROBE_ORDER,
    PROBE_PROMPT,
    PROBED_FORMATS,
    StructuredOutput,
    StructuredOutputFormat,
    check_mode,
)
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

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_RESPONSE_BYTES",
    "OpenAICompatBackend",
    "Progress",
    "ProgressCallback",
    "StructuredOutput",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 600.0
"""The deadline per HTTP request when neither the caller nor the client names one (the openai client's default)."""

MAX_RESPONSE_BYTES = 16 * 2**20
"""The largest response body read (16 MiB; a completion of 16 samples of 8k tokens is about 0.5 MiB)."""

_INITIAL_RETRY_DELAY_S = 0.5
_MAX_RETRY_DELAY_S = 8.0
_MAX_RETRY_AFTER_S = 60.0
_CONTEXT_MARKERS = ("context length", "context window", "context_length", "maximum context", "n_ctx", "too many tokens")
_CONTEXT_HINT = "shorten the prompt or lower max_tokens, or serve the model with a larger context window"
_UNRESOLVED_MODEL = "<unresolved>"

T = TypeVar("T")


_CONTINUING_FORMATS = ("vllm", "vllm-legacy")
"""Structured-output formats of servers that continue a final assistant message (vLLM's ``continue_final_message``)."""


class _CallbackFailed(Exception):
    """Carries what the progress callback raised past the backend's error handling, to be re-raised as is."""

    def __init__(self, original: Exception) -> None:
        super().__init__(repr(original))
        self.original = original


class _Callback:
    """The progress callback of one generate() call; once it has raised, it is not called again."""

    def __init__(self, function: ProgressCallback) -> None:
        self.function = function
        self.failure: _CallbackFailed | None = None

    def __call__(self, progress: Progress) -> None:
        if self.failure is not None:  # another request's callback failed: this one stops too
            raise self.failure
        try:
            self.function(progress)
        except Exception as exc:
            self.failure = _CallbackFailed(exc)
            raise self.failure from exc


class _ProgressSink:
    """Sends the progress of one HTTP exchange: samples ``first .. first + wanted - 1`` of one request."""

    def __init__(self, callback: _Callback, request_index: int, first_sample: int, wanted: int) -> None:
        self.callback = callback
        self.request_index = request_index
        self.first_sample = first_sample
        self.wanted = wanted
        self.sent = False  # once text went out, a retry would send it again: the exchange is not retried
        self._streamed: set[int] = set()

    def text(self, choice: int, text: str, tokens_so_far: int) -> None:
        if choice < self.wanted:  # choices beyond n are dropped, as without streaming
            self._streamed.add(choice)
            self._emit(Progress(self.request_index, self.first_sample + choice, tokens_so_far, text))

    def finish(self, samples: Sequence[Sample]) -> None:
        """One ``done`` Progress per sample (after its whole text, where the server did not stream it)."""
        for choice, sample in enumerate(samples):
            index = self.first_sample + choice
            if choice not in self._streamed and sample.text:
                self._emit(Progress(self.request_index, index, sample.completion_tokens, sample.text))
            self._emit(Progress(self.request_index, index, sample.completion_tokens, "", done=True))

    def _emit(self, progress: Progress) -> None:
        self.sent = True
        self.callback(progress)


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


def _is_server_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's or the network's doing (as opposed to a bug or a cancellation)."""
    timeouts, request_errors = _transport_errors()
    return isinstance(exc, (openai.OpenAIError, json.JSONDecodeError, *timeouts, *request_errors))


def _retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """The delay a server asks for (``retry-after-ms``, or ``retry-after`` in seconds or as an HTTP date).

    Example:
        >>> _retry_after_s({"retry-after-ms": "250"}), _retry_after_s({"retry-after": "3"}), _retry_after_s({})
        (0.25, 3.0, None)

    """
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            delay = float(value) * scale
        except ValueError:
            if name != "retry-after":
                continue
            try:
                delay = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
        return delay if math.isfinite(delay) else None
    return None


def _headers_of(exc: BaseException) -> Mapping[str, str] | None:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None)


def _retry_delay_s(retries_taken: int, headers: Mapping[str, str] | None) -> float:
    """The wait before the next attempt: what the server asked for (up to a minute), else a backoff.

    The backoff is 0.5 s doubling to 8 s, less 0-25 % jitter.

    Example:
        >>> _retry_delay_s(0, {"retry-after": "2"}), 0.375 <= _retry_delay_s(0, None) <= 0.5
        (2.0, True)
        >>> _retry_delay_s(9, None) <= 8
        True

    """
    asked = _retry_after_s(headers)
    if asked is not None and 0 < asked <= _MAX_RETRY_AFTER_S:
        return asked
    backoff = min(_INITIAL_RETRY_DELAY_S * 2.0 ** min(retries_taken, 30), _MAX_RETRY_DELAY_S)
    return backoff * (1 - 0.25 * random.random())


def _is_retryable(exc: BaseException) -> bool:
    """The openai client's retry rule: 408, 409, 429, 5xx (unless the server says not), timeouts, lost connections."""
    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        asked = _retry_after_s(headers)
        if asked is not None and asked > _MAX_RETRY_AFTER_S:
            return False
        verdict = headers.get("x-should-retry")
        if verdict in ("true", "false"):
            return verdict == "true"
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    timeouts, request_errors = _transport_errors()
    return isinstance(exc, (openai.APIConnectionError, *timeouts, *request_errors))


def _error_text(exc: openai.APIStatusError) -> str:
    """Everything an HTTP error answer said (message and body), for matching field names in it."""
    body = exc.body
    try:
        shown = json.dumps(body) if body is not None and not isinstance(body, str) else (body or "")
    except (TypeError, ValueError):
        shown = repr(body)
    return f"{exc.message} {shown}"


def _client_timeout_s(client: openai.AsyncOpenAI) -> float:
    """The client's timeout as one number of seconds: the largest of its parts, else :data:`DEFAULT_TIMEOUT_S`."""
    value: Any = client.timeout
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return check_seconds(value, "the client's timeout")
    parts = [getattr(value, name, None) for name in ("connect", "read", "write", "pool")]
    numbers = [part for part in parts if isinstance(part, (int, float)) and not isinstance(part, bool)]
    return check_seconds(max(numbers), "the client's timeout") if numbers else DEFAULT_TIMEOUT_S


def _check_max_retries(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"max_retries must be a non-negative integer, got {value!r}")
    return value


class _ByteBudget:
    """Counts the bytes of a response body and stops at ``limit``."""

    def __init__(self, limit: int, headers: Mapping[str, str]) -> None:
        self.limit = limit
        self.size = 0
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise MalformedResponse(
                f"a body of {int(declared)} bytes (content-length), more than the {limit} bytes allowed "
                "(max_response_bytes)"
            )

    def take(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise MalformedResponse(
                f"a body of more than {self.limit} bytes, the most allowed (max_response_bytes); stopped reading"
            )


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
        runner = runner_box.pop()
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

    Deadline and retries: each HTTP request has ``timeout`` seconds in all, from the first connect
    to the last byte of its last retry (the client's own timeout still bounds each connect and
    read). 429, 408/409, 5xx answers, timeouts of a read and dropped connections are retried up to
    the client's ``max_retries`` times, with exponential backoff (0.5 s doubling to 8 s, with
    jitter, honouring ``Retry-After``), but only while the wait fits in the time left; the backend
    does the retrying (the client's own is switched off) so that the deadline covers it. When the
    deadline passes, :class:`~neurosym.errors.BackendTimeoutError` is raised; what is left after
    the retries is raised as a :class:`~neurosym.errors.BackendError` (see :meth:`_backend_error`).
    A streamed answer is not retried once its first text has gone to the progress callback.

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
        structured_output: how constraints are sent: ``auto`` (probe the server once), ``vllm``,
            ``vllm-legacy``, ``llamacpp``, ``openai`` or ``none``; see the module docstring.
        timeout: seconds allowed per HTTP request, retries included; by default the client's
            timeout (the largest of its parts).

    Example:
        >>> import openai
        >>> client = openai.AsyncOpenAI(base_url="http://localhost:8000/v1", api_key="EMPTY")
        >>> backend = OpenAICompatBackend(client, model="Qwen/Qwen2.5-7B", max_concurrency=4, timeout=30)
        >>> backend
        OpenAICompatBackend(model='Qwen/Qwen2.5-7B', base_url='http://localhost:8000/v1/', structured_output='auto')
        >>> backend.timeout, backend.max_retries
        (30.0, 2)
        >>> backend.close()

    """

    name: ClassVar[str] = "openai"
    model: str
    max_response_bytes: int = MAX_RESPONSE_BYTES
    """The largest response body read; a larger one is a malformed response."""

    def __init__(
        self,
        client: openai.AsyncOpenAI | openai.OpenAI,
        model: str,
        *,
        max_concurrency: int = 16,
        structured_output: StructuredOutput = "auto",
        timeout: float | None = None,
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
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
        check_mode(structured_output)
        self.timeout: float = check_seconds(timeout, "timeout") if timeout is not None else _client_timeout_s(client)
        self.max_retries: int = _check_max_retries(client.max_retries)
        self.client: openai.AsyncOpenAI = client
        # The backend retries itself, so that one deadline covers every attempt and the waits between.
        self._attempts_client = client.with_options(max_retries=0)
        self.model = model
        self.max_concurrency = max_concurrency
        self.structured_output: StructuredOutput = structured_output
        self._format: StructuredOutputFormat | None = (
            None if structured_output == "auto" else FORMATS[structured_output]
        )
        self._owns_client = owns_client
        self._runner_box: list[_LoopThread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._semaphore: asyncio.Semaphore | None = None
        self._probe_lock: asyncio.Lock | None = None
        self._stream_usage = True  # send stream_options={"include_usage": True} until the server refuses it
        self._streaming = True  # stream when asked for progress, until the server refuses stream=True
        self._warned: set[str] = set()
        self._finalizer = weakref.finalize(self, _shutdown, self._runner_box, client, owns_client)

    @property
    def supports_grammar(self) -> bool:
        """Whether the server applies GBNF grammars; with ``structured_output="auto"`` the first read probes it.

        Example:
            >>> import openai
            >>> client = openai.AsyncOpenAI(base_url="http://h/v1", api_key="k")
            >>> with OpenAICompatBackend(client, model="m", structured_output="openai") as backend:
            ...     backend.supports_grammar
            False

        """
        return FORMATS[self.resolve_structured_output()].supports_grammar

    @property
    def continues_partial_answer(self) -> bool:
        """Whether a final assistant message is continued: on vLLM servers (``continue_final_message``).

        A request whose last message is the assistant's is then sent with
        ``continue_final_message=True`` and ``add_generation_prompt=False``, and the server writes
        on from the partial answer (see :mod:`neurosym.translators.decoding.plan`). Other servers
        would answer after it, so the decoders send them whole-answer requests instead.

        Example:
            >>> import openai
            >>> client = openai.AsyncOpenAI(base_url="http://h/v1", api_key="k")
            >>> with OpenAICompatBackend(client, model="m", structured_output="vllm") as backend:
            ...     backend.continues_partial_answer
            True

        """
        return self.resolve_structured_output() in _CONTINUING_FORMATS

    def resolve_structured_output(self) -> str:
        """The format constraints are sent in: the chosen mode, or for ``auto`` the one the server applies.

        ``auto`` probes the server on the first call (a few requests of at most 32 tokens) and
        remembers the answer for the process, per ``(base_url, model)``, in
        :data:`~neurosym.translators.backends.structured_output.PROBED_FORMATS`; ``"none"`` means
        no format was applied.

        Raises:
            BackendConnectionError: the server could not be reached to probe it.

        Example:
            >>> import httpx, openai
            >>> def llama_cpp_like(request):  # applies "grammar", ignores the other fields
            ...     body = json.loads(request.content)
            ...     text = body["grammar"].split('"')[1] if "grammar" in body else "hello"
            ...     return httpx.Response(200, json={"choices": [{"message": {"content": text}}]})
            >>> client = openai.AsyncOpenAI(base_url="http://llama.invalid/v1", api_key="k",
            ...     http_client=httpx.AsyncClient(transport=httpx.MockTransport(llama_cpp_like)))
            >>> with OpenAICompatBackend(client, model="m") as backend:
            ...     backend.resolve_structured_output(), backend.supports_grammar
            ('llamacpp', True)
            >>> PROBED_FORMATS.pop(("http://llama.invalid/v1/", "m"))
            'llamacpp'

        """
        if self._format is None:
            check_allow_live_requests(self.name)
            self._run(self._aformat)
        assert self._format is not None
        return self._format.mode

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
        structured_output: StructuredOutput = "auto",
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
            timeout: seconds allowed per HTTP request, from connecting to the last byte, retries
                included.
            max_retries: retries (with exponential backoff) on 429, 5xx, timeouts and dropped
                connections, while time is left.
            max_concurrency: most HTTP requests in flight at once.
            structured_output: how constraints are sent; see the module docstring.
            http_client: an ``httpx.AsyncClient`` for the openai client to use (proxies, tests);
                it is closed with the backend.

        Raises:
            ConfigurationError: no base URL anywhere, a bad ``timeout``, ``max_retries`` or
                ``structured_output``, or no model named and the server serves none or several
                (the message lists them).
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
        timeout = check_seconds(timeout, "timeout")
        max_retries = _check_max_retries(max_retries)
        check_mode(structured_output)
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
            timeout=timeout,
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
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """Complete every request, each with ``settings.n`` samples, concurrently.

        Args:
            requests: the chat prompts, each with an optional constraint.
            settings: sampling settings, merged onto the defaults.
            progress: called with a :class:`Progress` for each piece of text as the server
                streams it, and once with ``done=True`` per sample (after its text, before this
                method returns). It runs on the backend's event-loop thread, so it should be quick
                and must not call the backend. Without it nothing is streamed. An exception it
                raises cancels every request of the call and propagates unchanged.

        Returns:
            One :class:`~neurosym.translators.base.GenerationResult` per request, in order; the
            same with or without ``progress``.

        Raises:
            ConfigurationError: a constraint the chosen ``structured_output`` cannot send, or live
                requests are switched off.
            BackendTimeoutError: a request did not finish within ``timeout`` (retries included).
            BackendError: the server failed (after the retries) or sent something that is not a
                chat completion; see :meth:`_backend_error`.

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
        resolved = self._prepare(requests, settings, progress)
        return self._run(lambda: self._generate_all(list(requests), resolved, progress))

    async def agenerate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
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
        resolved = self._prepare(requests, settings, progress)
        return await self._arun(lambda: self._generate_all(list(requests), resolved, progress))

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

    # -- internals: requests -------------------------------------------------------------------

    def _prepare(
        self, requests: Sequence[GenerationRequest], settings: SamplingSettings | None, progress: object
    ) -> SamplingSettings:
        """Check the arguments before anything is sent."""
        if isinstance(requests, GenerationRequest):
            raise ConfigurationError("generate() takes a list of requests; wrap a single request in [...]")
        if progress is not None and not callable(progress):
            raise ConfigurationError(f"progress must be a callable taking a Progress, got {type(progress).__name__}")
        resolved = (settings or SamplingSettings()).resolved()
        if self._format is not None:  # an explicit mode: refuse constraints it cannot send before starting
            for request in requests:
                self._format.request_fields(request.constraint)
        check_allow_live_requests(self.name)
        return resolved

    def _constraint_fields(self, fmt: StructuredOutputFormat, constraint: Constraint | None) -> dict[str, Any]:
        """The body fields for ``constraint``; under ``auto`` one the server takes in no format is dropped (warned)."""
        if constraint is not None and self.structured_output == "auto" and not fmt.can_send(constraint):
            self._warn_once(
                f"auto structured output found {fmt.mode!r} for this server, which sends no {constraint.kind} "
                "constraint; such requests go unconstrained (choose structured_output= to be refused instead)"
            )
            return {}
        return fmt.request_fields(constraint)

    async def _generate_all(
        self, requests: list[GenerationRequest], settings: SamplingSettings, progress: ProgressCallback | None
    ) -> list[GenerationResult]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        fmt = self._format
        if fmt is None and any(request.constraint is not None for request in requests):
            fmt = await self._aformat()
        bodies = [self._constraint_fields(fmt, r.constraint) if fmt is not None else {} for r in requests]
        callback = _Callback(progress) if progress is not None else None
        tasks = [
            asyncio.ensure_future(self._generate_one(index, request, settings, body, fmt, callback))
            for index, (request, body) in enumerate(zip(requests, bodies, strict=True))
        ]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException as exc:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if isinstance(exc, _CallbackFailed):
                raise exc.original from None
            raise

    async def _generate_one(
        self,
        request_index: int,
        request: GenerationRequest,
        settings: SamplingSettings,
        body: dict[str, Any],
        fmt: StructuredOutputFormat | None,
        progress: _Callback | None,
    ) -> GenerationResult:
        n = settings.n or 1
        messages = [message.to_dict() for message in request.messages]
        extra_body = {**settings.extra, **body}
        if request.messages[-1].role == "assistant" and self.continues_partial_answer:
            extra_body.update(continue_final_message=True, add_generation_prompt=False)
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
            sink = _ProgressSink(progress, request_index, len(samples), wanted) if progress is not None else None
            assert self._semaphore is not None
            async with self._semaphore:
                completion, elapsed = await self._exchange(kwargs, fmt=fmt if body else None, sink=sink)
            self._note(completion)
            new_samples = completion.samples[:wanted]
            if sink is not None:
                sink.finish(new_samples)
            samples.extend(new_samples)
            usage = usage + Usage(completion.prompt_tokens, completion.completion_tokens, elapsed)
        return GenerationResult(tuple(samples), usage, self.name, self.model)

    async def _exchange(
        self, kwargs: dict[str, Any], *, fmt: StructuredOutputFormat | None, sink: _ProgressSink | None
    ) -> tuple[Completion, float]:
        """One chat completion, retried while time is left; ``(completion, seconds it took)``."""
        deadline = Deadline.after(self.timeout)
        started = time.perf_counter()
        attempts = retries = 0
        while True:
            attempts += 1
            stream = sink is not None and self._streaming
            usage_asked = stream and self._stream_usage
            try:
                completion = await asyncio.wait_for(self._attempt(kwargs, sink, stream), timeout=deadline.left())
            except _CallbackFailed:
                raise
            except (asyncio.TimeoutError, TimeoutError):  # one class from Python 3.11 on
                raise self._error(
                    BackendTimeoutError,
                    f"{self.base_url} did not finish answering within the {self.timeout:g} s timeout "
                    f"({attempts} attempt{'s' if attempts > 1 else ''}; the timeout bounds the whole request: "
                    "connecting, every read and the retries)",
                ) from None
            except MalformedResponse as exc:  # the cause is the parse error behind it, where there is one
                error = self._error(BackendError, f"malformed response from {self.base_url}: {exc}")
                raise error from exc.__cause__ or exc
            except Exception as exc:
                if not _is_server_failure(exc):
                    raise
                if stream and self._drop_stream_feature(exc, usage_asked=usage_asked):
                    continue  # at once, in a form the server takes
                note = ""
                if not (sink is not None and sink.sent) and retries < self.max_retries and _is_retryable(exc):
                    delay = _retry_delay_s(retries, _headers_of(exc))
                    if delay < deadline.left():
                        retries += 1
                        logger.info(
                            "retrying %s in %.2f s (retry %d of %d): %r",
                            self.base_url,
                            delay,
                            retries,
                            self.max_retries,
                            exc,
                        )
                        await asyncio.sleep(delay)
                        continue
                    note = f"; no time left within the {self.timeout:g} s timeout to retry"
                raise self._backend_error(exc, fmt, note=note) from exc
            return completion, time.perf_counter() - started

    async def _attempt(self, kwargs: dict[str, Any], sink: _ProgressSink | None, stream: bool) -> Completion:
        """Send the request once and read the whole answer, as JSON or (``stream``) as server-sent events."""
        send = dict(kwargs)
        if stream:
            send["stream"] = True
            if self._stream_usage:
                send["stream_options"] = {"include_usage": True}
        create = self._attempts_client.chat.completions.with_streaming_response.create
        async with create(**send) as response:
            content_type = response.headers.get("content-type")
            budget = _ByteBudget(self.max_response_bytes, response.headers)
            if stream and "text/event-stream" in (content_type or "").lower():
                return await self._read_event_stream(response, budget, sink)
            chunks = []
            async with contextlib.aclosing(response.iter_bytes()) as body:
                async for chunk in body:
                    budget.take(chunk)
                    chunks.append(chunk)
        # A server that ignored stream=True answered with a plain completion: progress is sent at the end.
        return read_completion(decode_json_body(b"".join(chunks), content_type))

    async def _read_event_stream(self, response: Any, budget: _ByteBudget, sink: _ProgressSink | None) -> Completion:
        reader = StreamReader()
        decoder = EventStreamDecoder()
        async with contextlib.aclosing(response.iter_bytes()) as body:
            async for chunk in body:
                budget.take(chunk)
                for event in decoder.feed(chunk):
                    if self._stream_event(event, reader, sink):
                        return reader.finish()
        for event in decoder.finish():
            if self._stream_event(event, reader, sink):
                return reader.finish()
        if not reader.finished:
            raise MalformedResponse(
                "an event stream that ended before the completion finished (no [DONE], and not every choice "
                "has a finish_reason)"
            )
        return reader.finish()

    @staticmethod
    def _stream_event(event: ServerSentEvent, reader: StreamReader, sink: _ProgressSink | None) -> bool:
        """Take one server-sent event; True at the closing ``[DONE]``."""
        data = event.data.strip()
        if data == "[DONE]":
            return True
        if event.event == "error":
            raise MalformedResponse(f"an error event in the stream: {data[:500]!r}")
        if not data:
            return False
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise MalformedResponse(f"a stream event that is not JSON ({exc}): {data[:200]!r}") from exc
        for index, text in reader.feed(value):
            if sink is not None:
                sink.text(index, text, reader.tokens_so_far(index))
        return False

    def _drop_stream_feature(self, exc: Exception, *, usage_asked: bool) -> bool:
        """After a 4xx that names ``stream_options`` (or ``stream``), stop sending it; True if something was dropped."""
        if not isinstance(exc, openai.APIStatusError) or not 400 <= exc.status_code < 500:
            return False
        text = _error_text(exc).lower()
        if usage_asked and "stream_options" in text:
            self._stream_usage = False
            logger.info(
                "%s refuses stream_options; streaming without usage (token counts are estimated)", self.base_url
            )
            return True
        if "stream_options" not in text and re.search(r"\bstream(ing)?\b", text):
            self._streaming = False
            logger.info("%s refuses to stream; progress is reported when each answer is complete", self.base_url)
            return True
        return False

    def _note(self, completion: Completion) -> None:
        for warning in completion.warnings:
            self._warn_once(f"odd response: {warning}")

    def _warn_once(self, message: str) -> None:
        """Log ``message`` as a warning the first time this backend meets it."""
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s (%s, model %s)", message, self.base_url, self.model)

    # -- internals: structured-output probe ------------------------------------------------------

    async def _aformat(self) -> StructuredOutputFormat:
        """The format to send constraints in, probing the server the first time under ``auto``."""
        if self._format is not None:
            return self._format
        key = (self.base_url, self.model)
        with PROBE_LOCK:
            known = PROBED_FORMATS.get(key)
        if known is None:
            if self._probe_lock is None:
                self._probe_lock = asyncio.Lock()
            async with self._probe_lock:
                if self._format is not None:
                    return self._format
                known = await self._probe_formats(key)
        self._format = FORMATS[known]
        return self._format

    async def _probe_formats(self, key: tuple[str, str]) -> str:
        """Try each format in :data:`PROBE_ORDER`; the first whose probe comes back applied, else ``"none"``."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        findings: list[str] = []
        certain = True  # every format was refused or ignored (not a 5xx or 429 that may pass)
        chosen = "none"
        for mode in PROBE_ORDER:
            fmt = FORMATS[mode]
            kwargs: dict[str, Any] = {
                "model": self.model,
                "messages": [{"role": "user", "content": PROBE_PROMPT}],
                "n": 1,
                "temperature": 0.0,
                "max_tokens": fmt.probe_max_tokens,
                "seed": 0,
                "extra_body": fmt.request_fields(fmt.probe),
            }
            try:
                async with self._semaphore:
                    completion, _ = await self._exchange(kwargs, fmt=None, sink=None)
            except (BackendConnectionError, BackendTimeoutError):
                raise  # the server is not there: the request that needed the probe would fail the same way
            except BackendError as err:
                status = err.context.get("status_code")
                if not (isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429)):
                    certain = False
                findings.append(f"{mode}: {err.message[:200]}")
                continue
            reply = completion.samples[0].text
            if fmt.applied(reply):
                chosen = mode
                break
            findings.append(f"{mode}: ignored (replied {reply[:40]!r})")
        if chosen == "none":
            logger.warning(
                "%s (model %s) applied none of the structured-output formats %s, so requests go unconstrained and "
                "supports_grammar is False; pass structured_output= to choose one. Probe results: %s",
                self.base_url,
                self.model,
                ", ".join(PROBE_ORDER),
                "; ".join(findings),
            )
        else:
            logger.info("%s (model %s) applies structured output as %r", self.base_url, self.model, chosen)
        if certain or chosen != "none":
            with PROBE_LOCK:
                PROBED_FORMATS[key] = chosen
        return chosen

    async def _list_models(self) -> list[str]:
        try:
            with self._normalize_errors():
                page = await asyncio.wait_for(self.client.models.list(), timeout=self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise self._error(
                BackendTimeoutError, f"{self.base_url} did not list its models within the {self.timeout:g} s timeout"
            ) from None
        data = getattr(page, "data", None)
        if not isinstance(data, list):
            raise self._error(BackendError, f"malformed response from {self.base_url}: no model list")
        return [str(getattr(entry, "id", entry)) for entry in data]

    # -- internals: errors ---------------------------------------------------------------------

    def _error(self, cls: type[BackendError], message: str, **context: Any) -> BackendError:
        fields: dict[str, Any] = {"backend": self.name, "model": self.model, "base_url": self.base_url}
        fields.update(context)
        if fields.get("model") == _UNRESOLVED_MODEL:
            fields["model"] = None
        return cls(message, **fields)

    def _structured_output_hint(self, fmt: StructuredOutputFormat) -> str:
        others = [f"'{mode}'" for mode in MODES if mode not in (fmt.mode, "none")]
        return (
            f"the server may not take structured_output={fmt.mode!r}: try another mode (structured_output="
            f"{', '.join(others)}; CLI: --structured-output MODE), send no constraint (--structured-output none), "
            "or switch constrained decoding off (--no-constraint)"
        )

    def _backend_error(self, exc: BaseException, fmt: StructuredOutputFormat | None, *, note: str = "") -> BackendError:
        """The neurosym error for a failed request (its cause stays ``exc``).

        Every error carries ``backend``, ``model``, ``base_url`` and, for HTTP answers,
        ``status_code`` and ``request_id``; the message names the URL too:

        - ``openai.APITimeoutError``, an httpx timeout → :class:`~neurosym.errors.BackendTimeoutError`
        - ``openai.APIConnectionError``, other httpx request errors → :class:`~neurosym.errors.BackendConnectionError`
        - ``openai.RateLimitError`` (429) → :class:`~neurosym.errors.RateLimitError`
        - a 400 about the context length → :class:`~neurosym.errors.BackendError` with a ``hint``
        - a 4xx that names a structured-output field of ``fmt`` (the format the request's constraint
          was sent in) → :class:`~neurosym.errors.BackendError` whose message and ``hint`` say
          which ``structured_output`` (or ``--no-constraint``) to try
        - any other status → :class:`~neurosym.errors.BackendError` with ``status_code``
        - a body that is not a completion → ``BackendError("malformed response ...")``

        Example:
            >>> import openai
            >>> backend = OpenAICompatBackend(openai.AsyncOpenAI(base_url="http://h/v1", api_key="k"), model="m")
            >>> backend._backend_error(json.JSONDecodeError("Expecting value", "{", 1), None)  # doctest: +ELLIPSIS
            BackendError('malformed response from http://h/v1/: Expecting value: ...')
            >>> backend.close()

        """
        url = self.base_url
        timeouts, request_errors = _transport_errors()
        if isinstance(exc, openai.APITimeoutError):
            return self._error(BackendTimeoutError, f"{url} did not answer in time: {exc}{note}")
        if isinstance(exc, openai.APIConnectionError):
            return self._error(BackendConnectionError, f"could not reach {url}: {exc}{note}")
        if isinstance(exc, openai.RateLimitError):
            return self._error(
                RateLimitError,
                f"{url} is rate limiting (HTTP 429) after the retries: {exc.message}{note}",
                status_code=429,
                request_id=getattr(exc, "request_id", None),
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = str(exc.message)[:500]
            if detail == f"Error code: {status}":  # the client found no message field: say what the body was
                detail = f"{detail} - {summarize_error_body(exc.body)}"
            fields: dict[str, Any] = {"status_code": status, "request_id": getattr(exc, "request_id", None)}
            if status == 400 and any(marker in detail.lower() for marker in _CONTEXT_MARKERS):
                message = f"{url} refused the request (HTTP 400): the prompt does not fit the context: {detail}"
                fields["hint"] = _CONTEXT_HINT
            elif fmt is not None and 400 <= status < 500 and fmt.named_in(_error_text(exc)):
                hint = self._structured_output_hint(fmt)
                message = f"{url} answered HTTP {status}: {detail}; {hint}"
                fields["hint"] = hint
            else:
                message = f"{url} answered HTTP {status}: {detail}"
            return self._error(BackendError, message + note, **fields)
        if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError)):
            return self._error(BackendError, f"malformed response from {url}: {exc}")
        if isinstance(exc, openai.OpenAIError):
            return self._error(BackendError, f"request to {url} failed: {exc}{note}")
        if isinstance(exc, timeouts):
            return self._error(BackendTimeoutError, f"{url} did not answer in time: {exc!r}{note}")
        if isinstance(exc, request_errors):
            return self._error(BackendConnectionError, f"could not reach {url}: {exc!r}{note}")
        return self._error(BackendError, f"request to {url} failed: {exc!r}{note}")

    @contextlib.contextmanager
    def _normalize_errors(self) -> Iterator[None]:
        """Translate openai and httpx exceptions into neurosym's error tree (``raise ... from exc``).

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
        try:
            yield
        except Exception as exc:
            if not _is_server_failure(exc):
                raise
            raise self._backend_error(exc, None) from exc
