"""What the loop benchmarks share: one row per strategy and item, the summary table, vote@k, the plot.

``benchmarks.logic_loop`` (FOLIO, ProofWriter) and ``benchmarks.gsm8k_loop`` (GSM8K) each
describe their items, prompts and target in a :class:`LoopBenchmark`; :func:`run_benchmark`
records or replays them, turns each :class:`~neurosym.loop.result.LoopResult` into a
:class:`Row` and reports the rows the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurosym.loop.cache import Cache
from neurosym.loop.refine import Strategy, refine
from neurosym.loop.result import LoopResult
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.replay import CassetteMiss, RecordingBackend, ReplayBackend
from neurosym.translators.base import LLMBackend

__all__ = [
    "STRATEGIES",
    "LoopBenchmark",
    "Row",
    "attempt_report",
    "loop_row",
    "paired_report",
    "plot",
    "render",
    "run_benchmark",
    "strategy_rows",
    "summarise",
    "vote_at_k",
]

STRATEGIES: dict[str, Strategy] = {
    "greedy": Strategy.greedy(),
    "vote-5": Strategy.vote(5),
    "vote-5+repair": Strategy.vote(5, repair_rounds=1),
    "adaptive": Strategy(samples=5, round_size=2, confidence=0.8),
    "adaptive+repair": Strategy(samples=5, round_size=2, confidence=0.8, repair_rounds=1),
}
"""The strategies every loop benchmark compares. Sample ``i`` is drawn with seed ``i``, so the
strategies that sample share their samples (and their repairs) on the same item."""


@dataclass(frozen=True)
class Row:
    """One strategy on one item (answers and labels as text, compared exactly)."""

    item: str
    dataset: str
    strategy: str
    label: str
    answer: str | None
    samples: int
    tokens: int
    model_s: float
    prover_s: float
    overhead_s: float
    target_s: float
    votes: dict[str, int]
    first_k: list[str | None]
    rel_tol: float = 0.0
    """Numeric answers within this relative tolerance of the label count as correct (0: exact text)."""
    sample_statuses: dict[str, int] = field(default_factory=dict)
    """How the fresh samples ended: verdict status (or ``unparsed``) -> count."""
    repair_statuses: dict[str, int] = field(default_factory=dict)
    """How the repairs ended, the same way."""
    repairs_answered: int = 0
    """Repairs whose verdict gave an answer."""
    repairs_repeated: int = 0
    """Repairs whose output is the failed output again, word for word."""

    def matches(self, answer: str | None) -> bool:
        """Whether ``answer`` is the label: the same text, or the same number within ``rel_tol``.

        Example:
            >>> row = Row("x", "d", "greedy", "1500", None, 1, 0, 0, 0, 0, 0, {}, [], rel_tol=1e-4)
            >>> row.matches("1499.97"), row.matches("1490"), row.matches(None)
            (True, False, False)

        """
        if answer is None:
            return False
        if answer == self.label:
            return True
        if not self.rel_tol:
            return False
        try:
            return math.isclose(float(answer), float(self.label), rel_tol=self.rel_tol, abs_tol=1e-6)
        except ValueError:
            return False

    @property
    def correct(self) -> bool:
        return self.matches(self.answer)


def loop_row(item_id: str, dataset: str, label: str, name: str, result: LoopResult, rel_tol: float = 0.0) -> Row:
    r"""The row of one loop result; ``first_k`` holds the answers of the fresh samples in order.

    Example:
        >>> from neurosym.loop import refine
        >>> from neurosym.targets.fol import FolTarget
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> from neurosym.types import Problem
        >>> problem = Problem(premises=("Rex is a dog.",), conclusion="Rex is a dog.")
        >>> output = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nRex is a dog.\nFOL: Dog(rex)"
        >>> result = refine(problem, FolTarget(constrained=False), ScriptedBackend([output]))
        >>> row = loop_row("x", "FOLIO", "True", "greedy", result)
        >>> row.answer, row.correct, row.samples
        ('True', True, 1)

    """
    cost = result.cost
    fresh = [a for a in result.attempts if a.repair == 0]
    repairs = [a for a in result.attempts if a.repair > 0]
    outputs = {(a.sample, a.repair): a.output.strip() for a in result.attempts}
    return Row(
        item_id,
        dataset,
        name,
        label,
        None if result.answer is None else str(result.answer),
        cost.samples,
        cost.prompt_tokens + cost.completion_tokens,
        cost.model_s,
        cost.prover_s,
        cost.overhead_s,
        cost.target_s,
        {str(k): v for k, v in result.votes.items()},
        [None if a.answer is None else str(a.answer) for a in fresh],
        rel_tol,
        dict(Counter(a.status for a in fresh)),
        dict(Counter(a.status for a in repairs)),
        sum(a.answer is not None for a in repairs),
        sum(a.output.strip() == outputs.get((a.sample, a.repair - 1)) for a in repairs),
    )


def strategy_rows(
    item: Any,
    backend: LLMBackend,
    target: Any,
    settings: SamplingSettings,
    *,
    rel_tol: float = 0.0,
    verdict_cache: Cache | None = None,
) -> list[Row]:
    r"""Each of :data:`STRATEGIES` on one item (with ``problem``, ``dataset``, ``label``), one row each.

    Raises what the loop raised on the way (a ``CassetteMiss`` when replaying an item not recorded).

    Example:
        >>> from types import SimpleNamespace
        >>> from neurosym.targets.fol import FolTarget
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> from neurosym.types import Problem
        >>> problem = Problem(premises=("Rex is a dog.",), conclusion="Rex is a dog.", id="x")
        >>> item = SimpleNamespace(problem=problem, dataset="d", label="True")
        >>> output = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nRex is a dog.\nFOL: Dog(rex)"
        >>> rows = strategy_rows(item, ScriptedBackend([output] * 20), FolTarget(constrained=False), SamplingSettings())
        >>> [(r.strategy, r.answer, r.samples) for r in rows][:3]
        [('vote-5+repair', 'True', 5), ('greedy', 'True', 1), ('vote-5', 'True', 5)]

    """
    rows = []
    # vote-5+repair first: when recording, it draws every sample and repair the others reuse.
    for name in ("vote-5+repair", *(name for name in STRATEGIES if name != "vote-5+repair")):
        result = refine(
            item.problem, target, backend, strategy=STRATEGIES[name], settings=settings, verdict_cache=verdict_cache
        )
        if result.exception is not None:
            raise result.exception
        rows.append(loop_row(item.problem.id or "", item.dataset, item.label, name, result, rel_tol))
    return rows


def summarise(rows: Sequence[Row], datasets: Sequence[str], order: Sequence[str]) -> list[dict[str, Any]]:
    """Accuracy, abstention, answered accuracy, samples and tokens per strategy and dataset (and all)."""
    table = []
    for dataset in (*datasets, "all") if len(datasets) > 1 else datasets:
        for name in order:
            chosen = [r for r in rows if r.strategy == name and dataset in ("all", r.dataset)]
            if not chosen:
                continue
            answered = [r for r in chosen if r.answer is not None]
            table.append(
                {
                    "dataset": dataset,
                    "strategy": name,
                    "items": len(chosen),
                    "accuracy": sum(r.correct for r in chosen) / len(chosen),
                    "abstention": 1 - len(answered) / len(chosen),
                    "answered_accuracy": (sum(r.correct for r in answered) / len(answered)) if answered else None,
                    "samples": statistics.mean(r.samples for r in chosen),
                    "tokens": statistics.mean(r.tokens for r in chosen),
                }
            )
    return table


def vote_at_k(rows: Sequence[Row], k: int, strategy: str = "vote-5") -> float:
    """Accuracy of a majority over the first ``k`` fresh samples (no repair) of ``strategy``'s rows.

    Example:
        >>> row = Row("x", "d", "vote-5", "1", "1", 5, 0, 0, 0, 0, 0, {}, ["1", "2", "1", None, "2"])
        >>> vote_at_k([row], 1), vote_at_k([row], 2), vote_at_k([row], 3)
        (1.0, 0.0, 1.0)

    """
    correct = total = 0
    for row in rows:
        if row.strategy != strategy:
            continue
        total += 1
        votes: dict[str, int] = {}
        for answer in row.first_k[:k]:
            if answer is not None:
                votes[answer] = votes.get(answer, 0) + 1
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])
        tie = len(ranked) > 1 and ranked[0][1] == ranked[1][1]
        correct += bool(ranked) and not tie and row.matches(ranked[0][0])
    return correct / total if total else 0.0


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{status} {count}" for status, count in counter.most_common()) or "none"


def attempt_report(rows: Sequence[Row], strategy: str = "vote-5+repair") -> str:
    """How ``strategy``'s samples and repairs ended, and how often the label was among the samples' answers.

    Example:
        >>> row = Row("x", "d", "vote-5+repair", "1", "1", 6, 0, 0, 0, 0, 0, {"1": 3}, ["1", None, "1", "2", None],
        ...           sample_statuses={"proved": 3, "unparsed": 2}, repair_statuses={"unparsed": 1})
        >>> print(attempt_report([row]))
        Attempts of vote-5+repair, over 1 items:
        - fresh samples: 5 (proved 3, unparsed 2), 3 with an answer
        - repairs: 1 (unparsed 1), 0 with an answer, 0 the failed output again word for word
        - the label is among the fresh samples' answers on 1 of 1 items (1 counting repairs)

    """
    chosen = [r for r in rows if r.strategy == strategy]
    samples: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    for row in chosen:
        samples.update(row.sample_statuses)
        repairs.update(row.repair_statuses)
    answered = sum(a is not None for r in chosen for a in r.first_k)
    among = sum(any(r.matches(a) for a in r.first_k) for r in chosen)
    among_any = sum(any(r.matches(a) for a in r.votes) for r in chosen)  # votes: every answer, repairs too
    return "\n".join(
        [
            f"Attempts of {strategy}, over {len(chosen)} items:",
            f"- fresh samples: {samples.total()} ({_counts(samples)}), {answered} with an answer",
            f"- repairs: {repairs.total()} ({_counts(repairs)}), "
            f"{sum(r.repairs_answered for r in chosen)} with an answer, "
            f"{sum(r.repairs_repeated for r in chosen)} the failed output again word for word",
            f"- the label is among the fresh samples' answers on {among} of {len(chosen)} items "
            f"({among_any} counting repairs)",
        ]
    )


PAIRS = (("vote-5", "greedy"), ("adaptive", "greedy"), ("adaptive", "cot"), ("vote-5+repair", "vote-5"))
"""The strategies :func:`paired_report` compares item by item."""


def paired_report(rows: Sequence[Row], pairs: Sequence[tuple[str, str]] = PAIRS) -> str:
    """For each pair of strategies: on how many items only the first is right, and only the second.

    The counts behind a sign test: the items where both are right or both wrong say nothing
    about which is better.

    Example:
        >>> runs = [("a", "vote-5", "1"), ("a", "greedy", None), ("b", "vote-5", "1"), ("b", "greedy", "1")]
        >>> rows = [Row(item, "d", name, "1", answer, 1, 0, 0, 0, 0, 0, {}, []) for item, name, answer in runs]
        >>> print(paired_report(rows, [("vote-5", "greedy")]))
        Item by item (only the first right / only the second right):
        - vote-5 against greedy: 1 / 0

    """
    right: dict[str, dict[str, bool]] = {}
    for row in rows:
        right.setdefault(row.strategy, {})[row.item] = row.correct
    lines = ["Item by item (only the first right / only the second right):"]
    for first, second in pairs:
        if first not in right or second not in right:
            continue
        items = right[first].keys() & right[second].keys()
        only_first = sum(right[first][i] and not right[second][i] for i in items)
        only_second = sum(right[second][i] and not right[first][i] for i in items)
        lines.append(f"- {first} against {second}: {only_first} / {only_second}")
    return "\n".join(lines)


def loop_times_ms(rows: Sequence[Row]) -> tuple[float, float]:
    """Median loop overhead and median target time per problem and strategy, in ms (cot rows excluded)."""
    loop_rows = [r for r in rows if r.strategy != "cot"]
    if not loop_rows:
        return 0.0, 0.0
    return 1000 * statistics.median(r.overhead_s for r in loop_rows), 1000 * statistics.median(
        r.target_s for r in loop_rows
    )


def render(table: Sequence[dict[str, Any]], recorded: int, wanted: int, overhead_ms: float, target_ms: float) -> str:
    """The markdown table and the headline figures."""
    lines = [
        f"Items recorded: {recorded} of {wanted}. Per problem and strategy, replayed: the loop's own time "
        f"(excluding model, provers and the target's prompt building and parsing) median {overhead_ms:.2f} ms; "
        f"the target's time median {target_ms:.1f} ms.",
        "",
        "| data | strategy | items | accuracy | abstained | accuracy answered | samples/item | tokens/item |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in table:
        answered = "-" if r["answered_accuracy"] is None else f"{100 * r['answered_accuracy']:.1f}%"
        lines.append(
            f"| {r['dataset']} | {r['strategy']} | {r['items']} | {100 * r['accuracy']:.1f}% | "
            f"{100 * r['abstention']:.1f}% | {answered} | {r['samples']:.2f} | {r['tokens']:.0f} |"
        )
    return "\n".join(lines)


def plot(rows: Sequence[Row], table: Sequence[dict[str, Any]], datasets: Sequence[str], title: str, path: Path) -> None:
    """Accuracy against samples per problem: the vote@k curve and each strategy as a point, per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*datasets, "all"] if len(datasets) > 1 else list(datasets)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(7.0, 4.4 * len(panels)), 4.2), sharey=True, squeeze=False)
    for ax, dataset in zip(axes[0], panels, strict=True):
        chosen = [r for r in rows if dataset in ("all", r.dataset)]
        ks = range(1, 6)
        ax.plot(list(ks), [100 * vote_at_k(chosen, k) for k in ks], "o-", color="grey", label="vote of first k")
        for entry in table:
            if entry["dataset"] == dataset:
                ax.scatter(entry["samples"], 100 * entry["accuracy"], s=60, label=entry["strategy"], zorder=3)
        ax.set_title(f"{dataset} ({sum(1 for r in chosen if r.strategy == 'greedy')} items)")
        ax.set_xlabel("model samples per problem (repairs count)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class LoopBenchmark:
    """What differs between the loop benchmarks; :func:`run_benchmark` does the rest.

    Attributes:
        name: the stem of the result files (``NAME.jsonl``, ``.md``, ``.png``).
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


def run_benchmark(
    bench: LoopBenchmark,
    argv: Sequence[str] | None,
    log: Callable[[str], None],
    parents: Sequence[argparse.ArgumentParser] = (),
) -> int:
    """Replay (default) or record ``bench``, write its results and print the table.

    ``parents`` add a benchmark's own options to the command line (the caller reads them).
    """
    parser = argparse.ArgumentParser(description=bench.description, parents=list(parents))
    parser.add_argument("--record", action="store_true", help="run the embedded model for what is missing")
    parser.add_argument("--llm", default="embedded", help="backend to record with (default: embedded)")
    parser.add_argument("--cassette", type=Path, default=bench.cassette)
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument("--out", type=Path, default=bench.results, help=f"folder for {bench.name}.{{jsonl,md,png}}")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)

    items = list(bench.items())[: args.limit]
    backend: LLMBackend
    if args.record:
        from neurosym.translators.backends import get_backend

        backend = RecordingBackend(get_backend(args.llm), args.cassette, resume=True, one_at_a_time=True)
    else:
        backend = ReplayBackend(args.cassette)
    rows: list[Row] = []
    missing = 0
    started = time.perf_counter()
    # One verdict per distinct formalization and run: the strategies share their samples, so
    # without it Z3 would decide each sample up to four times over.
    with (
        tempfile.TemporaryDirectory(prefix="neurosym-bench-") as scratch,
        Cache(Path(scratch) / "verdicts.sqlite") as cache,
    ):
        for number, item in enumerate(items, start=1):
            try:
                item_rows = bench.run_item(item, backend, bench.target, verdict_cache=cache)
            except CassetteMiss:
                missing += 1
                continue
            rows.extend(item_rows)
            if args.record:
                greedy = next(r for r in item_rows if r.strategy == "greedy")
                log(f"[{number}/{len(items)}] {item.problem.id}: gold {item.label}, greedy {greedy.answer}, "
                    f"{time.perf_counter() - started:.0f} s so far")  # fmt: skip
    table = summarise(rows, bench.datasets, bench.order)
    overhead_ms, target_ms = loop_times_ms(rows)
    text = render(table, len(items) - missing, len(items), overhead_ms, target_ms)
    if rows:
        text += "\n\n" + attempt_report(rows) + "\n\n" + paired_report(rows)
    if bench.extra_report is not None and rows:
        text += "\n\n" + bench.extra_report(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / f"{bench.name}.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({**r.__dict__, "correct": r.correct}, ensure_ascii=False) + "\n")
    (args.out / f"{bench.name}.md").write_text(text + "\n", encoding="utf-8")
    if rows and not args.no_plot:
        plot(rows, table, bench.datasets, bench.title, args.out / f"{bench.name}.png")
    log(text)
    scope = " (all)" if len(bench.datasets) > 1 else ""
    log(f"vote of first k{scope}: " + ", ".join(f"k={k} {100 * vote_at_k(rows, k):.1f}%" for k in range(1, 6)))
    log(f"{time.perf_counter() - started:.1f} s")
    return 0
