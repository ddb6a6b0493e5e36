"""The MAMO / IndustryOR benchmark: its items and labels, the chain-of-thought reader, both strategies, a replay."""

import json
import math

import pytest

from benchmarks import opt_loop
from neurosym.bench.registry import run_item
from neurosym.bench.suites.opt import (
    DATASETS,
    GOLD_SETS,
    OPT_LOOP,
    ORDER,
    opt_cot_answer,
    opt_cot_request,
    opt_items,
)
from neurosym.bench.suites.opt_data import consensus
from neurosym.targets.milp import MilpTarget
from neurosym.translators.backends.replay import RecordingBackend
from neurosym.translators.backends.scripted import ScriptedBackend


@pytest.fixture(scope="module")
def items(shared_data):
    return opt_items()


def test_items_are_drawn_reproducibly_interleaved_and_labelled_by_consensus(items):
    assert len(items) == 90 and [i.problem.id for i in items] == [i.problem.id for i in opt_items()]
    assert [i.dataset for i in items[:3]] == list(DATASETS)
    assert len({i.problem.id for i in items}) == 90
    for item in items:
        golds = [v for k, v in item.golds.items() if k in GOLD_SETS[item.dataset] and v is not None]
        assert len(golds) >= 2 and all(math.isclose(float(item.label), g, rel_tol=1e-4, abs_tol=1e-6) for g in golds)
        assert item.label == f"{consensus(item.golds, GOLD_SETS[item.dataset]):.10g}"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Cost is 3 * 5 = 15. The answer is 15.", "15"),
        ("The answer is $1,250.50.", "1250.5"),
        ("First guess: the answer is 10. Checking again... The answer is **12**.", "12"),
        ("Answer: -4.5", "-4.5"),
        ("The best plan makes 3 chairs.", None),
        ("The answer is ,.", None),
    ],
)
def test_cot_answers_are_read_from_the_last_answer_line(text, answer):
    assert opt_cot_answer(text) == answer


def test_the_cot_prompt_carries_the_whole_problem(items):
    request = opt_cot_request(items[2])
    assert request.messages[0].role == "system" and "The answer is N." in request.messages[0].content
    assert request.messages[-1].content == f"Problem: {items[2].problem.text}"


LEE_FAMILY = """binary alice, bob, charlie, diana, ella
minimize cost: 1000 alice + 900 bob + 600 charlie + 500 diana + 700 ella
most: alice + bob + charlie + diana + ella <= 3
youngest: bob = 1
feud1: alice + diana <= 1
feud2: bob + charlie <= 1
charlie_diana: charlie <= diana
diana_ella: diana <= ella
least: alice + bob + charlie + diana + ella >= 2"""


def scripted_model(request, index):
    """A test double at the model boundary: a chain-of-thought reply, or a model for the Lee family's trip."""
    last = request.messages[-1].content
    if request.messages[0].content.startswith("You solve optimization word problems"):
        return "Bob must go and one more child is needed; Ella is cheapest with Bob. The answer is 1600."
    if "The Lee family has 5 children" in last:
        return LEE_FAMILY
    return "continuous x\nmaximize profit: x\nc1: x <= 1 - 2"  # infeasible: the loop abstains


def test_both_strategies_run_and_the_loop_abstains_on_a_failed_model(items):
    lee = next(i for i in items if "The Lee family has 5 children" in i.problem.text)
    rows = run_item(OPT_LOOP, lee, ScriptedBackend(scripted_model), MilpTarget(constrained=False))
    assert [r.strategy for r in rows] == list(ORDER)
    assert all(r.correct for r in rows), [(r.strategy, r.answer, r.label) for r in rows]  # gold 1600
    other = items[0]
    rows = run_item(OPT_LOOP, other, ScriptedBackend(scripted_model), MilpTarget(constrained=False))
    greedy = next(r for r in rows if r.strategy == "greedy")
    assert greedy.answer is None and greedy.sample_statuses == {"inconsistent": 1}


def test_the_table_replays_from_a_cassette_with_a_table_per_gold_set(tmp_path, items):
    cassette = tmp_path / "opt_loop.jsonl"
    recorder = RecordingBackend(ScriptedBackend(scripted_model), cassette)
    for item in items[:3]:
        run_item(OPT_LOOP, item, recorder, OPT_LOOP.target())
    lines = []
    argv = ["--limit", "3", "--cassette", str(cassette), "--out", str(tmp_path), "--no-plot", "--no-html"]
    assert opt_loop.main(argv, log=lines.append) == 0
    assert lines[0].startswith("Items recorded: 3 of 3")
    rows = [json.loads(line) for line in (tmp_path / "opt_loop.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * len(ORDER) and {r["dataset"] for r in rows} == set(DATASETS)
    report = (tmp_path / "opt_loop.md").read_text()
    assert "MAMO-ComplexLP:" in report and "| strategy | Mamo | SIRL-fixed |" in report
    assert "| strategy | ORLM-HF(2024-05) |" in report
