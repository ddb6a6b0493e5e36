"""The optimization-modeling assistant on MAMO EasyLP, ComplexLP and IndustryOR: MILP against chain of thought.

The benchmark itself is :mod:`neurosym.bench.suites.opt` (``opt_loop``); this module
registers it and runs it from a checkout with the options of ``neurosym bench`` (see ``--help``).

Run (re-runs the table from the cassette; an item not recorded is left out and counted):
    python -m benchmarks.opt_loop
Record (the embedded model; resumes, asking only for samples the cassette lacks):
    python -m benchmarks.opt_loop --record [--limit N] [--strategies cot,greedy]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from neurosym.bench import cli
from neurosym.bench.registry import benchmark_names, register_benchmark
from neurosym.bench.suites.opt import OPT_LOOP

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """Replay (default) or record the benchmark, write the results and print the table."""
    if OPT_LOOP.name not in benchmark_names():
        register_benchmark(OPT_LOOP)
    return cli.main(OPT_LOOP.name, argv, log=log, description=__doc__.split("\n", 1)[0])


if __name__ == "__main__":
    sys.exit(main())
