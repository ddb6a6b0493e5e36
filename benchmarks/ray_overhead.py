"""What running the checks on Ray costs: overhead per check and per problem against the local runner, throughput.

A replay of the first items of a loop benchmark (default ``logic_loop``, 20 items: 80-odd distinct
formalizations decided by Z3) is run with the checks

* in the calling thread, one item at a time (how the benchmarks run by default);
* in a local prover pool (``LocalExecutor``) of 1 and 2 worker processes, 2 items in flight per worker;
* on a local Ray cluster (``RayExecutor``) of 1 and 2 CPUs, 2 items in flight per CPU;

and every run must give the same table (the script stops if one does not). It prints, and writes
to ``benchmarks/results/ray_overhead.json``: the time each run spent on the items (its workers
started, the data and the cassette loaded; median of ``--repeats``) and the items per second, the
time to start the Ray cluster (not counted in the runs), the round trip of one check on Ray
against the same check in this thread (median of 200 in a row), and the machine's load average
(other work on the same cores makes every figure slower and noisier).

On the 2 cores of the development machine that is all one can measure: the driver, the raylet
and the workers share the same 2 cores, so the 2-worker figures say how much the overhead eats
of a second core, not how Ray scales on a cluster.

Run:
    python -m benchmarks.ray_overhead [--benchmark logic_loop] [--items 0:20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurosym.bench.ray_executor import RayExecutor, check_in_worker, import_ray
from neurosym.bench.runner import run_bench
from neurosym.loop.batch import LocalExecutor
from neurosym.loop.refine import check_inline
from neurosym.targets.fol import FolTarget
from neurosym.types import Problem

RESULTS = Path(__file__).resolve().parent / "results" / "ray_overhead.json"
ROUND_TRIPS = 200


def _table(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if not line.startswith("Items recorded")]


def _run(name: str, items: str, executor: Any, out: Path) -> tuple[float, list[str], int]:
    """The time spent on the items (workers already started, data and cassette loaded), the table, the items."""
    result = run_bench(name, items=items, out=out, executor=executor, write_plot=False, write_html=False,
                       log=lambda line: None)  # fmt: skip
    return result.items_s, _table(result.markdown), result.items


def _round_trips(ray: Any) -> dict[str, float]:
    """One small FOL check, 200 times in a row: in this thread, and as a Ray task (the task's round trip)."""
    target = FolTarget(constrained=False)
    text = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"
    formalization = target.parse(Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?"), text)
    inline = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        check_inline(target, formalization, 5.0)
        inline.append(time.perf_counter() - started)
    remote = ray.remote(num_cpus=1, max_retries=0)(check_in_worker)
    target_ref = ray.put(target)
    ray.get(remote.remote(target_ref, formalization, 5.0))  # the worker imports neurosym and Z3 once
    on_ray = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        ray.get(remote.remote(target_ref, formalization, 5.0))
        on_ray.append(time.perf_counter() - started)
    return {
        "inline_check_ms_median": round(1000 * statistics.median(inline), 3),
        "ray_check_ms_median": round(1000 * statistics.median(on_ray), 3),
        "ray_check_ms_p90": round(1000 * sorted(on_ray)[int(0.9 * len(on_ray))], 3),
        "ray_overhead_per_check_ms": round(1000 * (statistics.median(on_ray) - statistics.median(inline)), 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--benchmark", default="logic_loop")
    parser.add_argument("--items", default="0:20")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    ray = import_ray()
    load_before = round(os.getloadavg()[0], 2)
    runs: dict[str, dict[str, Any]] = {}
    reference: list[str] | None = None
    with tempfile.TemporaryDirectory(prefix="neurosym-ray-overhead-") as scratch:
        out = Path(scratch)

        def measure(label: str, make: Any) -> None:
            nonlocal reference
            walls = []
            for _ in range(args.repeats):
                wall, table, count = _run(args.benchmark, args.items, make(), out)
                if reference is None:
                    reference = table
                elif table != reference:
                    raise SystemExit(f"{label}: the table differs from the local run's")
                walls.append(wall)
            median = statistics.median(walls)
            runs[label] = {"items_s": round(median, 3), "items": count, "items_per_s": round(count / median, 3),
                           "all_s": [round(w, 3) for w in walls]}  # fmt: skip
            print(f"{label:24} {median:7.2f} s  {count / median:6.2f} items/s", flush=True)

        measure("local inline", lambda: LocalExecutor(1, workers=0))
        measure("local pool, 1 worker", lambda: LocalExecutor(2, workers=1))
        measure("local pool, 2 workers", lambda: LocalExecutor(4, workers=2))
        startup: dict[str, float] = {}
        round_trips: dict[str, float] = {}
        for cpus in (1, 2):
            started = time.perf_counter()
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
            startup[f"{cpus}_cpus_s"] = round(time.perf_counter() - started, 2)
            try:
                measure(
                    f"ray, {cpus} worker{'s' if cpus > 1 else ''}",
                    lambda cpus=cpus: RayExecutor(max_in_flight=2 * cpus),
                )
                if cpus == 1:
                    round_trips = _round_trips(ray)
            finally:
                ray.shutdown()
    items = runs["local inline"]["items"]
    overhead = {
        f"{n}": round(1000 * (runs[f"ray, {n} worker{'s' if n > 1 else ''}"]["items_s"]
                              - runs[f"local pool, {n} worker{'s' if n > 1 else ''}"]["items_s"]) / items, 2)
        for n in (1, 2)
    }  # fmt: skip
    report = {
        "benchmark": args.benchmark,
        "items": args.items,
        "repeats": args.repeats,
        "runs": runs,
        "ray_startup_s": startup,
        "ray_overhead_per_item_ms_vs_local_pool": overhead,
        "ray_overhead_per_item_ms_vs_inline_1_worker": round(
            1000 * (runs["ray, 1 worker"]["items_s"] - runs["local inline"]["items_s"]) / items, 2
        ),
        "round_trips": round_trips,
        "tables_identical": True,
        "ray": ray.__version__,
        "cores": os.cpu_count(),
        "load_average_1min": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
    }
    print(f"Ray start: {startup}; per check: {round_trips}")
    print(f"Ray overhead per item against the local pool (ms, by workers): {overhead}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
