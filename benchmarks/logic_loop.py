"""The feedback loop on FOLIO and ProofWriter: strategies side by side, from recorded model samples.

Items: 40 FOLIO validation items and 40 ProofWriter dev items (OWA, depth 5), each set drawn with
``random.Random(0)`` from its file. Model: the embedded Qwen2.5-Coder 1.5B (llama.cpp, 2 threads),
with grammar-constrained decoding as ``neurosym solve`` uses it. (Without the grammar this model
writes set notation, ``Tom ∈ WildTurkey``, and drops premises: on the first item tried, none of
10 samples and repairs parsed.)

Strategies, all on the same items and the same recorded samples (sample ``i`` is drawn with seed
``i`` at temperature 0.7, so "vote of 5" and "adaptive" share them):

* ``cot``: the same model answers in chain-of-thought, no solver (greedy, zero-shot);
* ``greedy``: one greedy translation, decided by Z3;
* ``vote-5``: majority over 5 samples whose translation parsed and was decided;
* ``vote-5+repair``: the same, and each failed sample goes back once with the parser's or
  prover's message;
* ``adaptive``: samples in rounds of 2 (at most 5) and stops once the leader cannot be overtaken
  or holds 80% of the votes;
* ``adaptive+repair``: adaptive with one repair per failed sample.

Abstentions (no answer reaches half of the decided votes, or a tie) count as wrong in
"accuracy"; "answered accuracy" is over the items that got an answer.

Run (re-runs the table from the committed cassette; a miss is an item not recorded yet, which
is left out and counted):
    python -m benchmarks.logic_loop
Record (the real model; resumes, asking only for samples the cassette lacks):
    python -m benchmarks.logic_loop --record [--limit N]
The same samples with signature clashes (``Dog(rex)`` and ``Dog(rex, tom)``) renamed apart
instead of failing (``FolTarget(repair_signature_clashes=True)``, ``neurosym solve --repair``),
written to ``logic_loop_renamed.*``:
    python -m benchmarks.logic_loop --rename-clashes
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import loop_report
from benchmarks.loop_report import STRATEGIES, Row, strategy_rows
from neurosym.loop.cache import Cache
from neurosym.settings import SamplingSettings
from neurosym.targets.fol import FolTarget
from neurosym.translators.base import GenerationRequest, LLMBackend, Message
from neurosym.types import Problem

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "logic"
FOLIO = DATA / "FOLIO" / "folio-v0.0" / "folio-validation.jsonl"
PROOFWRITER = DATA / "ProofWriter" / "logic-lm" / "dev.json"
CASSETTE = ROOT / "benchmarks" / "cassettes" / "logic_loop.jsonl"
RESULTS = ROOT / "benchmarks" / "results"
PER_DATASET = 40

SETTINGS = SamplingSettings(max_tokens=1024)
"""Long enough for a 20-sentence ProofWriter theory written out sentence by sentence."""

ORDER = ("cot", *STRATEGIES)
DATASETS = ("FOLIO", "ProofWriter")

_LABELS = {"true": "True", "false": "False", "uncertain": "Uncertain", "unknown": "Uncertain"}


@dataclass(frozen=True)
class Item:
    """One benchmark item: the problem and its gold label."""

    dataset: str
    problem: Problem
    label: str


def folio_items(path: Path = FOLIO, count: int = PER_DATASET) -> list[Item]:
    """``count`` FOLIO validation items drawn with seed 0, in file order.

    Example:
        >>> [i.label in ("True", "False", "Uncertain") for i in folio_items(count=2)]
        [True, True]

    """
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = sorted(random.Random(0).sample(range(len(rows)), count))
    items = []
    for index in chosen:
        row = rows[index]
        problem = Problem(premises=tuple(row["premises"]), conclusion=row["conclusion"], id=f"folio-{index}")
        items.append(Item("FOLIO", problem, _LABELS[str(row["label"]).lower()]))
    return items


def proofwriter_items(path: Path = PROOFWRITER, count: int = PER_DATASET) -> list[Item]:
    """``count`` ProofWriter dev items drawn with seed 0, the theory split into sentences.

    Example:
        >>> item = proofwriter_items(count=1)[0]
        >>> item.problem.conclusion.endswith("."), len(item.problem.premises) > 5
        (True, True)

    """
    rows = json.loads(path.read_text(encoding="utf-8"))
    chosen = sorted(random.Random(0).sample(range(len(rows)), count))
    items = []
    for index in chosen:
        row = rows[index]
        premises = tuple(s.strip() for s in re.split(r"(?<=\.)\s+", row["context"]) if s.strip())
        conclusion = row["question"].split("?", 1)[1].strip()
        label = {"A": "True", "B": "False", "C": "Uncertain"}[row["answer"]]
        items.append(Item("ProofWriter", Problem(premises=premises, conclusion=conclusion, id=row["id"]), label))
    return items


def interleaved(first: Sequence[Item], second: Sequence[Item]) -> Iterator[Item]:
    """Alternate the two sets, so a partial recording covers both."""
    for a, b in zip(first, second, strict=False):
        yield a
        yield b


# -- the chain-of-thought baseline ------------------------------------------------------------

COT_SYSTEM = "You are a careful logician. You reason only from the premises you are given."


def cot_request(problem: Problem) -> GenerationRequest:
    """A zero-shot chain-of-thought prompt that ends in ``Answer: True|False|Uncertain``.

    Example:
        >>> cot_request(Problem(premises=("Rex is a dog.",), conclusion="Rex is a dog.")).messages[0].role
        'system'

    """
    premises = "\n".join(f"{i}. {p}" for i, p in enumerate(problem.premises, start=1))
    user = (
        f"Premises:\n{premises}\n\nStatement: {problem.conclusion}\n\n"
        "Based only on the premises, is the statement True, False, or Uncertain (it does not follow "
        "either way)? Think step by step, briefly, then finish with one line: 'Answer: True', "
        "'Answer: False' or 'Answer: Uncertain'."
    )
    return GenerationRequest((Message("system", COT_SYSTEM), Message("user", user)))


def cot_answer(text: str) -> str | None:
    """The last ``Answer: ...`` label in a chain-of-thought reply, or ``None``.

    Example:
        >>> cot_answer("Rex is a dog, so... Answer: **True**")
        'True'

    """
    found = re.findall(r"answer\W*\s*(true|false|uncertain|unknown)", text, flags=re.IGNORECASE)
    return _LABELS[found[-1].lower()] if found else None


# -- running ----------------------------------------------------------------------------------


def run_item(item: Item, backend: LLMBackend, target: FolTarget, *, verdict_cache: Cache | None = None) -> list[Row]:
    """Every strategy on one item (raises CassetteMiss when replaying an item not recorded)."""
    rows = []
    started = time.perf_counter()
    [cot] = backend.generate([cot_request(item.problem)], settings=SamplingSettings(temperature=0.0, max_tokens=768))
    text = cot.samples[0].text if cot.samples else ""
    usage = cot.usage
    model_s = time.perf_counter() - started
    answer = cot_answer(text)
    rows.append(
        Row(item.problem.id or "", item.dataset, "cot", item.label, answer, 1,
            usage.prompt_tokens + usage.completion_tokens, model_s, 0.0, 0.0, 0.0, {}, [answer])
    )  # fmt: skip
    rows.extend(strategy_rows(item, backend, target, SETTINGS, verdict_cache=verdict_cache))
    return rows


def summarise(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Accuracy, abstention, answered accuracy, samples and tokens per strategy and dataset."""
    return loop_report.summarise(rows, DATASETS, ORDER)


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """Replay (default) or record the benchmark, write the results and print the table."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--rename-clashes", action="store_true", help="rename signature clashes apart (results: logic_loop_renamed.*)"
    )
    known, _ = options.parse_known_args(argv)
    # The prompt does not depend on the option, so the same cassette serves both variants; a
    # repair whose prompt quotes a verdict that renaming changed is a miss, and its item is left out.
    rename = known.rename_clashes
    bench = loop_report.LoopBenchmark(
        name="logic_loop_renamed" if rename else "logic_loop",
        description=__doc__.split("\n", 1)[0],
        items=lambda: list(interleaved(folio_items(), proofwriter_items())),
        run_item=run_item,
        target=FolTarget(constrained=True, repair_signature_clashes=rename),
        datasets=DATASETS,
        order=ORDER,
        title="neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), Z3" + (", clashes renamed" if rename else ""),
        cassette=CASSETTE,
        results=RESULTS,
    )
    return loop_report.run_benchmark(bench, argv, log, parents=[options])


if __name__ == "__main__":
    sys.exit(main())
