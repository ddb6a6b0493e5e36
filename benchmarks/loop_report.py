"""What the loop benchmarks share, now in the package: rows, the summary table, vote@k, the plot.

The machinery moved to :mod:`neurosym.bench` (rows in :mod:`neurosym.bench.rows`, the report in
:mod:`neurosym.bench.report`, the runner in :mod:`neurosym.bench.runner`), so that every
benchmark runs from the installed package (``neurosym bench NAME``). This module keeps the
names the benchmark scripts and their tests import, and :class:`LoopBenchmark` with
:func:`run_benchmark` for a script that keeps its own item loop (``benchmarks.nl4opt_loop``):
it runs through the package's runner (rows written as they finish, the HTML report, ``--resume``,
``--cache``) with that script's target and item runner.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurosym.bench import cli
from neurosym.bench.registry import BUILTIN_BENCHMARKS, Benchmark, get_benchmark
from neurosym.bench.report import plot, render
from neurosym.bench.rows import (
    PAIRS,
    STRATEGIES,
    Row,
    attempt_report,
    loop_order,
    loop_row,
    loop_times_ms,
    paired_report,
    strategy_rows,
    summarise,
    vote_at_k,
)
from neurosym.settings import SamplingSettings

__all__ = [
    "PAIRS",
    "STRATEGIES",
    "LoopBenchmark",
    "Row",
    "attempt_report",
    "loop_order",
    "loop_row",
    "loop_times_ms",
    "paired_report",
    "plot",
    "render",
    "run_benchmark",
    "strategy_rows",
    "summarise",
    "vote_at_k",
]


@dataclass(frozen=True)
class LoopBenchmark:
    """A benchmark script's own description of itself (see :func:`run_benchmark`).

    Attributes:
        name: the stem of the result files; a registered benchmark of this name lends its data sets
            and sampling settings to the results' metadata.
        description: the command line's one-line description.
        items: the benchmark's items, in order (each with ``problem``, ``label``, ``dataset``).
        run_item: every strategy on one item, ``(item, backend, target, verdict_cache=cache) -> rows``.
        target: the loop target.
        datasets, order: the table's datasets and strategies.
        title: the plot's title.
        cassette, results: the default cassette file and results folder.
        extra_report: more Markdown from the rows (appended to the table and printed), if any.

    """

    name: str
    description: str
    items: Callable[[], Sequence[Any]]
    run_item: Callable[..., list[Row]]
    target: Any
    datasets: Sequence[str]
    order: Sequence[str]
    title: str
    cassette: Path
    results: Path
    extra_report: Callable[[Sequence[Row]], str] | None = None


def as_benchmark(bench: LoopBenchmark) -> Benchmark:
    """The registry form of a script's benchmark: its items, target and item runner, run one item at a time."""
    registered = get_benchmark(bench.name) if bench.name in BUILTIN_BENCHMARKS else None
    module = sys.modules.get(getattr(bench.run_item, "__module__", ""), None)
    # The script's own sampling settings when it has them (they are what its run_item uses).
    settings = getattr(module, "SETTINGS", None) or (registered.settings if registered else None)
    extra = bench.extra_report
    return Benchmark(
        name=bench.name,
        description=bench.description,
        data=registered.data if registered else (),
        items=lambda data_dir: list(bench.items()),
        target=lambda: bench.target,
        settings=settings if settings is not None else SamplingSettings(),
        strategies=tuple(bench.order),
        datasets=tuple(bench.datasets),
        title=bench.title,
        cassette=bench.cassette.name,
        baselines=registered.baselines if registered else {},
        rel_tol=registered.rel_tol if registered else 0.0,
        extra_report=(lambda rows, items: extra(rows)) if extra is not None else None,
        item_runner=bench.run_item,
    )


def run_benchmark(
    bench: LoopBenchmark,
    argv: Sequence[str] | None,
    log: Callable[[str], None],
    parents: Sequence[argparse.ArgumentParser] = (),
) -> int:
    """Replay (default) or record ``bench`` with the options of ``neurosym bench``, write its results, print the table.

    ``parents`` add a benchmark's own options to the command line (the caller reads them).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = []
    given = {arg.split("=", 1)[0] for arg in argv}
    if "--cassette" not in given:
        defaults += ["--cassette", str(bench.cassette)]
    if "--out" not in given:
        defaults += ["--out", str(bench.results)]
    return cli.main(as_benchmark(bench), [*argv, *defaults], log=log, description=bench.description, parents=parents)
