"""Program-aided answers on GSM8K: the Python target in the loop against chain-of-thought, from recorded samples.

Items: 40 GSM8K test items drawn with ``random.Random(0)``. Model: the embedded Qwen2.5-Coder 1.5B
(llama.cpp, 2 threads). Programs run in :mod:`neurosym.sandbox`.

Strategies, all on the same items and the same recorded samples (sample ``i`` is drawn with seed
``i`` at temperature 0.7):

* ``cot``: the same model reasons in words, 4-shot, with the GSM8K train solutions of the four
  questions the program prompt shows (their calculator annotations removed), greedy;
* ``greedy``: one greedy program;
* ``vote-5``: majority over 5 sampled programs that ran and returned a number;
* ``vote-5+repair``: the same, and each failing program goes back once with its traceback;
* ``adaptive``: rounds of 2 (at most 5), stop once the leader cannot be overtaken or holds 80%;
* ``adaptive+repair``: adaptive with one repair per failing program.

Answers are compared as numbers within the Python target's tolerance (a relative 1e-6; the vote
key of a whole number is the integer). Abstentions count as wrong in "accuracy".

Run (the table from the committed cassette; items not recorded yet are left out and counted):
    python -m benchmarks.gsm8k_loop
Record (the real model; resumes, asking only for samples the cassette lacks):
    python -m benchmarks.gsm8k_loop --record [--limit N]
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import loop_report
from benchmarks.loop_report import STRATEGIES, Row, strategy_rows
from neurosym.loop.cache import Cache
from neurosym.settings import SamplingSettings
from neurosym.targets.python import PythonTarget, number_key
from neurosym.targets.python.translator import python_fewshot_examples
from neurosym.translators.base import GenerationRequest, LLMBackend, Message
from neurosym.types import AnswerKind, Problem

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "math" / "gsm8k"
TEST = DATA / "test.jsonl"
TRAIN = DATA / "train.jsonl"
CASSETTE = ROOT / "benchmarks" / "cassettes" / "gsm8k_loop.jsonl"
RESULTS = ROOT / "benchmarks" / "results"
ITEMS = 40
DATASETS = ("GSM8K",)

SETTINGS = SamplingSettings(max_tokens=512)
ORDER = ("cot", *STRATEGIES)


@dataclass(frozen=True)
class Item:
    """One GSM8K item: the question and the gold answer (as text, an integer)."""

    dataset: str
    problem: Problem
    label: str


def gold_answer(solution: str) -> str:
    """The number after ``####`` in a GSM8K solution, commas stripped.

    Example:
        >>> gold_answer("... so 3 + 4 = 7.\\n#### 1,007")
        '1007'

    """
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def gsm8k_items(path: Path = TEST, count: int = ITEMS) -> list[Item]:
    """``count`` GSM8K test items drawn with seed 0, in file order.

    Example:
        >>> [i.label.lstrip("-").isdigit() for i in gsm8k_items(count=3)]
        [True, True, True]

    """
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = sorted(random.Random(0).sample(range(len(rows)), count))
    return [
        Item("GSM8K", Problem(rows[i]["question"], answer_kind=AnswerKind.NUMBER, id=f"gsm8k-{i}"),
             gold_answer(rows[i]["answer"]))
        for i in chosen
    ]  # fmt: skip


# -- the chain-of-thought baseline ------------------------------------------------------------

COT_SYSTEM = (
    "You solve math word problems. Reason step by step in short sentences, then finish with one line: "
    "'The answer is N.' where N is a number."
)


def _train_solutions() -> dict[str, str]:
    wanted = {e["question"] for e in python_fewshot_examples()}
    found = {}
    for line in TRAIN.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["question"] in wanted:
            found[row["question"]] = row["answer"]
        if len(found) == len(wanted):
            break
    return found


def cot_request(problem: Problem) -> GenerationRequest:
    """A 4-shot chain-of-thought prompt on the program prompt's train questions, worked in words.

    Example:
        >>> r = cot_request(Problem("What is 2 + 2?"))
        >>> len(r.messages), r.messages[2].content.endswith("The answer is 72.")
        (10, True)

    """
    solutions = _train_solutions()
    messages = [Message("system", COT_SYSTEM)]
    for example in python_fewshot_examples():
        worked = solutions[example["question"]]
        steps, answer = worked.rsplit("####", 1)
        steps = re.sub(r"<<[^>]*>>", "", steps).strip()
        messages.append(Message("user", f"Question: {example['question']}"))
        messages.append(Message("assistant", f"{steps}\nThe answer is {answer.strip()}."))
    messages.append(Message("user", f"Question: {' '.join(problem.text.split())}"))
    return GenerationRequest(tuple(messages))


def cot_answer(text: str) -> str | None:
    """The number in the last ``The answer is N`` of a reply (as a vote key), or ``None``.

    Example:
        >>> cot_answer("So she has 5 + 2 = 7 left. The answer is $1,007.50."), cot_answer("I don't know.")
        ('1007.5', None)

    """
    found = re.findall(r"answer is\s*:?\s*\$?\s*(-?[\d,]*\.?\d+)", text, flags=re.IGNORECASE)
    if not found:
        return None
    return str(number_key(float(found[-1].replace(",", ""))))


# -- running ----------------------------------------------------------------------------------


def run_item(item: Item, backend: LLMBackend, target: PythonTarget, *, verdict_cache: Cache | None = None) -> list[Row]:
    """Every strategy on one item (raises CassetteMiss when replaying an item not recorded)."""
    started = time.perf_counter()
    [cot] = backend.generate([cot_request(item.problem)], settings=SamplingSettings(temperature=0.0, max_tokens=512))
    text = cot.samples[0].text if cot.samples else ""
    answer = cot_answer(text)
    tokens = cot.usage.prompt_tokens + cot.usage.completion_tokens
    model_s = time.perf_counter() - started
    rows = [Row(item.problem.id or "", item.dataset, "cot", item.label, answer, 1, tokens, model_s,
                0.0, 0.0, 0.0, {}, [answer])]  # fmt: skip
    rows.extend(strategy_rows(item, backend, target, SETTINGS, verdict_cache=verdict_cache))
    return rows


def summarise(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Accuracy, abstention, answered accuracy, samples and tokens per strategy."""
    return loop_report.summarise(rows, DATASETS, ORDER)


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """Replay (default) or record the benchmark, write the results and print the table."""
    bench = loop_report.LoopBenchmark(
        name="gsm8k_loop",
        description=__doc__.split("\n", 1)[0],
        items=gsm8k_items,
        run_item=run_item,
        target=PythonTarget(),
        datasets=DATASETS,
        order=ORDER,
        title="neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), Python sandbox",
        cassette=CASSETTE,
        results=RESULTS,
    )
    return loop_report.run_benchmark(bench, argv, log)


if __name__ == "__main__":
    sys.exit(main())
