"""The rows of a loop benchmark: one per strategy and item, and what is computed from them.

Each strategy's :class:`~neurosym.loop.result.LoopResult` on an item becomes a :class:`Row`
(answers and labels as text); :func:`summarise` makes the table, :func:`vote_at_k`,
:func:`attempt_report` and :func:`paired_report` the figures printed under it.

Example:
    >>> rows = [Row("a", "d", "greedy", "1", "1", 1, 10, 0, 0, 0, 0, {}, ["1"]),
    ...         Row("b", "d", "greedy", "1", None, 1, 10, 0, 0, 0, 0, {}, [None])]
    >>> [(t["strategy"], t["accuracy"], t["abstention"]) for t in summarise(rows, ["d"], ["greedy"])]
    [('greedy', 0.5, 0.5)]

"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.loop.cache import Cache
from neurosym.loop.refine import Checker, Strategy, refine
from neurosym.loop.result import LoopResult
from neurosym.settings import SamplingSettings
from neurosym.translators.base import LLMBackend

__all__ = [
    "PAIRS",
    "STRATEGIES",
    "Row",
    "attempt_report",
    "loop_order",
    "loop_row",
    "loop_strategy",
    "loop_times_ms",
    "mcnemar_p",
    "paired_report",
    "row_from_dict",
    "row_to_dict",
    "strategy_rows",
    "summarise",
    "variant_of",
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

FAILED_SAMPLE_MODES = ("resample", "hint")
"""The other failed-sample strategies: ``NAME+resample`` and ``NAME+hint`` are ``NAME+repair`` with
that :attr:`~neurosym.loop.refine.Strategy.on_failure` (``--strategies vote-5+resample``)."""


def loop_strategy(name: str) -> Strategy | None:
    """The loop strategy of a row name: one of :data:`STRATEGIES`, or ``NAME+resample`` / ``NAME+hint``; else ``None``.

    Any of them with ``+evidence`` after it chooses the answer among the samples with the strongest
    evidence (:attr:`~neurosym.loop.refine.Strategy.selection`); any sampling one with ``@T`` at the
    end samples at temperature ``T`` instead of the default 0.7 (the temperature sweep:
    ``vote-5@0.3``, ``adaptive+evidence@0.5``).

    Example:
        >>> loop_strategy("vote-5+hint").on_failure, loop_strategy("vote-5+hint").repair_rounds
        ('hint', 1)
        >>> loop_strategy("cot") is None, loop_strategy("greedy+hint") is None
        (True, True)
        >>> loop_strategy("vote-5+repair+evidence").selection, loop_strategy("cot+evidence")
        ('evidence', None)
        >>> loop_strategy("vote-5+evidence@0.3").temperature, loop_strategy("greedy@0.3"), loop_strategy("vote-5@hot")
        (0.3, None, None)

    """
    if "@" in name:
        base, _, temperature = name.rpartition("@")
        strategy = loop_strategy(base)
        value = _temperature(temperature)
        if strategy is None or strategy.samples < 2 or value is None:
            return None  # one sample is greedy: a temperature would change nothing
        return dataclasses.replace(strategy, temperature=value)
    base, _, selection = name.rpartition("+")
    if selection == "evidence":
        strategy = loop_strategy(base)
        return dataclasses.replace(strategy, selection="evidence") if strategy is not None else None
    if name in STRATEGIES:
        return STRATEGIES[name]
    base, _, mode = name.rpartition("+")
    if mode in FAILED_SAMPLE_MODES and f"{base}+repair" in STRATEGIES:
        return dataclasses.replace(STRATEGIES[f"{base}+repair"], on_failure=mode)
    return None


def _temperature(text: str) -> float | None:
    """A sweep temperature written after ``@``: a number in (0, 2]; else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 < value <= 2.0 else None


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
        """Whether the row's answer is the label (see :meth:`matches`)."""
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


def loop_order(names: Sequence[str]) -> list[str]:
    """The loop strategies among ``names`` in the order they run: ``vote-5+repair`` first, then as :data:`STRATEGIES`.

    When recording, ``vote-5+repair`` draws every sample and repair the others reuse, so it goes
    first; names that are not loop strategies (baselines such as ``cot``) are left out.

    Example:
        >>> loop_order(["greedy", "cot", "vote-5+repair"])
        ['vote-5+repair', 'greedy']

    """
    wanted = set(names)
    order = [name for name in ("vote-5+repair", *(n for n in STRATEGIES if n != "vote-5+repair")) if name in wanted]
    derived = [name for name in names if name not in STRATEGIES and loop_strategy(name) is not None]
    return order + derived


def strategy_rows(
    item: Any,
    backend: LLMBackend,
    target: Any,
    settings: SamplingSettings,
    *,
    rel_tol: float = 0.0,
    verdict_cache: Cache | None = None,
    strategies: Sequence[str] | None = None,
    checker: Checker | None = None,
) -> list[Row]:
    r"""Each of :data:`STRATEGIES` (or of ``strategies``) on one item (with ``problem``, ``dataset``, ``label``).

    One row each, in the order of :func:`loop_order`. ``checker`` decides the verdicts (default:
    the target's provers in this thread). Raises what the loop raised on the way (a
    ``CassetteMiss`` when replaying an item not recorded).

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
    names = loop_order(list(STRATEGIES) if strategies is None else strategies)
    rows = []
    for name in names:
        result = refine(
            item.problem,
            target,
            backend,
            strategy=loop_strategy(name),
            settings=settings,
            checker=checker,
            verdict_cache=verdict_cache,
        )
        if result.exception is not None:
            raise result.exception
        rows.append(loop_row(item.problem.id or "", item.dataset, item.label, name, result, rel_tol))
    return rows


_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(Row))


def row_to_dict(row: Row) -> dict[str, Any]:
    """The row as a JSON-ready dict, with ``correct`` added (the results file's form).

    Example:
        >>> row = Row("x", "d", "greedy", "1", "1", 1, 5, 0, 0, 0, 0, {"1": 1}, ["1"])
        >>> data = row_to_dict(row)
        >>> data["correct"], row_from_dict(data) == row
        (True, True)

    """
    return {**{name: getattr(row, name) for name in _ROW_FIELDS}, "correct": row.correct}


def row_from_dict(data: Mapping[str, Any]) -> Row:
    """The :class:`Row` in a results line (other keys, such as the run's settings, are ignored).

    Raises:
        ConfigurationError: a field is missing.

    """
    try:
        return Row(**{name: data[name] for name in _ROW_FIELDS if name in data or name not in _DEFAULTED})
    except (KeyError, TypeError) as err:
        raise ConfigurationError(f"not a benchmark row: {err}") from None


_DEFAULTED = frozenset(f.name for f in dataclasses.fields(Row) if f.default is not dataclasses.MISSING
                       or f.default_factory is not dataclasses.MISSING)  # fmt: skip


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


def variant_of(rows: Sequence[Row], base: str) -> str | None:
    """The strategy of ``rows`` that is ``base`` or ``base`` at a sweep temperature (``vote-5@0.5``); else ``None``.

    ``base`` itself wins over a variant; among variants, the first in ``rows``. A report set samples at
    the temperature swept on the development items, so its vote is ``vote-5@0.5``, not ``vote-5``.

    Example:
        >>> rows = [Row("x", "d", name, "1", "1", 5, 0, 0, 0, 0, 0, {}, []) for name in ("greedy", "vote-5@0.5")]
        >>> variant_of(rows, "vote-5"), variant_of(rows, "vote-5+repair")
        ('vote-5@0.5', None)

    """
    names = list(dict.fromkeys(r.strategy for r in rows))
    if base in names:
        return base
    return next((n for n in names if n.rpartition("@")[0] == base and loop_strategy(n) is not None), None)


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


PAIRS = (
    ("greedy", "cot"),
    ("vote-5", "greedy"),
    ("adaptive", "greedy"),
    ("adaptive", "cot"),
    ("vote-5+repair", "vote-5"),
    ("vote-5+evidence", "vote-5"),
    ("vote-5+evidence", "cot"),
    ("adaptive+evidence", "cot"),
)
"""The strategies :func:`paired_report` compares item by item."""


def mcnemar_p(only_first: int, only_second: int) -> float:
    """The exact McNemar test's two-sided p-value: a sign test on the items only one of two strategies gets right.

    Example:
        >>> round(mcnemar_p(20, 6), 4), mcnemar_p(3, 3), mcnemar_p(0, 0)
        (0.0094, 1.0, 1.0)

    """
    n = only_first + only_second
    tail = sum(math.comb(n, k) for k in range(min(only_first, only_second) + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def paired_report(rows: Sequence[Row], pairs: Sequence[tuple[str, str]] = PAIRS) -> str:
    """For each pair of strategies: on how many items only the first is right, and only the second, with the p-value.

    The counts behind a sign test: the items where both are right or both wrong say nothing
    about which is better; the exact McNemar test (:func:`mcnemar_p`) says how likely counts this
    uneven are if neither strategy were better.

    Example:
        >>> runs = [("a", "vote-5", "1"), ("a", "greedy", None), ("b", "vote-5", "1"), ("b", "greedy", "1")]
        >>> rows = [Row(item, "d", name, "1", answer, 1, 0, 0, 0, 0, 0, {}, []) for item, name, answer in runs]
        >>> print(paired_report(rows, [("vote-5", "greedy")]))
        Item by item (only the first right / only the second right, exact McNemar p):
        - vote-5 against greedy: 1 / 0 (p = 1)

    """
    right: dict[str, dict[str, bool]] = {}
    for row in rows:
        right.setdefault(row.strategy, {})[row.item] = row.correct
    lines = ["Item by item (only the first right / only the second right, exact McNemar p):"]
    for first, second in pairs:
        if first not in right or second not in right:
            continue
        items = right[first].keys() & right[second].keys()
        only_first = sum(right[first][i] and not right[second][i] for i in items)
        only_second = sum(right[second][i] and not right[first][i] for i in items)
        p = mcnemar_p(only_first, only_second)
        lines.append(f"- {first} against {second}: {only_first} / {only_second} (p = {p:.2g})")
    return "\n".join(lines)


def loop_times_ms(rows: Sequence[Row]) -> tuple[float, float]:
    """Median loop overhead and median target time per problem and strategy, in ms (cot rows excluded)."""
    loop_rows = [r for r in rows if r.strategy != "cot"]
    if not loop_rows:
        return 0.0, 0.0
    return 1000 * statistics.median(r.overhead_s for r in loop_rows), 1000 * statistics.median(
        r.target_s for r in loop_rows
    )
