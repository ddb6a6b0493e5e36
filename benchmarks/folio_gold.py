"""FOLIO validation, gold FOL through the parser and both provers.

Sends each item's gold premises and conclusion (``premises-FOL``, ``conclusion-FOL``) through the
parser, Z3 and E; writes one JSONL line per item as it goes; prints a summary: parse rate,
accuracy over all items, agreement between Z3 and E, every item whose gold FOL disagrees with its
gold label (with the reason) and time per item.

Policy, stated once: an item scores as correct only when Z3's verdict is decided and its label
equals the gold label. ``timeout``, ``unknown``, ``inconsistent`` and ``invalid`` are wrong
answers; nothing is silently mapped to "Uncertain".

Run:
    python -m benchmarks.folio_gold [--data PATH] [--out benchmarks/results/folio_gold.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from neurosym.bench.data import dataset
from neurosym.errors import ParseError
from neurosym.fol.parser import parse_formula
from neurosym.targets.fol.check import check_fol
from neurosym.types import EntailmentLabel, Verdict

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = dataset("folio-validation").locate()  # $NEUROSYM_DATA, else the checkout's ../shared/data
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "folio_gold.jsonl"


def load_items(path: Path) -> list[dict[str, Any]]:
    """The FOLIO rows, numbered from 0 in file order."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _reason(item: dict[str, Any], verdict: Verdict) -> str:
    gold = item["label"]
    if verdict.status == "invalid":
        return verdict.message
    if verdict.status == "inconsistent":
        return "gold premises are inconsistent: " + verdict.certificate.render().replace("\n", " ")  # type: ignore[union-attr]
    if verdict.status in ("timeout", "unknown"):
        return f"undecided ({verdict.status}): {verdict.message}"
    return f"gold FOL gives {verdict.answer.value} but the label is {gold}"  # type: ignore[union-attr]


def evaluate_item(index: int, item: dict[str, Any], *, timeout: float, with_e: bool) -> dict[str, Any]:
    """Run one item through the parser, Z3 and (optionally) E; return its results row."""
    premises, conclusion = item["premises-FOL"], item["conclusion-FOL"]
    gold = EntailmentLabel.parse(item["label"])
    parse_ok = True
    for text in [*premises, conclusion]:
        try:
            parse_formula(text)
        except ParseError:
            parse_ok = False
    started = time.perf_counter()
    z3_verdict = check_fol(premises, conclusion, timeout=timeout, provers=("z3",))
    z3_time = time.perf_counter() - started  # parse + signature check + Z3, with certificates
    row: dict[str, Any] = {
        "index": index,
        "gold": gold.value,
        "parsed": parse_ok,
        "z3": z3_verdict.status,
        "z3_answer": z3_verdict.answer.value if z3_verdict.decided else None,  # type: ignore[union-attr]
        "parse_z3_s": round(z3_time, 6),
    }
    row["correct"] = z3_verdict.decided and z3_verdict.answer == gold
    if with_e:
        e_verdict = check_fol(premises, conclusion, timeout=timeout, provers=("eprover",))
        row["eprover"] = e_verdict.status
        row["eprover_answer"] = e_verdict.answer.value if e_verdict.decided else None  # type: ignore[union-attr]
        row["eprover_s"] = round(e_verdict.elapsed_s, 6)
        row["agree"] = e_verdict.status == z3_verdict.status
    if not row["correct"]:
        row["reason"] = _reason(item, z3_verdict)
    return row


def run(items: Sequence[dict[str, Any]], *, timeout: float, with_e: bool, out: Path | None) -> Iterator[dict[str, Any]]:
    """Evaluate every item, appending each row to ``out`` as soon as it is known."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        handle = tmp.open("w", encoding="utf-8")
    try:
        for index, item in enumerate(items):
            row = evaluate_item(index, item, timeout=timeout, with_e=with_e)
            if out is not None:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                handle.flush()
            yield row
    finally:
        if out is not None:
            handle.close()
    if out is not None:
        tmp.replace(out)  # a finished run replaces the previous file whole


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Headline figures of a run."""
    n = len(rows)
    times = [r["parse_z3_s"] for r in rows]
    summary: dict[str, Any] = {
        "items": n,
        "parsed": sum(r["parsed"] for r in rows),
        "z3_correct": sum(r["correct"] for r in rows),
        "z3_statuses": dict(Counter(r["z3"] for r in rows)),
        "parse_z3_ms_p50": round(statistics.median(times) * 1000, 2),
        "parse_z3_ms_p95": round(_percentile(times, 0.95) * 1000, 2),
        "parse_z3_s_total": round(sum(times), 3),
        "wrong": [{"index": r["index"], "gold": r["gold"], "reason": r["reason"]} for r in rows if not r["correct"]],
    }
    if rows and "eprover" in rows[0]:
        e_times = [r["eprover_s"] for r in rows]
        summary["eprover_correct"] = sum(r["eprover_answer"] == r["gold"] for r in rows)
        summary["agree"] = sum(r["agree"] for r in rows)
        summary["disagreements"] = [
            {"index": r["index"], "z3": r["z3"], "eprover": r["eprover"]} for r in rows if not r["agree"]
        ]
        summary["eprover_ms_p50"] = round(statistics.median(e_times) * 1000, 2)
        summary["eprover_ms_p95"] = round(_percentile(e_times, 0.95) * 1000, 2)
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    n = summary["items"]
    print(f"items: {n}")
    print(f"parse rate: {summary['parsed']}/{n} ({100 * summary['parsed'] / n:.1f}%)")
    print(f"accuracy (z3): {summary['z3_correct']}/{n} ({100 * summary['z3_correct'] / n:.1f}%)")
    print(f"z3 statuses: {summary['z3_statuses']}")
    if "agree" in summary:
        print(f"accuracy (eprover): {summary['eprover_correct']}/{n} ({100 * summary['eprover_correct'] / n:.1f}%)")
        print(f"z3 and eprover agree: {summary['agree']}/{n}")
        for d in summary["disagreements"]:
            print(f"  disagreement: item {d['index']}: z3 {d['z3']}, eprover {d['eprover']}")
        print(f"eprover time per item: p50 {summary['eprover_ms_p50']} ms, p95 {summary['eprover_ms_p95']} ms")
    print(
        f"parse + z3 time per item: p50 {summary['parse_z3_ms_p50']} ms, p95 {summary['parse_z3_ms_p95']} ms, "
        f"total {summary['parse_z3_s_total']} s"
    )
    print(f"items whose gold FOL disagrees with the gold label: {len(summary['wrong'])}")
    for w in summary["wrong"]:
        print(f"  item {w['index']} (gold {w['gold']}): {w['reason']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per prover call")
    parser.add_argument("--no-eprover", action="store_true", help="skip the E cross-check")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"data file not found: {args.data}", file=sys.stderr)
        return 2
    items = load_items(args.data)
    from rich.progress import Progress

    rows = []
    with Progress(transient=True) as progress:
        task = progress.add_task("FOLIO gold", total=len(items))
        for row in run(items, timeout=args.timeout, with_e=not args.no_eprover, out=args.out):
            rows.append(row)
            progress.advance(task)
    print_summary(summarize(rows))
    print(f"per-item results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
