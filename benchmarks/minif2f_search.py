"""miniF2F-rocq, the embedded model in a tactic search: the 40 theorems and the token budget of minif2f_whole.

Best-first search over model-proposed tactics with Coq's goals as the state
(:func:`neurosym.targets.proof.tactic_search`): 4 candidate tactics per expansion (temperature 0.7,
at most 96 tokens each), at most 4096 completion tokens per theorem (the whole-proof runs' budget),
64 expansions and 512 kernel calls. A proof counts when the whole script, closed by ``Qed.``, is
verified like any other (statement as given, assumptions within the allow-list).

Replay (default, from benchmarks/cassettes/minif2f_search.jsonl):
    .venv/bin/python -m benchmarks.minif2f_search
Record (llama.cpp on the CPU; resumes from the cassette):
    .venv/bin/python -m benchmarks.minif2f_search --record [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence

from benchmarks.minif2f_data import (
    CASSETTES,
    PORTFOLIO_RESULTS,
    TOKENS_PER_THEOREM,
    data_problem,
    latency_ms,
    model_backend,
    unclosed_sample,
    write_results,
)
from neurosym.provers.coq import coq_version, kernel_problem
from neurosym.settings import SamplingSettings
from neurosym.targets.proof import SearchBudget, tactic_search
from neurosym.translators.base import LLMBackend
from neurosym.translators.store import CassetteMiss

CASSETTE = CASSETTES / "minif2f_search.jsonl"
BUDGET = SearchBudget(kernel_calls=512, completion_tokens=TOKENS_PER_THEOREM, expansions=64, candidates=4,
                      tactic_tokens=96)  # fmt: skip


def main(argv: Sequence[str] | None = None, *, backend: LLMBackend | None = None) -> int:
    """Replay (default) or record the search; write benchmarks/results/minif2f_search.{json,md}.

    ``backend`` replaces the cassette's model (tests pass a scripted one).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--record", action="store_true", help="ask the live model for what the cassette lacks")
    parser.add_argument("--llm", help="backend for --record (default embedded), or a backend to run live")
    parser.add_argument("--limit", type=int, help="only the first N of the 40 theorems")
    args = parser.parse_args(argv)
    missing = data_problem() or kernel_problem() or (None if PORTFOLIO_RESULTS.exists() else
                                                     "run benchmarks.minif2f_portfolio first")  # fmt: skip
    if backend is None:
        backend = model_backend(CASSETTE, record=args.record, llm=args.llm)
        if backend is None and not missing:
            missing = f"no cassette at {CASSETTE} yet: record it with --record"
    if missing or backend is None:
        print(f"skipped: {missing}")
        return 0
    rows, unrecorded, started = [], [], time.perf_counter()
    for theorem in unclosed_sample()[: args.limit]:
        try:  # a replay that misses a sample (a theorem not recorded, or only in part) leaves the theorem out
            result = tactic_search(theorem.problem(), backend, budget=BUDGET, settings=SamplingSettings(seed=0),
                                   timeout_s=10.0)  # fmt: skip
        except CassetteMiss:
            unrecorded.append(theorem.name)
            continue
        rows.append({"name": theorem.name, **result.to_dict()})
        print(f"{theorem.name}: {'proved' if result.proved else result.stop_reason} ({result.expansions} expansions, "
              f"{result.kernel_calls} kernel calls, {result.completion_tokens} tokens)", flush=True)  # fmt: skip
    proved = sum(r["proved"] for r in rows)
    steps = [r["kernel_s"] / max(1, r["kernel_calls"]) for r in rows]
    summary = {"theorems": len(rows), "not_recorded": len(unrecorded), "proved": proved,
               "stop_reasons": dict(Counter(r["stop_reason"] for r in rows)),
               "kernel_calls": sum(r["kernel_calls"] for r in rows),
               "completion_tokens": sum(r["completion_tokens"] for r in rows),
               "kernel_call_ms": latency_ms(steps), "wall_s": round(time.perf_counter() - started, 1),
               "budget": {"completion_tokens": BUDGET.completion_tokens, "expansions": BUDGET.expansions,
                          "kernel_calls": BUDGET.kernel_calls, "candidates": BUDGET.candidates},
               "model": getattr(backend, "model", "?"), "coq": coq_version()}  # fmt: skip
    lines = ["# miniF2F-rocq test: tactic search with the embedded model", "",
             "The 40 theorems of minif2f_whole (portfolio-unclosed, seed 0), the same 4096 completion tokens per "
             "theorem; best-first over 4 proposed tactics per expansion, Coq's goals as the state. Command: "
             "`.venv/bin/python -m benchmarks.minif2f_search` (replays benchmarks/cassettes/minif2f_search.jsonl).",
             "", f"Recorded: {len(rows)} of 40 theorems ({len(unrecorded)} not recorded yet).", "",
             "| theorems | proved | kernel calls | completion tokens | mean kernel call ms (p50 / p95 per theorem) |",
             "|---|---|---|---|---|",
             f"| {len(rows)} | {proved} | {summary['kernel_calls']} | {summary['completion_tokens']} | "
             f"{summary['kernel_call_ms']['p50']} / {summary['kernel_call_ms']['p95']} |", "",
             "How searches ended: "
             + ", ".join(f"{k} {v}" for k, v in summary["stop_reasons"].items()) + "."]  # fmt: skip
    write_results("minif2f_search", {"summary": summary, "rows": rows, "not_recorded": unrecorded},
                  "\n".join(lines) + "\n")  # fmt: skip
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
