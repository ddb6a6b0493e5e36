"""StoredBackend over each store: one algorithm for the cache file, the cassette and the in-memory dict."""

from __future__ import annotations

import ast
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from neurosym.errors import BackendError, ConfigurationError
from neurosym.loop.cache import Cache, CachedBackend, SqliteSampleStore, response_key
from neurosym.settings import SamplingSettings, merge
from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend, cassette_key
from neurosym.translators.base import (
    GenerationRequest,
    GenerationResult,
    LLMBackend,
    Progress,
    Sample,
    Usage,
    report_finished,
)
from neurosym.translators.store import (
    CassetteMiss,
    CassetteStore,
    MemoryStore,
    SampleStore,
    StoredBackend,
    sample_key,
)

REPOSITORY = Path(__file__).resolve().parents[2]
IDENTITY = {"kind": "seeded", "model": "m"}


def req(text: str) -> GenerationRequest:
    return GenerationRequest.from_prompt(text)


class SeededModel:
    """A test double at the model boundary that keeps the seed contract: sample i of seed s is the draw for s + i."""

    name = "seeded"
    supports_grammar = False

    def __init__(self, model: str = "m") -> None:
        self.model = model
        self.calls: list[tuple[tuple[str, ...], int, int]] = []  # (prompts, n, seed) of every call

    def generate(self, requests, *, settings=None, progress=None):
        s = merge(SamplingSettings(n=1, seed=0), settings)
        self.calls.append((tuple(r.messages[-1].content for r in requests), s.n, s.seed))
        results = []
        for position, request in enumerate(requests):
            samples = tuple(Sample(f"{request.messages[-1].content}@{s.seed + i}", "stop", 2) for i in range(s.n))
            report_finished(progress, position, samples)
            results.append(GenerationResult(samples, Usage(3, 2 * s.n, 0.5), self.name, self.model))
        return results


class ShortModel(SeededModel):
    """The seeded double, broken: it returns one sample whatever ``n`` asks for."""

    def generate(self, requests, *, settings=None, progress=None):
        return [
            GenerationResult(r.samples[:1], r.usage, r.backend, r.model)
            for r in super().generate(requests, settings=settings)
        ]


class StoreOpener:
    """Opens the store of one kind, again on the same file each time (the memory store is one object)."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder = kind, folder
        self.memory = MemoryStore()
        self.caches: list[Cache] = []

    def __call__(self, *, writable: bool = True) -> SampleStore:
        if self.kind == "memory":
            return self.memory
        if self.kind == "cassette":
            return CassetteStore(self.folder / "c.jsonl", writable=writable)
        self.caches.append(Cache(self.folder / "c.sqlite"))
        return SqliteSampleStore(self.caches[-1])


@pytest.fixture(params=["memory", "cassette", "sqlite"])
def store_factory(request, tmp_path):
    """A :class:`StoreOpener` for each kind of store."""
    opener = StoreOpener(request.param, tmp_path)
    yield opener
    for cache in opener.caches:
        cache.close()


# -- the algorithm, over each store ---------------------------------------------------------------


def test_every_store_is_a_sample_store_and_the_wrapper_a_backend(store_factory):
    store = store_factory()
    assert isinstance(store, SampleStore)
    assert isinstance(StoredBackend(SeededModel(), store), LLMBackend)


def test_only_missing_runs_reach_the_model_with_shifted_seeds_and_shared_calls(store_factory):
    model = SeededModel()
    backend = StoredBackend(model, store_factory())
    backend.generate([req("a"), req("b")], settings=SamplingSettings(n=2, seed=10, temperature=0.8))
    model.calls.clear()
    resumed = StoredBackend(model, store_factory())  # a new process, in effect
    results = resumed.generate([req("a"), req("b"), req("c")], settings=SamplingSettings(n=4, seed=10, temperature=0.8))
    assert [r.texts for r in results] == [[f"{p}@{s}" for s in range(10, 14)] for p in "abc"]
    # a and b share the run 2-3 (one call, seed 12); c needs all four (one call, seed 10)
    assert sorted(model.calls) == [(("a", "b"), 2, 12), (("c",), 4, 10)]
    assert (resumed.hits, resumed.misses) == (4, 8)
    # stored usage shares plus the new call's usage
    assert results[0].usage == Usage(2 + 1 + 3, 2 * 4, pytest.approx(0.25 + 0.25 + 0.5))


def test_replay_mode_serves_what_is_stored_and_never_asks_a_model(store_factory):
    StoredBackend(SeededModel(), store_factory()).generate([req("a")], settings=SamplingSettings(n=2, seed=4))
    replay = StoredBackend(None, store_factory(writable=False), mode="replay", identity=IDENTITY)
    [result] = replay.generate([req("a")], settings=SamplingSettings(n=2, seed=4))
    assert (result.texts, result.backend, result.model) == (["a@4", "a@5"], "replay", "m")
    assert replay.generate([req("a")], settings=SamplingSettings(n=1, seed=5))[0].texts == ["a@5"]
    with pytest.raises(CassetteMiss, match="no recording of sample 1") as caught:
        replay.generate([req("a")], settings=SamplingSettings(n=2, seed=5))  # seed 6 was never drawn
    assert store_factory().description in str(caught.value)
    other_model = StoredBackend(None, store_factory(writable=False), mode="replay", identity={**IDENTITY, "model": "x"})
    with pytest.raises(CassetteMiss, match="seeded:x"):
        other_model.generate([req("a")], settings=SamplingSettings(n=1, seed=4))


def test_record_mode_asks_the_model_for_everything_and_stores_it(store_factory):
    model = SeededModel()
    StoredBackend(model, store_factory()).generate([req("a")], settings=SamplingSettings(n=2))
    recorder = StoredBackend(model, store_factory(), mode="record")
    recorder.generate([req("a")], settings=SamplingSettings(n=2))
    assert model.calls == [(("a",), 2, 0), (("a",), 2, 0)] and (recorder.hits, recorder.misses) == (0, 2)


def test_one_at_a_time_asks_for_one_sample_of_one_request_per_call(store_factory):
    model = SeededModel()
    backend = StoredBackend(model, store_factory(), one_at_a_time=True)
    results = backend.generate([req("a"), req("b")], settings=SamplingSettings(n=2, seed=7))
    assert [r.texts for r in results] == [["a@7", "a@8"], ["b@7", "b@8"]]
    assert model.calls == [(("a",), 1, 7), (("a",), 1, 8), (("b",), 1, 7), (("b",), 1, 8)]


def test_progress_numbers_stored_and_new_samples_as_the_caller_asked(store_factory):
    model = SeededModel()
    StoredBackend(model, store_factory()).generate([req("b")], settings=SamplingSettings(n=1))
    events: list[Progress] = []
    StoredBackend(model, store_factory()).generate(
        [req("a"), req("b")], settings=SamplingSettings(n=2), progress=events.append
    )
    done = sorted((e.request_index, e.sample_index) for e in events if e.done)
    assert done == [(0, 0), (0, 1), (1, 0), (1, 1)]
    text = {(e.request_index, e.sample_index): e.text for e in events if e.text}
    assert text == {(0, 0): "a@0", (0, 1): "a@1", (1, 0): "b@0", (1, 1): "b@1"}


def test_a_short_answer_keeps_what_came_and_is_a_backend_error(store_factory):
    with pytest.raises(BackendError, match="1 samples, 3 were asked for"):
        StoredBackend(ShortModel(), store_factory()).generate([req("q")], settings=SamplingSettings(n=3))
    model = SeededModel()
    [result] = StoredBackend(model, store_factory()).generate([req("q")], settings=SamplingSettings(n=3))
    assert result.texts == ["q@0", "q@1", "q@2"] and model.calls == [(("q",), 2, 1)]  # sample 0 was kept


def test_wrong_configurations_are_refused(store_factory):
    store = store_factory()
    with pytest.raises(ConfigurationError, match="needs an inner backend"):
        StoredBackend(None, store)
    with pytest.raises(ConfigurationError, match="needs the identity"):
        StoredBackend(None, store, mode="replay")
    with pytest.raises(ConfigurationError, match="unknown mode 'cache'"):
        StoredBackend(SeededModel(), store, mode="cache")


# -- the two files agree --------------------------------------------------------------------------


def test_the_cache_file_and_the_cassette_store_the_same_samples_under_the_same_keys(tmp_path):
    settings = SamplingSettings(n=3, seed=2, temperature=0.5, stop=("\n",))
    requests = [req("a"), req("b é")]
    with Cache(tmp_path / "c.sqlite") as cache:
        CachedBackend(SeededModel(), cache).generate(requests, settings=settings)
    RecordingBackend(SeededModel(), tmp_path / "c.jsonl").generate(requests, settings=settings)
    with sqlite3.connect(tmp_path / "c.sqlite") as raw:
        in_cache = dict(raw.execute("SELECT key, text FROM responses"))
    raw.close()
    lines = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {line["key"]: line["sample"]["text"] for line in lines} == in_cache
    assert len(in_cache) == 6
    assert response_key is sample_key and cassette_key is sample_key  # one function under its old names


def test_a_recording_outside_a_cache_gets_the_samples_the_cache_serves(tmp_path):
    # What `neurosym solve --record CASSETTE --cache FILE` builds: a warm cache must not leave holes in the cassette.
    with Cache(tmp_path / "c.sqlite") as cache:
        CachedBackend(SeededModel(), cache).generate([req("a")], settings=SamplingSettings(n=2))
        model = SeededModel()
        recorder = RecordingBackend(CachedBackend(model, cache), tmp_path / "run.jsonl")
        assert recorder.identity == IDENTITY  # the cache passes the model's identity through
        recorder.generate([req("a")], settings=SamplingSettings(n=3))
    assert model.calls == [(("a",), 1, 2)]  # the cache served samples 0 and 1
    replayed = ReplayBackend(tmp_path / "run.jsonl").generate([req("a")], settings=SamplingSettings(n=3))
    assert replayed[0].texts == ["a@0", "a@1", "a@2"]


def test_a_cache_replayed_without_a_model_fails_loudly_on_a_miss(tmp_path):
    with Cache(tmp_path / "c.sqlite") as cache:
        CachedBackend(SeededModel(), cache).generate([req("a")])
        offline = StoredBackend(None, SqliteSampleStore(cache), mode="replay", identity=IDENTITY)
        assert offline.generate([req("a")])[0].texts == ["a@0"]
        with pytest.raises(CassetteMiss, match=f"the cache {cache.path} has no recording of sample 0"):
            offline.generate([req("b")])


def test_a_cassette_opened_for_replay_takes_no_samples(tmp_path):
    RecordingBackend(SeededModel(), tmp_path / "c.jsonl").generate([req("a")])
    with pytest.raises(ConfigurationError, match="replay only"):
        StoredBackend(SeededModel(), CassetteStore(tmp_path / "c.jsonl", writable=False)).generate([req("b")])


# -- layering -------------------------------------------------------------------------------------


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement anywhere in the file names (inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_translator_module_imports_the_loop():
    sources = sorted((REPOSITORY / "neurosym" / "translators").rglob("*.py"))
    assert any(p.name == "replay.py" for p in sources) and any(p.parent.name == "store" for p in sources)
    offenders = {
        str(p.relative_to(REPOSITORY)): sorted(
            m for m in imported_modules(p) if m.split(".")[:2] == ["neurosym", "loop"]
        )
        for p in sources
    }
    assert {p: m for p, m in offenders.items() if m} == {}


WITHOUT_THE_LOOP = """
    import importlib.abc, sys, types, tempfile, pathlib

    class RefuseTheLoop(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "neurosym.loop" or name.startswith("neurosym.loop."):
                raise ImportError(f"{name} is not allowed here")
            return None

    package = types.ModuleType("neurosym")  # the package without its __init__, which imports everything
    package.__path__ = [sys.argv[1]]
    sys.modules["neurosym"] = package
    sys.meta_path.insert(0, RefuseTheLoop())

    from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend
    from neurosym.translators.backends.scripted import ScriptedBackend
    from neurosym.translators.base import GenerationRequest
    from neurosym.settings import SamplingSettings

    path = pathlib.Path(tempfile.mkdtemp()) / "c.jsonl"
    request, settings = GenerationRequest.from_prompt("p"), SamplingSettings(n=2, seed=3)
    RecordingBackend(ScriptedBackend(lambda r, i: f"s{i}"), path, resume=True).generate([request], settings=settings)
    print(ReplayBackend(path).generate([request], settings=settings)[0].texts)
    print(sorted(m for m in sys.modules if m.startswith("neurosym.loop")))
"""


def test_recording_and_replaying_work_without_the_loop_package():
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_THE_LOOP), str(REPOSITORY / "neurosym")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['s0', 's1']", "[]"]
