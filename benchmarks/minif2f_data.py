"""What the miniF2F-rocq benchmarks share: the data, the 40-theorem sample, figures and result files.

Data: ../shared/data/proof/ (miniF2F-rocq @ b60affa, MIT: 244 valid + 244 test statements, and
minif2f_rocq.jsonl with each theorem's header, statement and informal text). Results go to
benchmarks/results/minif2f_*.{json,md}; cassettes to benchmarks/cassettes/minif2f_*.jsonl.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurosym.targets.proof import proof_problem
from neurosym.types import Problem

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "proof"
ROCQ = DATA / "miniF2F-rocq"
RESULTS = ROOT / "benchmarks" / "results"
CASSETTES = ROOT / "benchmarks" / "cassettes"
PORTFOLIO_RESULTS = RESULTS / "minif2f_portfolio.json"
SAMPLE_SIZE = 40
SAMPLE_SEED = 0
TOKENS_PER_THEOREM = 4096
"""The completion-token budget of one theorem in the model benchmarks: 4 samples and 4 repairs of at most 512 tokens."""


@dataclass(frozen=True)
class Theorem:
    """One miniF2F-rocq theorem: its name, split, file, header, statement and informal text."""

    name: str
    split: str
    file: str
    header: str
    statement: str
    informal: str

    def problem(self) -> Problem:
        """The proof problem (the statement as given, the header as its trusted context)."""
        return proof_problem(self.name, self.statement, self.header, self.informal)

    def shipped_text(self) -> str:
        """The .v file as shipped."""
        return (ROCQ / self.file).read_text(encoding="utf-8")


def data_problem() -> str | None:
    """Why the benchmark data is missing, or None."""
    if not (DATA / "minif2f_rocq.jsonl").exists():
        return f"the miniF2F-rocq data is not at {DATA}"
    return None


def theorems(split: str | None = None) -> list[Theorem]:
    """The theorems of ``split`` (``valid``, ``test``, or both), in file order."""
    out = []
    with (DATA / "minif2f_rocq.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if split is not None and row["split"] != split:
                continue
            informal = str(row.get("informal_lean_comment") or "").strip().removeprefix("/--").removesuffix("-/")
            out.append(Theorem(row["name"], row["split"], row["file"], row["header"], row["statement"],
                               " ".join(informal.split())))  # fmt: skip
    return out


def unclosed_sample(size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> list[Theorem]:
    """``size`` test theorems drawn with ``seed`` among those the portfolio does not close (from its results file).

    The pool is every test theorem that no portfolio tactic closed and whose statement type-checks
    with its header on the installed Coq (no proof of the others could be verified), sorted by
    name; ``random.Random(seed).sample`` draws from it, and the theorems come back in file order.
    """
    results = json.loads(PORTFOLIO_RESULTS.read_text(encoding="utf-8"))
    closed = {row["name"] for row in results["rows"] if row["closing"]}
    valid_statement = {row["name"] for row in results["rows"] if row.get("statement_ok", True)}
    pool = sorted(t.name for t in theorems("test") if t.name not in closed and t.name in valid_statement)
    chosen = set(random.Random(seed).sample(pool, size))
    return [t for t in theorems("test") if t.name in chosen]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; nan when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of a list of durations, in milliseconds, with the count."""
    return {"n": len(seconds), "p50": round(1000 * statistics.median(seconds), 1) if seconds else float("nan"),
            "p95": round(1000 * percentile(seconds, 0.95), 1)}  # fmt: skip


def write_results(name: str, payload: dict[str, Any], markdown: str) -> None:
    """Write benchmarks/results/NAME.json and NAME.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / f"{name}.md").write_text(markdown, encoding="utf-8")


def model_backend(cassette: Path, *, record: bool, llm: str | None) -> Any:
    """The model of a benchmark: the committed cassette replayed, or (``record``) the live model recorded into it.

    Both are a :class:`~neurosym.translators.store.StoredBackend` over the cassette's
    :class:`~neurosym.translators.store.CassetteStore`. Recording resumes: samples the cassette
    holds for this model are served from it, and the model is asked only for the missing ones, one
    sample per call, each appended as soon as it returns (a killed recording loses at most the
    sample in flight; a torn last line is cut). ``None``: replay asked for, and no cassette yet.
    """
    from neurosym.translators.backends import get_backend
    from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend

    if record:
        cassette.parent.mkdir(parents=True, exist_ok=True)
        return RecordingBackend(get_backend(llm or "embedded"), cassette, resume=True, one_at_a_time=True)
    if llm:
        return get_backend(llm)
    if not cassette.exists():
        return None
    return ReplayBackend(cassette)
