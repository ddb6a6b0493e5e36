"""miniF2F-rocq, the automation portfolio alone (no model) on the 244 test theorems: which tactic closes what.

Every tactic of the portfolio (lia, nia, lra, nra, field, ring, psatz, auto, and CoqHammer's
sauto and hammer where installed) is tried on every test theorem, each as a proof script
(``intros.`` then the tactic under a Coq ``Timeout``) verified by the Coq prover like any model
output: the statement as given, ``Print Assumptions`` within the allow-list. Figures: theorems
closed (by any tactic, and by each), kernel checks per second and p50/p95 check latency. These
are the portfolio's, kept apart from the model's (benchmarks.minif2f_whole, benchmarks.minif2f_search
run on theorems the portfolio does not close).

Run (about half an hour on 2 cores; writes benchmarks/results/minif2f_portfolio.{json,md})::

    .venv/bin/python -m benchmarks.minif2f_portfolio [--tactic-timeout 3]

"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks.minif2f_data import RESULTS, data_problem, latency_ms, theorems, write_results
from neurosym.provers.coq import CoqProver, check_statement, coq_version, kernel_problem
from neurosym.provers.coq.portfolio import GRACE_S, hammer_installed, portfolio_tactics, run_portfolio


def main(argv: Sequence[str] | None = None) -> int:
    """Run the portfolio on every test theorem (or ``--rerender`` the report from the results file)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tactic-timeout", type=float, default=3.0, help="Coq's Timeout per tactic (default 3 s)")
    parser.add_argument("--limit", type=int, help="only the first N theorems (a quick look)")
    parser.add_argument("--rerender", action="store_true", help="rewrite the report from the results file")
    args = parser.parse_args(argv)
    if args.rerender:
        previous = json.loads((RESULTS / "minif2f_portfolio.json").read_text(encoding="utf-8"))
        report(previous["rows"], previous["summary"])
        return 0
    missing = data_problem() or kernel_problem()
    if missing:
        print(f"skipped: {missing}")
        return 0
    prover, tactics = CoqProver(), portfolio_tactics()
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for theorem in theorems("test")[: args.limit]:
        statement_ok = check_statement(theorem.header, theorem.statement, kernel=prover.kernel).ok
        result = run_portfolio(prover, theorem.header, theorem.statement, tactics=tactics,
                               tactic_timeout_s=args.tactic_timeout, stop_at_first=False)  # fmt: skip
        rows.append({"name": theorem.name, "statement_ok": statement_ok, "closing": result.closing,
                     "seconds": round(result.seconds, 3), "tries": [t.to_dict() for t in result.tries],
                     "load_average": round(os.getloadavg()[0], 2)})  # fmt: skip
        print(f"{theorem.name}: {', '.join(result.closing) or '-'} ({result.seconds:.1f} s)", flush=True)
    wall = time.perf_counter() - started
    loads = [r["load_average"] for r in rows]
    summary = {"tactics": [t.name for t in tactics], "wall_s": round(wall, 1), "cores": os.cpu_count(),
               "load_average": {"min": min(loads), "median": statistics.median(loads), "max": max(loads),
                                "observed_by": "os.getloadavg() after each theorem"} if loads else None,
               "tactic_timeout_s": args.tactic_timeout, "hammer": hammer_installed(), "coq": coq_version()}  # fmt: skip
    report(rows, summary)
    return 0


def report(rows: list[dict[str, Any]], run: dict[str, Any]) -> None:
    """Count what ``rows`` say, write the results file and the Markdown table, and print the table.

    ``run`` says how the rows were made (tactics, wall time, load, Coq's version...); the counts are
    recomputed from the rows, so a re-render cannot drift from them.
    """
    tactics = run.get("tactics") or list(run["by_tactic"])
    checks = [t["seconds"] for r in rows for t in r["tries"]]
    wall = run["wall_s"]
    by_tactic = Counter(t for r in rows for t in r["closing"])
    statuses = Counter(t["status"] for r in rows for t in r["tries"])
    broken = statuses.get("unknown", 0)  # the kernel crashed twice: not counted as the tactic's failure
    late = Counter(t["tactic"] for r in rows for t in r["tries"] if t["status"] == "timeout")
    closed = sum(bool(r["closing"]) for r in rows)
    only = Counter(r["closing"][0] for r in rows if len(r["closing"]) == 1)
    keep = ("tactics", "wall_s", "cores", "load_average", "tactic_timeout_s", "hammer", "coq")
    summary = {"theorems": len(rows), "statements_ok": sum(r["statement_ok"] for r in rows), "closed": closed,
               "by_tactic": {t: by_tactic.get(t, 0) for t in tactics},
               "only_this_tactic": {t: only.get(t, 0) for t in tactics},
               "check_statuses": dict(statuses), "kernel_crashes": broken, "kernel_timeouts_by_tactic": dict(late),
               "kernel_checks": len(checks), "checks_per_s": round(len(checks) / wall, 2),
               "check_latency_ms": latency_ms(checks), **{k: run[k] for k in keep if k in run}}  # fmt: skip
    summary["tactics"] = list(tactics)
    timeout = summary.get("tactic_timeout_s", 3.0)
    load = summary.get("load_average")
    machine = (f"{summary.get('cores') or 2} cores, load average {load['min']}-{load['max']} during the run "
               f"({load['observed_by']})" if load else "")  # fmt: skip
    lines = ["# miniF2F-rocq test: the automation portfolio alone", "",
             f"Coq {summary['coq']}, {len(rows)} test theorems ({summary['statements_ok']} of whose statements "
             "type-check with their header, as in benchmarks/results/minif2f_validity.md), "
             f"every tactic tried on every theorem with Coq `Timeout {timeout:g}`, each attempt verified "
             "like model output. No model call. Command: `.venv/bin/python -m benchmarks.minif2f_portfolio`.", "",
             f"Closed by some tactic: **{closed} / {len(rows)}** ({100 * closed / max(1, len(rows)):.1f}%).", "",
             "| tactic | closes | closes alone | stopped at the kernel's limit |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {t} | {by_tactic.get(t, 0)} | {only.get(t, 0)} | {late.get(t, 0)} |" for t in tactics]
    lines += ["", f"Kernel checks: {len(checks)} in {wall:.0f} s = {summary['checks_per_s']} checks/s; latency per "
              f"check p50 {summary['check_latency_ms']['p50']} ms, p95 {summary['check_latency_ms']['p95']} ms "
              "(each check: the statement, the tactic, Qed, the statement check and Print Assumptions; the header "
              "and statement are reused between the tactics of one theorem)"
              + (f"; {machine}" if machine else "") + ".", "",
              f"Outcomes of the {len(checks)} checks: "
              + ", ".join(f"{k} {v}" for k, v in statuses.most_common()) + f". Checks the kernel could not "
              f"finish (it crashed or ran out of /tmp space or file descriptors, twice): {broken}.", "",
              f"A check is stopped (and the kernel restarted) {GRACE_S:g} s after the tactic's own Coq `Timeout`: "
              "a tactic Coq cannot interrupt (CoqHammer's `hammer` waits for its external provers) ends there, as "
              "*stopped at the kernel's limit*, and on a loaded machine such a tactic may close fewer theorems "
              "than on an idle one. The whole-proof and search benchmarks draw their 40 theorems from the ones "
              "no tactic closed here."]  # fmt: skip
    write_results("minif2f_portfolio", {"summary": summary, "rows": rows}, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
