"""Long fuzzing of the parsers and the sandbox's result channel: counts of crashes, hangs and memory blow-ups.

The property tests in tests/ (hypothesis, a few hundred examples each) run in CI; this runs the
same kinds of input for longer and prints counts. Each corpus is fuzzed in a child process of its
own, under an address-space limit, so that a blow-up or a segfault is counted instead of taking
the benchmark down. Inputs are generated from a seeded :class:`random.Random`, so a run is the
same on every machine:

- ``fol``: the few-shot FOL translations of the fol target (text a model writes), mutated
  (deletions, insertions of grammar tokens, duplications, reversals), token soups, deep nesting
  and arbitrary Unicode, through :func:`neurosym.fol.parse_formula`. A ParseError is the expected
  refusal; any other exception is a crash.
- ``milp``: the few-shot models of the milp target, mutated the same way, through
  :func:`neurosym.milp.parser.parse_model`.
- ``channel``: random bytes, JSON documents of random shapes and mutated valid responses, through
  the sandbox host's reader (``_protocol.loads`` then ``_execution``, which must never raise).

An input *hangs* when it takes longer than :data:`HANG_S` (a watchdog stops it at
:data:`WATCHDOG_S`), and inputs slower than :data:`SLOW_S` are counted apart, the slowest shown;
it *blows up* when it raises MemoryError under the child's
:data:`MEMORY_LIMIT_BYTES` limit or the child's peak RSS passes it.

Run (about a minute per 10,000 inputs per corpus; writes benchmarks/results/fuzz.json)::

    .venv/bin/python -m benchmarks.fuzz --inputs 20000
    .venv/bin/python -m benchmarks.fuzz --corpora milp --inputs 1000 --seed 3

"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import resource
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HANG_S = 10.0
"""An input that takes longer than this to read counts as a hang (the longest accepted inputs take seconds)."""
SLOW_S = 1.0
"""Inputs slower than this are counted apart (pure-Python lexing is about 50 µs a token)."""
WATCHDOG_S = 20
MEMORY_LIMIT_BYTES = 2 << 30
CORPORA = ("fol", "milp", "channel")

FOL_TOKENS = [
    "∀", "∃", "¬", "∧", "∨", "→", "↔", "⊕", "forall", "exists", "not", "and", "or", "->", "<->", "&", "|",
    "~", "=", "≠", ".", ",", "(", ")", "[", "]", "x", "y", "P", "a", "f", "\n", " ", "0", "'", "",
]  # fmt: skip
MILP_TOKENS = [
    "integer", "continuous", "binary", "free", "in", "[", "]", ",", "maximize", "minimize", "subject to",
    ":", ";", "\n", "<=", ">=", "==", "=", "<", ">", "+", "-", "*", "/", "^", "(", ")", "%", "or", "if",
    "then", "not", "at most", "exactly", "of", "inf", "x", "b", "0", "2.5", "1e400", "9" * 20, "#", " ",
]  # fmt: skip


def fol_seeds() -> list[str]:
    """The fol target's few-shot formulas (premises and conclusions), the text a model imitates.

    Example:
        >>> any("∀" in text for text in fol_seeds())
        True

    """
    from neurosym.targets.fol.translator import fewshot_examples

    seeds: list[str] = []
    for example in fewshot_examples():
        seeds.extend([*example["premises_fol"], example["conclusion_fol"]])
    return seeds


def milp_seeds() -> list[str]:
    """The milp target's few-shot models.

    Example:
        >>> all("imize" in model for model in milp_seeds())
        True

    """
    from neurosym.targets.milp.translator import milp_fewshot_examples

    return [example["model"] for example in milp_fewshot_examples()]


def mutate(rng: random.Random, text: str, tokens: Sequence[str]) -> str:
    """``text`` after one to four random edits: deletions, token insertions, duplications, reversals.

    Example:
        >>> mutate(random.Random(0), "P(a) ∧ Q(b)", ["∀"]) != "P(a) ∧ Q(b)"
        True

    """
    for _ in range(rng.randint(1, 4)):
        i = rng.randint(0, len(text))
        j = rng.randint(i, min(len(text), i + 6))
        edit = rng.choice(("delete", "insert", "duplicate", "reverse", "replace"))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "insert":
            text = text[:i] + rng.choice(tokens) + text[i:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] * rng.randint(1, 200) + text[j:]
        elif edit == "reverse":
            text = text[:i] + text[i:j][::-1] + text[j:]
        else:
            text = text[:i] + "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 3))) + text[j:]
    return text


def text_input(rng: random.Random, seeds: Sequence[str], tokens: Sequence[str]) -> str:
    """One fuzz input for a parser: a mutated seed (most often), a token soup, deep nesting or random Unicode.

    Example:
        >>> isinstance(text_input(random.Random(1), ["P(a)"], ["∧"]), str)
        True

    """
    kind = rng.random()
    if kind < 0.6:
        return mutate(rng, rng.choice(seeds), tokens)
    if kind < 0.8:
        return rng.choice(("", " ")).join(rng.choice(tokens) for _ in range(rng.randint(0, 400)))
    if kind < 0.9:
        depth = rng.choice((10, 100, 1000, 5000, 20_000))
        opener = rng.choice(("(", "[", "¬", "∀x ", "f(", "-", "not "))
        return opener * depth + rng.choice(seeds)[:40] + rng.choice((")", "]", "")) * rng.randint(0, depth)
    return "".join(chr(rng.randint(0, 0x10FFFF) % 0xD800) for _ in range(rng.randint(0, 3000)))


def channel_input(rng: random.Random) -> bytes:
    """One fuzz input for the sandbox's result channel: random bytes, random JSON, or a mutated valid response.

    Example:
        >>> isinstance(channel_input(random.Random(2)), bytes)
        True

    """
    kind = rng.random()
    if kind < 0.2:
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 300)))
    if kind < 0.5:
        return json.dumps(_random_json(rng, depth=0)).encode()
    valid: dict[str, Any] = {
        "status": rng.choice(("ok", "error", "timeout", "memory", "crashed", "bogus")),
        "value": {"type": rng.choice(("int", "float", "str", "sympy", "list")), "text": "42", "digits": "42"},
        "stdout": "x\n",
        "stderr": "",
        "wall_s": 0.5,
        "cpu_s": 0.25,
        "details": {"phase": "run", "swept": 0},
    }
    for _ in range(rng.randint(1, 4)):
        key = rng.choice([*valid, "exception", "message", "traceback", "stdout_truncated", "unknown"])
        valid[key] = _random_json(rng, depth=1)
    text = json.dumps(valid)
    if rng.random() < 0.3:  # a torn or spliced document
        i = rng.randint(0, len(text))
        text = text[:i] + rng.choice(("", "NaN", "1e999", "-Infinity", '"', "}", "9" * 5000)) + text[i:]
    return text.encode()


def _random_json(rng: random.Random, depth: int) -> Any:
    choice = rng.random() if depth < 6 else rng.random() * 0.6
    if choice < 0.15:
        return rng.choice((None, True, False))
    if choice < 0.3:
        return rng.choice((0, -1, 2**70, 10**400 // 10**399, rng.randint(-(10**6), 10**6)))
    if choice < 0.4:
        return rng.choice((0.5, -0.0, 1e308, 5e-324, rng.random()))
    if choice < 0.6:
        return "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, rng.choice((5, 50, 5000)))))
    if choice < 0.8:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    keys = ("type", "text", "float", "digits", "items", "srepr", "status", "phase", "x")
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _reader(corpus: str) -> tuple[Callable[[random.Random], Any], Callable[[Any], None]]:
    """The input generator and the reader under test for ``corpus``; the reader raises only on a crash."""
    from neurosym.errors import ParseError

    if corpus == "fol":
        from neurosym.fol import parse_formula

        seeds = fol_seeds()

        def read_fol(text: str) -> None:
            try:
                parse_formula(text)
            except ParseError:
                pass

        return (lambda rng: text_input(rng, seeds, FOL_TOKENS)), read_fol
    if corpus == "milp":
        from neurosym.milp.parser import parse_model

        models = milp_seeds()

        def read_milp(text: str) -> None:
            try:
                parse_model(text)
            except ParseError:
                pass

        return (lambda rng: text_input(rng, models, MILP_TOKENS)), read_milp
    from neurosym.provers.sandbox import _execution
    from neurosym.provers.sandbox import _protocol as protocol

    def read_channel(data: bytes) -> None:
        try:
            document = protocol.loads(data)
        except protocol.Malformed:
            return
        _execution(document)  # documented never to raise

    return channel_input, read_channel


class _Hang(Exception):
    pass


def _fuzz_child(corpus: str, inputs: int, seed: int, queue: Any) -> None:
    """Fuzz one corpus in this (child) process and put its counts on ``queue``."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    sys.setrecursionlimit(10_000)
    generate, read = _reader(corpus)
    rng = random.Random(f"{corpus}-{seed}")

    def expired(signum: int, frame: object) -> None:
        raise _Hang

    signal.signal(signal.SIGALRM, expired)
    crashes: list[dict[str, str]] = []
    hangs = blowups = slow = 0
    times: list[float] = []
    slowest: tuple[float, Any] = (0.0, "")
    for _ in range(inputs):
        data = generate(rng)
        start = time.perf_counter()
        signal.alarm(WATCHDOG_S)
        try:
            read(data)
        except _Hang:
            hangs += 1
        except MemoryError:
            blowups += 1
        except Exception as err:  # anything else escaping a reader is a crash: keep an example
            crashes.append({"error": f"{type(err).__name__}: {err}"[:300], "input": repr(data)[:300]})
        finally:
            signal.alarm(0)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        slowest = max(slowest, (elapsed, data), key=lambda pair: pair[0])
        if elapsed > HANG_S:
            hangs += 1
        slow += elapsed > SLOW_S
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put(
        {
            "corpus": corpus,
            "inputs": inputs,
            "crashes": len(crashes),
            "crash_examples": crashes[:5],
            "hangs": hangs,
            "slow": slow,
            "memory_blowups": blowups + (peak_rss > MEMORY_LIMIT_BYTES),
            "peak_rss_mib": round(peak_rss / 2**20, 1),
            "median_ms": round(statistics.median(times) * 1000, 3),
            "max_ms": round(max(times) * 1000, 1),
            "slowest_input": {"chars": len(slowest[1]), "start": repr(slowest[1][:60])},
        }
    )


def fuzz_corpus(corpus: str, inputs: int, seed: int = 0) -> dict[str, Any]:
    """Fuzz ``corpus`` with ``inputs`` generated inputs in a child process; the counts as a dict.

    A child that dies (a segfault, the kernel's OOM killer) is reported as one crash.

    Example:
        >>> row = fuzz_corpus("channel", 20)
        >>> (row["inputs"], row["crashes"], row["hangs"])
        (20, 0, 0)

    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_fuzz_child, args=(corpus, inputs, seed, queue))
    started = time.perf_counter()
    child.start()
    try:
        row: dict[str, Any] = queue.get(timeout=WATCHDOG_S * inputs + 60)
    except Exception:  # the child died before reporting: that is the crash to count
        row = {"corpus": corpus, "inputs": inputs, "crashes": 1, "hangs": 0, "memory_blowups": 0}
        row["crash_examples"] = [{"error": f"the child exited with {child.exitcode}", "input": ""}]
    child.join(timeout=10)
    row["wall_s"] = round(time.perf_counter() - started, 1)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    """Fuzz the chosen corpora, print a table, write benchmarks/results/fuzz.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(CORPORA))
    parser.add_argument("--inputs", type=int, default=20_000, help="inputs per corpus (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz.json")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = [fuzz_corpus(corpus, args.inputs, args.seed) for corpus in args.corpora]
    load_after = os.getloadavg()[0]
    table = Table(
        "corpus", "inputs", "crashes", "hangs", f"> {SLOW_S:g} s", "blow-ups", "peak MiB", "median ms", "max ms"
    )
    cells = ("inputs", "crashes", "hangs", "slow", "memory_blowups", "peak_rss_mib", "median_ms", "max_ms")
    for row in rows:
        table.add_row(row["corpus"], *(str(row.get(name, "-")) for name in cells))
    console = Console(width=None if sys.stdout.isatty() else 120)  # a log file gets the full table
    console.print(table)
    for row in rows:
        for example in row.get("crash_examples", []):
            console.print(f"crash in {row['corpus']}: {example['error']} on {example['input'][:120]}", markup=False)
    document = {
        "command": "python -m benchmarks.fuzz " + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": args.seed,
        "hang_s": HANG_S,
        "slow_s": SLOW_S,
        "memory_limit_bytes": MEMORY_LIMIT_BYTES,
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "cores": os.cpu_count(),
        "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if any(row["crashes"] or row["hangs"] or row["memory_blowups"] for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
