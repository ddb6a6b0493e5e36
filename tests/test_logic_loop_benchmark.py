"""The loop benchmark's runner: item selection, the chain-of-thought baseline, and a replay from its cassette."""

import json

import pytest

from benchmarks import logic_loop
from neurosym.bench.registry import run_item
from neurosym.targets.fol import FolTarget
from neurosym.translators.backends.scripted import ScriptedBackend


def test_items_are_drawn_reproducibly_and_split_into_sentences():
    folio, proofwriter = logic_loop.folio_items(), logic_loop.proofwriter_items()
    assert len(folio) == len(proofwriter) == 40
    assert [i.problem.id for i in folio] == [i.problem.id for i in logic_loop.folio_items()]
    assert all(i.label in ("True", "False", "Uncertain") for i in folio + proofwriter)
    sentence = proofwriter[0].problem.premises[0]
    assert sentence.endswith(".") and ". " not in sentence
    interleaved = list(logic_loop.interleaved(folio, proofwriter))
    assert [i.dataset for i in interleaved[:4]] == ["FOLIO", "ProofWriter", "FOLIO", "ProofWriter"]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("So it follows.\nAnswer: True", "True"),
        ("... Answer: **Unknown**", "Uncertain"),
        ("Answer: False? No wait. Answer: Uncertain", "Uncertain"),
        ("I cannot tell.", None),
    ],
)
def test_cot_answers_are_read_from_the_last_answer_line(text, label):
    assert logic_loop.cot_answer(text) == label


def test_every_strategy_runs_on_one_item_with_a_scripted_model():
    item = logic_loop.Item(
        "FOLIO", logic_loop.Problem(premises=("Rex is a dog.",), conclusion="Rex is a dog.", id="x"), "True"
    )
    translation = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nRex is a dog.\nFOL: Dog(rex)"

    def model(request, index):
        return (
            "Rex is a dog by premise 1.\nAnswer: True"
            if "Think step by step" in request.messages[-1].content
            else translation
        )

    rows = logic_loop.run_item(item, ScriptedBackend(model), FolTarget(constrained=False))
    assert [r.strategy for r in rows] == [
        "cot", "vote-5+repair", "greedy", "vote-5", "adaptive", "adaptive+repair",
        "vote-5+evidence", "adaptive+evidence",
    ]  # fmt: skip
    assert all(r.correct for r in rows)
    by_name = {r.strategy: r for r in rows}
    assert by_name["vote-5"].samples == 5 and by_name["greedy"].samples == 1
    assert by_name["adaptive"].samples == 2  # the first round of two agrees: 100% >= 80%, so it stops
    table = logic_loop.summarise(rows)
    assert {r["strategy"] for r in table} == set(logic_loop.ORDER)


def test_the_table_replays_from_the_committed_cassette(tmp_path):
    lines = []
    assert logic_loop.main(["--limit", "2", "--out", str(tmp_path), "--no-plot"], log=lines.append) == 0
    rows = [json.loads(line) for line in (tmp_path / "logic_loop.jsonl").read_text().splitlines()]
    assert lines[0].startswith("Items recorded: 2 of 2")
    assert len(rows) == 2 * len(logic_loop.ORDER)
    assert {r["dataset"] for r in rows} == {"FOLIO", "ProofWriter"}
    assert all(r["samples"] >= 1 and r["tokens"] > 0 for r in rows)


def test_renaming_clashes_replays_the_same_samples_into_its_own_files(tmp_path):
    lines = []
    argv = ["--rename-clashes", "--limit", "2", "--out", str(tmp_path), "--no-plot"]
    assert logic_loop.main(argv, log=lines.append) == 0
    assert not (tmp_path / "logic_loop.md").exists()
    rows = [json.loads(line) for line in (tmp_path / "logic_loop_renamed.jsonl").read_text().splitlines()]
    assert logic_loop.main(["--limit", "2", "--out", str(tmp_path), "--no-plot"], log=lines.append) == 0
    plain = [json.loads(line) for line in (tmp_path / "logic_loop.jsonl").read_text().splitlines()]

    def invalid(rows):
        return sum(r["sample_statuses"].get("invalid", 0) for r in rows if r["strategy"] == "vote-5+repair")

    # Half of these ten samples clash (a name used with two arities); renamed apart, none is invalid.
    assert invalid(plain) == 5 and invalid(rows) == 0


def test_a_sweep_temperature_draws_the_samples_at_that_temperature():
    item = logic_loop.Item(
        "FOLIO", logic_loop.Problem(premises=("Rex is a dog.",), conclusion="Rex is a dog.", id="x"), "True"
    )
    translation = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nRex is a dog.\nFOL: Dog(rex)"
    backend = ScriptedBackend(lambda request, index: translation)
    target = FolTarget(constrained=False)
    rows = run_item(logic_loop.LOGIC_LOOP, item, backend, target, strategies=["vote-5", "vote-5@0.3"])
    assert [r.strategy for r in rows] == ["vote-5", "vote-5@0.3"]
    assert sorted({settings.temperature for _, settings in backend.calls}) == [0.3, 0.7]
    assert logic_loop.LOGIC_LOOP.select_strategies(["adaptive+evidence@0.5", "greedy"]) == (
        "greedy", "adaptive+evidence@0.5",
    )  # fmt: skip
