import dataclasses
import json
import os
import threading
from pathlib import Path

import pytest

from neurosym.errors import ConfigurationError, InputError
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.replay import CassetteMiss, RecordingBackend, ReplayBackend, cassette_key
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import Constraint, GenerationRequest, GenerationResult, Message, Sample, Usage
from neurosym.translators.models import EMBEDDED_MODELS


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


def test_continuation_is_read_from_the_cassette_so_a_decoder_replays_its_own_requests(tmp_path):
    from neurosym.translators.decoding._testing import ContinuingScriptedBackend

    plain, continued = tmp_path / "plain.jsonl", tmp_path / "continued.jsonl"
    RecordingBackend(ScriptedBackend(["x"]), plain).generate([req("p")])
    partial = GenerationRequest((Message("user", "p"), Message("assistant", "integer x\n")))
    RecordingBackend(ContinuingScriptedBackend(["x", "y"]), continued).generate([req("p"), partial])
    assert ReplayBackend(plain).continues_partial_answer is False
    replay = ReplayBackend(continued)
    assert replay.continues_partial_answer is True
    assert replay.generate([partial])[0].texts == ["y"]


def test_grammar_support_is_read_from_the_cassette(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["x"]), path).generate([req("p", Constraint("grammar", 'root ::= "x"'))])
    assert ReplayBackend(path).supports_grammar is True
    scripted = {"kind": "scripted", "model": "scripted"}
    key_with = cassette_key(scripted, req("p", Constraint("grammar", 'root ::= "x"')), SamplingSettings())
    assert key_with != cassette_key(scripted, req("p"), SamplingSettings())


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


# -- torn and foreign files -----------------------------------------------------------------------

MULTIBYTE = "é漢🙂" * 2000  # 2-, 3- and 4-byte UTF-8 characters


def never_called(request, index):
    pytest.fail("the model was called")


def record_lines(path):
    """Every line of the cassette parsed as JSON (fails on a torn or glued line)."""
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]


def test_a_cassette_torn_inside_a_utf8_character_replays_and_resumes_on_a_fresh_line(tmp_path, caplog):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(lambda r, i: f"{r.messages[-1].content} {MULTIBYTE}"), path).generate(
        [req("first"), req("second")]
    )
    whole = path.read_bytes()
    torn_record = whole.splitlines(keepends=True)[1]
    cut = torn_record.index("漢".encode()) + 1  # one byte into a three-byte character
    path.write_bytes(whole.splitlines(keepends=True)[0] + torn_record[:cut])  # killed while writing "second"
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")

    replay = ReplayBackend(path)
    assert replay.generate([req("first")])[0].texts == [f"first {MULTIBYTE}"]
    assert "line 2" in caplog.text and "torn" in caplog.text
    with pytest.raises(CassetteMiss):
        replay.generate([req("second")])

    resumed = RecordingBackend(
        ScriptedBackend(lambda r, i: f"{r.messages[-1].content} again {MULTIBYTE}"), path, resume=True
    )
    texts = [r.texts[0] for r in resumed.generate([req("first"), req("second")])]
    assert texts == [f"first {MULTIBYTE}", f"second again {MULTIBYTE}"]
    assert (resumed.hits, resumed.misses, resumed.torn_lines_cut) == (1, 1, 1)
    lines = record_lines(path)  # the torn bytes are gone and the new record has a line of its own
    assert [line["request"]["messages"][-1]["content"] for line in lines] == ["first", "second"]
    assert ReplayBackend(path).generate([req("second")])[0].texts == [f"second again {MULTIBYTE}"]


def test_a_bad_line_inside_the_cassette_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["a", "b"]), path).generate([req("p"), req("q")])
    first, second = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(first + b'{"key": "x", "sample": "\xe9\xff"}\n' + b"[1, 2]\n" + second)
    replay = ReplayBackend(path)
    assert [replay.generate([req(p)])[0].texts[0] for p in "pq"] == ["a", "b"]
    assert "line 2" in caplog.text and "UTF-8" in caplog.text
    assert "line 3" in caplog.text and "not a record" in caplog.text


def test_a_record_without_its_newline_is_kept_and_the_next_one_starts_a_line(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["a"]), path).generate([req("p")])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # an edited file saved without the last newline
    assert ReplayBackend(path).generate([req("p")])[0].texts == ["a"]
    recorder = RecordingBackend(ScriptedBackend(["b"]), path, resume=True)
    assert [r.texts[0] for r in recorder.generate([req("p"), req("q")])] == ["a", "b"]
    assert recorder.torn_lines_cut == 0 and len(record_lines(path)) == 2


def test_a_cassette_killed_during_its_first_write_resumes(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend([MULTIBYTE]), path).generate([req("p")])
    path.write_bytes(path.read_bytes()[:5000])  # nothing whole was written
    assert len(ReplayBackend(path)) == 0
    recorder = RecordingBackend(ScriptedBackend(["x"]), path, resume=True)
    assert recorder.generate([req("p")])[0].texts == ["x"] and recorder.torn_lines_cut == 1
    assert [line["sample"]["text"] for line in record_lines(path)] == ["x"]


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"SQLite format 3\x00" + bytes(range(256)) * 8, "a binary file"),
        (b"GGUF\x03\x00\x00\x00" + b"\x00\xff" * 500, "a binary file"),
        (b'{"item": 1, "answer": "True"}\n{"item": 2, "answer": "False"}\n', "not a cassette"),
        (b"just some notes\n", "not a cassette"),
    ],
)
def test_a_file_that_is_not_a_cassette_is_an_input_error_and_left_alone(tmp_path, content, what):
    path = tmp_path / "not-a-cassette.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=what) as caught:
        ReplayBackend(path)
    assert str(path) in str(caught.value) and "Traceback" not in str(caught.value)
    for resume in (False, True):
        with pytest.raises(InputError, match=what):
            RecordingBackend(ScriptedBackend(never_called), path, resume=resume)
    assert path.read_bytes() == content


def test_a_directory_or_unwritable_cassette_path_fails_before_any_model_call(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        ReplayBackend(tmp_path)
    with pytest.raises(InputError, match="is a directory"):
        RecordingBackend(ScriptedBackend(never_called), tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write the cassette"):
        RecordingBackend(ScriptedBackend(never_called), blocker / "c.jsonl")  # its folder is a file
    read_only = tmp_path / "read-only.jsonl"
    read_only.touch()
    read_only.chmod(0o444)
    if os.access(read_only, os.W_OK):  # root writes anyway; the folder-is-a-file case above still ran
        return
    with pytest.raises(InputError, match="cannot write the cassette"):
        RecordingBackend(ScriptedBackend(never_called), read_only)


def test_two_recorders_appending_to_one_cassette_never_interleave(tmp_path):
    path = tmp_path / "c.jsonl"
    failures = []

    def record(name):
        try:
            recorder = RecordingBackend(ScriptedBackend(lambda r, i: f"{name} {MULTIBYTE * 5}"), path)
            for i in range(25):
                recorder.generate([req(f"{name}{i}")])
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=record, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(line["request"]["messages"][-1]["content"] for line in record_lines(path)) == sorted(
        f"{name}{i}" for name in "ab" for i in range(25)
    )


# -- the model's identity -------------------------------------------------------------------------


class StandInModel:
    """A test double at the model boundary: answers like a backend with a given identity."""

    supports_grammar = False

    def __init__(self, identity, text="stand-in"):
        self.name, self.model, self.identity, self.text = identity["kind"], identity["model"], identity, text
        self.calls = 0

    def generate(self, requests, *, settings=None):
        n = (settings or SamplingSettings()).n or 1
        self.calls += len(requests) * n
        return [
            GenerationResult(
                tuple(Sample(self.text, "stop", 1) for _ in range(n)), Usage(1, n, 0.0), self.name, self.model
            )
            for _ in requests
        ]


def test_samples_of_one_model_are_not_served_as_another_models(tmp_path):
    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["from qwen"], model="qwen"), path).generate([req("p")])
    other = ScriptedBackend(["from llama"], model="llama")
    resumed = RecordingBackend(other, path, resume=True)
    assert resumed.generate([req("p")])[0].texts == ["from llama"]
    assert (resumed.hits, resumed.misses, len(other.calls)) == (0, 1, 1)
    same_name_other_file = StandInModel({"kind": "scripted", "model": "qwen", "sha256": "0" * 64})
    assert RecordingBackend(same_name_other_file, path, resume=True).generate([req("p")])[0].texts == ["stand-in"]
    assert same_name_other_file.calls == 1

    with pytest.raises(ConfigurationError, match="3 models") as caught:
        ReplayBackend(path)
    for label in ("scripted:qwen (1 samples)", "scripted:llama (1 samples)", "scripted:qwen (sha256 00000000)"):
        assert label in str(caught.value)
    llama = ReplayBackend(path, model="llama")
    assert (llama.model, llama.identity, len(llama)) == ("llama", {"kind": "scripted", "model": "llama"}, 1)
    assert llama.generate([req("p")])[0].texts == ["from llama"]
    assert ReplayBackend(path, model="scripted:qwen").generate([req("p")])[0].texts == ["from qwen"]
    with pytest.raises(ConfigurationError, match="2 models"):
        ReplayBackend(path, model="qwen")  # the name alone matches two files
    with pytest.raises(ConfigurationError, match="no samples of 'gpt'"):
        ReplayBackend(path, model="gpt")


def test_cassettes_recorded_before_identities_replay_as_the_model_that_recorded_them(tmp_path):
    committed = Path(__file__).resolve().parents[3] / "benchmarks" / "cassettes" / "logic_loop.jsonl"
    with committed.open("rb") as fh:
        old_lines = [next(fh) for _ in range(3)]
    records = [json.loads(line) for line in old_lines]
    assert all("identity" not in r and r["backend"] == "llamacpp" for r in records)
    path = tmp_path / "old.jsonl"
    path.write_bytes(b"".join(old_lines))

    def asked(record):  # the request and settings a benchmark sends for this sample
        constraint = record["request"]["constraint"]
        request = GenerationRequest(
            tuple(Message(m["role"], m["content"]) for m in record["request"]["messages"]),
            Constraint(constraint["kind"], constraint["value"]) if constraint else None,
        )
        settings = SamplingSettings(**{**record["settings"], "stop": tuple(record["settings"]["stop"])})
        return request, dataclasses.replace(settings, n=1, seed=settings.seed + record["sample_index"])

    replay = ReplayBackend(path)
    qwen = EMBEDDED_MODELS["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    assert replay.identity == {"kind": "llamacpp", "model": "qwen2.5-coder-1.5b-instruct-q4_k_m", "sha256": qwen.sha256}
    for record in records:
        request, settings = asked(record)
        assert replay.generate([request], settings=settings)[0].texts == [record["sample"]["text"]]

    # Resuming with the embedded model itself finds them; with another model, nothing is found.
    embedded, another = StandInModel(replay.identity), StandInModel({"kind": "openai", "model": "another-model"})
    same, other = RecordingBackend(embedded, path, resume=True), RecordingBackend(another, path, resume=True)
    for record in records:
        request, settings = asked(record)
        assert same.generate([request], settings=settings)[0].texts == [record["sample"]["text"]]
        assert other.generate([request], settings=settings)[0].texts == ["stand-in"]
    assert (embedded.calls, same.hits) == (0, 3)
    assert (another.calls, other.hits) == (3, 0)
    new_record = record_lines(path)[-1]
    assert new_record["identity"] == {"kind": "openai", "model": "another-model"}
    assert new_record["key"] == cassette_key(another.identity, *asked(records[-1]))


def test_a_cache_in_front_of_a_replay_keys_samples_as_the_recording_model(tmp_path):
    from neurosym.loop.cache import Cache, CachedBackend, response_key

    path = tmp_path / "c.jsonl"
    RecordingBackend(ScriptedBackend(["x"], model="qwen"), path).generate([req("p")])
    with Cache(tmp_path / "cache.sqlite") as cache:
        CachedBackend(ReplayBackend(path), cache).generate([req("p")])
        stored = cache.get_sample(response_key({"kind": "scripted", "model": "qwen"}, req("p"), SamplingSettings(), 0))
    assert stored is not None and stored.sample.text == "x"
    assert record_lines(path)[0]["key"] == cassette_key(
        {"kind": "scripted", "model": "qwen"}, req("p"), SamplingSettings()
    )


def test_a_recording_asks_for_requests_with_the_same_missing_samples_in_one_call(tmp_path):
    together = ScriptedBackend(lambda r, i: f"{r.messages[-1].content}#{i}")
    recorded = RecordingBackend(together, tmp_path / "c.jsonl").generate(
        [req("a"), req("b")], settings=SamplingSettings(n=2)
    )
    assert [r.texts for r in recorded] == [["a#0", "a#1"], ["b#0", "b#1"]]
    assert [(len(requests), s.n) for requests, s in together.calls] == [(2, 2)]
    apart = ScriptedBackend(lambda r, i: f"{r.messages[-1].content}#{i}")
    RecordingBackend(apart, tmp_path / "d.jsonl", one_at_a_time=True).generate(
        [req("a"), req("b")], settings=SamplingSettings(n=2, seed=5)
    )
    assert [(len(requests), s.n, s.seed) for requests, s in apart.calls] == [(1, 1, 5), (1, 1, 6)] * 2
    assert len(record_lines(tmp_path / "c.jsonl")) == len(record_lines(tmp_path / "d.jsonl")) == 4
