r"""MILP solvers on small random models: HiGHS and CBC timed, stalls and disagreements counted.

Each generated model (2-6 variables, integer and continuous, 1-4 constraints) is solved by
:func:`neurosym.milp.solve.solve_model`, which runs both solvers on it, so every model gives one
HiGHS solve and one CBC solve. Some models are built to be infeasible or unbounded, some are built
around a known feasible point inside finite bounds (so they must have an optimum at least as good
as that point), others are drawn at random; one in ten is the model on which CBC 2.10.3, run with
``-threads 1``, used to stall for 10 s::

    integer a, b
    minimize a + b
    c1: 50 a + 70 b >= 1500
    c2: 60 a + 100 b <= 2000

A solve slower than :data:`STALL_S` counts as a stall. The solvers disagree when their statuses
differ or both are optimal with different objectives. Models are solved in ``--jobs`` worker
processes at once (default 2), as the loop solves from several processes.

Run (about a minute on two cores; writes benchmarks/results/milp_solvers.{md,json})::

    .venv/bin/python -m benchmarks.milp_solvers --models 1000 --seed 0

Example:
    >>> kind, text = generate_models(3, seed=0)[1]
    >>> kind in KINDS and parse_model(text).variables != ()
    True

"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from neurosym.milp.parser import parse_model
from neurosym.milp.solve import SOLVERS, solve_model

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STALL_S = 1.0
"""A solver run slower than this is a stall: these models take milliseconds."""
STALL_REPRODUCER = "integer a, b\nminimize a + b\nc1: 50 a + 70 b >= 1500\nc2: 60 a + 100 b <= 2000"
REPRODUCER_EVERY = 10
"""Every tenth model (the first included) is :data:`STALL_REPRODUCER`."""
KINDS = ("stall_reproducer", "random", "bounded_feasible", "infeasible", "unbounded")
EXPECTED = {"stall_reproducer": "optimal", "bounded_feasible": "optimal", "infeasible": "infeasible",
            "unbounded": "unbounded"}  # fmt: skip
"""The status each built kind must get (a random model may be anything)."""
_WEIGHTS = {"random": 4, "bounded_feasible": 2, "infeasible": 2, "unbounded": 2}


def _term(coef: int, name: str) -> str:
    return name if coef == 1 else f"{coef} {name}"


def _expr(coefs: dict[str, int]) -> str:
    parts = [(c, n) for n, c in coefs.items() if c != 0]
    if not parts:
        return "0"
    text = ("-" if parts[0][0] < 0 else "") + _term(abs(parts[0][0]), parts[0][1])
    for c, n in parts[1:]:
        text += (" - " if c < 0 else " + ") + _term(abs(c), n)
    return text


def _declarations(names: Sequence[str], integral: dict[str, bool], upper: dict[str, int | None]) -> list[str]:
    lines = []
    for n in names:
        kind = "integer" if integral[n] else "continuous"
        lines.append(f"{kind} {n}" + (f" <= {upper[n]}" if upper[n] is not None else ""))
    return lines


def random_model(rng: random.Random, kind: str) -> str:
    r"""One model of ``kind`` (see :data:`KINDS`) in neurosym's MILP language.

    ``bounded_feasible``, ``infeasible`` and ``unbounded`` models are built around a point that
    satisfies every row, so their status is known: the first caps every variable, the second adds
    two rows no point can satisfy, the third lets one variable improve the objective without limit.

    Example:
        >>> print(random_model(random.Random(1), "infeasible").splitlines()[-1])
        hi: x1 + x3 <= 26

    """
    if kind == "stall_reproducer":
        return STALL_REPRODUCER
    names = [f"x{i}" for i in range(1, rng.randint(2, 6) + 1)]
    integral = {n: rng.random() < 0.5 for n in names}
    upper: dict[str, int | None] = {n: (rng.randint(3, 30) if rng.random() < 0.25 else None) for n in names}
    if kind == "bounded_feasible":
        upper = {n: rng.randint(3, 30) for n in names}
    runaway = rng.choice(names) if kind == "unbounded" else None
    if runaway is not None:
        upper[runaway] = None
    point = {n: rng.randint(0, upper[n] if upper[n] is not None else 10) for n in names}
    sense = rng.choice(["maximize", "minimize"])
    objective = {n: rng.randint(-5, 10) for n in names}
    if runaway is not None:  # the runaway variable improves the objective...
        objective[runaway] = rng.randint(1, 5) * (1 if sense == "maximize" else -1)
    rows = []
    for j in range(rng.randint(1, 4)):
        relation = rng.choice(["<=", "<=", ">=", ">=", "=="])
        coefs = {n: rng.randint(-3, 9) if rng.random() < 0.7 else 0 for n in names}
        if runaway is not None:  # ...and moving it up never breaks a row
            coefs[runaway] = {"<=": -rng.randint(0, 3), ">=": rng.randint(0, 3), "==": 0}[relation]
        if all(c == 0 for c in coefs.values()):
            coefs[rng.choice([n for n in names if n != runaway])] = rng.randint(1, 9)
        if kind == "random":
            rhs = rng.randint(-10, 60)
        else:
            at_point = sum(c * point[n] for n, c in coefs.items())
            rhs = at_point + {"<=": rng.randint(0, 10), ">=": -rng.randint(0, 10), "==": 0}[relation]
        rows.append(f"c{j + 1}: {_expr(coefs)} {relation} {rhs}")
    if kind == "infeasible":
        a, b = rng.sample(names, 2)
        total = point[a] + point[b]
        rows += [f"lo: {a} + {b} >= {total + 3}", f"hi: {a} + {b} <= {total}"]
    lines = [*_declarations(names, integral, upper), f"{sense} {_expr(objective)}", *rows]
    return "\n".join(lines)


def generate_models(count: int, *, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` (kind, model text) pairs, the same for the same seed.

    Example:
        >>> [kind for kind, _ in generate_models(12, seed=0)][::10]
        ['stall_reproducer', 'stall_reproducer']

    """
    rng = random.Random(seed)
    kinds, weights = list(_WEIGHTS), list(_WEIGHTS.values())
    models = []
    for i in range(count):
        kind = "stall_reproducer" if i % REPRODUCER_EVERY == 0 else rng.choices(kinds, weights)[0]
        models.append((kind, random_model(rng, kind)))
    return models


def solve_one(job: tuple[int, str, str, float]) -> dict[str, Any]:
    """Solve one model with both solvers; the row the report is built from."""
    index, kind, text, time_limit = job
    started = time.perf_counter()
    result = solve_model(parse_model(text), time_limit=time_limit)
    return {
        "index": index,
        "kind": kind,
        "model": text,
        "status": result.status,
        "objective": result.objective,
        "seconds": round(time.perf_counter() - started, 6),
        "runs": [{k: v for k, v in r.to_dict().items() if k != "values"} for r in result.runs],
        "noted_disagreement": result.disagreement,
        "notes": list(result.notes),
    }


def solvers_disagree(runs: Sequence[dict[str, Any]]) -> bool:
    """Whether the solvers' own answers differ: another status, or another optimal objective.

    Example:
        >>> solvers_disagree([{"status": "optimal", "objective": 3.0}, {"status": "optimal", "objective": 3.0}])
        False
        >>> solvers_disagree([{"status": "infeasible", "objective": None}, {"status": "unbounded", "objective": None}])
        True

    """
    if len({r["status"] for r in runs}) > 1:
        return True
    objectives = [r["objective"] for r in runs if r["status"] == "optimal"]
    return any(not math.isclose(o, objectives[0], rel_tol=1e-6, abs_tol=1e-6) for o in objectives[1:])


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _misses_expectation(row: dict[str, Any]) -> bool:
    expected = EXPECTED.get(row["kind"])
    return expected is not None and row["status"] != expected


def summarise(rows: Sequence[dict[str, Any]], *, time_limit: float) -> dict[str, Any]:
    """Solves, times, stalls and statuses per solver; disagreements; results that contradict how a model was built.

    Example:
        >>> row = {"kind": "infeasible", "status": "optimal", "seconds": 0.02, "noted_disagreement": False,
        ...        "index": 0, "runs": [{"solver": "cbc", "status": "optimal", "objective": 1.0, "seconds": 1.5,
        ...                              "message": ""}]}
        >>> s = summarise([row], time_limit=10)
        >>> s["solvers"]["cbc"]["stalls"], s["expectation_misses"], s["solvers"]["highs"]["solves"]
        (1, 1, 0)

    """
    summary: dict[str, Any] = {"models": len(rows), "time_limit_s": time_limit}
    summary["kinds"] = dict(Counter(r["kind"] for r in rows))
    summary["status"] = dict(Counter(r["status"] for r in rows))
    solvers: dict[str, Any] = {}
    for solver in SOLVERS:
        runs = [run for r in rows for run in r["runs"] if run["solver"] == solver]
        ms = [1000 * run["seconds"] for run in runs]
        solvers[solver] = {
            "solves": len(runs),
            "p50_ms": statistics.median(ms) if ms else float("nan"),
            "p95_ms": _percentile(ms, 0.95),
            "max_ms": max(ms, default=float("nan")),
            "stalls": sum(1 for run in runs if run["seconds"] > STALL_S),
            "status": dict(Counter(run["status"] for run in runs)),
        }
    summary["solvers"] = solvers
    whole = [1000 * r["seconds"] for r in rows]
    summary["solve_model_ms"] = {
        "p50": statistics.median(whole) if whole else float("nan"),
        "p95": _percentile(whole, 0.95),
        "max": max(whole, default=float("nan")),
        "over_time_limit_plus_1s": sum(1 for r in rows if r["seconds"] > time_limit + 1.0),
    }
    disagreeing = [r for r in rows if solvers_disagree(r["runs"])]
    summary["disagreements"] = len(disagreeing)
    summary["disagreement_pairs"] = dict(
        Counter(", ".join(f"{run['solver']} {run['status']}" for run in r["runs"]) for r in disagreeing)
    )
    summary["highs_infeasible_or_unbounded"] = sum(
        1 for r in disagreeing for run in r["runs"] if "infeasible or unbounded" in run["message"]
    )
    summary["noted_disagreements"] = sum(1 for r in rows if r["noted_disagreement"])
    missed = [r for r in rows if _misses_expectation(r)]
    summary["expectation_misses"] = len(missed)
    summary["misses"] = [f"model {r['index']} ({r['kind']}): {r['status']}" for r in missed[:20]]
    summary["stalled"] = [
        f"model {r['index']} ({r['kind']}): {run['solver']} {run['status']} in {run['seconds']:.2f} s"
        + (f" ({run['message']})" if run["message"] else "")
        for r in rows
        for run in r["runs"]
        if run["seconds"] > STALL_S
    ]
    return summary


def render(summary: dict[str, Any]) -> str:
    """The results as Markdown."""
    lines = [
        "# MILP solvers on small random models",
        "",
        f"{summary['models']} models of 2-6 variables (one in {REPRODUCER_EVERY} the CBC stall reproducer), "
        f"each solved by `solve_model` with HiGHS and CBC, time limit {summary['time_limit_s']:g} s, "
        f"{summary['jobs']} worker processes, seed {summary['seed']}.",
        "Reproduce: `.venv/bin/python -m benchmarks.milp_solvers "
        f"--models {summary['models']} --seed {summary['seed']} --jobs {summary['jobs']}`.",
        "",
        f"| solver | solves | p50 ms | p95 ms | max ms | slower than {STALL_S:g} s |",
        "|---|---|---|---|---|---|",
    ]
    for solver, s in summary["solvers"].items():
        lines.append(
            f"| {solver} | {s['solves']} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['max_ms']:.1f} | {s['stalls']} |"
        )
    whole = summary["solve_model_ms"]
    lines += [
        "",
        f"- whole `solve_model` call (both solvers and the diagnostics): p50 {whole['p50']:.1f} ms, "
        f"p95 {whole['p95']:.1f} ms, max {whole['max']:.1f} ms; over the time limit + 1 s: "
        f"{whole['over_time_limit_plus_1s']}",
        f"- model kinds: {summary['kinds']}",
        f"- results: {summary['status']}",
        *(f"- {solver} statuses: {s['status']}" for solver, s in summary["solvers"].items()),
        f"- solvers disagree (status or optimum): {summary['disagreements']} {summary['disagreement_pairs'] or ''}",
        f"  - of which HiGHS said 'infeasible or unbounded' (PuLP reports it as infeasible): "
        f"{summary['highs_infeasible_or_unbounded']}",
        f"- disagreements `solve_model` noted (including failed checks): {summary['noted_disagreements']}",
        f"- results that contradict how the model was built: {summary['expectation_misses']}",
    ]
    if summary["stalled"]:
        lines += ["", "Stalls:", *(f"- {s}" for s in summary["stalled"][:20])]
    if summary["misses"]:
        lines += ["", "Contradicted:", *(f"- {m}" for m in summary["misses"])]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000, help="how many models to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes solving at once (default 2)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per model (both solvers)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write milp_solvers.{md,json}")
    args = parser.parse_args(argv)
    if args.models < 1 or args.jobs < 1:
        parser.error("--models and --jobs must be at least 1")
    jobs = [
        (i, kind, text, args.time_limit) for i, (kind, text) in enumerate(generate_models(args.models, seed=args.seed))
    ]
    started = time.perf_counter()
    if args.jobs == 1:
        rows = [solve_one(job) for job in jobs]
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(solve_one, jobs, chunksize=4))
    summary = summarise(rows, time_limit=args.time_limit)
    summary.update(seed=args.seed, jobs=args.jobs, wall_s=time.perf_counter() - started)
    text = render(summary)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "milp_solvers.md").write_text(text, encoding="utf-8")
    tmp = args.out / "milp_solvers.json.tmp"
    # one line per model keeps the file small and its diffs readable
    lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    tmp.write_text(f'{{"summary": {json.dumps(summary, indent=1)},\n"rows": [\n{lines}\n]}}\n', encoding="utf-8")
    tmp.replace(args.out / "milp_solvers.json")
    sys.stdout.write(text + f"\n{len(rows)} models in {summary['wall_s']:.1f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
