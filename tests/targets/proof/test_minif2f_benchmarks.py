"""The miniF2F-rocq benchmark runners on a few theorems: the data, the sample, replay from a cassette."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import benchmarks.minif2f_data as data
from benchmarks import minif2f_search, minif2f_validity, minif2f_whole
from neurosym.provers.coq import kernel_problem
from neurosym.translators.backends.replay import RecordingBackend
from neurosym.translators.backends.scripted import ScriptedBackend


@pytest.fixture(autouse=True)
def needs():
    problem = data.data_problem() or kernel_problem()
    if problem is not None:
        pytest.skip(problem)


@pytest.fixture
def results(tmp_path, monkeypatch):
    """Results written to a temporary folder, with a portfolio file that closes every test theorem but 45."""
    monkeypatch.setattr(data, "RESULTS", tmp_path)
    tests = data.theorems("test")
    rows = [{"name": t.name, "closing": ["lia"] if i >= 45 else [], "statement_ok": True} for i, t in enumerate(tests)]
    portfolio = tmp_path / "minif2f_portfolio.json"
    portfolio.write_text(json.dumps({"rows": rows}), encoding="utf-8")
    monkeypatch.setattr(data, "PORTFOLIO_RESULTS", portfolio)
    for module in (minif2f_whole, minif2f_search):
        monkeypatch.setattr(module, "PORTFOLIO_RESULTS", portfolio)
    return tmp_path


def test_the_data_has_both_splits():
    assert len(data.theorems("valid")) == len(data.theorems("test")) == 244
    assert all(t.statement.startswith("Theorem") for t in data.theorems())


def test_shipped_files_are_checked_as_shipped():
    [ok] = [t for t in data.theorems("valid") if t.name == "mathd_algebra_10"]
    assert minif2f_validity.check_file(ok.shipped_text())["ok"]
    bad = minif2f_validity.check_file("From Stdlib Require Import Reals.\nTheorem t : True.\nProof.\n")
    assert not bad["ok"] and minif2f_validity.reason_of(bad["message"], "") == "Rocq 9 Stdlib prefix (not in Coq 8.16)"


def test_the_sample_is_drawn_with_seed_0_among_the_unclosed(results):
    sample = data.unclosed_sample()
    assert len(sample) == 40 and sample == data.unclosed_sample()
    unclosed = {t.name for t in data.theorems("test")[:45]}
    assert {t.name for t in sample} <= unclosed
    assert [t.name for t in data.unclosed_sample(seed=1)] != [t.name for t in sample]


def test_statements_that_do_not_type_check_are_never_drawn(results):
    rows = json.loads(data.PORTFOLIO_RESULTS.read_text(encoding="utf-8"))["rows"]
    broken = {row["name"] for row in rows[:3]}
    for row in rows[:3]:
        row["statement_ok"] = False
    data.PORTFOLIO_RESULTS.write_text(json.dumps({"rows": rows}), encoding="utf-8")
    drawn = {t.name for t in data.unclosed_sample()}
    assert len(drawn) == 40 and not drawn & broken


def wrong_proof_model(statement: str) -> ScriptedBackend:
    """A scripted stand-in for the model that answers every request with ``statement`` and a proof Coq rejects."""
    return ScriptedBackend(lambda request, index: f"```coq\n{statement}\nProof.\n  idtac.\nQed.\n```",
                           model="scripted-wrong-proof")  # fmt: skip


def test_the_whole_proof_runner_records_resumably_then_replays_and_counts_the_unrecorded(results, tmp_path,
                                                                                          monkeypatch):  # fmt: skip
    cassette = tmp_path / "whole.jsonl"
    monkeypatch.setattr(minif2f_whole, "CASSETTE", cassette)
    first = data.unclosed_sample()[0]
    recorder = RecordingBackend(wrong_proof_model(first.statement), cassette, resume=True, one_at_a_time=True)
    assert minif2f_whole.main(["--limit", "1"], backend=recorder) == 0
    [row] = json.loads((tmp_path / "minif2f_whole.json").read_text(encoding="utf-8"))["rows"]
    assert row["name"] == first.name and not row["proved"] and len(row["attempts"]) == 8  # 4 samples, 4 repairs
    assert {a["where"] for a in row["attempts"]} == {"script"}  # Coq's own rejection, with its line and column
    assert len(cassette.read_text(encoding="utf-8").splitlines()) == 8

    assert minif2f_whole.main(["--limit", "2"]) == 0  # replayed from the cassette: no model at all
    written = json.loads((tmp_path / "minif2f_whole.json").read_text(encoding="utf-8"))
    assert written["summary"]["theorems"] == 1 and written["not_recorded"] == [data.unclosed_sample()[1].name]
    assert written["rows"][0]["attempts"] == row["attempts"]
    assert "pass@4" in (tmp_path / "minif2f_whole.md").read_text(encoding="utf-8")


def test_a_pass_1_recording_is_the_start_of_the_pass_4_one(results, tmp_path, monkeypatch):
    """``--samples 1`` draws sample 0 (and its repair) exactly as the 4-sample run does, so the cassette serves both."""
    cassette = tmp_path / "whole.jsonl"
    monkeypatch.setattr(minif2f_whole, "CASSETTE", cassette)
    first = data.unclosed_sample()[0]
    model = wrong_proof_model(first.statement)
    assert minif2f_whole.main(["--limit", "1", "--samples", "1"], backend=RecordingBackend(model, cassette)) == 0
    resumed = RecordingBackend(model, cassette, resume=True, one_at_a_time=True)
    assert minif2f_whole.main(["--limit", "1"], backend=resumed) == 0
    assert (resumed.hits, resumed.misses) == (2, 6)  # sample 0 and its repair came from the cassette


def test_a_theorem_recorded_only_at_pass_1_counts_for_pass_1_and_not_for_pass_4(results, tmp_path, monkeypatch):
    cassette = tmp_path / "whole.jsonl"
    monkeypatch.setattr(minif2f_whole, "CASSETTE", cassette)
    first = data.unclosed_sample()[0]
    model = wrong_proof_model(first.statement)
    assert minif2f_whole.main(["--limit", "1", "--samples", "1"], backend=RecordingBackend(model, cassette)) == 0
    assert minif2f_whole.main(["--limit", "1"]) == 0  # replay with 4 samples: only sample 0 is recorded
    written = json.loads((tmp_path / "minif2f_whole.json").read_text(encoding="utf-8"))
    [row] = written["rows"]
    assert row["partial"] and len(row["attempts"]) == 2 and written["not_recorded"] == []
    assert written["summary"]["theorems"] == 1 and written["summary"]["theorems_pass@4"] == 0
    assert "| 1 | 0 of 1 | 0 of 0 |" in (tmp_path / "minif2f_whole.md").read_text(encoding="utf-8")


def test_the_whole_proof_runner_counts_a_repaired_proof_at_pass_1(results, tmp_path, monkeypatch):
    easy = data.Theorem("t_easy", "test", "test/t_easy.v", "Require Import Lia.", "Theorem t_easy : forall n : nat, "
                        "n + 0 = n.", "Adding zero changes nothing.")  # fmt: skip

    def repairs_its_first_answer(request, index):  # a scripted stand-in for the model
        repairing = "rejected the proof" in request.messages[-1].content
        return "```coq\nTheorem t_easy : forall n : nat, n + 0 = n.\nProof. intros n. " + (
            "lia. Qed.\n```" if repairing else "reflexivity. Qed.\n```"
        )

    monkeypatch.setattr(minif2f_whole, "unclosed_sample", lambda: [easy])
    model = ScriptedBackend(repairs_its_first_answer, model="scripted-repairs")
    assert minif2f_whole.main(["--samples", "1"], backend=model) == 0
    summary = json.loads((tmp_path / "minif2f_whole.json").read_text(encoding="utf-8"))["summary"]
    assert summary["pass@1"] == 1 and summary["attempts"] == 2 and summary["failure_kinds"] == {"script": 1}


def test_the_runners_skip_with_a_reason_when_there_is_no_cassette_yet(results, tmp_path, monkeypatch, capsys):
    for module in (minif2f_whole, minif2f_search):
        monkeypatch.setattr(module, "CASSETTE", tmp_path / "never_recorded.jsonl")
        assert module.main([]) == 0
        assert "no cassette" in capsys.readouterr().out
    assert not (tmp_path / "minif2f_whole.json").exists() and not (tmp_path / "minif2f_search.json").exists()


def test_the_search_runner_ends_each_search_within_its_budget(results, tmp_path, monkeypatch):
    monkeypatch.setattr(minif2f_search, "BUDGET", replace(minif2f_search.BUDGET, expansions=2))
    proposes_idtac = ScriptedBackend(lambda request, index: "```coq\nidtac.\n```", model="scripted-idtac")
    assert minif2f_search.main(["--limit", "1"], backend=proposes_idtac) == 0
    [row] = json.loads((tmp_path / "minif2f_search.json").read_text(encoding="utf-8"))["rows"]
    assert not row["proved"] and row["stop_reason"] in ("exhausted", "budget:expansions") and row["expansions"] <= 2


def test_the_search_runner_records_then_replays_and_counts_the_unrecorded(results, tmp_path, monkeypatch):
    cassette = tmp_path / "search.jsonl"
    monkeypatch.setattr(minif2f_search, "CASSETTE", cassette)
    monkeypatch.setattr(minif2f_search, "BUDGET", replace(minif2f_search.BUDGET, expansions=2))
    proposes_idtac = ScriptedBackend(lambda request, index: "```coq\nidtac.\n```", model="scripted-idtac")
    recorder = RecordingBackend(proposes_idtac, cassette, resume=True, one_at_a_time=True)
    assert minif2f_search.main(["--limit", "1"], backend=recorder) == 0
    recorded = json.loads((tmp_path / "minif2f_search.json").read_text(encoding="utf-8"))["rows"]
    assert minif2f_search.main(["--limit", "2"]) == 0  # replayed: no model
    written = json.loads((tmp_path / "minif2f_search.json").read_text(encoding="utf-8"))
    assert written["rows"][0]["tactics"] == recorded[0]["tactics"] and written["summary"]["theorems"] == 1
    assert written["not_recorded"] == [data.unclosed_sample()[1].name]
