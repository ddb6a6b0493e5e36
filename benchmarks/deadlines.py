"""Deadline benchmark: how far past its time limit each slow or hostile call returns.

Each case is a named callable that takes a time limit in seconds and makes one call (a FOL check
here; the MILP solver, the sandbox and the HTTP backend can join as more cases). Every case runs
``--repeats`` times at each time limit; the figure per case and limit is the *overrun*, wall time
minus the limit (negative when the call ends early): its median and maximum, and how many calls
overran by more than :data:`LATE_S` (the goal is none).

The FOL cases:

- ``many-predicates``: 300 four-place predicates over four constants (about 5.5 KB), Uncertain, so
  Z3 finds two models and reads both (before the countermodels were bounded, 200 s at a 1 s limit).
- ``pigeonhole-z3``: 11 pigeons in 10 holes, unsatisfiable and exponentially hard for Z3's CDCL.
- ``no-finite-model-e``: a strict order with no greatest element; E can neither prove nor saturate.
- ``cross-check``: the pigeonhole problem with Z3 and E side by side, under one deadline.
- ``huge-text``: a problem of 190,000 characters, most of the time spent parsing.

Run (about two minutes; writes benchmarks/results/deadlines.json)::

    .venv/bin/python -m benchmarks.deadlines
    .venv/bin/python -m benchmarks.deadlines --cases many-predicates --timeouts 1 --repeats 5

"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurosym.targets.fol.check import check_fol

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TIMEOUTS = (1.0, 2.0, 5.0)
LATE_S = 1.0
"""An overrun longer than this counts as a missed deadline."""


@dataclass(frozen=True)
class DeadlineCase:
    """One slow or hostile call: ``run(timeout_s)`` makes it and returns its result (a Verdict, say).

    ``needs`` names an outside program (``"eprover"``) without which the case is skipped;
    ``warm_up`` (optional) is called once first, so imports and caches stay out of the figures.

    Example:
        >>> case = DeadlineCase("sleepy", "sleeps half its limit", lambda t: time.sleep(t / 2))
        >>> [s["overrun_s"] < 0 for s in measure(case, 0.2, repeats=2)]
        [True, True]

    """

    name: str
    description: str
    run: Callable[[float], Any]
    needs: str | None = None
    warm_up: Callable[[], Any] | None = None


def many_predicates_problem(count: int = 300, arity: int = 4) -> tuple[list[str], str]:
    """Premises with ``count`` predicates of ``arity`` places over ``arity`` distinct constants, and a conclusion.

    The conclusion uses a predicate no premise mentions, so the answer is Uncertain and Z3 builds
    two countermodels, each with ``count`` tables of ``arity ** arity`` rows.

    Example:
        >>> premises, conclusion = many_predicates_problem()
        >>> len(premises), 5000 < sum(map(len, premises)) < 6000, conclusion
        (301, True, 'Goal(a, b, c, d)')

    """
    constants = [chr(ord("a") + i) for i in range(arity)]
    distinct = " ∧ ".join(f"{x} ≠ {y}" for i, x in enumerate(constants) for y in constants[i + 1 :])
    premises = [distinct] if distinct else []
    for i in range(count):
        args = ", ".join(constants[(i + k) % arity] for k in range(arity))  # rotate, so tables differ
        premises.append(f"Rel{i:03d}({args})")
    return premises, f"Goal({', '.join(constants)})"


def pigeonhole_problem(holes: int = 10) -> tuple[list[str], str]:
    """``holes + 1`` pigeons, each in some hole, no two in one: unsatisfiable, so Z3 must refute it.

    Example:
        >>> premises, conclusion = pigeonhole_problem(2)
        >>> premises[0], premises[3], premises[4:]
        ('In(p0, h0) ∨ In(p0, h1)', '∀x ∀y ∀z (In(x, z) ∧ In(y, z) → x = y)', ['p0 ≠ p1', 'p0 ≠ p2', 'p1 ≠ p2'])

    """
    pigeons = [f"p{i}" for i in range(holes + 1)]
    premises = [" ∨ ".join(f"In({p}, h{j})" for j in range(holes)) for p in pigeons]
    premises.append("∀x ∀y ∀z (In(x, z) ∧ In(y, z) → x = y)")
    premises += [f"{p} ≠ {q}" for i, p in enumerate(pigeons) for q in pigeons[i + 1 :]]
    return premises, "Goal(p0)"


NO_FINITE_MODEL = ["∀x ∃y R(x, y)", "∀x ¬R(x, x)", "∀x ∀y ∀z (R(x, y) ∧ R(y, z) → R(x, z))"]
"""A strict order with no greatest element: only infinite models, so no prover can show Uncertain."""


def huge_text_problem(chars: int = 190_000) -> tuple[list[str], str]:
    """Premises of ground conjunctions adding up to about ``chars`` characters.

    Example:
        >>> premises, _ = huge_text_problem(10_000)
        >>> 9_000 < sum(map(len, premises)) <= 10_000
        True

    """
    premise = " ∧ ".join(f"P{i}(c{i % 97})" for i in range(400))
    return [premise] * max(1, chars // len(premise)), "Q(c0)"


def fol_case(
    name: str, description: str, problem: tuple[list[str], str], provers: Sequence[str] = ("z3",)
) -> DeadlineCase:
    """A case that calls :func:`neurosym.check_fol` on ``problem`` with the given time limit."""
    premises, conclusion = problem
    needs = "eprover" if "eprover" in provers else None
    return DeadlineCase(
        name,
        description,
        lambda timeout: check_fol(premises, conclusion, timeout=timeout, provers=tuple(provers)),
        needs=needs,
        warm_up=lambda: check_fol(["P(a)"], "P(a)", timeout=10, provers=tuple(provers)),
    )


def fol_cases() -> list[DeadlineCase]:
    """The FOL catalogue (see the module docstring)."""
    pigeonhole = pigeonhole_problem()
    no_model = (NO_FINITE_MODEL, "P(a)")
    return [
        fol_case("many-predicates", "300 four-place predicates, Uncertain: two models", many_predicates_problem()),
        fol_case("pigeonhole-z3", "11 pigeons, 10 holes: Z3 cannot refute it in time", pigeonhole),
        fol_case("no-finite-model-e", "strict order without maximum: E cannot finish", no_model, ("eprover",)),
        fol_case("cross-check", "pigeonhole with Z3 and E side by side, one deadline", pigeonhole, ("z3", "eprover")),
        fol_case("huge-text", "190,000 characters of ground conjunctions: parsing", huge_text_problem()),
    ]


def _status(result: Any) -> str:
    return str(getattr(result, "status", type(result).__name__))


def _truncated(result: Any) -> bool | None:
    certificate = getattr(result, "certificate", None)
    models = [getattr(certificate, side, None) for side in ("conclusion_false", "conclusion_true")]
    flags = [m.truncated for m in models if m is not None]
    return any(flags) if flags else None


def measure(case: DeadlineCase, timeout: float, *, repeats: int) -> list[dict[str, Any]]:
    """Run ``case`` ``repeats`` times with ``timeout``: elapsed and overrun seconds, status of each call."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = case.run(timeout)
        elapsed = time.perf_counter() - started
        sample = {"elapsed_s": elapsed, "overrun_s": elapsed - timeout, "status": _status(result)}
        truncated = _truncated(result)
        if truncated is not None:
            sample["countermodel_truncated"] = truncated
        samples.append(sample)
    return samples


def summarise(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median and max overrun, the count of calls more than LATE_S late, and the statuses seen.

    Example:
        >>> s = summarise([{"overrun_s": 0.1, "status": "timeout"}, {"overrun_s": 1.5, "status": "timeout"}])
        >>> s["median_overrun_s"], s["max_overrun_s"], s["late"], s["statuses"]
        (0.8, 1.5, 1, {'timeout': 2})

    """
    overruns = [s["overrun_s"] for s in samples]
    return {
        "calls": len(samples),
        "median_overrun_s": statistics.median(overruns),
        "max_overrun_s": max(overruns),
        "late": sum(1 for o in overruns if o > LATE_S),
        "statuses": dict(Counter(s["status"] for s in samples)),
    }


def _available(program: str | None) -> bool:
    if program is None:
        return True
    if program == "eprover":
        from neurosym.provers.eprover import EProver

        return EProver().available()
    import shutil

    return shutil.which(program) is not None


def run_benchmark(cases: Sequence[DeadlineCase], timeouts: Sequence[float], *, repeats: int) -> dict[str, Any]:
    """Every case at every time limit: one row each, with its samples, or ``skipped`` with the reason."""
    rows: list[dict[str, Any]] = []
    for case in cases:
        if not _available(case.needs):
            rows.append({"case": case.name, "description": case.description, "skipped": f"{case.needs} not installed"})
            continue
        if case.warm_up is not None:
            case.warm_up()
        for timeout in timeouts:
            samples = measure(case, timeout, repeats=repeats)
            rows.append(
                {"case": case.name, "description": case.description, "timeout_s": timeout}
                | summarise(samples)
                | {"samples": samples}
            )
    return {
        "timeouts_s": list(timeouts),
        "repeats": repeats,
        "late_s": LATE_S,
        "late_total": sum(r.get("late", 0) for r in rows),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rows": rows,
    }


def render(report: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "# Deadlines: how far past its time limit each call returns",
        "",
        f"{report['repeats']} calls per case and limit; overrun = wall time - limit (negative: finished early); "
        f"late = overran by more than {report['late_s']:g} s.",
        "Reproduce: `.venv/bin/python -m benchmarks.deadlines`.",
        "",
        "| case | limit s | median overrun s | max overrun s | late | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        if "skipped" in r:
            lines.append(f"| {r['case']} | - | - | - | - | skipped: {r['skipped']} |")
            continue
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(
            f"| {r['case']} | {r['timeout_s']:g} | {r['median_overrun_s']:.3f} | {r['max_overrun_s']:.3f} "
            f"| {r['late']} | {statuses} |"
        )
    lines += ["", f"late calls in all: {report['late_total']}"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, cases: Sequence[DeadlineCase] | None = None) -> int:
    """Run the catalogue (or ``cases``), print the table, write deadlines.json; exit 1 when a call was late."""
    catalogue = list(cases) if cases is not None else fol_cases()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in catalogue], help="only these cases")
    parser.add_argument("--timeouts", nargs="+", type=float, default=list(TIMEOUTS), help="time limits in seconds")
    parser.add_argument("--repeats", type=int, default=3, help="calls per case and time limit")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write deadlines.json")
    args = parser.parse_args(argv)
    chosen = [c for c in catalogue if args.cases is None or c.name in args.cases]
    started = time.perf_counter()
    report = run_benchmark(chosen, args.timeouts, repeats=args.repeats)
    report["wall_s"] = time.perf_counter() - started
    text = render(report)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "deadlines.json.tmp"
    tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    tmp.replace(args.out / "deadlines.json")
    sys.stdout.write(text + f"\n{len(report['rows'])} rows in {report['wall_s']:.1f} s\n")
    return 1 if report["late_total"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
