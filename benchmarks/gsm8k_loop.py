"""Program-aided answers on GSM8K: the Python target in the loop against chain-of-thought, from recorded samples.

The benchmark itself is :mod:`neurosym.bench.suites.gsm8k` (registered as ``gsm8k_loop``); this
module is its entry point from a checkout, with the same options as ``neurosym bench gsm8k_loop``
(see ``--help``).

Run (the table from the committed cassette; items not recorded yet are left out and counted):
    python -m benchmarks.gsm8k_loop
Record (the real model; resumes, asking only for samples the cassette lacks):
    python -m benchmarks.gsm8k_loop --record [--limit N]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from neurosym.bench import cli
from neurosym.bench.data import dataset
from neurosym.bench.registry import run_item as _run_item
from neurosym.bench.rows import Row
from neurosym.bench.rows import summarise as _summarise
from neurosym.bench.suites.gsm8k import (
    COT_SYSTEM,
    DATASETS,
    GSM8K_LOOP,
    ITEMS,
    ORDER,
    SETTINGS,
    Item,
    cot_answer,
    cot_request,
    gold_answer,
    gsm8k_items,
)
from neurosym.loop.cache import Cache
from neurosym.targets.python import PythonTarget

__all__ = [
    "COT_SYSTEM",
    "DATASETS",
    "ITEMS",
    "ORDER",
    "SETTINGS",
    "TEST",
    "TRAIN",
    "Item",
    "cot_answer",
    "cot_request",
    "gold_answer",
    "gsm8k_items",
    "main",
    "run_item",
    "summarise",
]

TEST = dataset("gsm8k-test").locate()
TRAIN = dataset("gsm8k-train").locate()
ROOT = Path(__file__).resolve().parent.parent
CASSETTE = ROOT / "benchmarks" / "cassettes" / "gsm8k_loop.jsonl"
RESULTS = ROOT / "benchmarks" / "results"


def run_item(item: Item, backend: Any, target: PythonTarget, *, verdict_cache: Cache | None = None) -> list[Row]:
    """Every strategy on one item (raises CassetteMiss when replaying an item not recorded)."""
    return _run_item(GSM8K_LOOP, item, backend, target, verdict_cache=verdict_cache)


def summarise(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Accuracy, abstention, answered accuracy, samples and tokens per strategy."""
    return _summarise(rows, DATASETS, ORDER)


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """Replay (default) or record the benchmark, write the results and print the table."""
    return cli.main("gsm8k_loop", argv, log=log, description=__doc__.split("\n", 1)[0])


if __name__ == "__main__":
    sys.exit(main())
