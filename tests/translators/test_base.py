import pytest

import neurosym.translators.base as base
from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import (
    Constraint,
    GenerationRequest,
    GenerationResult,
    Message,
    Sample,
    Usage,
    check_allow_live_requests,
    request_key,
)


def test_request_from_prompt_and_dict():
    request = GenerationRequest.from_prompt("hi", system="sys", constraint=Constraint("regex", "a|b"))
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.to_dict()["constraint"] == {"kind": "regex", "value": "a|b"}


def test_empty_request_and_bad_constraint_are_rejected():
    with pytest.raises(ConfigurationError):
        GenerationRequest(())
    with pytest.raises(ConfigurationError):
        Constraint("lark", "start: x")  # type: ignore[arg-type]


def test_request_key_depends_on_everything_that_shapes_the_answer():
    request = GenerationRequest.from_prompt("hi")
    key = request_key("b", "m", request, SamplingSettings(n=1))
    assert key == request_key("b", "m", request, SamplingSettings(n=1))
    assert key != request_key("b", "m2", request, SamplingSettings(n=1))
    assert key != request_key("b", "m", request, SamplingSettings(n=1, seed=3))
    assert key != request_key("b", "m", GenerationRequest.from_prompt("hi!"), SamplingSettings(n=1))


def test_result_round_trips_through_dict():
    result = GenerationResult((Sample("x", "stop", 1), Sample("y", "length", 2)), Usage(5, 3, 0.25), "b", "m")
    again = GenerationResult.from_dict(result.to_dict())
    assert again == result
    assert again.texts == ["x", "y"]
    assert (Usage(1, 2, 0.5) + Usage(3, 4, 0.25)) == Usage(4, 6, 0.75)


def test_live_requests_switch(monkeypatch):
    monkeypatch.setattr(base, "ALLOW_LIVE_REQUESTS", False)
    with pytest.raises(ConfigurationError, match="switched off"):
        check_allow_live_requests("openai")
    monkeypatch.setattr(base, "ALLOW_LIVE_REQUESTS", True)
    check_allow_live_requests("openai")
    assert Message("user", "x").to_dict() == {"role": "user", "content": "x"}
