"""The optimization-modeling assistant on NL4Opt: the MILP target in the loop, from recorded samples.

Items: 40 NL4Opt test problems drawn with ``random.Random(0)`` from the consensus subset (the
problems on which every corrected gold set that has them agrees within a relative 1e-4; see
:func:`neurosym.bench.suites.opt_data.consensus`). Model (of the committed cassette): the
embedded Qwen2.5-Coder 1.5B (llama.cpp, 2 threads), grammar-constrained to the modeling
language. Every model is solved by HiGHS and CBC and its solution checked.

Strategies, all on the same items and the same recorded samples (sample ``i`` is drawn with seed
``i`` at temperature 0.7): ``greedy``, ``vote-5``, ``vote-5+repair`` (each failing model goes
back once with its parse error, conflicting constraints or runaway variables), ``adaptive`` and
``adaptive+repair``.

An answer is the optimal objective; it is right when it is within a relative 1e-4 of the gold
value. The main table scores against the consensus value; a second table scores the same answers
against each gold set separately. Abstentions count as wrong in "accuracy".

Example:
    >>> NL4OPT_LOOP.strategies[0], NL4OPT_LOOP.rel_tol
    ('greedy', 0.0001)

"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from neurosym.bench.data import dataset_path
from neurosym.bench.registry import Benchmark
from neurosym.bench.rows import STRATEGIES, Row
from neurosym.bench.suites.opt_data import ALL_GOLD_SETS, GOLD_REL_TOL, consensus, gold_matches, load_nl4opt_test
from neurosym.bench.suites.opt_data import nl4opt_golds as _read_golds
from neurosym.settings import SamplingSettings
from neurosym.targets.milp import MilpTarget
from neurosym.types import AnswerKind, Problem

__all__ = [
    "DATASETS",
    "ITEMS",
    "NL4OPT_LOOP",
    "ORDER",
    "RECORDED_GRAMMAR",
    "SETTINGS",
    "Item",
    "nl4opt_items",
    "per_gold_set",
    "render_per_gold_set",
    "table_order",
]

ITEMS = 40
DATASETS = ("NL4Opt",)

# NL4Opt models take under 150 tokens; 256 caps a sample that repeats itself (at 0.7 some do).
SETTINGS = SamplingSettings(max_tokens=256)
ORDER = tuple(STRATEGIES)


RECORDED_GRAMMAR = resources.files("neurosym.bench.suites").joinpath("nl4opt_v1.gbnf").read_text(encoding="utf-8")
"""The GBNF the cassette was recorded with: neurosym 0.1's hand-written layout grammar (declarations, a named
objective, named constraints), not today's default (compiled from ``milp.lark``). The grammar text is part of
every request's cassette key, so the benchmark sends this one (``MilpTarget(grammar=...)``); recording with the
new grammar means a new cassette."""


@dataclass(frozen=True)
class Item:
    """One NL4Opt problem with its consensus objective (the label) and every gold set's answer."""

    dataset: str
    problem: Problem
    label: str
    golds: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=4)
def _golds(path: Path) -> dict[str, dict[str, Any]]:
    return _read_golds(path)


def nl4opt_items(count: int = ITEMS, data_dir: Path | None = None, *, report: bool = False) -> list[Item]:
    """``count`` consensus-subset test problems drawn with seed 0, in file order, from the data folder.

    ``report=True``: the report items instead: ``count`` drawn with seed 1 from the consensus problems
    outside the development draw (the seed-0 draw of :data:`ITEMS`); the rest stay for an independent check.
    """
    golds = _golds(dataset_path("nl4opt-crosscheck", data_dir))
    pool = [
        item
        for item in load_nl4opt_test(dataset_path("nl4opt-test", data_dir))
        if consensus(golds.get(item.id, {})) is not None
    ]
    chosen = sorted(random.Random(0).sample(range(len(pool)), ITEMS if report else count))
    if report:
        rest = [i for i in range(len(pool)) if i not in set(chosen)]
        chosen = sorted(random.Random(1).sample(rest, count))
    out = []
    for i in chosen:
        item = pool[i]
        label = consensus(golds[item.id])
        problem = Problem(item.text, answer_kind=AnswerKind.ASSIGNMENT, id=f"nl4opt-{item.id}")
        out.append(Item("NL4Opt", problem, f"{label:.10g}", dict(golds[item.id])))
    return out


def per_gold_set(
    rows: Sequence[Row], items: Sequence[Item], order: Sequence[str] = ORDER, gold_sets: Sequence[str] = ALL_GOLD_SETS
) -> list[dict[str, Any]]:
    """Accuracy of each strategy's answers against each gold set separately (on the items it covers).

    ``order`` names the strategies and ``gold_sets`` the gold sets to score (default: this benchmark's).

    Example:
        >>> item = Item("NL4Opt", Problem("...", id="p"), "5", {"SIRL": 5.0, "NL4OPT-E": 6.0})
        >>> rows = [Row("p", "NL4Opt", "greedy", "5", "5", 1, 0, 0, 0, 0, 0, {}, [], rel_tol=1e-4)]
        >>> [(t["gold_set"], t["accuracy"]) for t in per_gold_set(rows, [item])]
        [('SIRL', 1.0), ('NL4OPT-E', 0.0)]

    """
    golds = {i.problem.id: i.golds for i in items}
    table = []
    for name in order:
        chosen = [r for r in rows if r.strategy == name]
        for gold_set in gold_sets:
            # "is not None": a gold objective of 0 is an answer.
            scored = [(r, golds[r.item][gold_set]) for r in chosen if golds.get(r.item, {}).get(gold_set) is not None]
            if not scored:
                continue
            hits = sum(
                gold_matches(None if r.answer is None else float(r.answer), "optimal", gold) for r, gold in scored
            )
            table.append({"strategy": name, "gold_set": gold_set, "items": len(scored), "accuracy": hits / len(scored)})
    return table


def render_per_gold_set(
    table: Sequence[dict[str, Any]], order: Sequence[str] = ORDER, gold_sets: Sequence[str] = ALL_GOLD_SETS
) -> str:
    """The per-gold-set table as Markdown: one row per strategy of ``order``, one column per gold set.

    Example:
        >>> print(render_per_gold_set([{"strategy": "greedy", "gold_set": "SIRL", "items": 2, "accuracy": 0.5}]))
        | strategy | SIRL |
        | --- | ---: |
        | greedy | 50.0% (2) |
        | vote-5 | - |
        | vote-5+repair | - |
        | adaptive | - |
        | adaptive+repair | - |

    """
    sets = [s for s in gold_sets if any(t["gold_set"] == s for t in table)]
    lines = ["| strategy | " + " | ".join(sets) + " |", "| --- |" + " ---: |" * len(sets)]
    for name in order:
        cells = []
        for s in sets:
            entry = next((t for t in table if t["strategy"] == name and t["gold_set"] == s), None)
            cells.append("-" if entry is None else f"{100 * entry['accuracy']:.1f}% ({entry['items']})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_order(rows: Sequence[Row], order: Sequence[str] = ORDER) -> list[str]:
    """``order``, then the strategies of ``rows`` it lacks (``vote-5@0.3`` of a sweep), in the order they ran.

    Example:
        >>> table_order([Row("p", "NL4Opt", "vote-5@0.3", "5", None, 5, 0, 0, 0, 0, 0, {}, [])], ("greedy",))
        ['greedy', 'vote-5@0.3']

    """
    return [*order, *(name for name in dict.fromkeys(r.strategy for r in rows) if name not in order)]


def _extra_report(rows: Sequence[Row], items: Sequence[Any]) -> str:
    order = table_order(rows)
    return "The same answers against each gold set (items covered in brackets):\n\n" + render_per_gold_set(
        per_gold_set(rows, items, order), order
    )


NL4OPT_LOOP = Benchmark(
    name="nl4opt_loop",
    description="The optimization-modeling assistant on NL4Opt: the MILP target in the loop, from recorded samples.",
    data=("nl4opt-test", "nl4opt-crosscheck"),
    items=lambda data_dir: nl4opt_items(ITEMS, data_dir),
    target=lambda: MilpTarget(constrained=True, grammar=RECORDED_GRAMMAR),
    settings=SETTINGS,
    strategies=ORDER,
    datasets=DATASETS,
    title="neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), MILP (HiGHS + CBC)",
    cassette="nl4opt_loop.jsonl",
    rel_tol=GOLD_REL_TOL,
    extra_report=_extra_report,
)
"""NL4Opt, 40 items, HiGHS and CBC."""
