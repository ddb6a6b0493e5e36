"""``neurosym milp FILE``: a model file solved and checked with no LLM, its exit codes and its JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from neurosym.cli import main
from neurosym.milp.files import read_model

PLAN = "continuous x, y\ninteger n <= 5\nmaximize 3 x + 2 y + n\ncap: x + y + n <= 4.5\nxcap: x <= 3\n"
INFEASIBLE = "integer x, y\nmaximize x\na: x >= 5\nb: y <= 3\nc: x + y <= 4\n"


@pytest.fixture
def plan(tmp_path):
    path = tmp_path / "plan.nsm"
    path.write_text(PLAN)
    return path


def test_an_optimal_model_prints_the_solution_the_check_and_the_sensitivity(plan, capsys):
    assert main(["milp", str(plan)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Model (plan.nsm, neurosym modeling language):")
    assert "Status: optimal" in out and "optimum (maximize): 12" in out
    assert "binding: cap, xcap" in out and "solvers: highs optimal 12, cbc optimal 12" in out
    # x = 3 and y = 1.5 with n fixed at 0: one more unit of cap is worth y's 2, of xcap 3 - 2 = 1
    assert "sensitivity (HiGHS, the LP with the integer variables fixed at the optimum):" in out
    assert "cap   4.5       0      yes      2     [3, inf]" in out
    assert "xcap  3         0      yes      1     [0, 4.5]" in out


def test_json_has_the_model_the_result_and_the_sensitivity(plan, capsys):
    assert main(["milp", str(plan), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "nsm" and data["exit_code"] == 0 and data["notes"] == []
    result = data["result"]
    assert result["status"] == "optimal" and result["objective"] == 12.0
    assert result["values"] == {"x": 3.0, "y": 1.5, "n": 0.0}
    rows = {r["name"]: r for r in result["sensitivity"]["rows"]}
    assert rows["cap"]["dual"] == 2.0 and rows["cap"]["rhs_range"] == [3.0, None]
    assert [r["solver"] for r in result["runs"]] == ["highs", "cbc"]


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_save_converts_and_the_saved_file_solves_the_same(plan, tmp_path, capsys, suffix):
    out_path = tmp_path / f"plan{suffix}"
    assert main(["milp", str(plan), "--save", str(out_path)]) == 0
    assert f"Saved: {out_path}" in capsys.readouterr().out
    assert [c.name for c in read_model(out_path).constraints] == ["cap", "xcap"]
    assert main(["milp", str(out_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == suffix[1:] and data["result"]["objective"] == 12.0


def test_an_infeasible_model_exits_1_and_names_its_irreducible_subset(tmp_path, capsys):
    path = tmp_path / "wrong.nsm"
    path.write_text(INFEASIBLE)
    assert main(["milp", str(path)]) == 1
    out = capsys.readouterr().out
    assert "Status: infeasible" in out and "    a: x >= 5\n    c: x + y <= 4" in out
    assert "irreducible infeasible subset (HiGHS IIS, checked): a, c; with the bounds y >= 0" in out
    assert main(["milp", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)["result"]
    assert data["iis"] == ["a", "c"] and data["iis_method"] == "highs_iis" and data["conflict"] == ["a", "c"]


def test_an_unbounded_model_exits_1_and_names_the_runaway(tmp_path, capsys):
    path = tmp_path / "open.lp"
    path.write_text("max\n obj: x - y\nst\n c: y <= 3\nend\n")
    assert main(["milp", str(path)]) == 1
    assert "the variables that run away: x" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("plan.txt", "integer x\nmaximize x", "a model file ends in .lp"),
        ("missing.lp", None, "no such file"),
        ("bad.lp", "max\n obj: x\nst\n c: x <=\nend\n", "HiGHS could not read bad.lp as an LP file"),
        ("bad.nsm", "integer x\nmaximize x * x", "multiplies variables together"),
        ("qp.lp", "min\n obj: x + [ x ^ 2 ] / 2\nst\n c: x >= 1\nend\n", "quadratic objective"),
    ],
)
def test_bad_files_exit_2_with_a_message_and_no_traceback(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert main(["milp", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert main(["milp", str(path), "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["error"]["exit_code"] == 2 and message in data["error"]["message"]


def test_a_model_that_cannot_be_linearised_exits_2(tmp_path, capsys):
    path = tmp_path / "loose.nsm"
    path.write_text("binary b\ncontinuous x free\nminimize x\nsw: if b then x <= 3\nneed: b = 1\n")
    assert main(["milp", str(path)]) == 2
    assert "no finite upper bound" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--save", "out.txt"], ["--timeout", "0"], ["--timeout", "nan"]])
def test_bad_options_are_usage_errors(plan, capsys, argv):
    assert main(["milp", str(plan), *argv]) == 2
    assert "usage:" in capsys.readouterr().err


def test_the_installed_command_runs(plan):
    done = subprocess.run(
        [sys.executable, "-m", "neurosym.cli", "milp", str(plan)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "optimum (maximize): 12" in done.stdout and done.stderr == ""
