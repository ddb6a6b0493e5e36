"""Lean miniF2F (DeepSeek-Prover-V1.5's 244 test statements, Mathlib): Lean's portfolio, then a model, where Lean runs.

Needs a Lean REPL (``NEUROSYM_LEAN_REPL``, leanprover-community/repl built with ``lake build``) and
a Lake project with Mathlib (``NEUROSYM_LEAN_PROJECT``); elsewhere it says what is missing and
stops. Per theorem: Lean's portfolio (omega, decide, simp, norm_num, linarith, nlinarith,
positivity, aesop), then, with ``--llm``, whole proofs (4 samples, one repair each). Results:
benchmarks/results/minif2f_lean.{json,md}. Report them apart from the Rocq results: the
statements differ.

Run:
    export NEUROSYM_LEAN_REPL=... NEUROSYM_LEAN_PROJECT=...
    .venv/bin/python -m benchmarks.minif2f_lean [--llm SPEC] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence

from benchmarks.minif2f_data import DATA, latency_ms, write_results
from neurosym.provers.lean import LEAN_PORTFOLIO, LeanProver, lean_miniF2F_setup_problem, run_lean_portfolio
from neurosym.targets.proof import LeanProofTarget, proof_problem, prove_problem

LEAN_DATA = DATA.parent / "lean" / "deepseek_prover_v1.5_minif2f.jsonl"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--llm", help="a backend for whole proofs after the portfolio (default: the portfolio only)")
    parser.add_argument("--limit", type=int, help="only the first N test theorems")
    parser.add_argument("--tactic-timeout", type=float, default=20.0, help="seconds per portfolio tactic")
    args = parser.parse_args(argv)
    problem = lean_miniF2F_setup_problem()
    if problem is None and not LEAN_DATA.exists():
        problem = f"the Lean miniF2F data is not at {LEAN_DATA}"
    if problem is not None:
        print(f"skipped: {problem}")
        return 0
    backend = None
    if args.llm:
        from neurosym.translators.backends import get_backend

        backend = get_backend(args.llm)
    rows_in = [json.loads(line) for line in LEAN_DATA.open(encoding="utf-8")]
    tests = [r for r in rows_in if r["split"] == "test"][: args.limit]
    prover, rows, checks, started = LeanProver(), [], [], time.perf_counter()
    for row in tests:
        statement = row["formal_statement"].rstrip().removesuffix(":= by").rstrip()
        tried = run_lean_portfolio(prover, row["header"], statement, tactic_timeout_s=args.tactic_timeout,
                                   stop_at_first=False)  # fmt: skip
        checks += [t.seconds for t in tried.tries]
        by_model = False
        if not tried.closing and backend is not None:
            outcome = prove_problem(proof_problem(row["name"], statement, row["header"], row["informal_prefix"]),
                                    backend, target=LeanProofTarget(), portfolio=False)  # fmt: skip
            by_model = outcome.proved
        rows.append({"name": row["name"], "closing": tried.closing, "model": by_model})
        print(f"{row['name']}: {', '.join(tried.closing) or ('model' if by_model else '-')}", flush=True)
    wall = time.perf_counter() - started
    by_tactic = Counter(t for r in rows for t in r["closing"])
    summary = {"theorems": len(rows), "portfolio": sum(bool(r["closing"]) for r in rows),
               "model": sum(r["model"] for r in rows), "by_tactic": {t: by_tactic.get(t, 0) for t in LEAN_PORTFOLIO},
               "checks_per_s": round(len(checks) / wall, 2) if wall else None,
               "check_latency_ms": latency_ms(checks)}  # fmt: skip
    lines = ["# Lean miniF2F test: the Lean portfolio (and a model)", "",
             f"Closed by the portfolio: {summary['portfolio']} / {len(rows)}; "
             f"by the model after it: {summary['model']}.", "", "| tactic | closes |", "|---|---|",
             *[f"| {t} | {by_tactic.get(t, 0)} |" for t in LEAN_PORTFOLIO]]  # fmt: skip
    write_results("minif2f_lean", {"summary": summary, "rows": rows}, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
