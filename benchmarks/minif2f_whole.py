"""miniF2F-rocq, the embedded model writing whole proofs: pass@1 and pass@4 with one repair each, on 40 test theorems.

The 40 theorems are drawn with seed 0 among the test theorems the portfolio does not close
(benchmarks/results/minif2f_portfolio.json), so that the model gets no credit for what the
portfolio proves alone. Per theorem: up to 4 samples (temperature 0.7, one at a time), each
repaired once from the kernel's message (line, column, goals), stopping at the first verified
proof; at most 512 tokens per answer (4096 completion tokens per theorem, the budget the tactic
search gets too: benchmarks.minif2f_search). pass@1: the first sample (or its repair) verified;
pass@4: any of the four. The prompt shows 4 miniF2F-rocq *valid* theorems with proofs written for
neurosym (neurosym/targets/proof/fewshot.json).

Replay (default: from benchmarks/cassettes/minif2f_whole.jsonl; theorems not recorded yet are
counted and left out):
    .venv/bin/python -m benchmarks.minif2f_whole
Record (llama.cpp on the CPU; resumes from the cassette after a kill, one sample per model call;
hours for all 40, see benchmarks/results/minif2f_recording_plan.md):
    .venv/bin/python -m benchmarks.minif2f_whole --record [--limit N] [--samples 1]

``--samples 1`` draws only sample 0 and its repair (pass@1): the same cassette records, which a
later full run reuses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from benchmarks.minif2f_data import (
    CASSETTES,
    PORTFOLIO_RESULTS,
    Theorem,
    data_problem,
    model_backend,
    unclosed_sample,
    write_results,
)
from neurosym.provers.coq import coq_version, kernel_problem
from neurosym.settings import SamplingSettings
from neurosym.targets.proof import WHOLE_PROOF, prove_problem
from neurosym.translators.base import LLMBackend
from neurosym.translators.store import CassetteMiss

CASSETTE = CASSETTES / "minif2f_whole.jsonl"
SETTINGS = SamplingSettings(temperature=WHOLE_PROOF.temperature, max_tokens=512, seed=0)
"""Every sample at the strategy's temperature, also with ``--samples 1`` (where the loop would sample greedily): so
sample 0 is the same request, settings and seed whatever ``--samples`` is, and one cassette serves both."""


def theorem_row(name: str, outcome: Any) -> dict[str, Any]:
    """One theorem's record: proved, by which sample, every attempt's outcome and cost."""
    loop = outcome.loop
    attempts = []
    for a in loop.attempts:
        where = a.verdict.details.get("where") if a.verdict is not None else "parse"
        attempts.append({"sample": a.sample, "repair": a.repair, "status": a.status, "where": where,
                         "completion_tokens": a.completion_tokens, "latency_s": round(a.latency_s, 2)})  # fmt: skip
    winner = loop.winner.sample if loop.winner is not None else None
    return {"name": name, "proved": outcome.proved, "winner_sample": winner, "error": loop.error,
            "attempts": attempts, "completion_tokens": loop.cost.completion_tokens,
            "prompt_tokens": loop.cost.prompt_tokens, "model_s": round(loop.cost.model_s, 2),
            "prover_s": round(loop.cost.prover_s, 2), "script": outcome.script}  # fmt: skip


def run_theorems(
    theorems: Sequence[Theorem], backend: LLMBackend, *, samples: int = 4
) -> tuple[list[dict[str, Any]], list[str]]:
    """Whole proofs for each theorem from ``backend``: the rows, and the theorems its cassette has not recorded yet.

    A replay that misses a sample (:class:`CassetteMiss`, a theorem recorded only in part) is run
    again with sample 0 alone: where that is recorded, the row counts for pass@1 and is marked
    ``partial`` (its pass@``samples`` is not known yet); otherwise the theorem is left out and
    named. Nothing else about the model's answers ends the run.
    """
    strategy = replace(WHOLE_PROOF, samples=samples, timeout_s=60.0)
    rows: list[dict[str, Any]] = []
    unrecorded: list[str] = []
    for theorem in theorems:
        partial = False
        try:
            outcome = prove_problem(theorem.problem(), backend, portfolio=False, strategy=strategy, settings=SETTINGS)
        except CassetteMiss:
            try:
                if samples == 1:
                    raise
                first = replace(strategy, samples=1)
                outcome = prove_problem(theorem.problem(), backend, portfolio=False, strategy=first, settings=SETTINGS)
                partial = True
            except CassetteMiss:
                unrecorded.append(theorem.name)
                continue
        row = {**theorem_row(theorem.name, outcome), "partial": partial}
        rows.append(row)
        print(f"{theorem.name}: {'proved by sample ' + str(row['winner_sample']) if row['proved'] else 'not proved'}"
              f" ({len(row['attempts'])} attempts, {row['completion_tokens']} tokens, {row['model_s']:.0f} s model)",
              flush=True)  # fmt: skip
    return rows, unrecorded


def main(argv: Sequence[str] | None = None, *, backend: LLMBackend | None = None) -> int:
    """Replay (default) or record the benchmark; write benchmarks/results/minif2f_whole.{json,md}.

    ``backend`` replaces the cassette's model (tests pass a scripted one).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--record", action="store_true", help="ask the live model for what the cassette lacks")
    parser.add_argument("--llm", help="backend for --record (default embedded), or a backend to run live")
    parser.add_argument("--limit", type=int, help="only the first N of the 40 theorems")
    parser.add_argument("--samples", type=int, default=4, choices=range(1, 5), help="samples per theorem (default 4)")
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
    started = time.perf_counter()
    rows, unrecorded = run_theorems(unclosed_sample()[: args.limit], backend, samples=args.samples)
    n = len(rows)
    complete = [r for r in rows if not r["partial"]]
    pass1 = sum(r["proved"] and r["winner_sample"] == 0 for r in rows)
    pass_k = sum(r["proved"] for r in complete)
    k = args.samples
    attempts = [a for r in rows for a in r["attempts"]]
    per_sample = [a["latency_s"] for a in attempts if a["latency_s"]]
    mean_tokens = round(statistics.mean(r["completion_tokens"] for r in rows), 1) if rows else None
    summary = {"theorems": n, "not_recorded": len(unrecorded), "samples": k, "pass@1": pass1, f"pass@{k}": pass_k,
               f"theorems_pass@{k}": len(complete),
               "attempts": len(attempts), "completion_tokens_mean": mean_tokens,
               "completion_tokens": sum(r["completion_tokens"] for r in rows),
               "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
               "model_s": round(sum(a["latency_s"] for a in attempts), 1),  # as recorded: a replay takes none
               "prover_s": round(sum(r["prover_s"] for r in rows), 1),
               "seconds_per_answer_median": round(statistics.median(per_sample), 1) if per_sample else None,
               "failure_kinds": _kinds(attempts), "wall_s": round(time.perf_counter() - started, 1),
               "model": getattr(backend, "model", "?"), "coq": coq_version()}  # fmt: skip
    passes = "pass@1" if k == 1 else f"pass@1, pass@{k}"
    lines = [f"# miniF2F-rocq test: whole proofs from the embedded model ({passes} with repair)", "",
             f"40 test theorems the portfolio does not close (seed 0); {k} sample(s) of at most 512 tokens, each "
             "repaired once from Coq's message; verified = whole file accepted, statement as given, assumptions "
             "within the allow-list. Command: `.venv/bin/python -m benchmarks.minif2f_whole` (replays "
             "benchmarks/cassettes/minif2f_whole.jsonl).", "",
             f"Recorded: {n} of the {n + len(unrecorded)} theorems run ({len(unrecorded)} not recorded yet; 40 in "
             "all)" + (f"; all {k} samples of {len(complete)} of them (pass@{k} is over those)" if k > 1 else "")
             + ".", "",
             f"| theorems | {passes.replace(', ', ' | ')} | attempts | completion tokens / theorem "
             "| s / answer (median) |",
             "|---|---|" + ("---|" if k > 1 else "") + "---|---|---|",
             f"| {n} | {pass1} of {n} | " + (f"{pass_k} of {len(complete)} | " if k > 1 else "") + f"{len(attempts)} | "
             f"{summary['completion_tokens_mean']} | {summary['seconds_per_answer_median']} |", "",
             f"Cost: {summary['model_s']} s of model time for {summary['completion_tokens']} completion and "
             f"{summary['prompt_tokens']} prompt tokens, {summary['prover_s']} s of kernel time.", "",
             "Why attempts failed: " + ", ".join(f"{k} {v}" for k, v in summary["failure_kinds"].items()) + ".", "",
             "Anchors (Lean miniF2F-test, other models and budgets; not comparable to Rocq statements): "
             "DeepSeek-Prover-V1.5-RL 60.2%, Kimina-Prover-RL-0.6B 71.3% at pass@32, Goedel-Prover-V2-8B 84.6% at "
             "pass@32; Rango (1.3B) proves 32% of CoqStoq."]  # fmt: skip
    write_results("minif2f_whole", {"summary": summary, "rows": rows, "not_recorded": unrecorded},
                  "\n".join(lines) + "\n")  # fmt: skip
    print("\n".join(lines))
    return 0


def _kinds(attempts: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in attempts:
        if a["status"] != "proved":
            counts[a["where"] or a["status"]] = counts.get(a["where"] or a["status"], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    sys.exit(main())
