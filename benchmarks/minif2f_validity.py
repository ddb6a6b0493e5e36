"""miniF2F-rocq statement validity: how many of the 488 files type-check on the installed Coq as shipped, and why not.

Each file runs in the jailed kernel exactly as shipped, with ``Admitted.`` appended when it stops at
``Proof.`` (it is trusted data: no refusal rules). A failure is the first sentence Coq refuses and
its message, sorted into a reason. Figures: files checked per second and p50/p95 per file.

Run (about 5 minutes on 2 cores; writes benchmarks/results/minif2f_validity.{json,md})::

    .venv/bin/python -m benchmarks.minif2f_validity

"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks.minif2f_data import RESULTS, data_problem, latency_ms, theorems, write_results
from neurosym.deadlines import Deadline
from neurosym.provers.coq import coq_version, default_kernel, kernel_problem, split_sentences


def reason_of(message: str, text: str) -> str:
    """A short reason for a failure, from Coq's message (its last line says what is wrong)."""
    last = message.strip().splitlines()[-1] if message.strip() else ""
    if "prefix Stdlib" in last or "Stdlib" in message:
        return "Rocq 9 Stdlib prefix (not in Coq 8.16)"
    if '"C" while it is expected to have type "R"' in last:
        return "Coquelicot complex numbers: C terms read at type R (C_scope arithmetic missing in this version)"
    if "was not found" in last:
        return "unknown name"
    if "has type" in last or "Unable to unify" in last or "expected to have type" in last:
        return "type error"
    if "Syntax error" in last:
        return "syntax error"
    return "other"


def check_file(text: str, *, timeout_s: float = 120.0) -> dict[str, Any]:
    """Run one shipped file (``Admitted.`` appended after a final ``Proof.``) and say whether Coq accepts it."""
    sentences = [s.text for s in split_sentences(text)]
    if sentences and sentences[-1].strip() == "Proof.":
        sentences.append("Admitted.")
    run = default_kernel().run(sentences, Deadline.after(timeout_s))
    row: dict[str, Any] = {"ok": run.status == "ok", "status": run.status, "seconds": round(run.seconds, 4)}
    if run.status != "ok":
        failed = sentences[run.error.sentence] if run.error is not None else ""
        row.update(message=run.message.strip(), sentence=" ".join(failed.split())[:200])
        row["error"] = run.message.strip().splitlines()[-1] if run.message.strip() else run.status
        row["reason"] = reason_of(run.message, text) if run.status == "error" else run.status
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--limit", type=int, help="only the first N files (a quick look)")
    parser.add_argument("--rerender", action="store_true", help="rewrite the report from the results file")
    args = parser.parse_args(argv)
    if args.rerender:
        previous = json.loads((RESULTS / "minif2f_validity.json").read_text(encoding="utf-8"))
        for row in previous["rows"]:
            if not row["ok"]:
                row["error"] = row["message"].splitlines()[-1]
                row["reason"] = reason_of(row["message"], "")
        report(previous["rows"], previous["summary"]["wall_s"], previous["summary"]["coq"])
        return 0
    missing = data_problem() or kernel_problem()
    if missing:
        print(f"skipped: {missing}")
        return 0
    items = theorems()[: args.limit]
    rows, started = [], time.perf_counter()
    for theorem in items:
        row = {"name": theorem.name, "split": theorem.split, **check_file(theorem.shipped_text())}
        rows.append(row)
        if not row["ok"]:
            print(f"{theorem.split}/{theorem.name}: {row['reason']}: {row['message'].splitlines()[0][:120]}")
    report(rows, time.perf_counter() - started, coq_version())
    return 0


def report(rows: list[dict[str, Any]], wall: float, coq: str | None) -> None:
    """Write the results file and the Markdown table, and print the table."""
    ok = sum(r["ok"] for r in rows)
    reasons = Counter(r["reason"] for r in rows if not r["ok"])
    summary = {"files": len(rows), "type_check": ok, "fail": len(rows) - ok,
               "by_split": {s: sum(r["ok"] for r in rows if r["split"] == s) for s in ("valid", "test")},
               "reasons": dict(reasons.most_common()), "wall_s": round(wall, 1),
               "files_per_s": round(len(rows) / wall, 2), "latency_ms": latency_ms([r["seconds"] for r in rows]),
               "coq": coq}  # fmt: skip
    lines = ["# miniF2F-rocq statement validity on the installed Coq", "",
             f"Coq {summary['coq']} + Coquelicot, each file as shipped (`Admitted.` appended after a final `Proof.`), "
             "in the jailed kernel. Command: `.venv/bin/python -m benchmarks.minif2f_validity`.", "",
             "| files | type-check | fail | valid ok | test ok | files/s | p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|",
             f"| {summary['files']} | {ok} | {summary['fail']} | {summary['by_split']['valid']} | "
             f"{summary['by_split']['test']} | {summary['files_per_s']} | {summary['latency_ms']['p50']} | "
             f"{summary['latency_ms']['p95']} |", "", "Failures by reason:", ""]  # fmt: skip
    lines += [f"- {reason}: {count}" for reason, count in reasons.most_common()]
    lines += ["", "| file | reason | Coq's message |", "|---|---|---|"]
    lines += [f"| {r['split']}/{r['name']} | {r['reason']} | {r['error'][:140].replace('|', '/')} |"
              for r in rows if not r["ok"]]  # fmt: skip
    write_results("minif2f_validity", {"summary": summary, "rows": rows}, "\n".join(lines) + "\n")
    print("\n".join(lines[:8]))


if __name__ == "__main__":
    sys.exit(main())
