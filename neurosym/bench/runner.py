"""Run a registered benchmark: replay or record its model, write each item's rows as it finishes, report.

:func:`run_bench` draws the benchmark's items from the data folder, runs the chosen strategies
on each (replaying the cassette unless given a live backend), and appends each item's rows to
``OUT/NAME.jsonl`` the moment the item finishes (one write, flushed), each row with the run's
settings, the model's identity and the versions of neurosym and the solvers. At the end the file
is rewritten in item order and the report is written: ``NAME.md`` (the table), ``NAME.html``
(the same with confidence intervals and the plots inline) and ``NAME.png``.

Resuming: a killed run keeps the rows of every item it finished. With ``resume=True`` those
items are not run again (rows of another run, with other settings or another model, are
dropped), and with a cache (``cache=FILE``: model samples and verdicts in SQLite) the item that
was cut short costs no model call it had already made.

Where items run is an executor (:class:`~neurosym.loop.batch.ProblemExecutor`): by default one
item at a time with the checks in this thread, as the benchmarks always ran;
``LocalExecutor(jobs, workers=N)`` works on several items with the checks in a prover pool, and
``neurosym.bench.ray_executor.RayExecutor`` sends the checks to a Ray cluster. The loops and the
model calls stay in this process, so the rows are the same whichever executor runs them.

Example:
    >>> select_items("2:4", 10), select_items("0,7", 10), select_items(None, 3)
    ([2, 3], [0, 7], [0, 1, 2])

"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from neurosym.bench.data import checkout_root
from neurosym.bench.data import data_dir as resolve_data_dir
from neurosym.bench.registry import Benchmark, get_benchmark, run_item
from neurosym.bench.report import html_report, plot, render
from neurosym.bench.rows import (
    PAIRS,
    Row,
    attempt_report,
    loop_strategy,
    loop_times_ms,
    paired_report,
    row_from_dict,
    row_to_dict,
    summarise,
    variant_of,
    vote_at_k,
)
from neurosym.errors import ConfigurationError, InputError
from neurosym.loop.batch import LocalExecutor, ProblemExecutor, for_each
from neurosym.loop.cache import Cache, CachedBackend
from neurosym.translators.backends.replay import CassetteMiss, ReplayBackend
from neurosym.translators.base import LLMBackend
from neurosym.translators.identity import backend_identity

__all__ = [
    "BenchResult",
    "default_cassette",
    "default_results_dir",
    "read_rows",
    "run_bench",
    "select_items",
    "versions",
]


@dataclass(frozen=True)
class BenchResult:
    """What a run produced: the rows in item order, the table, the report and the files written."""

    bench: Benchmark
    rows: list[Row]
    items: int
    missing: int
    resumed: int
    table: list[dict[str, Any]]
    markdown: str
    run: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    elapsed_s: float = 0.0
    """The whole run: loading the data and the cassette, the items, the report."""
    items_s: float = 0.0
    """Working on the items only (the executor's workers already started)."""


def default_cassette(bench: Benchmark) -> Path:
    """The benchmark's cassette in the checkout (``benchmarks/cassettes/``).

    Raises:
        InputError: neurosym does not run from a checkout (pass a cassette or a live model).

    Example:
        >>> from neurosym.bench.registry import get_benchmark
        >>> default_cassette(get_benchmark("gsm8k_loop")).name
        'gsm8k_loop.jsonl'

    """
    root = checkout_root()
    if root is None:
        raise InputError(
            f"no cassette for {bench.name}: this neurosym is not a checkout, so its committed cassettes are not here; "
            f"pass --cassette FILE (a copy of benchmarks/cassettes/{bench.cassette}) or a live model with --llm"
        )
    return root / "benchmarks" / "cassettes" / bench.cassette


def default_results_dir() -> Path:
    """Where results go: the checkout's ``benchmarks/results``, else ``./bench-results``.

    Example:
        >>> default_results_dir().name in ("results", "bench-results")
        True

    """
    root = checkout_root()
    return root / "benchmarks" / "results" if root is not None else Path.cwd() / "bench-results"


def select_items(spec: str | None, count: int, ids: Sequence[str] = ()) -> list[int]:
    """The indices that ``spec`` picks out of ``count`` items, in its order (no repeats).

    ``spec`` is a comma-separated list of Python slices (``0:10``, ``:20``, ``30:``), indices
    (``7``, ``-1``) or item ids (``folio-10``, with ``ids`` the items' ids); ``None`` is all.

    Raises:
        InputError: an index out of range, an unknown id, or an empty selection.

    Example:
        >>> select_items("1:3,0,1", 5), select_items("b", 3, ids=["a", "b", "c"])
        ([1, 2, 0], [1])

    """
    if spec is None:
        return list(range(count))
    chosen: list[int] = []
    by_id = {item_id: i for i, item_id in enumerate(ids)}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if ":" in part:
            try:
                bounds = [int(b) if b.strip() else None for b in part.split(":")]
            except ValueError:
                raise InputError(f"--items: {part!r} is not a slice like 0:10") from None
            if len(bounds) > 3 or (bounds[-1] == 0 and len(bounds) == 3):
                raise InputError(f"--items: {part!r} is not a slice like 0:10")
            chosen.extend(range(count)[slice(*bounds)])
        elif part.lstrip("-").isdigit():
            index = int(part)
            if not -count <= index < count:
                raise InputError(f"--items: index {index} is out of range (the benchmark has {count} items)")
            chosen.append(index % count)
        elif part in by_id:
            chosen.append(by_id[part])
        else:
            raise InputError(f"--items: {part!r} is neither an index, a slice nor an item id of this benchmark")
    unique = list(dict.fromkeys(chosen))
    if not unique:
        raise InputError(f"--items {spec!r} selects no item (the benchmark has {count})")
    return unique


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions(target: Any, identity: Mapping[str, Any], *, live: bool) -> dict[str, Any]:
    """Neurosym's version, Python's, the target's solvers' (from its fingerprint) and llama-cpp-python's where it ran.

    Example:
        >>> from neurosym.targets.milp import MilpTarget
        >>> sorted(versions(MilpTarget(), {"kind": "replay", "model": "m"}, live=False))
        ['highspy', 'neurosym', 'pulp', 'python']

    """
    from neurosym import __version__

    found: dict[str, Any] = {"neurosym": __version__, "python": platform.python_version()}
    fingerprint = target.fingerprint() if callable(getattr(target, "fingerprint", None)) else {}
    found.update({k: v for k, v in fingerprint.items() if k != "target"})
    if live and identity.get("kind") == "llamacpp":
        found["llama-cpp-python"] = _package_version("llama_cpp_python")
    return found


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _strategy_dict(name: str) -> dict[str, Any] | str:
    """A loop strategy's settings (``Strategy.to_dict``), or ``"baseline"``."""
    strategy = loop_strategy(name)
    return strategy.to_dict() if strategy is not None else "baseline"


def _run_key(bench: Benchmark, strategies: Sequence[str], target: Any, identity: Mapping[str, Any]) -> str:
    """What a row's value depends on besides its item: the settings, the target and the model (for resuming)."""
    fingerprint = target.fingerprint() if callable(getattr(target, "fingerprint", None)) else {"repr": repr(target)}
    payload = {
        "benchmark": bench.name,
        "settings": bench.settings.to_dict(),
        "strategies": {s: _strategy_dict(s) for s in strategies},
        "target": fingerprint,
        "model": dict(identity),
    }
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def read_rows(path: Path, run_key: str | None = None) -> dict[str, list[dict[str, Any]]]:
    r"""The lines of a results file by item id, in file order; lines of another run (``run_key``) and torn ones skipped.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.jsonl"
        >>> _ = path.write_text('{"item": "a", "run_key": "k"}\n{"item": "b", "run_key": "other"}\n{"item": "c", "ru')
        >>> list(read_rows(path, "k"))
        ['a']

    """
    found: dict[str, list[dict[str, Any]]] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue  # the torn last line of a killed run
        if not isinstance(data, dict) or "item" not in data:
            continue
        if run_key is not None and data.get("run_key") != run_key:
            continue
        found.setdefault(str(data["item"]), []).append(data)
    return found


class _RowsFile:
    """The results file, appended to one item at a time (one write, flushed) from any thread."""

    def __init__(self, path: Path, kept: Sequence[dict[str, Any]]) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_lines(path, kept)  # start from the rows kept for resuming (none for a fresh run)
        self.handle: TextIO = path.open("a", encoding="utf-8")

    def append(self, lines: Sequence[dict[str, Any]]) -> None:
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        with self.lock:
            self.handle.write(text)
            self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def _write_lines(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    """Replace ``path`` with ``lines`` atomically (a file beside it, renamed over it)."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _Progress:
    """A rich progress bar with the time left, on a terminal only; otherwise nothing."""

    def __init__(self, total: int, title: str, stream: TextIO | None) -> None:
        self.bar: Any = None
        self.task: Any = None
        if stream is None:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self.task = self.bar.add_task(title, total=total, note="")

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def advance(self, note: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, note=note)


def run_bench(
    bench: Benchmark | str,
    *,
    backend: LLMBackend | None = None,
    cassette: Path | str | None = None,
    items: str | None = None,
    strategies: Sequence[str] | None = None,
    data_dir: Path | str | None = None,
    out: Path | str | None = None,
    cache: Path | str | None = None,
    resume: bool = False,
    executor: ProblemExecutor | None = None,
    write_plot: bool = True,
    write_html: bool = True,
    progress: TextIO | None = None,
    log: Callable[[str], None] = print,
    llm: Mapping[str, Any] | None = None,
    recording: bool = False,
) -> BenchResult:
    """Run ``bench`` (a :class:`Benchmark` or its name), write its rows and report, and log the report.

    Args:
        bench: the benchmark.
        backend: the model; default: replay ``cassette`` (default: the benchmark's in the checkout).
        cassette: the cassette to replay when no backend is given.
        items: which items (:func:`select_items`; default all).
        strategies: which strategies (default the benchmark's).
        data_dir: the data folder (default ``$NEUROSYM_DATA``, else the checkout's ``../shared/data``).
        out: the folder for ``NAME.{jsonl,md,html,png}`` (default :func:`default_results_dir`).
        cache: a SQLite cache of model samples and verdicts (kept across runs); default one per run.
        resume: keep the rows an earlier run of the same settings and model wrote to ``OUT/NAME.jsonl``
            and run only the items it did not finish.
        executor: where items and checks run (default: one item at a time, checks in this thread).
        write_plot: write ``NAME.png`` (and the plots of the HTML page).
        write_html: write ``NAME.html``.
        progress: a terminal stream for the progress bar (``None``: no bar).
        log: where the report and the closing figures are written.
        llm: how the model was asked for, recorded with each row (e.g. ``{"spec": "openai:M", "base_urls": [...]}``).
        recording: the backend records a cassette (an item line is logged as each finishes, without a bar).

    Raises:
        InputError: no data folder, a data set missing, a bad item selection, no cassette.

    """
    started = time.perf_counter()
    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    chosen_strategies = bench.select_strategies(strategies)
    if bench.item_runner is not None:
        inline = executor is None or (isinstance(executor, LocalExecutor) and executor.workers == 0)
        if chosen_strategies != bench.strategies or not inline:
            raise InputError(
                f"this entry point of {bench.name} runs every strategy with the checks in this process; "
                f"for --strategies, --jobs, --workers or --ray run: neurosym bench {bench.name}"
            )
    data = resolve_data_dir(data_dir)
    every_item = list(bench.items(data))
    picked = select_items(items, len(every_item), [i.problem.id or "" for i in every_item])
    chosen = [every_item[i] for i in picked]
    out_dir = Path(out) if out is not None else default_results_dir()
    llm_info: dict[str, Any] = dict(llm or {})
    with ExitStack() as stack:
        model: Any  # the cassette, the caller's backend, and the sample cache over it
        if backend is None:
            path = Path(cassette) if cassette is not None else default_cassette(bench)
            model = ReplayBackend(path)
            llm_info.setdefault("replayed_from", str(path))
            llm_info.setdefault("cassette_sha256", _file_sha256(path))
        else:
            model = backend
        identity = backend_identity(model)
        live = not isinstance(model, ReplayBackend)
        if cache is not None:
            verdicts = stack.enter_context(Cache(cache))
            if live:
                # A replay needs no sample cache (the cassette is one); a cached replay would also count
                # tokens from the cache's even split of each call's prompt tokens, not the cassette's shares.
                model = CachedBackend(model, verdicts)
        else:
            # One verdict per distinct formalization and run: the strategies share their samples, so
            # without it the provers would decide each sample up to four times over.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="neurosym-bench-"))
            verdicts = stack.enter_context(Cache(Path(scratch) / "verdicts.sqlite"))
        target = bench.target()
        executor = executor or LocalExecutor(max_in_flight=1, workers=0)
        run_key = _run_key(bench, chosen_strategies, target, identity)
        run = {
            "benchmark": bench.name,
            "run_key": run_key,
            "strategies": {s: _strategy_dict(s) for s in chosen_strategies if loop_strategy(s) is not None},
            "settings": bench.settings.to_dict(),
            "baselines": {s: bench.baselines[s].settings.to_dict() for s in chosen_strategies if s in bench.baselines},
            "target": target.fingerprint().get("target") if callable(getattr(target, "fingerprint", None)) else None,
            "model": identity,
            "llm": llm_info,
            "versions": versions(target, identity, live=live),
            "executor": getattr(executor, "describe", lambda: {"executor": type(executor).__name__})(),
            "data_dir": str(data),
        }
        stamp = {k: run[k] for k in ("run_key", "settings", "model", "versions")}
        done: dict[str, list[Row]] = {}
        kept: list[dict[str, Any]] = []
        rows_path = out_dir / f"{bench.name}.jsonl"
        if resume:
            wanted = {i.problem.id or "" for i in chosen}
            for item_id, lines in read_rows(rows_path, run_key).items():
                if item_id in wanted and set(chosen_strategies) <= {line.get("strategy") for line in lines}:
                    done[item_id] = [row_from_dict(line) for line in lines if line.get("strategy") in chosen_strategies]
                    kept.extend(line for line in lines if line.get("strategy") in chosen_strategies)
        todo = [i for i in chosen if (i.problem.id or "") not in done]
        rows_file = _RowsFile(rows_path, kept)
        stack.callback(rows_file.close)
        fresh: dict[str, list[Row]] = {}
        missing: list[str] = []
        lock = threading.Lock()
        bar = stack.enter_context(_Progress(len(todo), bench.name, None if recording else progress))
        with executor.checking(target, len(todo)) as check:
            describe = getattr(executor, "describe", None)
            if callable(describe):
                run["executor"] = describe()  # now that it knows its workers (a cluster's CPUs)

            def work(index: int) -> None:
                item = todo[index]
                try:
                    item_rows = run_item(bench, item, model, target, strategies=chosen_strategies,
                                         data_dir=data, checker=check, verdict_cache=verdicts)  # fmt: skip
                except CassetteMiss:
                    with lock:
                        missing.append(item.problem.id or "")
                        bar.advance(f"{len(missing)} not recorded")
                    return
                rows_file.append([{**row_to_dict(r), **stamp} for r in item_rows])
                with lock:
                    fresh[item.problem.id or ""] = item_rows
                    bar.advance(f"{len(missing)} not recorded" if missing else "")
                    if recording:
                        greedy = next((r for r in item_rows if r.strategy == "greedy"), item_rows[0])
                        so_far = time.perf_counter() - started
                        log(f"[{len(fresh) + len(missing)}/{len(todo)}] {item.problem.id}: gold {item.label}, "
                            f"{greedy.strategy} {greedy.answer}, {so_far:.0f} s so far")  # fmt: skip

            items_started = time.perf_counter()
            for_each(len(todo), work, max(1, executor.max_in_flight))
            items_s = time.perf_counter() - items_started
    rows = [r for item in chosen for r in done.get(item.problem.id or "", fresh.get(item.problem.id or "", []))]
    # The file in item order, so that a run with several items in flight writes the same file as one without.
    _write_lines(rows_path, [{**row_to_dict(r), **stamp} for r in rows])
    recorded = len(chosen) - len(missing)
    table = summarise(rows, bench.datasets, list(chosen_strategies))
    overhead_ms, target_ms = loop_times_ms(rows)
    text = render(table, recorded, len(chosen), overhead_ms, target_ms)
    if rows:
        pairs = bench.pairs if bench.pairs is not None else PAIRS
        paired = paired_report(rows, pairs)
        repaired = variant_of(rows, "vote-5+repair")
        sections = [attempt_report(rows, repaired)] if repaired is not None else []
        sections += [paired] if "\n" in paired else []  # a heading over no pair says nothing
        text += "".join("\n\n" + section for section in sections)
    if bench.extra_report is not None and rows:
        text += "\n\n" + bench.extra_report(rows, chosen)
    files = {"rows": rows_path, "markdown": out_dir / f"{bench.name}.md"}
    files["markdown"].write_text(text + "\n", encoding="utf-8")
    if rows and write_plot:
        files["plot"] = out_dir / f"{bench.name}.png"
        plot(rows, table, bench.datasets, bench.title, files["plot"])
    if write_html:
        files["html"] = out_dir / f"{bench.name}.html"
        page = html_report(title=bench.title, description=bench.description, rows=rows, table=table,
                           datasets=bench.datasets, markdown=text, run=run, plots=write_plot)  # fmt: skip
        files["html"].write_text(page, encoding="utf-8")
    log(text)
    scope = " (all)" if len(bench.datasets) > 1 else ""
    voted = variant_of(rows, "vote-5")
    if voted is not None:  # the curve is vote-5's samples: without them it says nothing
        curve = ", ".join(f"k={k} {100 * vote_at_k(rows, k, voted):.1f}%" for k in range(1, 6))
        log(f"vote of first k{scope}{'' if voted == 'vote-5' else f' ({voted})'}: {curve}")
    elapsed = time.perf_counter() - started
    log(f"{elapsed:.1f} s")
    return BenchResult(bench, rows, len(chosen), len(missing), len(done), table, text, run, files, elapsed, items_s)


def median_ms(values: Sequence[float]) -> float:
    """The median of ``values`` in milliseconds (0 for none).

    Example:
        >>> median_ms([0.001, 0.003, 0.002])
        2.0

    """
    return 1000 * statistics.median(values) if values else 0.0


def check_executor_options(jobs: int | None, workers: int | None) -> tuple[int, int | None]:
    """The local executor's ``(max_in_flight, workers)`` from ``--jobs`` and ``--workers``.

    One item at a time with the checks in this thread unless asked otherwise; several items in
    flight need the checks in worker processes.

    Example:
        >>> check_executor_options(None, None), check_executor_options(4, None), check_executor_options(None, 2)
        ((1, 0), (4, None), (2, 2))

    """
    if jobs is not None and jobs < 1:
        raise ConfigurationError(f"--jobs must be at least 1, got {jobs}")
    if jobs is None and workers is None:
        return 1, 0
    if jobs is None:
        return max(1, workers or 1), workers
    return jobs, (workers if workers is not None else (0 if jobs == 1 else None))
