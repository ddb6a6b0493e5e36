"""NL4Opt gold-formal track: official test formulations solved by HiGHS and CBC, checked, scored against every gold set.

Each of the 289 official test formulations is converted to neurosym's MILP language
(:func:`benchmarks.opt_data.annotation_model`) and solved twice: as annotated (continuous
variables, an LP) and with every variable integer. Both solvers solve each model, the solution is
checked independently, and the objective is compared with each published gold set at a relative
1e-4 (a gold "No Best Solution" matches an infeasible or unbounded model). The consensus subset
holds the problems on which the corrected gold sets agree (:func:`benchmarks.opt_data.consensus`).

Run (about a minute; writes benchmarks/results/nl4opt_gold.{md,json})::

    .venv/bin/python -m benchmarks.nl4opt_gold

"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.opt_data import (
    ALL_GOLD_SETS,
    CORRECTED_GOLD_SETS,
    NL4OPT_CROSSCHECK,
    Nl4OptItem,
    annotation_model,
    consensus,
    gold_matches,
    load_nl4opt_test,
    nl4opt_golds,
)
from neurosym.milp.parser import parse_model
from neurosym.milp.solve import solve_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = ("lp", "integer")


def solve_item(item: Nl4OptItem, *, time_limit: float = 10.0) -> dict[str, Any]:
    """Both variants of one official formulation: status, objective, per-solver times, notes."""
    row: dict[str, Any] = {"id": item.id}
    for variant in VARIANTS:
        try:
            model = parse_model(annotation_model(item.annotation, integer=variant == "integer"))
        except (ValueError, KeyError) as exc:  # ParseError is a ValueError
            row[variant] = {"status": "unconverted", "error": str(exc).splitlines()[0]}
            continue
        result = solve_model(model, time_limit=time_limit)
        row[variant] = {
            "status": result.status,
            "objective": result.objective,
            "seconds": {r.solver: r.seconds for r in result.runs},
            "solver_status": {r.solver: r.status for r in result.runs},
            "disagreement": result.disagreement,
            "notes": list(result.notes),
        }
    return row


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summarise(rows: Sequence[dict[str, Any]], golds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Status counts, integrality, solver times and agreement with each gold set and the consensus."""
    summary: dict[str, Any] = {"problems": len(rows)}
    for variant in VARIANTS:
        summary[f"{variant}_status"] = dict(Counter(r[variant]["status"] for r in rows))
    both_optimal = [r for r in rows if r["lp"]["status"] == "optimal" and r["integer"]["status"] == "optimal"]
    summary["lp_differs_from_integer"] = sum(
        1 for r in both_optimal if not gold_matches(r["lp"]["objective"], "optimal", r["integer"]["objective"], 1e-6)
    )
    summary["both_optimal"] = len(both_optimal)
    times: dict[str, list[float]] = {}
    for r in rows:
        for variant in VARIANTS:
            for solver, seconds in r[variant].get("seconds", {}).items():
                times.setdefault(solver, []).append(seconds)
    summary["solve_ms"] = {
        s: {"p50": 1000 * statistics.median(v), "p95": 1000 * _percentile(v, 0.95), "n": len(v)}
        for s, v in times.items()
    }
    summary["disagreements"] = sum(1 for r in rows for v in VARIANTS if r[v].get("disagreement"))
    summary["disagreement_notes"] = [
        f"{r['id']} ({v}): {note}" for r in rows for v in VARIANTS for note in r[v].get("notes", [])
        if "disagree" in note or "fails" in note
    ]  # fmt: skip

    def score(gold_of: Any) -> dict[str, int]:
        counts = Counter()
        for r in rows:
            gold = gold_of(r)
            if gold is None:
                continue
            counts["n"] += 1
            hits = {v: gold_matches(r[v].get("objective"), r[v]["status"], gold) for v in VARIANTS}
            counts["lp"] += hits["lp"]
            counts["integer"] += hits["integer"]
            counts["either"] += hits["lp"] or hits["integer"]
        return {k: counts[k] for k in ("n", "lp", "integer", "either")}

    summary["gold_sets"] = {s: score(lambda r, s=s: golds.get(r["id"], {}).get(s)) for s in ALL_GOLD_SETS}
    summary["consensus"] = score(lambda r: consensus(golds.get(r["id"], {})))
    return summary


def crosscheck_agreement(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How often our objectives equal the shared cross-check file's own solves of the same formulations."""
    data = {e["nl4opt_id"]: e for e in json.loads(NL4OPT_CROSSCHECK.read_text(encoding="utf-8"))}
    counts: Counter[str] = Counter()
    for r in rows:
        entry = data.get(r["id"])
        if entry is None:
            continue
        for variant, key in (("lp", "annot_lp"), ("integer", "annot_int")):
            theirs = entry[key]
            counts[f"{variant}_n"] += 1
            ours = r[variant]
            if theirs["status"] == "Optimal":
                counts[f"{variant}_same"] += gold_matches(ours.get("objective"), ours["status"], theirs["obj"], 1e-6)
            else:
                counts[f"{variant}_same"] += ours["status"] == theirs["status"].lower()
    return dict(counts)


def _pct(hit: int, n: int) -> str:
    return f"{100 * hit / n:.1f}%" if n else "-"


def render(summary: dict[str, Any], agreement: dict[str, int]) -> str:
    """The results as Markdown."""
    lines = [
        "# NL4Opt gold-formal track",
        "",
        "The 289 official test formulations (competition `test.jsonl`), converted to neurosym's MILP language and "
        "solved by HiGHS and CBC through PuLP, each solution checked independently. Objectives match a gold value "
        'within a relative 1e-4; a gold "No Best Solution" matches an infeasible or unbounded model.',
        "Reproduce: `.venv/bin/python -m benchmarks.nl4opt_gold`.",
        "",
        f"- statuses as annotated (LP): {summary['lp_status']}",
        f"- statuses with every variable integer: {summary['integer_status']}",
        f"- LP optimum differs from the integer optimum on {summary['lp_differs_from_integer']} of "
        f"{summary['both_optimal']} models where both are optimal",
        f"- solver disagreements (status, objective or a failed check): {summary['disagreements']}",
        f"- same result as the shared cross-check's own solves: LP {agreement.get('lp_same', 0)}/"
        f"{agreement.get('lp_n', 0)}, integer {agreement.get('integer_same', 0)}/{agreement.get('integer_n', 0)}",
        "",
        "| gold set | problems with a gold | = LP optimum | = integer optimum | = either |",
        "|---|---|---|---|---|",
    ]
    rows = [*summary["gold_sets"].items(), ("**consensus** (corrected sets agree)", summary["consensus"])]
    for name, s in rows:
        cells = [_pct(s[k], s["n"]) for k in ("lp", "integer", "either")]
        lines.append(f"| {name} | {s['n']} | " + " | ".join(cells) + " |")
    lines += ["", "| solver | solves | p50 ms | p95 ms |", "|---|---|---|---|"]
    for solver, t in summary["solve_ms"].items():
        lines.append(f"| {solver} | {t['n']} | {t['p50']:.1f} | {t['p95']:.1f} |")
    if summary["disagreement_notes"]:
        lines += ["", "Disagreements:", *(f"- {n}" for n in summary["disagreement_notes"][:20])]
    lines += ["", f"Corrected gold sets: {', '.join(CORRECTED_GOLD_SETS)}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N problems")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write nl4opt_gold.{md,json}")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per model (both solvers)")
    args = parser.parse_args(argv)
    items = load_nl4opt_test()[: args.limit]
    golds = nl4opt_golds()
    started = time.perf_counter()
    rows = [solve_item(item, time_limit=args.time_limit) for item in items]
    summary = summarise(rows, golds)
    summary["wall_s"] = time.perf_counter() - started
    agreement = crosscheck_agreement(rows)
    text = render(summary, agreement)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nl4opt_gold.md").write_text(text, encoding="utf-8")
    payload = {"summary": summary, "crosscheck": agreement, "rows": rows}
    tmp = args.out / "nl4opt_gold.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    tmp.replace(args.out / "nl4opt_gold.json")
    sys.stdout.write(text + f"\n{len(rows)} problems in {summary['wall_s']:.1f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
