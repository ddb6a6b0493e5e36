"""The progress callback: every backend and wrapper reports each sample, numbered as the caller asked."""

from __future__ import annotations

import io

import pytest

from neurosym.loop.cache import Cache, CachedBackend
from neurosym.loop.refine import Strategy, refine
from neurosym.settings import SamplingSettings
from neurosym.targets.fol import FolTarget
from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import GenerationRequest, Progress
from neurosym.types import Problem

REQUEST = GenerationRequest.from_prompt("Formalise: Rex is a dog.")


def finished(events: list[Progress]) -> list[tuple[int, int]]:
    return [(e.request_index, e.sample_index) for e in events if e.done]


def test_scripted_reports_each_sample_whole():
    events: list[Progress] = []
    backend = ScriptedBackend(lambda request, index: f"Dog{index}(rex)")
    [result] = backend.generate([REQUEST], settings=SamplingSettings(n=3), progress=events.append)
    assert finished(events) == [(0, 0), (0, 1), (0, 2)]
    texts = ["".join(e.text for e in events if e.sample_index == i) for i in range(3)]
    assert texts == result.texts


def test_results_are_the_same_with_and_without_progress():
    backend = ScriptedBackend(lambda request, index: f"P{index}(a)")
    settings = SamplingSettings(n=2, temperature=0.5)
    assert backend.generate([REQUEST], settings=settings) == backend.generate(
        [REQUEST], settings=settings, progress=lambda event: None
    )


def test_the_cache_reports_cached_and_new_samples_with_their_own_indices(tmp_path):
    with Cache(tmp_path / "c.sqlite") as cache:
        backend = CachedBackend(ScriptedBackend(lambda request, index: "Dog(rex)"), cache)
        backend.generate([REQUEST], settings=SamplingSettings(n=2, temperature=0.8))
        events: list[Progress] = []
        backend.generate([REQUEST, REQUEST], settings=SamplingSettings(n=4, temperature=0.8), progress=events.append)
    # samples 0-1 came from the cache, 2-3 from the model (asked with n=2, seed + 2): numbered 2 and 3
    assert sorted(finished(events)) == [(r, i) for r in (0, 1) for i in range(4)]


def test_recording_and_replay_report_the_same_samples(tmp_path):
    path = tmp_path / "c.jsonl"
    recorded: list[Progress] = []
    RecordingBackend(ScriptedBackend(lambda r, i: f"Q{i}(b)"), path).generate(
        [REQUEST], settings=SamplingSettings(n=2), progress=recorded.append
    )
    replayed: list[Progress] = []
    ReplayBackend(path).generate([REQUEST], settings=SamplingSettings(n=2), progress=replayed.append)
    assert finished(recorded) == finished(replayed) == [(0, 0), (0, 1)]
    assert [e.text for e in recorded] == [e.text for e in replayed]


def test_the_loop_numbers_samples_per_problem():
    out = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: {}"
    problem = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
    events: list[Progress] = []
    refine(  # each call's two samples disagree (True, Uncertain), so no round settles the vote
        problem,
        FolTarget(constrained=False),
        ScriptedBackend(lambda r, i: out.format("Dog(rex)" if i == 0 else "Cat(rex)")),
        strategy=Strategy(samples=5, round_size=2, confidence=1.0),
        progress=events.append,
    )
    # rounds of 2, 2 and 1: the backend numbers each call from 0, the loop from the problem's first sample
    assert [i for _, i in finished(events)] == [0, 1, 2, 3, 4]


def test_a_callback_that_raises_stops_the_call():
    def broken(event: Progress) -> None:
        raise RuntimeError("the status line broke")

    with pytest.raises(RuntimeError, match="status line"):
        ScriptedBackend(["P(a)"]).generate([REQUEST], progress=broken)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_cli_status_line_shows_only_on_a_terminal(tmp_path, monkeypatch, capsys):
    from neurosym import cli

    out = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"
    cassette = tmp_path / "c.jsonl"
    text = "Rex is a dog. Is Rex a dog?"
    # record what solve asks for, with a scripted model
    import neurosym

    neurosym.solve(
        text, llm=RecordingBackend(ScriptedBackend(lambda r, i: out), cassette), strategy=neurosym.Strategy.greedy()
    )
    terminal = Terminal()
    monkeypatch.setattr(cli.sys, "stderr", terminal)
    assert cli.main(["solve", text, "--samples", "1", "--llm", f"replay:{cassette}"]) == 0
    assert "Answer: True" in capsys.readouterr().out
    shown = terminal.getvalue()
    assert "sample 1" in shown and "tokens" in shown
    # not a terminal: nothing on stderr
    assert cli.main(["solve", text, "--samples", "1", "--llm", f"replay:{cassette}"]) == 0
