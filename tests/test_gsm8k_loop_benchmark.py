"""The GSM8K benchmark's runner: items, the chain-of-thought baseline, every strategy on a scripted model."""

import json

import pytest

from benchmarks import gsm8k_loop
from neurosym.targets.python import PythonTarget
from neurosym.translators.backends.replay import RecordingBackend
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem


def test_items_are_drawn_reproducibly_from_the_test_set():
    items = gsm8k_loop.gsm8k_items()
    assert len(items) == 40 and len({i.problem.id for i in items}) == 40
    assert [i.problem.id for i in items] == [i.problem.id for i in gsm8k_loop.gsm8k_items()]
    train = {json.loads(line)["question"] for line in gsm8k_loop.TRAIN.read_text().splitlines()}
    assert not train & {i.problem.text for i in items}


def test_cot_prompt_uses_the_train_solutions_without_annotations():
    request = gsm8k_loop.cot_request(Problem("What is 2 + 2?"))
    assert "<<" not in "".join(m.content for m in request.messages)
    assert [m.content.splitlines()[-1] for m in request.messages[2:9:2]] == [
        "The answer is 72.", "The answer is 10.", "The answer is 5.", "The answer is 42."
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "answer"),
    [("... so 18. The answer is 18.", "18"), ("The answer is: $1,250.00", "1250"), ("The answer is -3.", "-3"),
     ("The answer is 2.5 hours.", "2.5"), ("I think 18.", None)],
)  # fmt: skip
def test_cot_answers_are_numbers_as_vote_keys(text, answer):
    assert gsm8k_loop.cot_answer(text) == answer


def test_every_strategy_runs_on_one_item_with_a_scripted_model(tmp_path, sandbox_available):
    item = gsm8k_loop.Item("GSM8K", Problem("Tom has 3 boxes of 4 pens. How many pens?", id="x"), "12")

    fresh = iter(range(100))

    def model(request, index):
        if request.messages[0].content == gsm8k_loop.COT_SYSTEM:
            return "3 boxes of 4 pens is 12 pens.\nThe answer is 12."
        if "problem" in request.messages[-1].content:  # a repair prompt
            return "```python\ndef solution():\n    return 3 * 4\n```"
        if next(fresh) in (1, 3):  # samples 1 and 3 fail, so the repairs have something to do
            return "```python\ndef solution():\n    return boxes * 4\n```"
        return "```python\ndef solution():\n    boxes = 3\n    return boxes * 4\n```"

    backend = RecordingBackend(ScriptedBackend(model), tmp_path / "c.jsonl", resume=True, one_at_a_time=True)
    rows = gsm8k_loop.run_item(item, backend, PythonTarget())
    by_name = {r.strategy: r for r in rows}
    assert list(by_name) == ["cot", "vote-5+repair", "greedy", "vote-5", "adaptive", "adaptive+repair"]
    assert all(r.correct for r in rows), [(r.strategy, r.answer) for r in rows]
    assert by_name["vote-5"].votes == {"12": 3} and by_name["vote-5+repair"].votes == {"12": 5}
    assert by_name["vote-5+repair"].samples == 7
    table = gsm8k_loop.summarise(rows)
    assert [r["dataset"] for r in table] == ["GSM8K"] * len(gsm8k_loop.ORDER)
