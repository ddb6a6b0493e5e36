"""GSM-Hard's reference programs through the sandbox: every one must reproduce its target; how fast?

Runs the ``code`` of each of the 1319 rows of ``../shared/data/math/gsm-hard/gsmhardv2.jsonl``
(a ``def solution():`` program each) in :class:`neurosym.sandbox.Sandbox` with one fork server
per core, compares what ``solution()`` returns with the row's ``target`` (numbers within
:data:`neurosym.targets.python.REL_TOL`), and reports executions per second (wall time of the
whole run, servers already started) and the latency of one execution (p50, p95, as the caller
sees it, queueing excluded).

Run:
    python -m benchmarks.gsm_hard_reference [--limit N] [--workers W]
Writes ``benchmarks/results/gsm_hard_reference.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from neurosym.bench.data import dataset
from neurosym.provers.sandbox import Limits, Sandbox
from neurosym.targets.python import numbers_match

ROOT = Path(__file__).resolve().parent.parent
GSM_HARD = dataset("gsm-hard").locate()  # $NEUROSYM_DATA, else the checkout's ../shared/data
RESULTS = Path(__file__).resolve().parent / "results" / "gsm_hard_reference.json"


def load_rows(path: Path = GSM_HARD, limit: int | None = None) -> list[dict]:
    """The rows of GSM-Hard (``input``, ``code``, ``target``), in file order."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run(rows: list[dict], workers: int) -> dict:
    """Run every row's program; the summary (and the rows that failed)."""
    latencies: list[float] = []
    failures: list[dict] = []
    with Sandbox(workers=workers, limits=Limits(wall_s=10, cpu_s=10)) as box:
        box.start()

        def one(row: dict) -> tuple[dict, object, float]:
            started = time.perf_counter()
            execution = box.run(row["code"])
            return row, execution, time.perf_counter() - started

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(one, rows))
        wall = time.perf_counter() - started
    for index, (row, execution, latency) in enumerate(outcomes):
        latencies.append(latency)
        number = execution.number  # type: ignore[attr-defined]
        if number is None or not numbers_match(number, float(row["target"])):
            failures.append({"row": index, "status": execution.status, "got": number, "target": row["target"]})  # type: ignore[attr-defined]
    return {
        "programs": len(rows),
        "reproduced": len(rows) - len(failures),
        "workers": workers,
        "wall_s": round(wall, 3),
        "executions_per_s": round(len(rows) / wall, 1),
        "latency_ms_p50": round(1000 * statistics.median(latencies), 2),
        "latency_ms_p95": round(1000 * percentile(latencies, 95), 2),
        "cpu_count": os.cpu_count(),
        "failures": failures[:20],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures and write the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N rows")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="fork servers (default: cores)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON summary")
    args = parser.parse_args(argv)
    summary = run(load_rows(limit=args.limit), args.workers)
    print(
        f"{summary['reproduced']}/{summary['programs']} reproduced their targets; "
        f"{summary['executions_per_s']} executions/s with {summary['workers']} workers; "
        f"latency p50 {summary['latency_ms_p50']} ms, p95 {summary['latency_ms_p95']} ms"
    )
    for failure in summary["failures"]:
        print("  failed:", failure)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if summary["reproduced"] == summary["programs"] else 1


if __name__ == "__main__":
    sys.exit(main())
