"""The MILP solvers benchmark: a handful of generated models, the report's structure and its counts (not timing)."""

import json

from benchmarks import milp_solvers
from neurosym.milp.parser import parse_model


def test_generated_models_are_deterministic_and_cover_every_kind():
    models = milp_solvers.generate_models(60, seed=3)
    assert models == milp_solvers.generate_models(60, seed=3)
    assert models != milp_solvers.generate_models(60, seed=4)
    assert {kind for kind, _ in models} == set(milp_solvers.KINDS)
    assert models[0] == ("stall_reproducer", milp_solvers.STALL_REPRODUCER)
    for _, text in models:
        model = parse_model(text)
        assert 2 <= len(model.variables) <= 6
        assert {v.kind for v in model.variables} <= {"integer", "continuous"}


def test_a_small_run_writes_a_consistent_report(tmp_path, capsys):
    assert milp_solvers.main(["--models", "12", "--seed", "5", "--jobs", "1", "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "milp_solvers.json").read_text(encoding="utf-8"))
    summary, rows = payload["summary"], payload["rows"]
    assert (summary["models"], summary["seed"], summary["jobs"]) == (12, 5, 1) and len(rows) == 12
    assert [r["index"] for r in rows] == list(range(12))
    assert sum(summary["kinds"].values()) == sum(summary["status"].values()) == 12
    for solver in ("highs", "cbc"):
        figures = summary["solvers"][solver]
        assert figures["solves"] == 12 == sum(figures["status"].values())
        assert 0 <= figures["stalls"] <= figures["solves"]
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
        assert figures["stalls"] == sum(
            1 for r in rows for run in r["runs"] if run["solver"] == solver and run["seconds"] > milp_solvers.STALL_S
        )
    assert summary["disagreements"] == sum(summary["disagreement_pairs"].values())
    assert summary["disagreements"] == sum(1 for r in rows if milp_solvers.solvers_disagree(r["runs"]))
    assert 0 <= summary["noted_disagreements"] <= 12 and summary["expectation_misses"] == 0
    assert len(summary["stalled"]) == sum(s["stalls"] for s in summary["solvers"].values())
    markdown = (tmp_path / "milp_solvers.md").read_text(encoding="utf-8")
    assert markdown.startswith("# MILP solvers on small random models") and "| cbc | 12 |" in markdown
    assert capsys.readouterr().out.startswith(markdown)
