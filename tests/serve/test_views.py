"""What the page shows, without a browser: MathML, the result view, checks of edited text, the CSV, the CLI."""

from __future__ import annotations

import csv
import io
import socket
import xml.etree.ElementTree as ET

import pytest

from neurosym.cli import main
from neurosym.milp.files import load_model_text, model_to_lp
from neurosym.milp.parser import parse_model
from neurosym.milp.sensitivity import analyse
from neurosym.milp.solve import solve_model
from neurosym.serve.formats import solution_csv
from neurosym.serve.mathml import model_mathml
from neurosym.serve.views import check_text, error_outcome, result_view

LOGIC_MODEL = (
    "integer x <= 10\ninteger y <= 10\nbinary b, c, d\ncontinuous z in [-5, 5]\ncontinuous w free\n"
    "maximize total: 3 x + 2 y - z + b\n"
    "cap: x + y <= 12\n"
    "switch: if b then x >= 4\n"
    "either: x <= 2 or y <= 3\n"
    "pick: at most 2 of b, c, d\n"
    "link: w = z\n"
)


def _text_of(element: ET.Element) -> str:
    return "".join(element.itertext())


def test_mathml_is_well_formed_and_names_every_constraint():
    model = parse_model(LOGIC_MODEL)
    tree = ET.fromstring(str(model_mathml(model)))
    assert tree.tag == "math" and tree.get("display") == "block"
    rows = tree.findall("./mtable/mtr")
    assert len(rows) == 1 + len(model.constraints) + 1  # objective, constraints, domains
    labels = [_text_of(row[2]) for row in rows[1:-1]]
    assert labels == [f"({c.name})" for c in model.constraints]
    for name in ("x", "y", "b", "z", "w"):
        assert name in {_text_of(mi) for mi in tree.iter("mi")}
    symbols = {_text_of(mo) for mo in tree.iter("mo")}
    assert {"⇒", "∨", "≤", "≥", "="} <= symbols


def test_the_view_of_an_lp_shows_the_solvers_sensitivity():
    text = "continuous chairs, tables\nmaximize profit: 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 48\n" \
        "hours: 3 chairs + 2 tables <= 36\n"  # fmt: skip
    view = result_view(check_text("milp", "", text, timeout_s=10))
    report = analyse(parse_model(text))
    assert view.status == "optimal" and float(view.objective) == pytest.approx(report.objective)
    rows, variables = view.tables
    assert [float(r[4]) for r in rows.rows] == pytest.approx([r.dual for r in report.rows])
    assert [float(v[3]) for v in variables.rows] == pytest.approx([v.reduced_cost for v in report.variables])
    assert {c.name for c in view.checks if c.binding} == set(view.binding)
    assert view.downloads == ("model.lp", "model.mps", "model.nsm", "solution.csv")


def test_the_view_of_an_integer_model_says_why_it_shows_no_sensitivity():
    view = result_view(check_text("milp", "", "integer x, y\nmaximize x + y\ncap: 2 x + 3 y <= 7", timeout_s=10))
    assert view.status == "optimal" and view.tables == ()
    assert "whole number" in view.sensitivity_notes[0]


def test_the_view_of_an_infeasible_model_lists_its_conflict():
    text = "continuous x, y\nmaximize x\na: x >= 5\nb: y <= 3\nc: x + y <= 4"
    view = result_view(check_text("milp", "", text, timeout_s=10))
    assert view.status == "inconsistent" and view.solution == ()
    names = [name for name, _ in view.conflict]
    assert "a" in names and "c" in names
    assert all(rendered for _, rendered in view.conflict)
    assert "irreducible infeasible subset" in view.conflict_caption


def test_edited_text_that_does_not_parse_is_invalid_with_the_reason():
    outcome = check_text("milp", "", "integer x\nmaximize x\ncap: x * x <= 3", timeout_s=10)
    assert outcome.verdict.status == "invalid" and "could not read it" in outcome.verdict.message
    empty = check_text("milp", "", "   ", timeout_s=10)
    assert empty.verdict is None and "empty" in empty.error
    assert result_view(empty).status == "error"


def test_fol_and_python_text_get_the_same_check():
    fol = check_text("fol", "", "P(a)\n∀x (P(x) → Q(x))\n⊢ Q(a)", timeout_s=10)
    assert fol.verdict.status == "proved"
    assert result_view(fol).certificate  # the premises used
    refuted = check_text("fol", "", "P(a)\n⊢ ¬P(a)", timeout_s=10)
    assert refuted.verdict.status == "disproved"


def test_a_python_program_runs_in_the_sandbox(sandbox_available):
    outcome = check_text("python", "", "def solution():\n    return 6 * 7\n", timeout_s=10)
    assert outcome.verdict.status == "computed" and outcome.verdict.answer.value == 42
    assert result_view(outcome).headline == "computed: 42"


def test_an_lp_file_is_turned_into_the_modeling_language():
    lp = model_to_lp(parse_model("integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4\nlim: x <= 3"))
    outcome = check_text("milp", "", lp, timeout_s=10, fmt="lp")
    assert outcome.verdict.status == "optimal"
    assert parse_model(outcome.text).constraint("cap").render() == "x + y <= 4"
    wrong_target = check_text("fol", "", lp, timeout_s=10, fmt="lp")
    assert "MILP model" in wrong_target.error


def test_an_error_that_is_not_neurosyms_is_said_briefly():
    outcome = error_outcome("milp", "p", KeyError("x"))
    assert outcome.error.startswith("internal error (KeyError)") and "Traceback" not in outcome.error


def test_the_solution_csv_reads_back_with_the_objective():
    model = parse_model("integer x, y\nbinary b\nmaximize 3 x + 2 y + b\ncap: x + y <= 4\nlim: x <= 3")
    result = solve_model(model)
    kinds = {v.name: v.kind for v in model.variables}
    rows = list(csv.reader(io.StringIO(solution_csv(result.values, kinds, result.objective))))
    assert rows[0] == ["variable", "value", "kind"]
    assert {r[0]: float(r[1]) for r in rows[1:]} == {**result.values, "objective": result.objective}
    assert {r[0]: r[2] for r in rows[1:-1]} == kinds


def test_the_lp_download_keeps_the_optimum_of_a_model_with_logic_constraints():
    model = parse_model(LOGIC_MODEL)
    back = load_model_text(model_to_lp(model), "lp").model
    assert solve_model(back).objective == pytest.approx(solve_model(model).objective)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["serve", "--port", "70000"], "between 0 and 65535"),
        (["serve", "--port", "0", "--llm", "embedded", "--base-url", "http://x"], "option of --llm openai"),
        (["serve", "--port", "0", "--llm", "replay:/nonexistent/cassette.jsonl"], "cassette"),
    ],
)
def test_serve_refuses_bad_options_before_serving(argv, said, capsys):
    assert main(argv) == 2
    assert said in capsys.readouterr().err


def test_serve_says_when_the_port_is_taken(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--llm", "replay:/nonexistent.jsonl"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_a_job_streams_each_piece_of_text_once_and_caps_a_runaway_model():
    from neurosym.serve.jobs import MAX_STREAMED_CHARS, Job
    from neurosym.translators.base import Progress

    job = Job("milp", "p")
    pieces = ["integer", " x", "\nmaximize", " x"]
    for count, piece in enumerate(pieces, start=1):
        job.report(Progress(0, 0, count, piece))
    job.report(Progress(0, 0, len(pieces), "", done=True))
    events = job.events_since(0)
    assert [data["text"] for name, data in events if name == "token"] == pieces
    assert events[-1] == ("sample", {"sample": 0, "tokens": len(pieces)})
    assert job.events_since(len(events)) == [] and not job.finished
    runaway = Job("milp", "p")
    for count in range(3):
        runaway.report(Progress(0, 1, count, "y" * (MAX_STREAMED_CHARS // 2 + 1)))
    assert sum(len(data["text"]) for _, data in runaway.events_since(0)) == MAX_STREAMED_CHARS


def test_a_stray_line_in_an_edited_model_is_an_error_not_skipped():
    outcome = check_text("milp", "", "integer x\nmaximize x\ncap: x <= 3\nthis line is not a statement", timeout_s=10)
    assert outcome.verdict.status == "invalid"
    assert "line 4" in outcome.verdict.message
