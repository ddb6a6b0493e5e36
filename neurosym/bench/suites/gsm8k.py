r"""Program-aided answers on GSM8K: the Python target in the loop against chain-of-thought, from recorded samples.

Items: 40 GSM8K test items drawn with ``random.Random(0)``. Model (of the committed cassette):
the embedded Qwen2.5-Coder 1.5B (llama.cpp, 2 threads). Programs run in :mod:`neurosym.sandbox`.

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

Example:
    >>> gold_answer("... so 3 + 4 = 7.\n#### 1,007")
    '1007'

"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from neurosym.bench.data import dataset_path
from neurosym.bench.registry import Baseline, Benchmark
from neurosym.bench.rows import STRATEGIES
from neurosym.settings import SamplingSettings
from neurosym.targets.python import PythonTarget, number_key
from neurosym.targets.python.translator import python_fewshot_examples
from neurosym.translators.base import GenerationRequest, Message
from neurosym.types import AnswerKind, Problem

__all__ = [
    "COT_SYSTEM",
    "DATASETS",
    "GSM8K_LOOP",
    "ITEMS",
    "ORDER",
    "SETTINGS",
    "Item",
    "cot_answer",
    "cot_request",
    "gold_answer",
    "gsm8k_items",
]

ITEMS = 40
DATASETS = ("GSM8K",)

SETTINGS = SamplingSettings(max_tokens=512)
COT_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=512)
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
        >>> gold_answer("#### -3")
        '-3'

    """
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def gsm8k_items(path: Path | None = None, count: int = ITEMS) -> list[Item]:
    r"""``count`` GSM8K test items drawn with seed 0, in file order (``path``: the test file).

    Example:
        >>> import json, tempfile, pathlib
        >>> rows = [{"question": f"What is {i} + 1?", "answer": f"#### {i + 1}"} for i in range(4)]
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "test.jsonl"
        >>> _ = path.write_text("\n".join(json.dumps(r) for r in rows))
        >>> [(i.problem.id, i.label) for i in gsm8k_items(path, count=2)]
        [('gsm8k-1', '2'), ('gsm8k-3', '4')]

    """
    path = path if path is not None else dataset_path("gsm8k-test")
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


@lru_cache(maxsize=4)
def _train_solutions(train: Path) -> dict[str, str]:
    wanted = {e["question"] for e in python_fewshot_examples()}
    found = {}
    for line in train.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["question"] in wanted:
            found[row["question"]] = row["answer"]
        if len(found) == len(wanted):
            break
    return found


def cot_request(problem: Problem, train: Path | None = None) -> GenerationRequest:
    r"""A 4-shot chain-of-thought prompt on the program prompt's train questions, worked in words.

    ``train`` is the GSM8K train file (default: the data folder's), where the worked solutions are.

    Example:
        >>> import json, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.jsonl"
        >>> worked = "It is 2 <<1+1=2>>2.\n#### 2"
        >>> rows = [{"question": e["question"], "answer": worked} for e in python_fewshot_examples()]
        >>> _ = path.write_text("\n".join(json.dumps(r) for r in rows))
        >>> request = cot_request(Problem("What is 2 + 2?"), path)
        >>> len(request.messages), request.messages[2].content
        (10, 'It is 2 2.\nThe answer is 2.')

    """
    solutions = _train_solutions(train if train is not None else dataset_path("gsm8k-train"))
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


GSM8K_LOOP = Benchmark(
    name="gsm8k_loop",
    description="Program-aided answers on GSM8K: the Python target in the loop against chain-of-thought.",
    data=("gsm8k-test", "gsm8k-train"),
    items=lambda data_dir: gsm8k_items(dataset_path("gsm8k-test", data_dir)),
    target=PythonTarget,
    settings=SETTINGS,
    strategies=ORDER,
    datasets=DATASETS,
    title="neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), Python sandbox",
    cassette="gsm8k_loop.jsonl",
    baselines={
        "cot": Baseline(
            lambda item, data_dir: cot_request(item.problem, dataset_path("gsm8k-train", data_dir)),
            cot_answer,
            COT_SETTINGS,
        )
    },
)
"""GSM8K, 40 items, the Python sandbox."""
