"""The benchmark registry: each benchmark as an entry (items, target, strategies, cassette), found by name.

A :class:`Benchmark` says everything that differs between the loop benchmarks: which data sets
it reads and how it draws its items from them, the loop target, the sampling settings, the
strategies of its table (loop strategies from :data:`~neurosym.bench.rows.STRATEGIES` and its
own baselines, such as chain of thought), the plot's title, the default cassette and any report
of its own. :mod:`neurosym.bench.runner` does the rest. The built-in benchmarks are imported
only when asked for; another package adds one with :func:`register_benchmark`.

Example:
    >>> benchmark_names()  # doctest: +NORMALIZE_WHITESPACE
    ['choice_loop', 'gsm8k_loop', 'logic_loop', 'logic_loop_declare', 'logic_loop_renamed', 'logic_report',
     'nl4opt_loop', 'nl4opt_report', 'opt_loop']
    >>> get_benchmark("gsm8k_loop").strategies[:2]
    ('cot', 'greedy')

"""

from __future__ import annotations

import difflib
import importlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurosym.bench.rows import STRATEGIES, Row, loop_strategy, strategy_rows
from neurosym.errors import ConfigurationError, InputError
from neurosym.loop.cache import Cache
from neurosym.loop.refine import Checker, check_inline
from neurosym.settings import SamplingSettings
from neurosym.translators.base import GenerationRequest, LLMBackend

__all__ = [
    "BUILTIN_BENCHMARKS",
    "Baseline",
    "Benchmark",
    "benchmark_names",
    "get_benchmark",
    "register_benchmark",
    "run_item",
]

BUILTIN_BENCHMARKS: dict[str, str] = {
    "logic_loop": "neurosym.bench.suites.logic:LOGIC_LOOP",
    "logic_loop_renamed": "neurosym.bench.suites.logic:LOGIC_LOOP_RENAMED",
    "logic_loop_declare": "neurosym.bench.suites.logic:LOGIC_LOOP_DECLARE",
    "logic_report": "neurosym.bench.suites.logic:LOGIC_REPORT",
    "gsm8k_loop": "neurosym.bench.suites.gsm8k:GSM8K_LOOP",
    "nl4opt_loop": "neurosym.bench.suites.nl4opt:NL4OPT_LOOP",
    "choice_loop": "neurosym.bench.suites.choice:CHOICE_LOOP",
    "opt_loop": "neurosym.bench.suites.opt:OPT_LOOP",
    "nl4opt_report": "neurosym.bench.suites.opt:NL4OPT_REPORT",
}
"""The benchmarks that ship with neurosym: name -> ``module:attribute`` of its :class:`Benchmark`."""


@dataclass(frozen=True)
class Baseline:
    """A strategy without the loop: one greedy request whose reply is read for an answer (chain of thought).

    Attributes:
        request: the prompt for an item, ``(item, data_dir) -> GenerationRequest``.
        answer: the answer in a reply, or ``None``.
        settings: the sampling settings (greedy).

    """

    request: Callable[[Any, Path | None], GenerationRequest]
    answer: Callable[[str], str | None]
    settings: SamplingSettings

    def row(self, name: str, item: Any, backend: LLMBackend, data_dir: Path | None = None) -> Row:
        r"""The row of this baseline on ``item`` (raises ``CassetteMiss`` when replaying an item not recorded).

        Example:
            >>> from types import SimpleNamespace
            >>> from neurosym.translators.backends.scripted import ScriptedBackend
            >>> from neurosym.types import Problem
            >>> cot = Baseline(lambda item, data: GenerationRequest.from_prompt(item.problem.text),
            ...                lambda text: text.rsplit(" ", 1)[-1], SamplingSettings(temperature=0.0))
            >>> item = SimpleNamespace(problem=Problem("2 + 2?", id="q"), dataset="d", label="4")
            >>> row = cot.row("cot", item, ScriptedBackend(["so it is 4"]))
            >>> row.answer, row.correct, row.samples
            ('4', True, 1)

        """
        started = time.perf_counter()
        [result] = backend.generate([self.request(item, data_dir)], settings=self.settings)
        text = result.samples[0].text if result.samples else ""
        model_s = time.perf_counter() - started
        answer = self.answer(text)
        tokens = result.usage.prompt_tokens + result.usage.completion_tokens
        return Row(item.problem.id or "", item.dataset, name, item.label, answer, 1, tokens, model_s,
                   0.0, 0.0, 0.0, {}, [answer])  # fmt: skip


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: what :func:`neurosym.bench.runner.run_bench` needs to run it and report it.

    Attributes:
        name: the benchmark's name and the stem of its result files (``NAME.jsonl``, ``.md``, ``.html``, ``.png``).
        description: one line.
        data: the registered data sets it reads (:data:`neurosym.bench.data.DATASETS`).
        items: its items in order, ``(data_dir) -> items`` (each with ``problem``, ``label``, ``dataset``).
        target: builds the loop target.
        settings: the loop's sampling settings.
        strategies: the table's strategies, in order: baselines and names of :data:`STRATEGIES`.
        datasets: the table's datasets (the items' ``dataset`` values).
        title: the plot's title.
        cassette: the file name of its default cassette in the checkout's ``benchmarks/cassettes``.
        baselines: its baselines by name.
        rel_tol: numeric answers within this relative tolerance of the label count as right.
        extra_report: more Markdown from the rows and the items, if any.
        pairs: the strategies compared item by item under the table (first, second); ``None``: the
            default :data:`~neurosym.bench.rows.PAIRS`.
        item_runner: runs every strategy on one item itself, ``(item, backend, target, *,
            verdict_cache) -> rows``, with the checks in this thread (an entry point that keeps its
            own loop code); such a benchmark runs all its strategies, one item at a time.

    """

    name: str
    description: str
    data: tuple[str, ...]
    items: Callable[[Path | None], Sequence[Any]]
    target: Callable[[], Any]
    settings: SamplingSettings
    strategies: tuple[str, ...]
    datasets: tuple[str, ...]
    title: str
    cassette: str
    baselines: Mapping[str, Baseline] = field(default_factory=dict)
    rel_tol: float = 0.0
    extra_report: Callable[[Sequence[Row], Sequence[Any]], str] | None = None
    pairs: tuple[tuple[str, str], ...] | None = None
    item_runner: Callable[..., list[Row]] | None = None

    def __post_init__(self) -> None:
        unknown = [s for s in self.strategies if loop_strategy(s) is None and s not in self.baselines]
        if unknown:
            raise ConfigurationError(f"benchmark {self.name!r}: unknown strategies {unknown}")

    def select_strategies(self, names: Sequence[str] | None) -> tuple[str, ...]:
        """``names`` checked against this benchmark's strategies, in the table's order (all for ``None``).

        Example:
            >>> get_benchmark("nl4opt_loop").select_strategies(["vote-5", "greedy"])
            ('greedy', 'vote-5')

        """
        if names is None:
            return self.strategies
        derived = [n for n in names if n not in self.strategies and self._table_strategy(n) is not None]
        unknown = [n for n in names if n not in self.strategies and n not in derived]
        if unknown:
            raise InputError(
                f"{self.name} has no strategy {', '.join(map(repr, unknown))}; its strategies: "
                f"{', '.join(self.strategies)} (and NAME+resample, NAME+hint for each NAME+repair; NAME+evidence for "
                "each NAME; NAME@T, a sampling one at temperature T)"
            )
        chosen = []
        for s in self.strategies:  # the table's order, each derived strategy after the one it varies
            if s in set(names):
                chosen.append(s)
            chosen.extend(d for d in derived if self._table_strategy(d) == s and d not in chosen)
        return tuple(chosen)

    def _table_strategy(self, name: str) -> str | None:
        """The strategy of this table that a derived one varies, through any number of variations; else ``None``."""
        base = _repair_base(name)
        while base is not None and base not in self.strategies:
            base = _repair_base(base)
        return base


def _repair_base(name: str) -> str | None:
    """The table strategy a derived one varies (see :func:`~neurosym.bench.rows.loop_strategy`); else ``None``.

    ``vote-5+repair`` for ``vote-5+resample`` or ``vote-5+hint``, ``vote-5`` for ``vote-5+evidence``,
    the strategy itself for one at a sweep temperature (``vote-5@0.3``: ``vote-5``).
    """
    if loop_strategy(name) is None or name in STRATEGIES:
        return None
    if "@" in name:
        return name.rpartition("@")[0]
    base, _, mode = name.rpartition("+")
    if mode == "evidence":
        return base if base in STRATEGIES else _repair_base(base)
    return f"{base}+repair"


def run_item(
    bench: Benchmark,
    item: Any,
    backend: LLMBackend,
    target: Any,
    *,
    strategies: Sequence[str] | None = None,
    data_dir: Path | None = None,
    checker: Checker | None = None,
    verdict_cache: Cache | None = None,
) -> list[Row]:
    """The chosen strategies on one item: baselines first, then the loop strategies (``vote-5+repair`` first).

    Raises ``CassetteMiss`` when replaying an item the cassette lacks.
    """
    chosen = bench.select_strategies(strategies)
    if bench.item_runner is not None:
        if chosen != bench.strategies or checker not in (None, check_inline):
            raise InputError(
                f"this entry point of {bench.name} runs every strategy with the checks in this process; "
                f"for --strategies, --jobs, --workers or --ray run: neurosym bench {bench.name}"
            )
        return bench.item_runner(item, backend, target, verdict_cache=verdict_cache)
    rows = [bench.baselines[name].row(name, item, backend, data_dir) for name in chosen if name in bench.baselines]
    loop = [name for name in chosen if loop_strategy(name) is not None]
    if loop:
        rows.extend(
            strategy_rows(item, backend, target, bench.settings, rel_tol=bench.rel_tol, verdict_cache=verdict_cache,
                          strategies=loop, checker=checker)
        )  # fmt: skip
    return rows


_REGISTERED: dict[str, Benchmark] = {}
_LOCK = threading.Lock()


def register_benchmark(bench: Benchmark, *, replace: bool = False) -> None:
    """Make ``bench`` runnable by name (``neurosym bench NAME``).

    Raises:
        ConfigurationError: the name is taken (pass ``replace=True`` to replace it).

    """
    with _LOCK:
        if not replace and (bench.name in _REGISTERED or bench.name in BUILTIN_BENCHMARKS):
            raise ConfigurationError(f"a benchmark named {bench.name!r} is already registered")
        _REGISTERED[bench.name] = bench


def benchmark_names() -> list[str]:
    """Every benchmark's name, sorted."""
    return sorted({*BUILTIN_BENCHMARKS, *_REGISTERED})


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name`` (a built-in one is imported on first use).

    Raises:
        InputError: no benchmark has that name (the message lists them).

    Example:
        >>> get_benchmark("logic").name
        Traceback (most recent call last):
        ...
        neurosym.errors.InputError: no benchmark 'logic'; did you mean 'logic_loop'? Known: choice_loop, \
gsm8k_loop, logic_loop, logic_loop_declare, logic_loop_renamed, logic_report, nl4opt_loop, nl4opt_report, \
opt_loop (neurosym bench --list)

    """
    with _LOCK:
        found = _REGISTERED.get(name)
    if found is not None:
        return found
    where = BUILTIN_BENCHMARKS.get(name)
    if where is None:
        close = difflib.get_close_matches(name, benchmark_names(), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise InputError(f"no benchmark {name!r}{hint} Known: {', '.join(benchmark_names())} (neurosym bench --list)")
    module, _, attribute = where.partition(":")
    bench: Benchmark = getattr(importlib.import_module(module), attribute)
    with _LOCK:
        _REGISTERED.setdefault(name, bench)
    return bench
