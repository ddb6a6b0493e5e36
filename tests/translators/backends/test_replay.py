import json

import pytest

from neurosym.errors import ConfigurationError, InputError
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.replay import CassetteMiss, RecordingBackend, ReplayBackend, cassette_key
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import Constraint, GenerationRequest


def req(text: str, constraint: Constraint | None = None) -> GenerationRequest:
    return GenerationRequest.from_prompt(text, constraint=constraint)


def test_record_then_replay_round_trips_exactly(tmp_path):
    path = tmp_path / "c.jsonl"
    inner = ScriptedBackend(lambda r, i: f"{r.messages[-1].content}#{i}", model="m1")
    recorder = RecordingBackend(inner, path)
    settings = SamplingSettings(n=2, temperature=0.7, seed=4)
    recorded = recorder.generate([req("p1"), req("p2")], settings=settings)
    replay = ReplayBackend(path)
    assert len(replay) == 2
    assert replay.model == "m1"
    assert replay.generate([req("p1"), req("p2")], settings=settings) == recorded
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["backend"] == "scripted" and lines[0]["settings"]["n"] == 2


def test_replay_fails_loudly_on_a_miss(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["x"]), path).generate([req("p")], settings=SamplingSettings(seed=1))
    replay = ReplayBackend(path)
    with pytest.raises(CassetteMiss, match="no recording"):
        replay.generate([req("p")], settings=SamplingSettings(seed=2))  # other settings
    with pytest.raises(CassetteMiss):
        replay.generate([req("other")], settings=SamplingSettings(seed=1))
    assert issubclass(CassetteMiss, ConfigurationError)


def test_repeated_requests_replay_in_recorded_order(tmp_path):
    path = tmp_path / "c.jsonl"
    recorder = RecordingBackend(ScriptedBackend(["first", "second"]), path)
    recorder.generate([req("p")])
    recorder.generate([req("p")])
    replay = ReplayBackend(path)
    assert [replay.generate([req("p")])[0].texts[0] for _ in range(3)] == ["first", "second", "second"]


def test_torn_last_line_is_skipped_and_missing_cassette_is_an_input_error(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["x"]), path).generate([req("p")])
    with path.open("a") as fh:
        fh.write('{"key": "abc", "result": {"samp')  # a kill mid-write
    assert ReplayBackend(path).generate([req("p")])[0].texts == ["x"]
    with pytest.raises(InputError):
        ReplayBackend(tmp_path / "none.jsonl")


def test_grammar_support_is_read_from_the_cassette(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["x"]), path).generate([req("p", Constraint("grammar", 'root ::= "x"'))])
    assert ReplayBackend(path).supports_grammar is True
    key_with = cassette_key(req("p", Constraint("grammar", 'root ::= "x"')), SamplingSettings())
    assert key_with != cassette_key(req("p"), SamplingSettings())
