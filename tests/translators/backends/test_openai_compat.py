"""OpenAICompatBackend: error paths and request bodies against httpx.MockTransport, then a real
llama.cpp server on loopback (``python -m llama_cpp.server``) with the small embedded model."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
import pytest

import neurosym.translators.base as translators_base
from neurosym.errors import (
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    ConfigurationError,
    MissingDependencyError,
    RateLimitError,
)
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.openai_compat import OpenAICompatBackend
from neurosym.translators.base import Constraint, GenerationRequest, LLMBackend

BASE_URL = "http://llm.test/v1"
MODEL = "test-model"
SCHEMA = {"type": "object", "properties": {"answer": {"type": "boolean"}}, "required": ["answer"]}
YES_NO = 'root ::= ("yes" | "no")'


# The mock-transport tests are not live, but a backend cannot tell: opt in (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("allow_live_requests")


def completion(contents, *, prompt_tokens=5, completion_tokens=None, finish_reason="stop"):
    """A chat.completion body with one choice per text."""
    if completion_tokens is None:
        completion_tokens = 2 * len(contents)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {"index": i, "finish_reason": finish_reason, "message": {"role": "assistant", "content": text}}
            for i, text in enumerate(contents)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class Server:
    """A mock server: ``respond(body, call_number) -> httpx.Response``; records bodies and concurrency."""

    def __init__(self, respond, *, delay=0.0):
        self.respond = respond
        self.delay = delay
        self.bodies = []
        self.headers = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def calls(self):
        return len(self.bodies)

    async def __call__(self, request):
        body = json.loads(request.content) if request.content else {}
        self.bodies.append(body)
        self.headers.append(request.headers)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self.respond(request, body, len(self.bodies))
        finally:
            self.in_flight -= 1


@pytest.fixture
def make_backend():
    """``make_backend(respond, max_retries=0, **backend_kwargs) -> (backend, server)``; closed afterwards."""
    backends = []

    def make(respond, *, max_retries=0, delay=0.0, **kwargs):
        server = Server(respond, delay=delay)
        client = openai.AsyncOpenAI(
            base_url=BASE_URL,
            api_key="EMPTY",
            max_retries=max_retries,
            timeout=5.0,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        )
        backend = OpenAICompatBackend(client, model=MODEL, **kwargs)
        backends.append(backend)
        return backend, server

    yield make
    for backend in backends:
        backend.close()


def ok(texts=("P(a)",), **kwargs):
    """A responder that always answers with ``texts``."""
    return lambda request, body, call: httpx.Response(200, json=completion(list(texts), **kwargs))


PROMPT = GenerationRequest.from_prompt("Formalise: a is P.", system="You write first-order logic.")


# -- happy path and request body --------------------------------------------------------------


def test_plain_completion_sends_messages_and_default_settings(make_backend):
    backend, server = make_backend(ok(["P(a)"], prompt_tokens=11, completion_tokens=4))
    [result] = backend.generate([PROMPT])
    assert isinstance(backend, LLMBackend)
    assert result.texts == ["P(a)"]
    assert result.samples[0].finish_reason == "stop"
    assert result.samples[0].completion_tokens == 4
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 4)
    assert result.usage.latency_s > 0
    assert (result.backend, result.model) == ("openai", MODEL)
    [body] = server.bodies
    assert body["model"] == MODEL
    assert body["messages"] == [
        {"role": "system", "content": "You write first-order logic."},
        {"role": "user", "content": "Formalise: a is P."},
    ]
    assert (body["n"], body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (1, 0.0, 1.0, 512, 0)
    assert "stop" not in body


def test_caller_settings_are_merged_and_extra_goes_into_the_body(make_backend):
    backend, server = make_backend(ok(["x"]))
    settings = SamplingSettings(temperature=0.7, max_tokens=16, stop=("\n\n",), seed=42, extra={"top_k": 20})
    backend.generate([PROMPT], settings=settings)
    [body] = server.bodies
    assert (body["temperature"], body["max_tokens"], body["seed"], body["top_p"]) == (0.7, 16, 42, 1.0)
    assert body["stop"] == ["\n\n"]
    assert body["top_k"] == 20


def test_results_follow_request_order(make_backend):
    def echo(request, body, call):
        return httpx.Response(200, json=completion([body["messages"][-1]["content"].upper()]))

    backend, _ = make_backend(echo, delay=0.01)
    requests = [GenerationRequest.from_prompt(f"prompt {i}") for i in range(6)]
    assert [r.texts for r in backend.generate(requests)] == [[f"PROMPT {i}"] for i in range(6)]


def test_server_that_honours_n_gets_one_request_and_tokens_are_split_evenly(make_backend):
    backend, server = make_backend(ok(["a", "b", "c"], completion_tokens=10))
    [result] = backend.generate([PROMPT], settings=SamplingSettings(n=3))
    assert server.calls == 1
    assert result.texts == ["a", "b", "c"]
    assert [s.completion_tokens for s in result.samples] == [4, 3, 3]
    assert result.usage.completion_tokens == 10


def test_n_is_topped_up_with_distinct_seeds_when_the_server_returns_one_choice(make_backend):
    def one_choice(request, body, call):
        return httpx.Response(200, json=completion([f"sample {call}"], prompt_tokens=7, completion_tokens=call))

    backend, server = make_backend(one_choice)
    [result] = backend.generate([PROMPT], settings=SamplingSettings(n=3, seed=100, temperature=0.8))
    assert result.texts == ["sample 1", "sample 2", "sample 3"]
    assert server.calls == 3
    assert [b["seed"] for b in server.bodies] == [100, 101, 102]
    assert [b["n"] for b in server.bodies] == [3, 2, 1]
    assert result.usage.prompt_tokens == 3 * 7
    assert result.usage.completion_tokens == 1 + 2 + 3
    assert [s.completion_tokens for s in result.samples] == [1, 2, 3]


def test_top_up_seed_is_the_index_of_the_first_missing_sample(make_backend):
    def two_at_most(request, body, call):
        return httpx.Response(200, json=completion([f"{call}.{i}" for i in range(min(body["n"], 2))]))

    backend, server = make_backend(two_at_most)
    [result] = backend.generate([PROMPT], settings=SamplingSettings(n=5, seed=7))
    assert len(result.samples) == 5
    assert [(b["n"], b["seed"]) for b in server.bodies] == [(5, 7), (3, 9), (1, 11)]


def test_extra_choices_beyond_n_are_dropped(make_backend):
    backend, _ = make_backend(ok(["a", "b", "c"]))
    [result] = backend.generate([PROMPT], settings=SamplingSettings(n=2))
    assert result.texts == ["a", "b"]


def test_usage_is_summed_per_request_not_across_requests(make_backend):
    backend, _ = make_backend(ok(["x"], prompt_tokens=3, completion_tokens=2))
    results = backend.generate([PROMPT, PROMPT], settings=SamplingSettings(n=1))
    assert [(r.usage.prompt_tokens, r.usage.completion_tokens) for r in results] == [(3, 2), (3, 2)]


def test_missing_usage_counts_zero(make_backend):
    def no_usage(request, body, call):
        data = completion(["x"])
        del data["usage"]
        return httpx.Response(200, json=data)

    backend, _ = make_backend(no_usage)
    [result] = backend.generate([PROMPT])
    assert result.texts == ["x"]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (0, 0)


def test_concurrency_bound_is_respected(make_backend):
    backend, server = make_backend(ok(["x"]), delay=0.05, max_concurrency=2)
    requests = [GenerationRequest.from_prompt(f"p{i}") for i in range(10)]
    results = backend.generate(requests)
    assert len(results) == 10
    assert server.calls == 10
    assert server.max_in_flight == 2


def test_requests_really_run_concurrently(make_backend):
    backend, server = make_backend(ok(["x"]), delay=0.05, max_concurrency=16)
    backend.generate([GenerationRequest.from_prompt(f"p{i}") for i in range(8)])
    assert server.max_in_flight == 8


# -- sync/async entry points ------------------------------------------------------------------


def test_generate_works_inside_a_running_event_loop(make_backend):
    backend, _ = make_backend(ok(["inside"]))

    async def caller():
        return backend.generate([PROMPT])

    [result] = asyncio.run(caller())
    assert result.texts == ["inside"]


def test_agenerate_and_repeated_generate_share_the_backend(make_backend):
    backend, server = make_backend(ok(["y"]))
    first = backend.generate([PROMPT])
    second = asyncio.run(backend.agenerate([PROMPT, PROMPT]))
    third = backend.generate([PROMPT])
    assert [r.texts for r in first + second + third] == [["y"]] * 4
    assert server.calls == 4


def test_a_single_request_must_be_wrapped_in_a_list(make_backend):
    backend, server = make_backend(ok())
    with pytest.raises(ConfigurationError, match="list of requests"):
        backend.generate(PROMPT)  # type: ignore[arg-type]
    assert server.calls == 0


def test_closed_backend_refuses_requests(make_backend):
    backend, _ = make_backend(ok())
    backend.close()
    with pytest.raises(ConfigurationError, match="closed"):
        backend.generate([PROMPT])


def test_live_requests_switched_off(make_backend, monkeypatch):
    backend, server = make_backend(ok())
    monkeypatch.setattr(translators_base, "ALLOW_LIVE_REQUESTS", False)
    with pytest.raises(ConfigurationError, match="live requests"):
        backend.generate([PROMPT])
    assert server.calls == 0


# -- retries and errors -----------------------------------------------------------------------


def fast_status(status, **json_body):
    """A status answer that asks the client to retry after 1 ms (keeps the backoff out of the test's time)."""
    return httpx.Response(status, headers={"retry-after-ms": "1"}, json=json_body or {"error": {"message": "boom"}})


def test_429_then_success_is_retried_by_the_client(make_backend):
    def respond(request, body, call):
        if call == 1:
            return fast_status(429, error={"message": "slow down", "type": "rate_limit"})
        return httpx.Response(200, json=completion(["after retry"]))

    backend, server = make_backend(respond, max_retries=2)
    [result] = backend.generate([PROMPT])
    assert result.texts == ["after retry"]
    assert server.calls == 2


def test_persistent_429_is_a_rate_limit_error(make_backend):
    backend, server = make_backend(lambda r, b, c: fast_status(429), max_retries=1)
    with pytest.raises(RateLimitError) as info:
        backend.generate([PROMPT])
    assert server.calls == 2
    assert info.value.status_code == 429
    assert info.value.retryable
    assert isinstance(info.value.__cause__, openai.RateLimitError)


def test_persistent_500_is_a_backend_error_naming_url_model_and_status(make_backend):
    backend, server = make_backend(lambda r, b, c: fast_status(500, error={"message": "engine died"}), max_retries=2)
    with pytest.raises(BackendError) as info:
        backend.generate([PROMPT])
    err = info.value
    assert type(err) is BackendError
    assert server.calls == 3  # max_retries + 1
    assert err.status_code == 500
    assert err.model == MODEL
    assert err.base_url == BASE_URL + "/"
    assert err.backend == "openai"
    for needle in ("500", BASE_URL, MODEL, "engine died"):
        assert needle in str(err)
    assert isinstance(err.__cause__, openai.InternalServerError)
    assert not err.retryable


def test_errors_pickle_with_their_context(make_backend):
    backend, _ = make_backend(lambda r, b, c: fast_status(503))
    with pytest.raises(BackendError) as info:
        backend.generate([PROMPT])
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is BackendError
    assert (copy.status_code, copy.base_url, copy.model) == (503, BASE_URL + "/", MODEL)


def test_context_length_400_gets_a_hint(make_backend):
    message = "This model's maximum context length is 2048 tokens. However, you requested 4000 tokens."
    backend, server = make_backend(lambda r, b, c: httpx.Response(400, json={"error": {"message": message}}))
    with pytest.raises(BackendError) as info:
        backend.generate([PROMPT])
    err = info.value
    assert server.calls == 1  # a 400 is not retried
    assert err.status_code == 400
    assert "context" in err.hint
    assert "maximum context length" in str(err)
    assert BASE_URL in str(err)


def test_other_4xx_is_a_backend_error_without_hint(make_backend):
    backend, _ = make_backend(lambda r, b, c: httpx.Response(404, json={"error": {"message": "no such model"}}))
    with pytest.raises(BackendError) as info:
        backend.generate([PROMPT])
    assert info.value.status_code == 404
    assert info.value.hint is None
    assert "no such model" in str(info.value)


def test_timeout_is_a_backend_timeout_error(make_backend):
    def slow(request, body, call):
        raise httpx.ReadTimeout("read timed out", request=request)

    backend, server = make_backend(slow, max_retries=1)
    with pytest.raises(BackendTimeoutError) as info:
        backend.generate([PROMPT])
    assert server.calls == 2  # retried once by the client
    assert info.value.retryable
    assert BASE_URL in str(info.value)
    assert info.value.model == MODEL
    assert isinstance(info.value.__cause__, openai.APITimeoutError)


def test_dropped_connection_is_a_backend_connection_error(make_backend):
    def refuse(request, body, call):
        raise httpx.ConnectError("connection refused", request=request)

    backend, server = make_backend(refuse, max_retries=1)
    with pytest.raises(BackendConnectionError) as info:
        backend.generate([PROMPT])
    assert server.calls == 2
    assert not isinstance(info.value, BackendTimeoutError)
    assert BASE_URL in str(info.value)
    assert isinstance(info.value.__cause__, openai.APIConnectionError)


def test_connection_dropped_once_then_success(make_backend):
    def flaky(request, body, call):
        if call == 1:
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return httpx.Response(200, json=completion(["back"]))

    backend, server = make_backend(flaky, max_retries=1)
    assert backend.generate([PROMPT])[0].texts == ["back"]
    assert server.calls == 2


def test_truncated_json_is_a_malformed_response(make_backend):
    body = json.dumps(completion(["cut"])).encode()[:40]
    backend, _ = make_backend(
        lambda r, b, c: httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )
    with pytest.raises(BackendError, match="malformed response") as info:
        backend.generate([PROMPT])
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    assert info.value.model == MODEL
    assert BASE_URL in str(info.value)


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "x", "object": "chat.completion"},
        {"id": "x", "object": "chat.completion", "choices": None},
        {"id": "x", "object": "chat.completion", "choices": []},
    ],
    ids=["missing", "null", "empty"],
)
def test_json_without_choices_is_a_malformed_response(make_backend, payload):
    backend, server = make_backend(lambda r, b, c: httpx.Response(200, json=payload))
    with pytest.raises(BackendError, match=r"malformed response.*no choices"):
        backend.generate([PROMPT])
    assert server.calls == 1


def test_non_json_body_is_a_malformed_response(make_backend):
    html = httpx.Response(200, content=b"<html>proxy login</html>", headers={"content-type": "text/html"})
    backend, _ = make_backend(lambda r, b, c: html)
    with pytest.raises(BackendError, match="malformed response"):
        backend.generate([PROMPT])


def test_a_failed_request_fails_the_batch(make_backend):
    def second_fails(request, body, call):
        if body["messages"][-1]["content"] == "bad":
            return httpx.Response(500, json={"error": {"message": "bad prompt"}})
        return httpx.Response(200, json=completion(["fine"]))

    backend, _ = make_backend(second_fails)
    with pytest.raises(BackendError, match="bad prompt"):
        backend.generate([PROMPT, GenerationRequest.from_prompt("bad"), PROMPT])


# -- structured output ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "constraint", "expected"),
    [
        ("vllm", Constraint("grammar", YES_NO), {"structured_outputs": {"grammar": YES_NO}}),
        ("vllm", Constraint("regex", "yes|no"), {"structured_outputs": {"regex": "yes|no"}}),
        ("vllm", Constraint("json_schema", SCHEMA), {"structured_outputs": {"json": SCHEMA}}),
        ("vllm", Constraint("json_schema", json.dumps(SCHEMA)), {"structured_outputs": {"json": SCHEMA}}),
        ("vllm-legacy", Constraint("grammar", YES_NO), {"guided_grammar": YES_NO}),
        ("vllm-legacy", Constraint("regex", "yes|no"), {"guided_regex": "yes|no"}),
        ("vllm-legacy", Constraint("json_schema", SCHEMA), {"guided_json": SCHEMA}),
        ("llamacpp", Constraint("grammar", YES_NO), {"grammar": YES_NO}),
        (
            "llamacpp",
            Constraint("json_schema", SCHEMA),
            {"response_format": {"type": "json_object", "schema": SCHEMA}},
        ),
        (
            "openai",
            Constraint("json_schema", {**SCHEMA, "title": "Yes no"}),
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "Yes_no", "schema": {**SCHEMA, "title": "Yes no"}},
                }
            },
        ),
    ],
)
def test_structured_output_fields(make_backend, mode, constraint, expected):
    backend, server = make_backend(ok(["yes"]), structured_output=mode)
    request = GenerationRequest.from_prompt("Is the sky blue?", constraint=constraint)
    backend.generate([request, GenerationRequest.from_prompt("unconstrained")])
    constrained, plain = server.bodies
    constraint_keys = {"structured_outputs", "guided_grammar", "guided_regex", "guided_json", "grammar"}
    constraint_keys |= {"response_format"}
    assert {k: v for k, v in constrained.items() if k in constraint_keys} == expected
    assert not constraint_keys & plain.keys()


@pytest.mark.parametrize(
    ("mode", "kind", "value"),
    [
        ("llamacpp", "regex", "yes|no"),
        ("openai", "grammar", YES_NO),
        ("openai", "regex", "yes|no"),
        ("none", "grammar", YES_NO),
        ("none", "regex", "yes|no"),
        ("none", "json_schema", SCHEMA),
    ],
)
def test_unsupported_constraints_are_refused_before_any_request(make_backend, mode, kind, value):
    backend, server = make_backend(ok(), structured_output=mode)
    request = GenerationRequest.from_prompt("q", constraint=Constraint(kind, value))
    with pytest.raises(ConfigurationError, match=kind):
        backend.generate([GenerationRequest.from_prompt("fine"), request])
    assert server.calls == 0


def test_mode_none_serves_unconstrained_requests(make_backend):
    backend, server = make_backend(ok(["free"]), structured_output="none")
    assert backend.generate([PROMPT])[0].texts == ["free"]
    assert server.calls == 1


def test_bad_json_schema_text_is_a_configuration_error(make_backend):
    backend, _ = make_backend(ok())
    with pytest.raises(ConfigurationError, match="json_schema"):
        backend.generate([GenerationRequest.from_prompt("q", constraint=Constraint("json_schema", "{not json"))])


# -- construction -----------------------------------------------------------------------------


def test_constructor_validates_arguments():
    client = openai.AsyncOpenAI(base_url=BASE_URL, api_key="k")
    with pytest.raises(ConfigurationError, match="structured_output"):
        OpenAICompatBackend(client, model=MODEL, structured_output="xml")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        OpenAICompatBackend(client, model=MODEL, max_concurrency=0)
    with pytest.raises(ConfigurationError, match="model"):
        OpenAICompatBackend(client, model="")
    with pytest.raises(ConfigurationError, match="AsyncOpenAI"):
        OpenAICompatBackend(httpx.Client(), model=MODEL)  # type: ignore[arg-type]


def test_a_sync_client_is_copied_into_an_async_one():
    sync = openai.OpenAI(base_url="http://sync.test/v1", api_key="secret", timeout=7.0, max_retries=1)
    with OpenAICompatBackend(sync, model=MODEL) as backend:
        assert isinstance(backend.client, openai.AsyncOpenAI)
        assert backend.base_url == "http://sync.test/v1/"
        assert (backend.client.api_key, backend.client.timeout, backend.client.max_retries) == ("secret", 7.0, 1)
    assert backend.client.is_closed()
    sync.close()


def test_a_callers_async_client_stays_open(make_backend):
    backend, _ = make_backend(ok())
    backend.generate([PROMPT])
    backend.close()
    assert not backend.client.is_closed()


def models_listing(*names):
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "me"} for n in names]}


def test_from_url_reads_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.test/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("NEUROSYM_MODEL", "env-model")
    server = Server(ok(["from env"]))
    with OpenAICompatBackend.from_url(
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)), max_retries=0
    ) as backend:
        assert backend.model == "env-model"
        assert backend.base_url == "http://env.test/v1/"
        assert backend.generate([PROMPT])[0].texts == ["from env"]
    assert backend.client.is_closed()  # from_url's client belongs to the backend
    assert server.headers[0]["authorization"] == "Bearer sk-env"
    assert server.bodies[0]["model"] == "env-model"


def test_from_url_arguments_beat_the_environment_and_key_defaults_to_empty(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.test/v1")
    monkeypatch.setenv("NEUROSYM_MODEL", "env-model")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = Server(ok())
    transport = httpx.MockTransport(server)
    with OpenAICompatBackend.from_url(
        "http://arg.test/v1", "arg-model", http_client=httpx.AsyncClient(transport=transport)
    ) as backend:
        backend.generate([PROMPT])
        assert (backend.base_url, backend.model) == ("http://arg.test/v1/", "arg-model")
    assert server.headers[0]["authorization"] == "Bearer EMPTY"


def test_from_url_discovers_the_only_served_model(monkeypatch):
    monkeypatch.delenv("NEUROSYM_MODEL", raising=False)
    seen = []

    def respond(request):
        seen.append(request.url.path)
        return httpx.Response(200, json=models_listing("only-one"))

    client = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    with OpenAICompatBackend.from_url(BASE_URL, http_client=client) as backend:
        assert backend.model == "only-one"
    assert seen == ["/v1/models"]


@pytest.mark.parametrize("names", [("a", "b"), ()], ids=["two", "none"])
def test_from_url_refuses_to_guess_between_models(monkeypatch, names):
    monkeypatch.delenv("NEUROSYM_MODEL", raising=False)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=models_listing(*names)))
    client = httpx.AsyncClient(transport=transport)
    with pytest.raises(ConfigurationError, match=f"serves {len(names)} models") as info:
        OpenAICompatBackend.from_url(BASE_URL, http_client=client)
    for name in names:
        assert name in str(info.value)


def test_from_url_model_discovery_errors_are_normalized(monkeypatch):
    monkeypatch.delenv("NEUROSYM_MODEL", raising=False)
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json={"error": {"message": "bad key"}}))
    with pytest.raises(BackendError, match="401") as info:
        OpenAICompatBackend.from_url(BASE_URL, http_client=httpx.AsyncClient(transport=transport), max_retries=0)
    assert info.value.status_code == 401
    assert info.value.model is None


def test_from_url_needs_a_url(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_BASE_URL"):
        OpenAICompatBackend.from_url(model="m")


# -- a real llama.cpp server on loopback ------------------------------------------------------

SERVER_MODULES = ("llama_cpp", "llama_cpp.server", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path, lines=40):
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def llama_server():
    """``(base_url, model_name)`` of a llama_cpp.server serving the small model; killed at the end."""
    for name in SERVER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            pytest.skip(f"{name} is not importable ({exc}); install llama-cpp-python[server] (neurosym[server])")
    from neurosym.translators.models import ensure_model

    try:
        model_path = ensure_model("small", progress=False)
    except MissingDependencyError as exc:
        pytest.skip(f"the small model's slices are not installed: {exc}")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "server.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{_tail(log_path)}")
                try:
                    response = httpx.get(f"{base_url}/models", timeout=2)
                    if response.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not answer within 120 s:\n{_tail(log_path)}")
                time.sleep(0.25)
            served = [entry["id"] for entry in response.json()["data"]]
            yield base_url, served[0]
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class RequestCounter:
    """An httpx event hook that counts chat-completion requests."""

    def __init__(self):
        self.count = 0

    async def __call__(self, request):
        if request.url.path.endswith("/chat/completions"):
            self.count += 1


@pytest.fixture
def real_backend(llama_server):
    """``make(structured_output="llamacpp") -> (backend, counter)`` against the loopback server."""
    base_url, model = llama_server
    made = []

    def make(structured_output="llamacpp", max_concurrency=2):
        counter = RequestCounter()
        backend = OpenAICompatBackend.from_url(
            base_url,
            model,
            max_retries=0,
            timeout=120,
            max_concurrency=max_concurrency,
            structured_output=structured_output,
            http_client=httpx.AsyncClient(event_hooks={"request": [counter]}),
        )
        made.append(backend)
        return backend, counter

    yield make
    for backend in made:
        backend.close()


@pytest.mark.llm
def test_real_plain_completion_returns_text_and_usage(real_backend, llama_server):
    backend, counter = real_backend()
    request = GenerationRequest.from_prompt("Say hello in one word.")
    [result] = backend.generate([request], settings=SamplingSettings(max_tokens=8))
    [sample] = result.samples
    assert sample.text.strip()
    assert sample.finish_reason in ("stop", "length")
    assert result.usage.prompt_tokens > 5
    assert 0 < result.usage.completion_tokens <= 8
    assert result.usage.latency_s > 0
    assert result.model == llama_server[1]
    assert counter.count == 1


@pytest.mark.llm
def test_real_n_samples(real_backend):
    backend, counter = real_backend()
    settings = SamplingSettings(n=2, max_tokens=8, temperature=1.0, seed=3)
    [result] = backend.generate([GenerationRequest.from_prompt("Name a colour.")], settings=settings)
    assert len(result.samples) == 2
    assert all(s.text.strip() for s in result.samples)
    # llama_cpp.server ignores n (one choice per response), so the backend asked twice.
    assert counter.count == 2


@pytest.mark.llm
def test_real_grammar_constraint(real_backend):
    backend, _ = real_backend("llamacpp")
    request = GenerationRequest.from_prompt(
        "Is the sky green? Answer with one word.", constraint=Constraint("grammar", YES_NO)
    )
    settings = SamplingSettings(n=2, max_tokens=4, temperature=1.0, seed=11)
    [result] = backend.generate([request], settings=settings)
    assert len(result.texts) == 2
    assert set(result.texts) <= {"yes", "no"}


@pytest.mark.llm
def test_real_json_schema_constraint(real_backend):
    backend, _ = real_backend("llamacpp")
    request = GenerationRequest.from_prompt(
        "Is water wet? Reply in JSON.", constraint=Constraint("json_schema", SCHEMA)
    )
    [result] = backend.generate([request], settings=SamplingSettings(max_tokens=16))
    data = json.loads(result.texts[0])
    assert isinstance(data["answer"], bool)


@pytest.mark.llm
def test_real_from_url_discovers_the_model(llama_server, monkeypatch):
    base_url, model = llama_server
    monkeypatch.delenv("NEUROSYM_MODEL", raising=False)
    with OpenAICompatBackend.from_url(base_url, structured_output="llamacpp", max_retries=0) as backend:
        assert backend.model == model
        [result] = backend.generate([GenerationRequest.from_prompt("Hi")], settings=SamplingSettings(max_tokens=4))
    assert result.texts[0].strip()


@pytest.mark.llm
def test_real_seed_makes_sampling_reproducible(real_backend):
    backend, _ = real_backend()
    request = GenerationRequest.from_prompt("Write a random word.")
    settings = SamplingSettings(max_tokens=8, temperature=1.0, seed=5)
    first, second = (backend.generate([request], settings=settings)[0].texts for _ in range(2))
    assert first == second


@pytest.mark.llm
def test_real_context_overflow_is_a_backend_error_with_hint(real_backend):
    backend, _ = real_backend()
    request = GenerationRequest.from_prompt("word " * 3000)
    with pytest.raises(BackendError) as info:
        backend.generate([request], settings=SamplingSettings(max_tokens=8))
    assert info.value.status_code == 400
    assert info.value.hint is not None
    assert "context" in str(info.value)
