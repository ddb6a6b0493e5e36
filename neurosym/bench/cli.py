"""The command line of the benchmarks: ``neurosym bench NAME ...`` and ``python -m benchmarks.NAME ...``.

Both read the same options (:func:`add_arguments`) and run :func:`neurosym.bench.runner.run_bench`:

* without ``--llm`` the benchmark's cassette is replayed (``--cassette``, default the checkout's);
* ``--llm SPEC`` runs a live model (``openai:MODEL --base-url URL1,URL2`` spreads the requests
  over several servers of that model); with ``--record`` the samples the cassette lacks are
  asked of it and appended to the cassette (default ``--llm embedded``);
* ``--items 0:10`` and ``--strategies greedy,vote-5`` pick a part; ``--cache FILE`` keeps model
  samples and verdicts, and ``--resume`` keeps the rows a killed run wrote;
* ``--jobs N --workers M`` work on N items at once with the checks in M processes here;
  ``--ray [ADDRESS]`` sends the checks to a Ray cluster (``--workers`` then sizes a local one).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="neurosym bench")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["nl4opt_loop", "--items", "0:4", "--strategies", "greedy", "--ray"])
    >>> args.name, args.items, args.strategies, args.ray
    ('nl4opt_loop', '0:4', 'greedy', '')

"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from neurosym.errors import InputError

if TYPE_CHECKING:
    from neurosym.bench.registry import Benchmark

__all__ = ["add_arguments", "list_benchmarks", "main", "run_args"]


def _whole(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser, *, name: str | None = None) -> None:
    """The benchmark options on ``parser``; with ``name`` the benchmark is fixed (no NAME argument, no ``--list``)."""
    if name is None:
        parser.add_argument("name", nargs="?", metavar="NAME", help="the benchmark (see --list)")
        parser.add_argument("--list", action="store_true", help="list the benchmarks, their data and cassettes")
    parser.add_argument("--items", metavar="SPEC", help="items to run: slices, indices or ids, e.g. 0:10 or 3,7")
    parser.add_argument("--limit", type=_whole(1), help="only the first N items (the same as --items :N)")
    parser.add_argument("--strategies", metavar="LIST", help="comma-separated strategies (default: all of the table)")
    parser.add_argument(
        "--llm",
        metavar="SPEC",
        help="a live model instead of the cassette: embedded, embedded:small, openai:MODEL, vllm:MODEL, ... "
        "(with --record: the model to record with, default embedded)",
    )
    parser.add_argument(
        "--base-url", metavar="URLS", help="server URL for --llm openai; several, comma-separated, spread the load"
    )
    parser.add_argument(
        "--structured-output",
        choices=("auto", "vllm", "vllm-legacy", "llamacpp", "openai", "none"),
        help="how --llm openai sends grammar constraints (see neurosym solve --help)",
    )
    parser.add_argument("--llm-timeout", type=float, metavar="SECONDS", help="seconds per request to --llm openai")
    parser.add_argument("--record", action="store_true", help="ask the model for what the cassette lacks, append it")
    parser.add_argument("--cassette", type=Path, help="the cassette (default: the checkout's benchmarks/cassettes/)")
    parser.add_argument("--out", type=Path, help="folder for NAME.{jsonl,md,html,png} (default: benchmarks/results)")
    parser.add_argument(
        "--data-dir", type=Path, help="the data folder (default: $NEUROSYM_DATA, else the checkout's ../shared/data)"
    )
    parser.add_argument("--cache", type=Path, metavar="FILE", help="SQLite cache of model samples and verdicts")
    parser.add_argument("--resume", action="store_true", help="keep the rows a killed run of the same settings wrote")
    parser.add_argument("--no-plot", action="store_true", help="write no plot")
    parser.add_argument("--no-html", action="store_true", help="write no HTML report")
    parser.add_argument("--jobs", type=_whole(1), help="items worked on at once (default 1; with --ray 2 per CPU)")
    parser.add_argument(
        "--workers", type=_whole(1), help="prover processes here, or the CPUs of a Ray cluster started here"
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run the checks on a Ray cluster: no address starts one here (or joins $RAY_ADDRESS); "
        "auto, HOST:6379 or ray://HOST:10001 join one",
    )


def list_benchmarks(out: TextIO) -> int:
    """Write every benchmark, what it reads and whether its data and cassette are here."""
    from neurosym.bench.data import DATA_ENV, dataset, default_data_dir
    from neurosym.bench.registry import benchmark_names, get_benchmark
    from neurosym.bench.runner import default_cassette

    root = default_data_dir()
    out.write(f"data folder: {root if root is not None else f'none (set {DATA_ENV} or pass --data-dir)'}\n\n")
    for name in benchmark_names():
        bench = get_benchmark(name)
        data = []
        for entry in bench.data:
            found = root is not None and dataset(entry).locate(root).exists()
            data.append(f"{entry} ({'found' if found else 'missing'})")
        try:
            cassette = default_cassette(bench)
            where = f"{cassette} ({'found' if cassette.is_file() else 'missing'})"
        except InputError:
            where = "none here (pass --cassette or --llm)"
        out.write(f"{name}\n  {bench.description}\n  data: {', '.join(data)}\n")
        out.write(f"  strategies: {', '.join(bench.strategies)}\n  cassette: {where}\n")
    return 0


def _backend(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The live backend the options ask for (``None``: replay), and how it was asked for."""
    spec = args.llm or ("embedded" if args.record else None)
    if spec is None:
        for flag in ("base_url", "structured_output", "llm_timeout"):
            if getattr(args, flag) is not None:
                raise InputError(f"--{flag.replace('_', '-')} is an option of --llm openai; no --llm was given")
        return None, {}
    kind, _, argument = spec.partition(":")
    kind = kind.strip().lower()
    options: dict[str, Any] = {}
    for flag, key in (("base_url", "base_url"), ("structured_output", "structured_output"), ("llm_timeout", "timeout")):
        value = getattr(args, flag)
        if value is None:
            continue
        if kind != "openai":
            raise InputError(f"--{flag.replace('_', '-')} is an option of --llm openai, not of --llm {kind}")
        options[key] = value
    info: dict[str, Any] = {"spec": spec}
    if kind == "replay":
        if args.record:
            raise InputError("--record needs a live model, not --llm replay:...")
        from neurosym.translators.backends.replay import ReplayBackend

        return ReplayBackend(argument), {"spec": spec, "replayed_from": argument}
    if kind == "openai" and options.get("base_url"):
        from neurosym.translators.backends.replicas import ReplicaBackend, split_urls

        urls = split_urls(options.pop("base_url"))
        info["base_urls"] = urls
        if len(urls) > 1:
            return ReplicaBackend.from_urls(urls, argument or None, **options), info
        options["base_url"] = urls[0]
    from neurosym.translators.backends import get_backend

    return get_backend(spec, **options), info


def _executor(args: argparse.Namespace) -> Any:
    from neurosym.bench.runner import check_executor_options

    if args.ray is not None:
        from neurosym.bench.ray_executor import RayExecutor

        return RayExecutor(args.ray or None, max_in_flight=args.jobs, num_cpus=args.workers)
    from neurosym.loop.batch import LocalExecutor

    jobs, workers = check_executor_options(args.jobs, args.workers)
    return LocalExecutor(jobs, workers=workers)


def run_args(args: argparse.Namespace, out: TextIO, err: TextIO, *, bench: Benchmark | str | None = None) -> int:
    """Run the benchmark the parsed options name (``bench`` when fixed); the exit code."""
    if bench is None:
        if getattr(args, "list", False):
            return list_benchmarks(out)
        if not args.name:
            raise InputError("name a benchmark (neurosym bench --list shows them)")
        bench = args.name
    from neurosym.bench.registry import get_benchmark
    from neurosym.bench.runner import run_bench

    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    if args.limit is not None and args.items is not None:
        raise InputError("--limit and --items both choose items; pass one")
    items = f":{args.limit}" if args.limit is not None else args.items
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    bench.select_strategies(strategies)  # refuse an unknown strategy before a model loads
    if args.resume and args.cache is None:
        err.write("note: --resume without --cache runs the unfinished items' model calls again\n")
    executor = _executor(args)
    backend, info = _backend(args)
    recording = False

    def write(line: str) -> None:
        out.write(line + "\n")  # one write per line: the old entry points log whole lines

    try:
        if backend is not None and args.record:
            from neurosym.bench.runner import default_cassette
            from neurosym.translators.backends.replay import RecordingBackend

            cassette = args.cassette or default_cassette(bench)
            backend = RecordingBackend(backend, cassette, resume=True, one_at_a_time=True)
            info["recorded_to"] = str(cassette)
            recording = True
        run_bench(
            bench,
            backend=backend,
            cassette=args.cassette,
            items=items,
            strategies=strategies,
            data_dir=args.data_dir,
            out=args.out,
            cache=args.cache,
            resume=args.resume,
            executor=executor,
            write_plot=not args.no_plot,
            write_html=not args.no_html,
            progress=err if err.isatty() else None,
            log=write,
            llm=info,
            recording=recording,
        )
    finally:
        closer = getattr(getattr(backend, "inner", backend), "close", None)
        if callable(closer):
            closer()
    return 0


def main(
    bench: Benchmark | str,
    argv: Sequence[str] | None = None,
    *,
    log: Callable[[str], None] = print,
    description: str | None = None,
    parents: Sequence[argparse.ArgumentParser] = (),
    rename: Callable[[argparse.Namespace], Benchmark | str] | None = None,
) -> int:
    """The entry point of ``python -m benchmarks.NAME``: the same options as ``neurosym bench NAME``.

    ``rename`` picks another registered benchmark from the parsed options (``--rename-clashes``).
    Errors are printed, not raised, with the exit codes of ``neurosym``.
    """
    import io
    import sys

    from neurosym.errors import NeurosymError

    parser = argparse.ArgumentParser(description=description, parents=list(parents))
    add_arguments(parser, name=bench if isinstance(bench, str) else bench.name)
    args = parser.parse_args(argv)

    class _Log(io.TextIOBase):
        def write(self, text: str) -> int:
            if text.endswith("\n"):
                log(text[:-1])
            elif text:
                log(text)
            return len(text)

    try:
        return run_args(args, cast(TextIO, _Log()), sys.stderr, bench=rename(args) if rename else bench)
    except NeurosymError as exc:
        from neurosym.cli import exit_code_for

        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return exit_code_for(exc)
