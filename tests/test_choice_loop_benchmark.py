"""The choice benchmark: its items, the few-shot overlap check, the dispatching target, the baseline, a replay."""

import json

import pytest

from benchmarks import choice_loop
from neurosym.bench.registry import run_item
from neurosym.bench.suites.choice import (
    CHOICE_LOOP,
    ORDER,
    ChoiceBenchTarget,
    choice_items,
    cot_choice_answer,
    fewshot_overlap,
)
from neurosym.translators.backends.replay import RecordingBackend
from neurosym.translators.backends.scripted import ScriptedBackend

# Programs a model might write for the first item of each set (checked against the gold answer below).
DEDUCTION_0 = """sort book = {green, blue, white, purple, yellow}
fun pos(book): 1..5
assert distinct(pos)
assert pos(blue) > pos(yellow)
assert pos(white) < pos(yellow)
assert pos(blue) == 4
assert pos(purple) == 2
option A: pos(green) == 2
option B: pos(blue) == 2
option C: pos(white) == 2
option D: pos(purple) == 2
option E: pos(yellow) == 2"""


@pytest.fixture(scope="module")
def items():
    return choice_items()


def test_items_are_drawn_reproducibly_and_interleaved(items):
    assert len(items) == 120 and [i.problem.id for i in items] == [i.problem.id for i in choice_items()]
    assert [i.dataset for i in items[:3]] == ["LogicalDeduction", "AR-LSAT", "ProntoQA"]
    deduction = [i for i in items if i.dataset == "LogicalDeduction"]
    assert all(not i.problem.text.startswith("The following paragraphs") for i in deduction)
    assert all(i.label in "ABCDEFG" for i in items if i.dataset != "ProntoQA")
    assert {i.label for i in items if i.dataset == "ProntoQA"} == {"True", "False"}
    pronto = next(i for i in items if i.dataset == "ProntoQA")
    assert pronto.problem.premises and not pronto.problem.conclusion.startswith("Is the following")


def test_no_reported_item_shares_a_puzzle_with_a_worked_example(items):
    overlap = fewshot_overlap(items)
    assert overlap["shared_with_examples"] == {"LogicalDeduction": 0, "AR-LSAT": 0}
    used, total = map(int, overlap["reuse_a_train_puzzle"]["LogicalDeduction"].split("/"))
    assert total == 40 and used > 30  # most dev paragraphs are train's: the examples were chosen apart from them


@pytest.mark.parametrize(
    ("text", "prontoqa", "answer"),
    [
        ("The red book is second.\nAnswer: (B)", False, "B"),
        ("Answer: A ... wait. Answer: C", False, "C"),
        ("Max is not sour.\nAnswer: False", True, "False"),
        ("I cannot tell.", False, None),
    ],
)
def test_cot_answers_are_read_from_the_last_answer_line(text, prontoqa, answer):
    assert cot_choice_answer(text, prontoqa=prontoqa) == answer


def scripted_model(request, index):
    """A test double at the model boundary: a chain-of-thought reply, or a program for the item asked about."""
    last = request.messages[-1].content
    if "Think step by step" in last:
        return "Answer: True" if "Statement:" in last else "So it is D.\nAnswer: D"
    if last.startswith("Puzzle:") and "five books: a green book, a blue book" in last:
        return DEDUCTION_0
    if last.startswith("Premises:"):
        lines = ["Premises:"]
        premises = [line.split(". ", 1)[1] for line in last.splitlines()[1:-1]]
        for n, sentence in enumerate(premises, start=1):
            lines += [f"{n}. {sentence}", "FOL: P(a)"]
        return "\n".join([*lines, "Conclusion:", last.splitlines()[-1].removeprefix("Conclusion: "), "FOL: P(a)"])
    return "I do not know."


def test_every_strategy_runs_on_an_item_of_each_set(items):
    target = ChoiceBenchTarget(constrained=False)
    first = {i.dataset: i for i in reversed(items)}
    deduction = run_item(CHOICE_LOOP, items[0], ScriptedBackend(scripted_model), target)
    assert [r.strategy for r in deduction] == ["cot", "vote-5+repair", "greedy", "vote-5", "adaptive",
                                               "adaptive+repair"]  # fmt: skip
    assert all(r.answer == "D" and r.correct for r in deduction)  # gold D
    lsat = run_item(CHOICE_LOOP, first["AR-LSAT"], ScriptedBackend(scripted_model), target)
    assert all(r.answer is None for r in lsat if r.strategy != "cot")  # no program: abstentions, never a guess
    pronto = run_item(CHOICE_LOOP, first["ProntoQA"], ScriptedBackend(scripted_model), target)
    assert {r.answer for r in pronto} == {"True"}  # P(a) entails P(a): the FOL target answered


def test_the_table_replays_from_a_cassette(tmp_path, items):
    cassette = tmp_path / "choice_loop.jsonl"
    recorder = RecordingBackend(ScriptedBackend(scripted_model), cassette)
    for item in items[:3]:
        run_item(CHOICE_LOOP, item, recorder, ChoiceBenchTarget(constrained=True))
    lines = []
    argv = ["--limit", "3", "--cassette", str(cassette), "--out", str(tmp_path), "--no-plot", "--no-html"]
    assert choice_loop.main(argv, log=lines.append) == 0
    assert lines[0].startswith("Items recorded: 3 of 3")
    rows = [json.loads(line) for line in (tmp_path / "choice_loop.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * len(ORDER) and {r["dataset"] for r in rows} == {"LogicalDeduction", "AR-LSAT", "ProntoQA"}
    report = (tmp_path / "choice_loop.md").read_text()
    assert "Few-shot overlap" in report and "LogicalDeduction: is true: 1" in report
