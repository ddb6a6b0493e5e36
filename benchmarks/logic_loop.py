"""The feedback loop on FOLIO and ProofWriter: strategies side by side, from recorded model samples.

The benchmark itself is :mod:`neurosym.bench.suites.logic` (registered as ``logic_loop`` and
``logic_loop_renamed``); this module is its entry point from a checkout, with the same options
as ``neurosym bench logic_loop`` (see ``--help``).

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
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from neurosym.bench import cli
from neurosym.bench.data import dataset
from neurosym.bench.registry import run_item as _run_item
from neurosym.bench.rows import Row
from neurosym.bench.rows import summarise as _summarise
from neurosym.bench.suites.logic import (
    COT_SYSTEM,
    DATASETS,
    LOGIC_LOOP,
    ORDER,
    PER_DATASET,
    SETTINGS,
    Item,
    cot_answer,
    cot_request,
    folio_items,
    interleaved,
    proofwriter_items,
)
from neurosym.loop.cache import Cache
from neurosym.targets.fol import FolTarget
from neurosym.types import Problem

__all__ = [
    "COT_SYSTEM",
    "DATASETS",
    "FOLIO",
    "ORDER",
    "PER_DATASET",
    "PROOFWRITER",
    "SETTINGS",
    "Item",
    "Problem",
    "cot_answer",
    "cot_request",
    "folio_items",
    "interleaved",
    "main",
    "proofwriter_items",
    "run_item",
    "summarise",
]

FOLIO = dataset("folio-validation").locate()
PROOFWRITER = dataset("proofwriter-dev").locate()
ROOT = Path(__file__).resolve().parent.parent
CASSETTE = ROOT / "benchmarks" / "cassettes" / "logic_loop.jsonl"
RESULTS = ROOT / "benchmarks" / "results"


def run_item(item: Item, backend: Any, target: FolTarget, *, verdict_cache: Cache | None = None) -> list[Row]:
    """Every strategy on one item (raises CassetteMiss when replaying an item not recorded)."""
    return _run_item(LOGIC_LOOP, item, backend, target, verdict_cache=verdict_cache)


def summarise(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Accuracy, abstention, answered accuracy, samples and tokens per strategy and dataset."""
    return _summarise(rows, DATASETS, ORDER)


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """Replay (default) or record the benchmark, write the results and print the table."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--rename-clashes", action="store_true", help="rename signature clashes apart (results: logic_loop_renamed.*)"
    )
    return cli.main(
        "logic_loop",
        argv,
        log=log,
        description=__doc__.split("\n", 1)[0],
        parents=[options],
        rename=lambda args: "logic_loop_renamed" if args.rename_clashes else "logic_loop",
    )


if __name__ == "__main__":
    sys.exit(main())
