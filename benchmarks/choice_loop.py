"""The choice target on LogicalDeduction and AR-LSAT, and FOL on ProntoQA: strategies against chain of thought.

The benchmark itself is :mod:`neurosym.bench.suites.choice` (``choice_loop``); this module
registers it and runs it from a checkout with the options of ``neurosym bench`` (see ``--help``).

Run (re-runs the table from the cassette; an item not recorded is left out and counted):
    python -m benchmarks.choice_loop
Record (the embedded model; resumes, asking only for samples the cassette lacks):
    python -m benchmarks.choice_loop --record [--limit N] [--strategies cot,greedy]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from neurosym.bench import cli
from neurosym.bench.registry import benchmark_names, register_benchmark
from neurosym.bench.suites.choice import CHOICE_LOOP

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """Replay (default) or record the benchmark, write the results and print the table."""
    if CHOICE_LOOP.name not in benchmark_names():
        register_benchmark(CHOICE_LOOP)
    return cli.main(CHOICE_LOOP.name, argv, log=log, description=__doc__.split("\n", 1)[0])


if __name__ == "__main__":
    sys.exit(main())
