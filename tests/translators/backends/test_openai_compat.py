"""OpenAICompatBackend: error paths, request bodies, structured-output probing and streamed progress
against httpx.MockTransport, then a real llama.cpp server on loopback (``python -m llama_cpp.server``)
with the small embedded model. The deadline and malformed answers: test_openai_compat_wire.py."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import pickle
import re
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
from neurosym.translators.backends.structured_output import PROBE_TEXT, PROBED_FORMATS
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
    """``make_backend(respond, max_retries=0, **backend_kwargs) -> (backend, server)``; closed afterwards.

    The structured-output mode is ``vllm`` unless given: ``auto`` would probe the mock server first.
    """
    backends = []

    def make(respond, *, max_retries=0, delay=0.0, structured_output="vllm", **kwargs):
        server = Server(respond, delay=delay)
        client = openai.AsyncOpenAI(
            base_url=BASE_URL,
            api_key="EMPTY",
            max_retries=max_retries,
            timeout=5.0,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        )
        backend = OpenAICompatBackend(client, model=MODEL, structured_output=structured_output, **kwargs)
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


# -- structured_output="auto": probing the server ---------------------------------------------


@pytest.fixture(autouse=True)
def _forget_probes():
    """Each test probes afresh (auto remembers what it found per server for the whole process)."""
    PROBED_FORMATS.clear()
    yield
    PROBED_FORMATS.clear()


def grammar_literal(grammar):
    """The literal of ``root ::= "..."`` (what a grammar-applying model would be forced to write)."""
    match = re.fullmatch(r'root ::= "([^"]*)"', grammar)
    return match.group(1) if match else "grammar applied"


class FakeServer:
    """A stand-in for one server dialect: it applies constraints in the fields ``reads`` and ignores or
    refuses (``refuse_unknown``, as OpenAI does) the other constraint fields."""

    CONSTRAINT_FIELDS = ("structured_outputs", "guided_grammar", "guided_regex", "guided_json", "grammar")

    def __init__(self, reads, *, refuse_unknown=False):
        self.reads = reads
        self.refuse_unknown = refuse_unknown

    def __call__(self, request, body, call):
        applied = None
        if "structured_outputs" in body:
            if "structured_outputs" in self.reads:
                applied = grammar_literal(body["structured_outputs"].get("grammar", ""))
            elif self.refuse_unknown:
                return unrecognized("structured_outputs")
        for name in ("guided_grammar", "grammar"):
            if name in body:
                if name in self.reads:
                    applied = grammar_literal(body[name])
                elif self.refuse_unknown:
                    return unrecognized(name)
        response_format = body.get("response_format")
        if response_format and "response_format" in self.reads and response_format.get("type") == "json_schema":
            applied = json.dumps({"probe": response_format["json_schema"]["schema"]["properties"]["probe"]["enum"][0]})
        return httpx.Response(200, json=completion([applied if applied is not None else "Hello!"]))


def unrecognized(name):
    message = f"Unrecognized request argument supplied: {name}"
    return httpx.Response(400, json={"error": {"message": message, "type": "invalid_request_error"}})


PROBE_GRAMMAR = f'root ::= "{PROBE_TEXT}"'


@pytest.mark.parametrize(
    ("reads", "refuse_unknown", "expected", "probes"),
    [
        (("structured_outputs",), False, "vllm", 1),
        (("guided_grammar",), False, "vllm-legacy", 2),
        (("grammar",), False, "llamacpp", 3),
        (("response_format",), True, "openai", 4),
        ((), False, "none", 4),
    ],
    ids=["vllm", "old vllm", "llama.cpp", "openai", "ignores everything"],
)
def test_auto_finds_the_format_the_server_applies(make_backend, caplog, reads, refuse_unknown, expected, probes):
    backend, server = make_backend(FakeServer(reads, refuse_unknown=refuse_unknown), structured_output="auto")
    assert backend.resolve_structured_output() == expected
    assert backend.supports_grammar is (expected in ("vllm", "vllm-legacy", "llamacpp"))
    assert server.calls == probes
    first = server.bodies[0]
    assert first["structured_outputs"] == {"grammar": PROBE_GRAMMAR}
    assert first["max_tokens"] == 12 and first["temperature"] == 0.0
    assert PROBED_FORMATS[(backend.base_url, MODEL)] == expected
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warned) is (expected == "none")
    if expected == "none":
        assert "applied none of the structured-output formats" in warned[0]
        assert "ignored (replied 'Hello!')" in warned[0]


def test_auto_sends_constraints_in_the_format_it_found(make_backend):
    backend, server = make_backend(FakeServer(("grammar",)), structured_output="auto")
    request = GenerationRequest.from_prompt("Is the sky blue?", constraint=Constraint("grammar", YES_NO))
    [result] = backend.generate([request])
    assert server.calls == 4  # three probes, then the request
    assert server.bodies[-1]["grammar"] == YES_NO
    assert "structured_outputs" not in server.bodies[-1]
    assert result.texts == ["grammar applied"]


def test_auto_probes_only_when_a_constraint_or_supports_grammar_needs_it(make_backend):
    backend, server = make_backend(FakeServer(("grammar",)), structured_output="auto")
    backend.generate([PROMPT])
    assert server.calls == 1
    assert PROBED_FORMATS == {}


def test_auto_remembers_the_format_per_server_and_model(make_backend):
    first, first_server = make_backend(FakeServer(("guided_grammar",)), structured_output="auto")
    assert first.resolve_structured_output() == "vllm-legacy"
    second, second_server = make_backend(FakeServer(("guided_grammar",)), structured_output="auto")
    assert second.supports_grammar
    assert second_server.calls == 0  # the same base_url and model: no second probe
    PROBED_FORMATS[(second.base_url, "other-model")] = "openai"
    assert second.resolve_structured_output() == "vllm-legacy"
    assert first_server.calls == 2


def test_auto_that_finds_nothing_sends_constraints_unconstrained_with_a_warning(make_backend, caplog):
    backend, server = make_backend(FakeServer(()), structured_output="auto")
    request = GenerationRequest.from_prompt("q", constraint=Constraint("grammar", YES_NO))
    [result] = backend.generate([request, PROMPT])[:1]
    assert result.texts == ["Hello!"]
    sent = server.bodies[4:]
    assert len(sent) == 2
    assert not any(key in body for body in sent for key in (*FakeServer.CONSTRAINT_FIELDS, "response_format"))
    assert any("such requests go unconstrained" in r.getMessage() for r in caplog.records)


def test_auto_regex_on_a_llama_cpp_server_is_dropped_not_refused(make_backend):
    backend, server = make_backend(FakeServer(("grammar",)), structured_output="auto")
    backend.generate([GenerationRequest.from_prompt("q", constraint=Constraint("regex", "yes|no"))])
    assert "grammar" not in server.bodies[-1] and "structured_outputs" not in server.bodies[-1]


def test_a_probe_that_meets_server_errors_is_not_remembered(make_backend):
    backend, server = make_backend(lambda r, b, c: fast_status(503), structured_output="auto")
    assert backend.resolve_structured_output() == "none"
    assert server.calls == 4
    assert PROBED_FORMATS == {}  # a 503 may pass: the next backend probes again


def test_a_probe_that_cannot_reach_the_server_raises(make_backend):
    def refuse(request, body, call):
        raise httpx.ConnectError("connection refused", request=request)

    backend, _server = make_backend(refuse, structured_output="auto")
    with pytest.raises(BackendConnectionError, match="could not reach"):
        _ = backend.supports_grammar
    assert PROBED_FORMATS == {}


def test_explicit_modes_and_none_never_probe(make_backend):
    for mode, grammar in [("none", False), ("openai", False), ("llamacpp", True), ("vllm-legacy", True)]:
        backend, server = make_backend(ok(), structured_output=mode)
        assert backend.supports_grammar is grammar
        assert backend.resolve_structured_output() == mode
        assert server.calls == 0


def test_from_url_takes_structured_output(monkeypatch):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=completion(["x"])))
    with OpenAICompatBackend.from_url(
        BASE_URL, MODEL, structured_output="llamacpp", http_client=httpx.AsyncClient(transport=transport)
    ) as backend:
        assert backend.structured_output == "llamacpp" and backend.supports_grammar
    with pytest.raises(ConfigurationError, match="auto, vllm, vllm-legacy, llamacpp, openai, none"):
        OpenAICompatBackend.from_url(BASE_URL, MODEL, structured_output="guided")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "constraint", "error_body"),
    [
        (
            "vllm",
            Constraint("grammar", YES_NO),
            {"detail": [{"type": "extra_forbidden", "loc": ["body", "structured_outputs"], "msg": "Extra inputs"}]},
        ),
        ("vllm-legacy", Constraint("grammar", YES_NO), {"error": {"message": "unknown field guided_grammar"}}),
        ("llamacpp", Constraint("grammar", YES_NO), {"error": {"message": "Unrecognized request argument: grammar"}}),
        ("openai", Constraint("json_schema", SCHEMA), {"error": {"message": "response_format is not supported"}}),
    ],
    ids=["vllm", "vllm-legacy", "llamacpp", "openai"],
)
def test_a_4xx_naming_the_structured_output_field_says_what_to_try(make_backend, mode, constraint, error_body):
    backend, _server = make_backend(lambda r, b, c: httpx.Response(400, json=error_body), structured_output=mode)
    with pytest.raises(BackendError) as info:
        backend.generate([GenerationRequest.from_prompt("q", constraint=constraint)])
    err = info.value
    assert err.status_code == 400
    assert re.search("extra_forbidden|unknown field|Unrecognized|not supported", str(err))  # what the server said
    for needle in ("--structured-output none", "--no-constraint", f"structured_output={mode!r}"):
        assert needle in str(err)
    assert "--structured-output" in err.hint
    others = [m for m in ("auto", "vllm", "vllm-legacy", "llamacpp", "openai") if m != mode]
    assert all(f"'{m}'" in err.hint for m in others)


def test_a_4xx_without_a_constraint_gets_no_structured_output_hint(make_backend):
    body = {"detail": [{"type": "extra_forbidden", "loc": ["body", "top_k"]}]}
    backend, _ = make_backend(lambda r, b, c: httpx.Response(400, json=body))
    with pytest.raises(BackendError) as info:
        backend.generate([PROMPT])
    assert info.value.hint is None
    assert "--structured-output" not in str(info.value)


def test_a_4xx_about_something_else_gets_no_structured_output_hint(make_backend):
    body = {"error": {"message": "temperature must be at most 2"}}
    backend, _ = make_backend(lambda r, b, c: httpx.Response(400, json=body))
    with pytest.raises(BackendError) as info:
        backend.generate([GenerationRequest.from_prompt("q", constraint=Constraint("grammar", YES_NO))])
    assert info.value.hint is None


# -- progress: streaming ----------------------------------------------------------------------


def sse(*chunks, done=True):
    """An event-stream body: one ``data:`` event per chunk (dicts as JSON), then ``[DONE]``."""
    events = [c if isinstance(c, (str, bytes)) else json.dumps(c) for c in chunks]
    text = "".join(f"data: {e if isinstance(e, str) else e.decode()}\n\n" for e in events)
    return (text + ("data: [DONE]\n\n" if done else "")).encode()


def delta(index, content=None, finish_reason=None):
    choice = {"index": index, "delta": {} if content is None else {"content": content}, "finish_reason": finish_reason}
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": MODEL, "choices": [choice]}


def usage_chunk(prompt_tokens, completion_tokens):
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


def streamed(pieces_per_choice, *, prompt_tokens=7, completion_tokens=None, usage=True, finish_reason="stop"):
    """A stream of the choices' pieces, interleaved, ending with finish reasons and (optionally) usage."""
    chunks = [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [
                {"index": i, "delta": {"role": "assistant"}, "finish_reason": None}
                for i in range(len(pieces_per_choice))
            ],
        }
    ]
    for step in range(max(len(p) for p in pieces_per_choice)):
        for index, pieces in enumerate(pieces_per_choice):
            if step < len(pieces):
                chunks.append(delta(index, pieces[step]))
    chunks += [delta(i, finish_reason=finish_reason) for i in range(len(pieces_per_choice))]
    if usage:
        total = sum(len(p) for p in pieces_per_choice) if completion_tokens is None else completion_tokens
        chunks.append(usage_chunk(prompt_tokens, total))
    return sse(*chunks)


def event_stream(body):
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def both_ways(pieces_per_choice, **kwargs):
    """A server that streams when asked to and answers the same completion as JSON otherwise."""

    def respond(request, body, call):
        if body.get("stream"):
            return event_stream(streamed(pieces_per_choice, **kwargs))
        texts = ["".join(pieces) for pieces in pieces_per_choice]
        total = sum(len(p) for p in pieces_per_choice)
        return httpx.Response(
            200, json=completion(texts, prompt_tokens=kwargs.get("prompt_tokens", 7), completion_tokens=total)
        )

    return respond


def same_result(a, b):
    assert [s.to_dict() for s in a.samples] == [s.to_dict() for s in b.samples]
    assert (a.usage.prompt_tokens, a.usage.completion_tokens) == (b.usage.prompt_tokens, b.usage.completion_tokens)
    assert (a.backend, a.model) == (b.backend, b.model)


def test_progress_streams_each_piece_and_ends_each_sample_once(make_backend):
    backend, server = make_backend(both_ways([["P", "(", "a", ")"]]))
    seen = []
    [streamed_result] = backend.generate([PROMPT], progress=seen.append)
    [plain_result] = backend.generate([PROMPT])
    same_result(streamed_result, plain_result)
    assert streamed_result.texts == ["P(a)"]
    assert [(p.text, p.completion_tokens, p.done) for p in seen] == [
        ("P", 1, False),
        ("(", 2, False),
        ("a", 3, False),
        (")", 4, False),
        ("", 4, True),
    ]
    assert all((p.request_index, p.sample_index) == (0, 0) for p in seen)
    assert server.bodies[0]["stream"] is True
    assert server.bodies[0]["stream_options"] == {"include_usage": True}
    assert "stream" not in server.bodies[1] and "stream_options" not in server.bodies[1]


def test_progress_with_n_samples_in_one_stream_and_several_requests(make_backend):
    backend, _ = make_backend(both_ways([["x", "y"], ["z"], ["u", "v", "w"]]))
    seen = []
    settings = SamplingSettings(n=3, temperature=0.5)
    results = backend.generate([PROMPT, PROMPT], settings=settings, progress=seen.append)
    plain = backend.generate([PROMPT, PROMPT], settings=settings)
    for a, b in zip(results, plain, strict=True):
        same_result(a, b)
    assert results[0].texts == ["xy", "z", "uvw"]
    for request_index in (0, 1):
        mine = [p for p in seen if p.request_index == request_index]
        for sample_index, text in enumerate(["xy", "z", "uvw"]):
            of_sample = [p for p in mine if p.sample_index == sample_index]
            assert "".join(p.text for p in of_sample) == text
            assert [p.done for p in of_sample].count(True) == 1 and of_sample[-1].done
    done = [p for p in seen if p.done and p.request_index == 0]
    assert [p.completion_tokens for p in done] == [s.completion_tokens for s in results[0].samples]


def test_progress_numbers_top_up_samples_after_the_first(make_backend):
    def one_choice(request, body, call):
        if body.get("stream"):
            return event_stream(streamed([[f"s{call}"]]))
        return httpx.Response(200, json=completion([f"s{call}"]))

    backend, server = make_backend(one_choice)
    seen = []
    [result] = backend.generate([PROMPT], settings=SamplingSettings(n=3, seed=4), progress=seen.append)
    assert result.texts == ["s1", "s2", "s3"]
    assert [(p.sample_index, p.text, p.done) for p in seen] == [
        (0, "s1", False),
        (0, "", True),
        (1, "s2", False),
        (1, "", True),
        (2, "s3", False),
        (2, "", True),
    ]
    assert [b["seed"] for b in server.bodies] == [4, 5, 6]


def test_a_stream_without_usage_estimates_tokens_from_its_chunks(make_backend):
    backend, _ = make_backend(lambda r, b, c: event_stream(streamed([["a", "b", "c"]], usage=False)))
    [result] = backend.generate([PROMPT], progress=lambda p: None)
    assert result.texts == ["abc"]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (0, 3)


def test_a_server_refusing_stream_options_is_asked_again_without(make_backend):
    def respond(request, body, call):
        if "stream_options" in body:
            return unrecognized("stream_options")
        return event_stream(streamed([["o", "k"]], usage=False))

    backend, server = make_backend(respond)
    seen = []
    assert backend.generate([PROMPT], progress=seen.append)[0].texts == ["ok"]
    assert backend.generate([PROMPT], progress=seen.append)[0].texts == ["ok"]
    assert server.calls == 3  # refused once, then remembered
    assert "stream_options" not in server.bodies[2] and server.bodies[2]["stream"] is True
    assert [p.text for p in seen if not p.done] == ["o", "k", "o", "k"]


def test_a_server_refusing_to_stream_gets_plain_requests_and_progress_at_the_end(make_backend):
    def respond(request, body, call):
        if body.get("stream"):
            return httpx.Response(400, json={"error": {"message": "streaming is not supported"}})
        return httpx.Response(200, json=completion(["whole"], completion_tokens=3))

    backend, server = make_backend(respond)
    seen = []
    [result] = backend.generate([PROMPT], progress=seen.append)
    assert result.texts == ["whole"]
    assert [(p.text, p.completion_tokens, p.done) for p in seen] == [("whole", 3, False), ("", 3, True)]
    assert server.calls == 2


def test_a_server_ignoring_stream_answers_json_and_progress_comes_at_the_end(make_backend):
    backend, _ = make_backend(ok(["as json"], completion_tokens=2))
    seen = []
    [result] = backend.generate([PROMPT], progress=seen.append)
    assert result.texts == ["as json"]
    assert [(p.text, p.done) for p in seen] == [("as json", False), ("", True)]


def test_without_progress_nothing_is_streamed(make_backend):
    backend, server = make_backend(ok(["x"]))
    backend.generate([PROMPT])
    assert "stream" not in server.bodies[0]


def test_a_failing_callback_propagates_as_is_and_cancels_the_batch(make_backend):
    class Stop(Exception):
        pass

    backend, _server = make_backend(both_ways([["a", "b", "c"]]), delay=0.01)
    calls = []

    def callback(progress):
        calls.append(progress)
        if len(calls) == 2:
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        backend.generate([PROMPT] * 4, progress=callback)
    assert len(calls) == 2
    # The backend is still usable: nothing of the failed call is left behind.
    assert backend.generate([PROMPT])[0].texts == ["abc"]


def test_a_callback_raising_a_backend_error_is_not_taken_for_the_servers(make_backend):
    backend, server = make_backend(both_ways([["a"]]), max_retries=3)

    def callback(progress):
        raise BackendConnectionError("mine")

    with pytest.raises(BackendConnectionError, match=r"^mine$"):
        backend.generate([PROMPT], progress=callback)
    assert server.calls == 1  # not retried


def test_a_stream_failing_before_any_text_is_retried(make_backend):
    def respond(request, body, call):
        return fast_status(503) if call == 1 else event_stream(streamed([["fine"]]))

    backend, server = make_backend(respond, max_retries=1)
    seen = []
    assert backend.generate([PROMPT], progress=seen.append)[0].texts == ["fine"]
    assert server.calls == 2
    assert [p.text for p in seen] == ["fine", ""]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (sse(delta(0, "P"), "not json"), r"a stream event that is not JSON"),
        (
            b'data: {"choices": [{"index": 0, "delta": {"content": "P"}}]}\n\nevent: error\ndata: overloaded\n\n',
            r"an error event in the stream: 'overloaded'",
        ),
        (sse({"error": {"message": "out of memory"}}), r"an error instead of a completion: 'out of memory'"),
        (sse(delta(0, "P"), done=False), r"ended before the completion finished"),
        (sse(delta(0, {"x": 1})), r"choice 0's content is a JSON object"),
        (sse({"choices": "P"}), r"choices is a string"),
        (sse(), r"an event stream without any choice"),
        (sse({"choices": [{"index": -1, "delta": {"content": "P"}}]}), r"choice index is a number"),
    ],
    ids=[
        "event not JSON",
        "error event",
        "error object",
        "cut short",
        "content object",
        "choices string",
        "no choices",
        "bad index",
    ],
)
def test_malformed_streams_are_backend_errors(make_backend, body, message):
    backend, _ = make_backend(lambda r, b, c: event_stream(body))
    with pytest.raises(BackendError, match=message) as info:
        backend.generate([PROMPT], progress=lambda p: None)
    assert type(info.value) is BackendError
    assert "malformed response from" in str(info.value)


def test_a_stream_larger_than_max_response_bytes_is_cut_off(make_backend):
    body = sse(delta(0, "x" * 5000), delta(0, finish_reason="stop"))
    backend, _ = make_backend(lambda r, b, c: event_stream(body))
    backend.max_response_bytes = 1000
    with pytest.raises(BackendError, match="more than the 1000 bytes allowed"):
        backend.generate([PROMPT], progress=lambda p: None)


def test_a_finished_stream_without_done_is_accepted(make_backend):
    body = sse(delta(0, "P(a)"), delta(0, finish_reason="length"), done=False)
    backend, _ = make_backend(lambda r, b, c: event_stream(body))
    [result] = backend.generate([PROMPT], progress=lambda p: None)
    assert (result.texts, result.samples[0].finish_reason) == (["P(a)"], "length")


def test_stream_events_split_anywhere_are_reassembled(make_backend):
    body = streamed([["ü", "ber", " ", "alles"]]).replace(b"\n\n", b"\r\n\r\n")

    async def trickle():
        for i in range(0, len(body), 3):  # splits CRLFs and a two-byte UTF-8 character
            yield body[i : i + 3]

    backend, _ = make_backend(
        lambda r, b, c: httpx.Response(200, content=trickle(), headers={"content-type": "text/event-stream"})
    )
    seen = []
    [result] = backend.generate([PROMPT], progress=seen.append)
    assert result.texts == ["über alles"]
    assert [p.text for p in seen if not p.done] == ["ü", "ber", " ", "alles"]


def test_agenerate_takes_progress(make_backend):
    backend, _ = make_backend(both_ways([["a", "b"]]))
    seen = []
    [result] = asyncio.run(backend.agenerate([PROMPT], progress=seen.append))
    assert result.texts == ["ab"] and seen[-1].done


def test_progress_must_be_callable(make_backend):
    backend, server = make_backend(ok())
    with pytest.raises(ConfigurationError, match="progress must be a callable"):
        backend.generate([PROMPT], progress="print")  # type: ignore[arg-type]
    assert server.calls == 0


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


@pytest.mark.llm
def test_real_auto_finds_the_llama_cpp_format(llama_server):
    base_url, model = llama_server
    with OpenAICompatBackend.from_url(base_url, model, max_retries=0, timeout=120) as backend:
        assert backend.resolve_structured_output() == "llamacpp"
        assert backend.supports_grammar
        request = GenerationRequest.from_prompt("Is fire cold?", constraint=Constraint("grammar", YES_NO))
        [result] = backend.generate([request], settings=SamplingSettings(max_tokens=4))
    assert result.texts[0] in ("yes", "no")


@pytest.mark.llm
def test_real_progress_streams_the_same_result(real_backend):
    backend, _ = real_backend()
    request = GenerationRequest.from_prompt("Count from one to five in words.")
    settings = SamplingSettings(max_tokens=16)
    seen = []
    [streamed_result] = backend.generate([request], settings=settings, progress=seen.append)
    [plain_result] = backend.generate([request], settings=settings)
    assert streamed_result.texts == plain_result.texts
    assert streamed_result.samples[0].finish_reason == plain_result.samples[0].finish_reason
    assert "".join(p.text for p in seen) == streamed_result.texts[0]
    assert [p.done for p in seen].count(True) == 1 and seen[-1].done
    assert len(seen) > 2  # it really streamed
    assert streamed_result.usage.completion_tokens > 0
