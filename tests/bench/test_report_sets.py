"""The report sets: new items, drawn once with seed 1, never a development item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurosym.bench.cli import main
from neurosym.bench.data import dataset_path
from neurosym.bench.registry import get_benchmark
from neurosym.bench.rows import loop_strategy
from neurosym.bench.suites.logic import REPORT_ORDER, logic_items
from neurosym.targets.fol import SAMPLING_TEMPERATURE as FOL_TEMPERATURE
from neurosym.targets.milp import SAMPLING_TEMPERATURE


def test_the_logic_report_set_is_80_new_items_from_the_named_pools(shared_data):
    development = logic_items(shared_data)
    report = logic_items(shared_data, report=True)
    assert len(report) == 80 and len({i.problem.id for i in report}) == 80
    assert not {i.problem.id for i in report} & {i.problem.id for i in development}
    assert [i.dataset for i in report[:2]] == ["FOLIO", "ProofWriter"]
    folio = [int(i.problem.id.removeprefix("folio-")) for i in report if i.dataset == "FOLIO"]
    assert len(folio) == 40 and max(folio) < 160 and folio == sorted(folio)
    rows = json.loads(dataset_path("proofwriter-dev", shared_data).read_text(encoding="utf-8"))
    position = {row["id"]: n for n, row in enumerate(rows)}
    proofwriter = [position[i.problem.id] for i in report if i.dataset == "ProofWriter"]
    assert len(proofwriter) == 40 and max(proofwriter) < 500
    assert [i.problem.id for i in logic_items(shared_data, report=True)] == [i.problem.id for i in report]


def test_the_logic_report_compares_every_strategy_with_chain_of_thought():
    bench = get_benchmark("logic_report")
    assert bench.strategies == REPORT_ORDER and bench.cassette == "logic_report.jsonl"
    assert {first for first, _ in bench.pairs} == set(REPORT_ORDER) - {"cot"}
    assert {second for _, second in bench.pairs} == {"cot"}
    assert {"vote-5+resample", "vote-5+hint", "vote-5+evidence"} <= set(bench.strategies)
    sampled = [loop_strategy(name) for name in bench.strategies[2:]]  # at the temperature swept on development items
    assert {s.temperature for s in sampled if s is not None} == {FOL_TEMPERATURE} and None not in sampled


def test_the_nl4opt_report_set_is_40_new_consensus_problems(shared_data):
    from neurosym.bench.suites.nl4opt import nl4opt_items

    development = {i.problem.id for i in nl4opt_items(data_dir=shared_data)}
    report = nl4opt_items(data_dir=shared_data, report=True)
    assert len(report) == 40 and len({i.problem.id for i in report}) == 40
    assert not development & {i.problem.id for i in report}
    assert all(len(i.golds) >= 1 and i.label for i in report)
    bench = get_benchmark("nl4opt_report")
    assert bench.strategies[:2] == ("cot", "greedy")
    assert {"vote-5+resample@0.5", "vote-5+hint@0.5"} <= set(bench.strategies)
    sampled = [loop_strategy(name) for name in bench.strategies[2:]]
    assert {s.temperature for s in sampled if s is not None} == {SAMPLING_TEMPERATURE} and None not in sampled
    assert [i.problem.id for i in bench.items(shared_data)] == [i.problem.id for i in report]


@pytest.mark.parametrize("name", ["logic_report", "nl4opt_report"])
def test_the_committed_report_tables_replay_from_their_cassettes(shared_data, tmp_path, name):
    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
    committed = [json.loads(line) for line in (results / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    recorded = list(dict.fromkeys(row["strategy"] for row in committed))
    argv = ["--strategies", ",".join(recorded), "--out", str(tmp_path), "--no-plot", "--no-html"]
    assert main(name, argv, log=lambda line: None) == 0

    def table(path: Path) -> list[str]:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(("|", "- "))]

    shown = table(results / f"{name}.md")
    assert len(shown) > len(recorded) + 2 and table(tmp_path / f"{name}.md") == shown
