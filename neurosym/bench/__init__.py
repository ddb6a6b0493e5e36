"""Benchmarks from the installed package: a registry of benchmarks and data sets, a runner, reports.

``neurosym bench --list`` shows the benchmarks; ``neurosym bench NAME`` replays one from its
cassette (or runs a live model with ``--llm``), writes its rows as they finish and its report as
Markdown and as a self-contained HTML page. See :mod:`neurosym.bench.runner` for what a run
writes and how it resumes, :mod:`neurosym.bench.data` for where the data are found, and
:mod:`neurosym.bench.ray_executor` for running the checks on a Ray cluster.

Example:
    >>> from neurosym.bench import benchmark_names, get_benchmark
    >>> "logic_loop" in benchmark_names(), get_benchmark("logic_loop").data
    (True, ('folio-validation', 'proofwriter-dev'))

"""

from neurosym.bench.data import DATA_ENV, DATASETS, Dataset, data_dir, dataset, dataset_path
from neurosym.bench.registry import Baseline, Benchmark, benchmark_names, get_benchmark, register_benchmark
from neurosym.bench.rows import STRATEGIES, Row
from neurosym.bench.runner import BenchResult, run_bench

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "STRATEGIES",
    "Baseline",
    "BenchResult",
    "Benchmark",
    "Dataset",
    "Row",
    "benchmark_names",
    "data_dir",
    "dataset",
    "dataset_path",
    "get_benchmark",
    "register_benchmark",
    "run_bench",
]
