"""OpenAICompatBackend on the wire: the whole-request deadline against a real loopback server that
dribbles its answer, and a catalogue of malformed answers, each sent through httpx.MockTransport
and through a real socket.

Run as a script to measure the deadline (the figures in the backend's report)::

    .venv/bin/python tests/translators/backends/test_openai_compat_wire.py
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass

import httpx
import openai
import pytest

from neurosym.errors import BackendConnectionError, BackendError, BackendTimeoutError, ConfigurationError
from neurosym.translators.backends.openai_compat import MAX_RESPONSE_BYTES, OpenAICompatBackend, Progress
from neurosym.translators.base import GenerationRequest

pytestmark = pytest.mark.usefixtures("allow_live_requests")

MODEL = "test-model"
PROMPT = GenerationRequest.from_prompt("Formalise: a is P.")


def completion(content="P(a)", **overrides):
    """A well-formed chat.completion value, with top-level fields replaced by ``overrides``."""
    body = {
        "id": "chatcmpl-wire",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    body.update(overrides)
    return body


def with_choice(**fields):
    """A completion whose one choice has ``fields`` replaced."""
    choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "P(a)"}}
    choice.update(fields)
    return completion(choices=[choice])


def dumps(value):
    return json.dumps(value).encode()


# -- a real HTTP server on loopback -------------------------------------------------------------


@dataclass
class RawRequest:
    head: bytes
    body: bytes

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1; ``respond(send, request, stop)`` writes the raw answer.

    ``send(data)`` returns False once the client has gone; ``stop`` is set when the server closes,
    so that a dribbling answer ends with the test.
    """

    def __init__(self, respond):
        self.respond = respond
        self.requests: list[RawRequest] = []
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(10)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    piece = conn.recv(65536)
                    if not piece:
                        return
                    data += piece
                head, _, body = data.partition(b"\r\n\r\n")
                match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                length = int(match.group(1)) if match else 0
                while len(body) < length:
                    piece = conn.recv(65536)
                    if not piece:
                        return
                    body += piece
            except OSError:
                return
            request = RawRequest(head, body)
            self.requests.append(request)

            def send(chunk):
                try:
                    conn.sendall(chunk)
                    return True
                except OSError:
                    return False

            self.respond(send, request, self.stop)

    def close(self):
        self.stop.set()
        self.acceptor.join(timeout=5)
        self.listener.close()
        for thread in self.threads:
            thread.join(timeout=5)


@pytest.fixture
def loopback():
    """``loopback(respond) -> LoopbackServer``; every server is closed after the test."""
    servers = []

    def make(respond):
        server = LoopbackServer(respond)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def http_head(status=200, content_type="application/json", length=None, extra=()):
    lines = [f"HTTP/1.1 {status} Answer", f"Content-Type: {content_type}", "Connection: close", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def dribble(payload, interval):
    """A responder that sends a 200 head for ``payload``, then ``payload`` a byte every ``interval`` seconds."""

    def respond(send, request, stop):
        if not send(http_head(length=len(payload))):
            return
        for byte in payload:
            if stop.wait(interval) or not send(bytes([byte])):
                return

    return respond


def silent(send, request, stop):
    """Accept the request and never answer."""
    stop.wait(30)


def backend_for(url, *, timeout, max_retries=0, client_timeout=60.0, **kwargs):
    """A backend whose client's own (per-read) timeout is long, so that only the backend's deadline can end a call."""
    client = openai.AsyncOpenAI(base_url=url, api_key="EMPTY", timeout=client_timeout, max_retries=max_retries)
    return OpenAICompatBackend(client, model=MODEL, timeout=timeout, structured_output="vllm", **kwargs)


def timed(call):
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except BaseException as exc:
        exc.elapsed = time.monotonic() - started
        raise


# -- the whole-request deadline -----------------------------------------------------------------

DRIBBLED = dumps(completion("a slow answer"))


def test_a_server_dribbling_its_body_is_cut_off_at_the_deadline(loopback):
    server = loopback(dribble(DRIBBLED, 0.05))  # about 10 s for the whole body
    with backend_for(server.url, timeout=1.0) as backend, pytest.raises(BackendTimeoutError) as info:
        timed(lambda: backend.generate([PROMPT]))
    assert info.value.elapsed < 3.0  # a sanity bound; the figures are measured by the script below
    assert "1 s timeout" in str(info.value)
    assert server.url in str(info.value)
    assert info.value.model == MODEL
    assert info.value.retryable


def test_a_server_dribbling_its_headers_is_cut_off_at_the_deadline(loopback):
    head = http_head(length=len(DRIBBLED))

    def respond(send, request, stop):
        for byte in head:
            if stop.wait(0.05) or not send(bytes([byte])):
                return
        send(DRIBBLED)

    server = loopback(respond)
    with backend_for(server.url, timeout=1.0) as backend, pytest.raises(BackendTimeoutError) as info:
        timed(lambda: backend.generate([PROMPT]))
    assert info.value.elapsed < 3.0


def test_retries_share_the_deadline(loopback):
    server = loopback(silent)
    with backend_for(server.url, timeout=1.0, max_retries=5, client_timeout=0.3) as backend:
        with pytest.raises(BackendTimeoutError) as info:
            timed(lambda: backend.generate([PROMPT]))
    # Each read times out after 0.3 s and is retried after a backoff, but all within the 1 s deadline.
    assert info.value.elapsed < 3.0
    assert 1 <= len(server.requests) <= 3


def test_an_answer_within_the_deadline_is_read(loopback):
    server = loopback(dribble(DRIBBLED, 0.001))
    with backend_for(server.url, timeout=5.0) as backend:
        [result] = backend.generate([PROMPT])
    assert result.texts == ["a slow answer"]
    assert json.loads(server.requests[0].body)["model"] == MODEL


def test_a_stream_that_keeps_sending_is_cut_off_at_the_deadline(loopback):
    def endless_events(send, request, stop):
        send(http_head(content_type="text/event-stream"))
        count = 0
        while not stop.wait(0.1):
            chunk = {"choices": [{"index": 0, "delta": {"content": f"w{count} "}, "finish_reason": None}]}
            if not send(b"data: " + dumps(chunk) + b"\n\n"):
                return
            count += 1

    server = loopback(endless_events)
    seen: list[Progress] = []
    with backend_for(server.url, timeout=1.0) as backend, pytest.raises(BackendTimeoutError) as info:
        timed(lambda: backend.generate([PROMPT], progress=seen.append))
    assert info.value.elapsed < 3.0
    assert seen and seen[0].text == "w0 "
    assert not any(p.done for p in seen)
    assert json.loads(server.requests[0].body)["stream"] is True


def test_a_failing_callback_closes_the_stream(loopback):
    gone = threading.Event()

    def endless_events(send, request, stop):
        send(http_head(content_type="text/event-stream"))
        while not stop.wait(0.02):
            if not send(b"data: " + dumps({"choices": [{"index": 0, "delta": {"content": "w"}}]}) + b"\n\n"):
                gone.set()
                return

    class Enough(Exception):
        pass

    def callback(progress):
        if progress.completion_tokens == 3:
            raise Enough

    server = loopback(endless_events)
    with backend_for(server.url, timeout=30.0) as backend, pytest.raises(Enough) as info:
        timed(lambda: backend.generate([PROMPT], progress=callback))
    assert info.value.elapsed < 5.0
    assert gone.wait(5)  # the connection was closed: the server's next write failed


def answer_500(retry_after):
    return lambda request: httpx.Response(
        500, headers={"retry-after": str(retry_after)}, json={"error": {"message": "engine busy"}}
    )


class Counting:
    def __init__(self, respond):
        self.respond = respond
        self.calls = 0

    def __call__(self, request):
        self.calls += 1
        return self.respond(request)


def mock_backend(handler, *, timeout, max_retries):
    client = openai.AsyncOpenAI(
        base_url="http://llm.test/v1",
        api_key="EMPTY",
        max_retries=max_retries,
        timeout=60.0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    return OpenAICompatBackend(client, model=MODEL, timeout=timeout, structured_output="vllm")


def test_no_retry_is_started_when_its_wait_would_pass_the_deadline():
    handler = Counting(answer_500(5))
    with mock_backend(handler, timeout=1.0, max_retries=3) as backend, pytest.raises(BackendError) as info:
        timed(lambda: backend.generate([PROMPT]))
    assert handler.calls == 1
    assert info.value.elapsed < 1.0  # it did not sleep the 5 s asked for
    assert info.value.status_code == 500
    assert "no time left within the 1 s timeout to retry" in str(info.value)
    assert "engine busy" in str(info.value)


def test_retries_go_on_while_time_is_left():
    handler = Counting(answer_500(0.3))
    with mock_backend(handler, timeout=1.0, max_retries=10) as backend, pytest.raises(BackendError) as info:
        timed(lambda: backend.generate([PROMPT]))
    assert 2 <= handler.calls <= 4  # at 0, 0.3, 0.6 (and perhaps 0.9) s
    assert info.value.elapsed < 1.5
    assert "no time left" in str(info.value)


def test_the_retry_budget_still_counts():
    handler = Counting(answer_500(0.01))
    with mock_backend(handler, timeout=10.0, max_retries=2) as backend, pytest.raises(BackendError) as info:
        backend.generate([PROMPT])
    assert handler.calls == 3
    assert "no time left" not in str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0, -1, "5", True, None], ids=repr)
def test_timeout_is_checked(bad):
    client = openai.AsyncOpenAI(base_url="http://llm.test/v1", api_key="k")
    with pytest.raises(ConfigurationError, match="timeout"):
        OpenAICompatBackend.from_url("http://llm.test/v1", MODEL, timeout=bad)
    if bad is not None:  # None in the constructor means "the client's timeout"
        with pytest.raises(ConfigurationError, match="timeout"):
            OpenAICompatBackend(client, model=MODEL, timeout=bad)


def test_timeout_defaults_to_the_clients():
    with OpenAICompatBackend(openai.AsyncOpenAI(base_url="http://h/v1", api_key="k", timeout=7), model="m") as b:
        assert b.timeout == 7.0
    parts = httpx.Timeout(20.0, connect=3.0)
    with OpenAICompatBackend(openai.AsyncOpenAI(base_url="http://h/v1", api_key="k", timeout=parts), model="m") as b:
        assert b.timeout == 20.0


# -- malformed answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A raw HTTP answer: status, body bytes and headers."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Case:
    """A named malformed answer and what the backend must make of it.

    ``error`` is a pattern the BackendError's message must match; otherwise the answer is harmless
    and ``text``/``usage``/``finish_reason`` are what the result must hold, with a warning logged
    that matches ``warning`` (when given).
    """

    name: str
    answer: Answer
    error: str | None = None
    text: str = "P(a)"
    usage: tuple[int, int] = (5, 2)
    finish_reason: str | None = "stop"
    warning: str | None = None
    socket: bool = True  # also sent through a real socket


def json_answer(value, **kwargs):
    return Answer(dumps(value), **kwargs)


HUGE_TEXT = "x" * (MAX_RESPONSE_BYTES + 1024)
DEEP = b"[" * 100_000 + b"]" * 100_000

CATALOGUE = [
    Case("content is a JSON object", json_answer(completion({"answer": True})), r"content is a JSON object"),
    Case("content is a JSON list of numbers", json_answer(completion([1, 2])), r"content is a JSON list"),
    Case("content is a number", json_answer(completion(42)), r"content is a number \(42\), not text"),
    Case("content is a boolean", json_answer(completion(False)), r"content is a boolean"),
    Case(
        "content is text parts (accepted)",
        json_answer(completion([{"type": "text", "text": "P("}, {"type": "text", "text": "a)"}])),
        text="P(a)",
    ),
    Case("content is null (empty text)", json_answer(completion(None)), text=""),
    Case("choices missing", json_answer({k: v for k, v in completion().items() if k != "choices"}), r"no choices"),
    Case("choices null", json_answer(completion(choices=None)), r"no choices"),
    Case("choices empty", json_answer(completion(choices=[])), r"no choices .*empty list"),
    Case("choices is a string", json_answer(completion(choices="P(a)")), r"choices is a string .*not a list"),
    Case("choices is an object", json_answer(completion(choices={"0": {}})), r"choices is a JSON object"),
    Case("a choice is a string", json_answer(completion(choices=["P(a)"])), r"choice 0 is a string"),
    Case("a choice without message", json_answer(with_choice(message=None)), r"choice 0 has no message"),
    Case("a choice with text, not message", json_answer(completion(choices=[{"text": "P(a)"}])), r"has no message"),
    Case("message is a string", json_answer(with_choice(message="P(a)")), r"choice 0's message is a string"),
    Case(
        "usage is a string",
        json_answer(completion(usage="12 tokens")),
        usage=(0, 0),
        warning=r"usage is a string \('12 tokens'\), not an object",
    ),
    Case(
        "usage counts are strings",
        json_answer(completion(usage={"prompt_tokens": "5", "completion_tokens": "2"})),
        usage=(0, 0),
        warning=r"usage.prompt_tokens is a string \('5'\)",
    ),
    Case(
        "usage count is negative",
        json_answer(completion(usage={"prompt_tokens": -5, "completion_tokens": 2})),
        usage=(0, 2),
        warning=r"usage.prompt_tokens is -5, not a token count",
    ),
    Case(
        "usage count is 1e400",
        Answer(
            b'{"choices": [{"message": {"content": "P(a)"}, "finish_reason": "stop"}], '
            b'"usage": {"prompt_tokens": 1e400, "completion_tokens": 2}}'
        ),
        usage=(0, 2),
        warning=r"usage.prompt_tokens is inf",
    ),
    Case(
        "usage count is NaN",
        Answer(
            b'{"choices": [{"message": {"content": "P(a)"}, "finish_reason": "stop"}], '
            b'"usage": {"prompt_tokens": 5, "completion_tokens": NaN}}'
        ),
        usage=(5, 0),
        warning=r"usage.completion_tokens is nan",
    ),
    Case(
        "usage counts are null",
        json_answer(completion(usage={"prompt_tokens": None, "completion_tokens": None})),
        usage=(0, 0),
        warning=r"usage.prompt_tokens is null",
    ),
    Case("usage is null (no usage)", json_answer(completion(usage=None)), usage=(0, 0)),
    Case(
        "usage count is a fraction",
        json_answer(completion(usage={"prompt_tokens": 5, "completion_tokens": 2.5})),
        usage=(5, 0),
        warning=r"usage.completion_tokens is 2.5",
    ),
    Case(
        "usage count is 10**30",
        json_answer(completion(usage={"prompt_tokens": 10**30, "completion_tokens": 2})),
        usage=(0, 2),
        warning=r"usage.prompt_tokens is 1000000000000000000000000000000",
    ),
    Case(
        "usage count is a boolean",
        json_answer(completion(usage={"prompt_tokens": True, "completion_tokens": 2})),
        usage=(0, 2),
        warning=r"usage.prompt_tokens is a boolean",
    ),
    Case(
        "finish_reason is a number",
        json_answer(with_choice(finish_reason=3)),
        finish_reason=None,
        warning=r"finish_reason that is a number \(3\)",
    ),
    Case(
        "finish_reason is an object",
        json_answer(with_choice(finish_reason={"type": "stop"})),
        finish_reason=None,
        warning=r"finish_reason that is a JSON object",
    ),
    Case(
        "body is not JSON",
        Answer(b"Internal nonsense", content_type="text/plain"),
        r"a body that is not JSON .*content-type text/plain.*'Internal nonsense'",
    ),
    Case("truncated JSON", Answer(dumps(completion())[:40]), r"a body that is not JSON"),
    Case(
        "an HTML page with status 200",
        Answer(
            b"<!DOCTYPE html><html><head><title>Sign in - Proxy</title></head><body>...</body></html>",
            content_type="text/html; charset=utf-8",
        ),
        r"an HTML page \('Sign in - Proxy'\), not a JSON completion",
    ),
    Case(
        "an HTML page that claims to be JSON",
        Answer(b"<html><body>502 Bad Gateway</body></html>"),
        r"an HTML page, not a JSON completion \(content-type application/json\)",
    ),
    Case(
        "an HTML error page with status 502",
        Answer(b"<html><head><title>502 Bad Gateway</title></head></html>", status=502, content_type="text/html"),
        r"answered HTTP 502: Error code: 502 - an HTML page \('502 Bad Gateway'\), not an API answer",
    ),
    Case(
        "a validation error without a message field",
        json_answer({"detail": [{"type": "missing", "loc": ["body", "messages"]}]}, status=422),
        r"answered HTTP 422: Error code: 422 - \[\{\"type\": \"missing\"",
    ),
    Case("an empty body", Answer(b""), r"an empty body"),
    Case("a body of blanks", Answer(b" \r\n "), r"an empty body"),
    Case("not UTF-8", Answer(b'{"choices": "\xff\xfe"}'), r"not UTF-8"),
    Case("JSON nested too deeply", Answer(DEEP), r"nested too deeply"),
    Case("a JSON list", json_answer([completion()]), r"a JSON list .*not a JSON object with choices"),
    Case("a JSON string", json_answer("P(a)"), r"a string \('P\(a\)'\), not a JSON object"),
    Case("a JSON number", Answer(b"1e400"), r"a number \(Infinity\), not a JSON object"),
    Case(
        "an error object with status 200",
        json_answer({"error": {"message": "model overloaded", "code": 503}}),
        r"an error instead of a completion: 'model overloaded'",
    ),
    Case("valid JSON as text/plain (accepted)", json_answer(completion(), content_type="text/plain")),
    Case("a huge body", json_answer(completion(HUGE_TEXT)), rf"more than the {MAX_RESPONSE_BYTES} bytes allowed"),
]


def mock_response(answer):
    headers = {"content-type": answer.content_type, **dict(answer.headers)}
    return httpx.Response(answer.status, content=answer.body, headers=headers)


def check_outcome(case, generate, caplog):
    caplog.set_level(logging.WARNING, logger="neurosym.translators.backends.openai_compat")
    if case.error is not None:
        with pytest.raises(BackendError) as info:
            generate()
        err = info.value
        assert type(err) is BackendError, f"{case.name}: {type(err).__name__}: {err}"
        assert re.search(case.error, str(err)), f"{case.name}: {err}"
        assert err.model == MODEL
        return
    [result] = generate()
    [sample] = result.samples
    assert sample.text == case.text
    assert sample.finish_reason == case.finish_reason
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == case.usage
    assert sample.completion_tokens == case.usage[1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if case.warning is None:
        assert warnings == [], warnings
    else:
        assert any(re.search(case.warning, w) for w in warnings), warnings


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda case: case.name)
def test_malformed_answer_through_mock_transport(case, caplog):
    handler = Counting(lambda request: mock_response(case.answer))
    with mock_backend(handler, timeout=10.0, max_retries=0) as backend:
        check_outcome(case, lambda: backend.generate([PROMPT]), caplog)
    assert handler.calls == 1  # a malformed answer is not retried


def socket_responder(answer):
    def respond(send, request, stop):
        send(http_head(answer.status, answer.content_type, len(answer.body), [f"{k}: {v}" for k, v in answer.headers]))
        send(answer.body)

    return respond


@pytest.mark.parametrize("case", [c for c in CATALOGUE if c.socket], ids=lambda case: case.name)
def test_malformed_answer_through_a_socket(case, loopback, caplog):
    server = loopback(socket_responder(case.answer))
    with backend_for(server.url, timeout=10.0) as backend:
        check_outcome(case, lambda: backend.generate([PROMPT]), caplog)
    assert len(server.requests) == 1


def test_a_huge_body_without_content_length_is_cut_off(loopback):
    def endless(send, request, stop):
        send(http_head())
        block = b"x" * 65536
        while not stop.is_set() and send(block):
            pass

    server = loopback(endless)
    with backend_for(server.url, timeout=20.0) as backend, pytest.raises(BackendError) as info:
        timed(lambda: backend.generate([PROMPT]))
    assert type(info.value) is BackendError
    assert f"more than {MAX_RESPONSE_BYTES} bytes" in str(info.value)


def test_a_declared_huge_length_is_refused_before_reading(loopback):
    def liar(send, request, stop):
        send(http_head(length=10**12) + b'{"choices": ')
        stop.wait(30)

    server = loopback(liar)
    with backend_for(server.url, timeout=20.0) as backend, pytest.raises(BackendError) as info:
        timed(lambda: backend.generate([PROMPT]))
    assert info.value.elapsed < 2.0
    assert "a body of 1000000000000 bytes (content-length)" in str(info.value)


def test_a_connection_closed_mid_body_is_a_connection_error(loopback):
    body = dumps(completion())

    def cut(send, request, stop):
        send(http_head(length=len(body)) + body[: len(body) // 2])

    server = loopback(cut)
    with backend_for(server.url, timeout=10.0) as backend, pytest.raises(BackendConnectionError) as info:
        backend.generate([PROMPT])
    assert server.url in str(info.value)


def test_max_response_bytes_can_be_lowered():
    handler = Counting(lambda request: httpx.Response(200, json=completion("y" * 5000)))
    with mock_backend(handler, timeout=10.0, max_retries=0) as backend:
        backend.max_response_bytes = 1000
        with pytest.raises(BackendError, match="more than the 1000 bytes allowed"):
            backend.generate([PROMPT])


# -- the figures ------------------------------------------------------------------------------------


def measure(timeout=5.0, interval=1.0):
    """Time one generate() against a server that sends its answer a byte per ``interval`` seconds."""
    server = LoopbackServer(dribble(DRIBBLED, interval))
    try:
        started = time.monotonic()
        try:
            with OpenAICompatBackend.from_url(server.url, MODEL, timeout=timeout, max_retries=0) as backend:
                backend.generate([PROMPT])
            outcome = "answered"
        except BackendError as exc:
            outcome = type(exc).__name__
        return outcome, time.monotonic() - started
    finally:
        server.close()


if __name__ == "__main__":
    import neurosym.translators.base as translators_base

    translators_base.ALLOW_LIVE_REQUESTS = True
    print(f"body of {len(DRIBBLED)} bytes, one byte a second; from_url(timeout=5, max_retries=0)")
    runs = [measure() for _ in range(3)]
    for outcome, seconds in runs:
        print(f"  {outcome} after {seconds:.2f} s")
    print(f"median {sorted(s for _, s in runs)[1]:.2f} s")
