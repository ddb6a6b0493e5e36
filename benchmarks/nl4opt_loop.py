"""The optimization-modeling assistant on NL4Opt: the MILP target in the loop, from recorded samples.

Items: 40 NL4Opt test problems drawn with ``random.Random(0)`` from the consensus subset (the
problems on which every corrected gold set that has them agrees within a relative 1e-4; see
:func:`benchmarks.opt_data.consensus`). Model: the embedded Qwen2.5-Coder 1.5B (llama.cpp,
2 threads), grammar-constrained to the modeling language. Every model is solved by HiGHS and CBC
and its solution checked.

The grammar is the one the cassette was recorded with, neurosym 0.1's hand-written layout grammar
(``neurosym/bench/suites/nl4opt_v1.gbnf``: declarations, a named objective, named constraints), not today's
default (:func:`neurosym.targets.milp.translator.model_gbnf`, compiled from ``milp.lark``): the
grammar text is part of every request's cassette key. Recording with the new grammar means a new
cassette, under a new file name.

Strategies, all on the same items and the same recorded samples (sample ``i`` is drawn with seed
``i`` at temperature 0.7):

* ``greedy``: one greedy model;
* ``vote-5``: majority over 5 sampled models that solved to a checked optimum;
* ``vote-5+repair``: the same, and each failing model (parse error, infeasible with its conflicting
  constraints, unbounded with its runaway variables) goes back once with that feedback;
* ``adaptive``: rounds of 2 (at most 5), stop once the leader cannot be overtaken or holds 80%;
* ``adaptive+repair``: adaptive with one repair per failing model.

An answer is the optimal objective; it is right when it is within a relative 1e-4 of the gold
value. The main table scores against the consensus value; a second table scores the same answers
against each gold set separately. Abstentions count as wrong in "accuracy".

Run (the table from the committed cassette; items not recorded yet are left out and counted):
    python -m benchmarks.nl4opt_loop
Record (the real model; resumes, asking only for samples the cassette lacks):
    python -m benchmarks.nl4opt_loop --record [--limit N]
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks import loop_report
from benchmarks.loop_report import STRATEGIES, Row, strategy_rows
from benchmarks.opt_data import GOLD_REL_TOL, consensus, load_nl4opt_test, nl4opt_golds
from neurosym.bench.suites.nl4opt import RECORDED_GRAMMAR, per_gold_set, render_per_gold_set
from neurosym.loop.cache import Cache
from neurosym.settings import SamplingSettings
from neurosym.targets.milp import MilpTarget
from neurosym.translators.base import LLMBackend
from neurosym.types import AnswerKind, Problem

ROOT = Path(__file__).resolve().parent.parent
CASSETTE = ROOT / "benchmarks" / "cassettes" / "nl4opt_loop.jsonl"
RESULTS = ROOT / "benchmarks" / "results"
ITEMS = 40
DATASETS = ("NL4Opt",)

# NL4Opt models take under 150 tokens; 256 caps a sample that repeats itself (at 0.7 some do).
SETTINGS = SamplingSettings(max_tokens=256)
ORDER = tuple(STRATEGIES)


@dataclass(frozen=True)
class Item:
    """One NL4Opt problem with its consensus objective (the label) and every gold set's answer."""

    dataset: str
    problem: Problem
    label: str
    golds: dict[str, Any] = field(default_factory=dict)


@cache
def _golds() -> dict[str, dict[str, Any]]:
    return nl4opt_golds()


def recorded_grammar() -> str:
    """The GBNF text the cassette was recorded with (:data:`neurosym.bench.suites.nl4opt.RECORDED_GRAMMAR`).

    Example:
        >>> recorded_grammar().splitlines()[0]
        'root ::= decl-line{1,8} objective-line constraint-line{1,60}'

    """
    return RECORDED_GRAMMAR


def nl4opt_items(count: int = ITEMS) -> list[Item]:
    """``count`` consensus-subset test problems drawn with seed 0, in file order.

    Example:
        >>> items = nl4opt_items(3)
        >>> [float(i.label) == float(i.label) for i in items], items[0].dataset
        ([True, True, True], 'NL4Opt')

    """
    golds = _golds()
    pool = [item for item in load_nl4opt_test() if consensus(golds.get(item.id, {})) is not None]
    chosen = sorted(random.Random(0).sample(range(len(pool)), count))
    out = []
    for i in chosen:
        item = pool[i]
        label = consensus(golds[item.id])
        problem = Problem(item.text, answer_kind=AnswerKind.ASSIGNMENT, id=f"nl4opt-{item.id}")
        out.append(Item("NL4Opt", problem, f"{label:.10g}", dict(golds[item.id])))
    return out


def run_item(item: Item, backend: LLMBackend, target: MilpTarget, *, verdict_cache: Cache | None = None) -> list[Row]:
    """Every strategy on one item (raises CassetteMiss when replaying an item not recorded)."""
    return strategy_rows(item, backend, target, SETTINGS, rel_tol=GOLD_REL_TOL, verdict_cache=verdict_cache)


def main(argv: Sequence[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """Replay (default) or record the benchmark, write the results and print the tables."""
    bench = loop_report.LoopBenchmark(
        name="nl4opt_loop",
        description=__doc__.split("\n", 1)[0],
        items=nl4opt_items,
        run_item=run_item,
        target=MilpTarget(constrained=True, grammar=RECORDED_GRAMMAR),
        datasets=DATASETS,
        order=ORDER,
        title="neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), MILP (HiGHS + CBC)",
        cassette=CASSETTE,
        results=RESULTS,
        extra_report=lambda rows: (
            "The same answers against each gold set (items covered in brackets):\n\n"
            + render_per_gold_set(per_gold_set(rows, nl4opt_items()))
        ),
    )
    return loop_report.run_benchmark(bench, argv, log)


if __name__ == "__main__":
    sys.exit(main())
