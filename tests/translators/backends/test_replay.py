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
    assert len(replay) == 4  # one line per sample
    assert replay.model == "m1"
    replayed = replay.generate([req("p1"), req("p2")], settings=settings)
    assert [r.samples for r in replayed] == [r.samples for r in recorded]
    assert [r.usage.prompt_tokens for r in replayed] == [r.usage.prompt_tokens for r in recorded]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["backend"] == "scripted" and lines[0]["settings"]["n"] == 2
    assert [line["sample_index"] for line in lines] == [0, 1, 0, 1]


def test_samples_replay_under_any_split_into_calls(tmp_path):
    # Recorded as one call of n=5; replayed two at a time (seed + 2 for the second pair), as adaptive sampling asks.
    path = tmp_path / "c.jsonl"
    inner = ScriptedBackend(lambda r, i: f"s{i}")
    recorded = RecordingBackend(inner, path).generate([req("p")], settings=SamplingSettings(n=5, seed=10))[0]
    replay = ReplayBackend(path)
    first = replay.generate([req("p")], settings=SamplingSettings(n=2, seed=10))[0]
    second = replay.generate([req("p")], settings=SamplingSettings(n=2, seed=12))[0]
    assert first.texts + second.texts == recorded.texts[:4]
    with pytest.raises(CassetteMiss, match="sample 1"):
        replay.generate([req("p")], settings=SamplingSettings(n=2, seed=14))  # only seed 14 was recorded


def test_resume_asks_the_model_only_for_missing_samples(tmp_path):
    path = tmp_path / "c.jsonl"
    calls = []

    def script(request, index):
        calls.append(index)
        return f"s{index}"

    RecordingBackend(ScriptedBackend(script), path).generate([req("p")], settings=SamplingSettings(n=2, seed=0))
    calls.clear()
    resumed = RecordingBackend(ScriptedBackend(script), path, resume=True)
    result = resumed.generate([req("p")], settings=SamplingSettings(n=4, seed=0))[0]
    assert result.texts[:2] == ["s0", "s1"] and len(result.texts) == 4
    assert (resumed.hits, resumed.misses) == (2, 2)
    assert len(calls) == 2  # samples 2 and 3 only, in one call with seed 2
    assert len(ReplayBackend(path).generate([req("p")], settings=SamplingSettings(n=4, seed=0))[0].texts) == 4


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
        fh.write('{"key": "abc", "sample": {"tex')  # a kill mid-write
    assert ReplayBackend(path).generate([req("p")])[0].texts == ["x"]
    with pytest.raises(InputError):
        ReplayBackend(tmp_path / "none.jsonl")


def test_grammar_support_is_read_from_the_cassette(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["x"]), path).generate([req("p", Constraint("grammar", 'root ::= "x"'))])
    assert ReplayBackend(path).supports_grammar is True
    key_with = cassette_key(req("p", Constraint("grammar", 'root ::= "x"')), SamplingSettings())
    assert key_with != cassette_key(req("p"), SamplingSettings())


def test_one_at_a_time_records_each_sample_as_its_own_call(tmp_path):
    path = tmp_path / "c.jsonl"
    seen = []

    def script(request, index):
        seen.append(index)
        return f"s{len(seen)}"

    recorder = RecordingBackend(ScriptedBackend(script), path, one_at_a_time=True)
    result = recorder.generate([req("p")], settings=SamplingSettings(n=3, seed=7))[0]
    assert result.texts == ["s1", "s2", "s3"] and seen == [0, 0, 0]  # three calls of one sample each
    replayed = ReplayBackend(path).generate([req("p")], settings=SamplingSettings(n=2, seed=8))[0]
    assert replayed.texts == ["s2", "s3"]
