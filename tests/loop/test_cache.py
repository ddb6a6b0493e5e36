import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from neurosym.errors import BackendError, ConfigurationError, InputError
from neurosym.loop.cache import SCHEMA_VERSION, Cache, CachedBackend, CachedSample, response_key, verdict_key
from neurosym.settings import SamplingSettings, merge
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import Constraint, GenerationRequest, GenerationResult, LLMBackend, Sample, Usage
from neurosym.types import EntailmentLabel, Verdict


def req(text: str, **kwargs) -> GenerationRequest:
    return GenerationRequest.from_prompt(text, **kwargs)


def echo(request: GenerationRequest, index: int) -> str:
    return f"{request.messages[-1].content}#{index}"


class SeededBackend:
    """Keeps the seed contract: sample i of a call with seed s is the draw for seed s + i."""

    name = "seeded"
    supports_grammar = False

    def __init__(self, model: str = "m") -> None:
        self.model = model
        self.calls: list[tuple[list[GenerationRequest], SamplingSettings]] = []

    def generate(self, requests, *, settings=None):
        s = merge(SamplingSettings(n=1, seed=0), settings)
        self.calls.append((list(requests), s))
        return [
            GenerationResult(
                tuple(Sample(f"{r.messages[-1].content}@{s.seed + i}", "stop", 2) for i in range(s.n)),
                Usage(3, 2 * s.n, 0.5),
                self.name,
                self.model,
            )
            for r in requests
        ]


def run_python(code: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=timeout
    )


# -- keys -----------------------------------------------------------------------------------------


def test_response_keys_cover_everything_that_decides_a_sample_except_n():
    r = req("Formalise: Rex is a dog.")
    base = response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(), 0)
    variants = {
        "backend": response_key({"kind": "openai", "model": "qwen"}, r, SamplingSettings(), 0),
        "model file": response_key({"kind": "llamacpp", "model": "qwen", "sha256": "0" * 64}, r, SamplingSettings(), 0),
        "model": response_key({"kind": "llamacpp", "model": "llama"}, r, SamplingSettings(), 0),
        "prompt": response_key(
            {"kind": "llamacpp", "model": "qwen"}, req("Formalise: Rex is a cat."), SamplingSettings(), 0
        ),
        "system": response_key(
            {"kind": "llamacpp", "model": "qwen"}, req("Formalise: Rex is a dog.", system="s"), SamplingSettings(), 0
        ),
        "constraint": response_key(
            {"kind": "llamacpp", "model": "qwen"},
            req("Formalise: Rex is a dog.", constraint=Constraint("regex", "x")),
            SamplingSettings(),
            0,
        ),
        "temperature": response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(temperature=0.7), 0),
        "top_p": response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(top_p=0.9), 0),
        "max_tokens": response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(max_tokens=64), 0),
        "stop": response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(stop=("\n",)), 0),
        "seed": response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(seed=5), 0),
        "extra": response_key(
            {"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(extra={"repeat_penalty": 1.1}), 0
        ),
        "index": response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(), 1),
    }
    assert len({base, *variants.values()}) == len(variants) + 1
    # The sample's own seed is what counts: index 1 from seed 0 is index 0 from seed 1.
    assert variants["index"] == response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(seed=1), 0)
    assert len(base) == 64 and int(base, 16) >= 0
    # n is not in the key; unset settings equal the explicit defaults; 1 and 1.0 are one temperature.
    assert response_key({"kind": "llamacpp", "model": "qwen"}, r, SamplingSettings(n=9), 0) == base
    explicit = SamplingSettings(n=1, temperature=0.0, top_p=1.0, max_tokens=512, stop=(), seed=0)
    assert response_key({"kind": "llamacpp", "model": "qwen"}, r, explicit, 0) == base
    assert response_key({"kind": "b", "model": "m"}, r, SamplingSettings(temperature=1), 0) == response_key(
        {"kind": "b", "model": "m"}, r, SamplingSettings(temperature=1.0), 0
    )


def test_key_functions_are_pure_and_reject_unstable_input():
    r = req("hi", constraint=Constraint("json_schema", {"type": "object", "required": ["a"]}))
    settings = SamplingSettings(n=2, temperature=0.5, seed=3)
    here = [
        response_key({"kind": "b", "model": "m"}, r, settings, 1),
        verdict_key("P(a)", "fol", {"name": "z3", "timeout_s": 5}),
    ]
    code = """
        import json
        from neurosym.loop.cache import response_key, verdict_key
        from neurosym.settings import SamplingSettings
        from neurosym.translators.base import Constraint, GenerationRequest
        r = GenerationRequest.from_prompt(
            "hi", constraint=Constraint("json_schema", {"required": ["a"], "type": "object"}))
        s = SamplingSettings(seed=3, temperature=0.5, n=2)
        model = {"model": "m", "kind": "b"}
        print(json.dumps([response_key(model, r, s, 1), verdict_key("P(a)", "fol", {"timeout_s": 5, "name": "z3"})]))
    """
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=30, check=True
    )
    assert there.stdout.split() == [f'["{here[0]}",', f'"{here[1]}"]']
    assert pickle.loads(pickle.dumps((r, settings))) == (r, settings)  # the inputs travel to worker processes
    with pytest.raises(ConfigurationError, match="cache key"):
        response_key({"kind": "b", "model": "m"}, r, SamplingSettings(extra={"processor": object()}), 0)
    with pytest.raises(ConfigurationError, match="sample_index"):
        response_key({"kind": "b", "model": "m"}, r, settings, -1)
    with pytest.raises(ConfigurationError, match="cache key"):
        verdict_key("P(a)", "fol", {"prover": object()})


def test_verdict_keys_cover_text_target_and_prover_settings():
    base = verdict_key("P(a)", "fol", {"name": "z3", "version": "4.13", "timeout_s": 5.0})
    assert base == verdict_key("P(a)", "fol", {"timeout_s": 5.0, "version": "4.13", "name": "z3"})
    others = [
        verdict_key("P(b)", "fol", {"name": "z3", "version": "4.13", "timeout_s": 5.0}),
        verdict_key("P(a) ", "fol", {"name": "z3", "version": "4.13", "timeout_s": 5.0}),
        verdict_key("P(a)", "lean", {"name": "z3", "version": "4.13", "timeout_s": 5.0}),
        verdict_key("P(a)", "fol", {"name": "eprover", "version": "4.13", "timeout_s": 5.0}),
        verdict_key("P(a)", "fol", {"name": "z3", "version": "4.14", "timeout_s": 5.0}),
        verdict_key("P(a)", "fol", {"name": "z3", "version": "4.13", "timeout_s": 10.0}),
    ]
    assert len({base, *others}) == len(others) + 1


# -- the cached backend ---------------------------------------------------------------------------


def test_second_run_makes_no_inner_calls_and_returns_the_same_results(tmp_path):
    path = tmp_path / "cache.sqlite"
    requests = [req("p1"), req("p2 longer prompt"), req("p3")]
    settings = SamplingSettings(n=2, temperature=0.7, seed=5)
    with Cache(path) as cache:
        inner = ScriptedBackend(echo, model="m1")
        backend = CachedBackend(inner, cache)
        assert isinstance(backend, LLMBackend)
        assert (backend.name, backend.model, backend.supports_grammar) == ("scripted", "m1", False)
        first = backend.generate(requests, settings=settings)
        assert len(inner.calls) == 1 and (backend.hits, backend.misses) == (0, 6)
        assert cache.stats() == {"responses": 6, "verdicts": 0}
    with Cache(path) as cache:  # a new process, in effect: a fresh file handle and a fresh backend
        inner = ScriptedBackend(lambda r, i: pytest.fail("the inner backend was called"), model="m1")
        backend = CachedBackend(inner, cache)
        again = backend.generate(requests, settings=settings)
        assert inner.calls == []
        assert (backend.hits, backend.misses) == (6, 0)
    assert again == first  # texts, finish reasons, tokens, usage, backend and model
    assert [r.texts for r in again] == [
        ["p1#0", "p1#1"],
        ["p2 longer prompt#0", "p2 longer prompt#1"],
        ["p3#0", "p3#1"],
    ]


def test_growing_n_asks_only_for_the_missing_samples_with_shifted_seeds(tmp_path):
    settings3 = SamplingSettings(n=3, temperature=0.8, seed=10)
    settings5 = SamplingSettings(n=5, temperature=0.8, seed=10)
    with Cache(tmp_path / "c.sqlite") as cache:
        inner = ScriptedBackend(echo)
        backend = CachedBackend(inner, cache)
        backend.generate([req("a"), req("b")], settings=settings3)
        [a, b] = backend.generate([req("a"), req("b")], settings=settings5)
        assert len(inner.calls) == 2
        requests, sent = inner.calls[1]
        assert requests == [req("a"), req("b")]  # both requests share the one missing run
        assert (sent.n, sent.seed, sent.temperature) == (2, 13, 0.8)
        # the scripted double numbers samples within its call, so the new ones read #0 and #1
        assert a.texts == ["a#0", "a#1", "a#2", "a#0", "a#1"]
        assert b.texts == ["b#0", "b#1", "b#2", "b#0", "b#1"]
        assert (backend.hits, backend.misses) == (6, 10)
        assert cache.stats()["responses"] == 10

    # With a backend that keeps the seed contract, cached + new samples equal an uncached n=5 call.
    with Cache(tmp_path / "seeded.sqlite") as cache:
        backend = CachedBackend(SeededBackend(), cache)
        backend.generate([req("a")], settings=settings3)
        [grown] = backend.generate([req("a")], settings=settings5)
    [direct] = SeededBackend().generate([req("a")], settings=settings5)
    assert grown.texts == direct.texts == [f"a@{s}" for s in range(10, 15)]
    assert grown.usage.completion_tokens == direct.usage.completion_tokens == 10


def test_holes_are_filled_by_one_call_per_contiguous_run(tmp_path):
    settings = SamplingSettings(n=5, seed=100)
    with Cache(tmp_path / "c.sqlite") as cache:
        for index in (0, 2):  # as if another process had stored samples 0 and 2 of both requests
            for prompt in ("x", "y"):
                key = response_key({"kind": "seeded", "model": "m"}, req(prompt), settings, index)
                cache.put_sample(key, Sample(f"{prompt}@{100 + index}", "stop", 2), Usage(1, 2, 0.25))
        inner = SeededBackend()
        backend = CachedBackend(inner, cache)
        results = backend.generate([req("x"), req("y"), req("z")], settings=settings)
    assert [r.texts for r in results] == [[f"{p}@{s}" for s in range(100, 105)] for p in "xyz"]
    sent = sorted((s.seed, s.n, tuple(r.messages[-1].content for r in rs)) for rs, s in inner.calls)
    assert sent == [(100, 5, ("z",)), (101, 1, ("x", "y")), (103, 2, ("x", "y"))]
    assert (backend.hits, backend.misses) == (4, 11)
    # usage: cached shares plus the new calls' usage
    assert results[0].usage == Usage(1 + 1 + 3 + 3, 2 * 5, 0.25 + 0.25 + 0.5 + 0.5)


def test_usage_shares_add_up_to_the_original_usage(tmp_path):
    class Odd(SeededBackend):
        def generate(self, requests, *, settings=None):
            return [
                GenerationResult(r.samples, Usage(7, r.usage.completion_tokens, 0.9), r.backend, r.model)
                for r in super().generate(requests, settings=settings)
            ]

    with Cache(tmp_path / "c.sqlite") as cache:
        [fresh] = CachedBackend(Odd(), cache).generate([req("q")], settings=SamplingSettings(n=3))
        [cached] = CachedBackend(Odd(), cache).generate([req("q")], settings=SamplingSettings(n=3))
        stored = cache.get_sample(response_key({"kind": "seeded", "model": "m"}, req("q"), SamplingSettings(), 0))
    assert fresh.usage == Usage(7, 6, 0.9)
    assert cached.usage.prompt_tokens == 7 and cached.usage.completion_tokens == 6
    assert cached.usage.latency_s == pytest.approx(0.9)
    assert isinstance(stored, CachedSample) and stored.sample == Sample("q@0", "stop", 2)
    assert stored.usage.prompt_tokens == 3  # 7 split 3 + 2 + 2


def test_a_short_answer_from_the_inner_backend_is_a_backend_error_and_keeps_what_came(tmp_path):
    class Short(SeededBackend):
        def generate(self, requests, *, settings=None):
            return [
                GenerationResult(r.samples[:1], r.usage, r.backend, r.model)
                for r in super().generate(requests, settings=settings)
            ]

    with Cache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(BackendError, match="1 samples, 3 were asked for"):
            CachedBackend(Short(), cache).generate([req("q")], settings=SamplingSettings(n=3))
        assert cache.stats()["responses"] == 1


def test_two_threads_share_one_cached_backend(tmp_path):
    # A racing thread may find sample 0 stored and sample 1 not yet, and ask for sample 1 alone;
    # only a backend that keeps the seed contract then gives the same text (the scripted double
    # numbers samples within each call).
    with Cache(tmp_path / "c.sqlite") as cache:
        inner = SeededBackend()
        backend = CachedBackend(inner, cache)
        barrier = threading.Barrier(4)
        failures: list[BaseException] = []

        def work(offset: int) -> None:
            try:
                barrier.wait()
                for round_ in range(15):
                    prompts = [f"p{(offset + round_ + k) % 12}" for k in range(3)]
                    results = backend.generate([req(p) for p in prompts], settings=SamplingSettings(n=2))
                    assert [r.texts for r in results] == [[f"{p}@0", f"{p}@1"] for p in prompts]
            except BaseException as err:
                failures.append(err)

        threads = [threading.Thread(target=work, args=(i * 5,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert backend.hits + backend.misses == 4 * 15 * 3 * 2
        assert cache.stats()["responses"] == 12 * 2
        assert backend.misses >= 24  # racing threads may both generate a sample; the first store wins


# -- surviving kills and sharing the file ---------------------------------------------------------

KILLED_RUN = """
    import os, sys
    from neurosym.loop.cache import Cache, CachedBackend
    from neurosym.settings import SamplingSettings
    from neurosym.translators.backends.scripted import ScriptedBackend
    from neurosym.translators.base import GenerationRequest

    def reply(request, index):
        prompt = request.messages[-1].content
        if prompt == "p3":
            os._exit(1)  # killed while the model works on the fourth prompt
        return f"{prompt}#{index}"

    backend = CachedBackend(ScriptedBackend(reply), Cache(sys.argv[1]))
    for i in range(5):
        backend.generate([GenerationRequest.from_prompt(f"p{i}")], settings=SamplingSettings(n=2, seed=7))
"""


def test_a_killed_run_keeps_what_it_finished_and_resumes_with_the_rest(tmp_path):
    path = tmp_path / "c.sqlite"
    done = run_python(KILLED_RUN, str(path))
    assert done.returncode == 1, done.stderr
    with Cache(path) as cache:
        assert cache.stats()["responses"] == 3 * 2
        inner = ScriptedBackend(echo)
        backend = CachedBackend(inner, cache)
        results = backend.generate([req(f"p{i}") for i in range(5)], settings=SamplingSettings(n=2, seed=7))
    assert [r.texts for r in results] == [[f"p{i}#0", f"p{i}#1"] for i in range(5)]
    [(asked, _)] = inner.calls
    assert asked == [req("p3"), req("p4")]
    assert (backend.hits, backend.misses) == (6, 4)


SIGKILLED_WRITER = """
    import sys
    from neurosym.loop.cache import Cache
    from neurosym.translators.base import Sample
    cache = Cache(sys.argv[1])
    i = 0
    while True:
        cache.put_sample(f"k{i}", Sample(f"text {i}", "stop", i))
        i += 1
"""


def test_sigkill_mid_write_leaves_a_sound_file_with_every_committed_sample(tmp_path):
    path = tmp_path / "c.sqlite"
    Cache(path).close()
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SIGKILLED_WRITER), str(path)])
    try:
        with Cache(path) as watcher:  # read while the other process writes
            deadline = time.monotonic() + 20
            while watcher.stats()["responses"] < 200:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
            seen = watcher.stats()["responses"]
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -9
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Cache(path) as cache:
        count = cache.stats()["responses"]
        assert count >= seen
        found = cache.get_samples([f"k{i}" for i in range(count)])
    assert len(found) == count
    assert all(found[f"k{i}"].sample == Sample(f"text {i}", "stop", i) for i in range(count))


SHARED_WRITER = """
    import sys
    from neurosym.loop.cache import Cache, CachedBackend
    from neurosym.settings import SamplingSettings
    from neurosym.translators.base import GenerationRequest, GenerationResult, Sample, Usage

    class Seeded:  # keeps the seed contract, as SeededBackend in the test module
        name, model, supports_grammar = "seeded", "m", False
        def generate(self, requests, *, settings):
            return [GenerationResult(tuple(Sample(f"{r.messages[-1].content}@{settings.seed + i}", "stop", 2)
                                           for i in range(settings.n)), Usage(3, 2 * settings.n, 0.5), "seeded", "m")
                    for r in requests]

    first = int(sys.argv[2])
    backend = CachedBackend(Seeded(), Cache(sys.argv[1]))
    for i in range(first, first + 60):
        [result] = backend.generate([GenerationRequest.from_prompt(f"p{i}")], settings=SamplingSettings(n=2))
        assert result.texts == [f"p{i}@0", f"p{i}@1"], result.texts
    print(backend.hits, backend.misses)
"""


def test_several_processes_write_one_new_file_at_once(tmp_path):
    path = tmp_path / "shared" / "c.sqlite"  # not there yet: the processes race to create it
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(SHARED_WRITER), str(path), str(first)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in (0, 30, 60)
    ]
    outputs = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outputs]
    counts = [tuple(map(int, out.split())) for out, _ in outputs]
    assert all(hits + misses == 120 for hits, misses in counts)
    with Cache(path) as cache:
        assert cache.stats()["responses"] == 120 * 2
        inner = SeededBackend()
        results = CachedBackend(inner, cache).generate(
            [req(f"p{i}") for i in range(120)], settings=SamplingSettings(n=2)
        )
    assert inner.calls == []
    assert [r.texts for r in results] == [[f"p{i}@0", f"p{i}@1"] for i in range(120)]


# -- files that are not our cache -----------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_an_input_error_naming_it(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"not": "a database"}\n' * 100)
    with pytest.raises(InputError, match="not a readable SQLite file") as caught:
        Cache(path)
    assert str(path) in str(caught.value) and caught.value.path == str(path)
    assert path.read_bytes() == b'{"not": "a database"}\n' * 100


def test_another_sqlite_file_or_schema_version_is_refused_and_left_alone(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE things (x)")
        raw.execute("INSERT INTO things VALUES (1)")
    raw.close()
    with pytest.raises(InputError, match="not a neurosym cache") as caught:
        Cache(other)
    assert str(other) in str(caught.value)

    path = tmp_path / "old.sqlite"
    with Cache(path) as cache:
        cache.put_sample("k", Sample("kept"))
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = '999' WHERE name = 'schema_version'")
    raw.close()
    assert SCHEMA_VERSION == 2
    with pytest.raises(InputError, match=f"schema version 999.*reads version {SCHEMA_VERSION}") as caught:
        Cache(path)
    assert str(path) in str(caught.value) and caught.value.schema_version == "999"
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    raw.close()
    with pytest.raises(
        InputError,
        match=r"schema version 1, .*reads version 2 \(version 1 keys .* not the model file's checksum.*delete the file",
    ):
        Cache(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT text FROM responses").fetchall() == [("kept",)]
        assert raw.execute("SELECT COUNT(*) FROM meta").fetchone() == (2,)
    raw.close()
    with sqlite3.connect(other) as raw:
        assert raw.execute("SELECT x FROM things").fetchall() == [(1,)]
    raw.close()


def test_an_empty_file_becomes_a_cache_and_a_closed_cache_refuses_work(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    cache = Cache(path)
    assert cache.stats() == {"responses": 0, "verdicts": 0}
    cache.close()
    cache.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # what lets processes share the file
    raw.close()
    with pytest.raises(ConfigurationError, match="closed"):
        cache.get_sample("k")


# -- verdicts -------------------------------------------------------------------------------------


def test_verdicts_round_trip_but_timeouts_are_never_cached(tmp_path):
    settings = {"name": "z3", "version": "4.13", "timeout_s": 5.0}
    with Cache(tmp_path / "c.sqlite") as cache:
        proved = Verdict("proved", answer=EntailmentLabel.TRUE, feedback="ok", elapsed_s=0.12, prover="z3")
        key = verdict_key("P(a)", "fol", settings)
        assert cache.get_verdict(key) is None
        assert cache.put_verdict(key, proved, formalization="P(a)", target="fol", prover_settings=settings)
        assert cache.get_verdict(key) == proved.to_dict()

        for status in ("invalid", "unknown", "disproved"):
            assert cache.put_verdict(verdict_key(status, "fol", settings), Verdict(status, message=status))
        timeout_key = verdict_key("Q(a)", "fol", settings)
        assert cache.put_verdict(timeout_key, Verdict("timeout", message="canceled", prover="z3")) is False
        assert cache.get_verdict(timeout_key) is None
        assert cache.stats() == {"responses": 0, "verdicts": 4}


# -- verdicts read back, and the loop's checker behind the cache --------------------------------


def test_z3_verdicts_with_certificates_read_back_equal(tmp_path):
    from neurosym.targets.fol.check import check_fol

    cases = [
        (["∀x (Dog(x) → Animal(x))", "Dog(rex)"], "Animal(rex)"),  # proved: premises used
        (["Dog(rex)"], "Cat(tom)"),  # uncertain: two countermodels
        (["Dog(rex)", "¬Dog(rex)"], "Cat(tom)"),  # inconsistent
        (["P(a)", "Q(a, b)"], "R"),  # a 0-ary predicate in the countermodels
    ]
    for premises, conclusion in cases:
        verdict = check_fol(premises, conclusion, timeout=10)
        back = Verdict.from_dict(verdict.to_dict())
        assert back.to_dict() == verdict.to_dict(), verdict.status
        assert type(back.certificate) is type(verdict.certificate)
        assert back.certificate.render() == verdict.certificate.render()
        assert back.answer == verdict.answer


def test_unknown_certificate_kinds_and_every_answer_kind_read_back():
    from neurosym.types import Assignment, NumberAnswer, ProofAnswer, StoredCertificate

    for answer in (NumberAnswer(2.5, "5/2"), Assignment({"x": 1.0}, objective=3.0), ProofAnswer("t", "by simp")):
        assert Verdict.from_dict(Verdict("proved", answer=answer).to_dict()).answer == answer
    stored = Verdict.from_dict({"status": "proved", "certificate": {"kind": "lean_kernel", "ok": True}})
    assert isinstance(stored.certificate, StoredCertificate) and stored.certificate.to_dict()["ok"] is True


def test_refine_with_a_verdict_cache_decides_a_repeated_run_without_provers(tmp_path):
    from neurosym.loop import Strategy, refine
    from neurosym.loop.refine import check_inline
    from neurosym.targets.fol import FolTarget
    from neurosym.types import Problem

    problem = Problem(premises=("Rex is a dog.", "All dogs bark."), conclusion="Does Rex bark?")
    output = (
        "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\n2. All dogs bark.\nFOL: ∀x (Dog(x) → Bark(x))\n"
        "Conclusion:\nDoes Rex bark?\nFOL: Bark(rex)"
    )
    calls = []

    def counting(target, formalization, timeout_s):
        calls.append(formalization.source)
        return check_inline(target, formalization, timeout_s)

    target, strategy = FolTarget(constrained=False), Strategy.vote(3)
    with Cache(tmp_path / "c.sqlite") as cache:
        first = refine(problem, target, ScriptedBackend(lambda r, i: output), strategy=strategy,
                       checker=counting, verdict_cache=cache)  # fmt: skip
        assert len(calls) == 1  # three identical samples: decided once, then looked up
        again = refine(problem, target, ScriptedBackend(lambda r, i: output), strategy=strategy,
                       checker=counting, verdict_cache=cache)  # fmt: skip
        assert len(calls) == 1 and cache.stats()["verdicts"] == 1
    assert first.answer == again.answer == "True"
    assert again.winner.verdict.certificate.render() == first.winner.verdict.certificate.render()


def test_cached_checker_keys_on_the_time_limit_and_skips_unknown(tmp_path):
    from neurosym.loop.cache import CachedChecker
    from neurosym.targets.fol import FolTarget
    from neurosym.types import Formalization

    answers = iter([Verdict("unknown", message="worker crashed"), Verdict("proved", answer=EntailmentLabel.TRUE)])
    with Cache(tmp_path / "c.sqlite") as cache:
        checker = CachedChecker(lambda t, f, s: next(answers), cache)
        f = Formalization("fol", "P(a) ⊢ P(a)")
        assert checker(FolTarget(), f, 5.0).status == "unknown"  # not stored: asked again
        assert checker(FolTarget(), f, 5.0).status == "proved"
        assert checker(FolTarget(), f, 5.0).status == "proved" and checker.hits == 1
        assert cache.get_verdict(verdict_key(f.source, "fol", {})) is None  # other settings, other key


def test_cached_samples_are_keyed_by_the_inner_backends_identity(tmp_path):
    class LocalModel(SeededBackend):
        """The seeded double with the identity of a local model file."""

        def __init__(self, digest: str) -> None:
            super().__init__()
            self.identity = {"kind": "seeded", "model": "m", "sha256": digest}

    with Cache(tmp_path / "c.sqlite") as cache:
        first = CachedBackend(LocalModel("a" * 64), cache)
        first.generate([req("q")])
        same_file, other_file = LocalModel("a" * 64), LocalModel("b" * 64)
        CachedBackend(same_file, cache).generate([req("q")])
        CachedBackend(other_file, cache).generate([req("q")])
        assert (len(same_file.calls), len(other_file.calls)) == (0, 1)  # the same name, another file: asked again
        assert first.identity == {"kind": "seeded", "model": "m", "sha256": "a" * 64}
        assert CachedBackend(SeededBackend(), cache).identity == {"kind": "seeded", "model": "m"}  # no attribute
    with sqlite3.connect(tmp_path / "c.sqlite") as raw:
        stored = sorted(row[0] for row in raw.execute("SELECT identity_json FROM responses"))
    raw.close()
    assert stored == [f'{{"kind":"seeded","model":"m","sha256":"{c * 64}"}}' for c in "ab"]


def test_put_samples_stores_a_calls_samples_and_the_first_of_each_key_wins(tmp_path):
    from neurosym.translators.store import SampleRecord

    identity, settings = {"kind": "seeded", "model": "m"}, SamplingSettings(n=3, seed=4)
    records = [SampleRecord.of(identity, req("q"), settings, i, Sample(f"new {i}"), Usage(1, 1, 0.1)) for i in range(3)]
    with Cache(tmp_path / "c.sqlite") as cache:
        cache.put_sample(records[1].key, Sample("raced"))  # another process stored sample 1 first
        cache.put_samples(records)
        found = cache.get_samples([r.key for r in records])
        assert [found[r.key].sample.text for r in records] == ["new 0", "raced", "new 2"]
        assert cache.stats()["responses"] == 3
    with sqlite3.connect(tmp_path / "c.sqlite") as raw:
        indices = sorted(raw.execute("SELECT sample_index, settings_json FROM responses WHERE text LIKE 'new%'"))
    raw.close()
    assert [i for i, _ in indices] == [0, 2] and all('"n"' not in s and '"seed":4' in s for _, s in indices)
