"""The deadline benchmark: its catalogue, and the structure of the report it writes (not its timings)."""

import json

from benchmarks import deadlines
from neurosym import check_fol


def test_the_catalogue_has_every_case_the_report_describes():
    names = [case.name for case in deadlines.fol_cases()]
    assert names == ["many-predicates", "pigeonhole-z3", "no-finite-model-e", "cross-check", "huge-text"]
    assert len(set(names)) == len(names)
    needs = {case.name: case.needs for case in deadlines.fol_cases()}
    assert needs["cross-check"] == needs["no-finite-model-e"] == "eprover" and needs["pigeonhole-z3"] is None


def test_the_hostile_problems_are_what_they_claim():
    premises, conclusion = deadlines.many_predicates_problem()
    assert len({p.split("(")[0] for p in premises[1:]}) == 300
    assert 5_000 < sum(map(len, premises)) + len(conclusion) < 6_000
    premises, _ = deadlines.huge_text_problem()
    assert 180_000 < sum(map(len, premises)) <= 190_000
    # a small pigeonhole problem is refuted, so the large one is hard, not wrong
    small, goal = deadlines.pigeonhole_problem(3)
    assert check_fol(small, goal, timeout=30).status == "inconsistent"


def test_one_fast_case_writes_a_report_of_the_documented_shape(tmp_path, capsys):
    premises, conclusion = deadlines.pigeonhole_problem()
    case = deadlines.fol_case("pigeonhole-z3", "hard for Z3", (premises, conclusion))
    code = deadlines.main(["--timeouts", "0.2", "0.3", "--repeats", "2", "--out", str(tmp_path)], cases=[case])
    report = json.loads((tmp_path / "deadlines.json").read_text(encoding="utf-8"))
    assert code == (1 if report["late_total"] else 0)
    assert report["timeouts_s"] == [0.2, 0.3] and report["repeats"] == 2 and report["late_s"] == 1.0
    assert [(r["case"], r["timeout_s"]) for r in report["rows"]] == [("pigeonhole-z3", 0.2), ("pigeonhole-z3", 0.3)]
    for row in report["rows"]:
        assert row["calls"] == 2 and len(row["samples"]) == 2
        assert row["statuses"] == {"timeout": 2}
        assert row["median_overrun_s"] <= row["max_overrun_s"]
        assert row["late"] == sum(1 for s in row["samples"] if s["overrun_s"] > 1.0)
        for sample in row["samples"]:
            assert abs(sample["elapsed_s"] - row["timeout_s"] - sample["overrun_s"]) < 1e-9
    printed = capsys.readouterr().out
    assert "| pigeonhole-z3 | 0.2 |" in printed and "| pigeonhole-z3 | 0.3 |" in printed
    assert not list(tmp_path.glob("*.tmp"))


def test_a_case_needing_a_missing_program_is_skipped(tmp_path):
    case = deadlines.DeadlineCase("needs-nothing-here", "never runs", lambda t: 1 / 0, needs="no-such-program-xyz")
    report = deadlines.run_benchmark([case], [1.0], repeats=1)
    assert report["rows"] == [
        {"case": "needs-nothing-here", "description": "never runs", "skipped": "no-such-program-xyz not installed"}
    ]
    assert "skipped" in deadlines.render(report)
