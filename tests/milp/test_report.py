"""The checked-solution certificate and the model in Markdown and LaTeX."""

from __future__ import annotations

import json
import re

import pytest

from neurosym.milp.parser import parse_model
from neurosym.milp.report import CheckedSolution, model_latex, model_markdown
from neurosym.milp.solve import MilpResult, solve_model
from neurosym.types import certificate_from_dict

CHAIRS = (
    "integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 40\n"
    "hours: 3 chairs + 2 tables <= 36\nspare: chairs <= 100"
)


def certificate(text: str) -> CheckedSolution:
    model = parse_model(text)
    return CheckedSolution.from_result(model, solve_model(model))


def test_certificate_of_an_optimal_result():
    cert = certificate(CHAIRS)
    assert (cert.sense, cert.objective_name, cert.objective) == ("maximize", "profit", 540.0)
    assert cert.values == {"chairs": 8.0, "tables": 6.0}  # 2*8 + 4*6 = 40, 3*8 + 2*6 = 36
    assert cert.kinds == {"chairs": "integer", "tables": "integer"}
    assert cert.checked == 3 and cert.binding == ("wood", "hours")
    assert [(s["solver"], s["status"], s["objective"]) for s in cert.solvers] == [
        ("highs", "optimal", 540.0),
        ("cbc", "optimal", 540.0),
    ]
    assert parse_model(cert.model) == parse_model(CHAIRS)
    assert [c["name"] for c in cert.constraints] == ["wood", "hours", "spare"]
    assert [c["slack"] for c in cert.constraints] == pytest.approx([0.0, 0.0, 92.0])


def test_render_says_optimum_table_check_binding_and_solvers():
    text = certificate(CHAIRS).render()
    lines = text.splitlines()
    assert lines[0] == "optimum (maximize profit): 540"
    assert lines[1:4] == ["variable  value  kind", "chairs    8      integer", "tables    6      integer"]
    assert lines[4] == "check: every bound, integrality and constraint holds (3 checked); objective recomputed: 540"
    assert "binding: wood, hours" in lines
    assert "solvers: highs optimal 540, cbc optimal 540" in lines
    assert "LP relaxation: 540 (whole numbers do not change the optimum)" in lines


def test_render_when_integrality_changes_the_optimum():
    text = certificate("integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4.5").render()
    assert "LP relaxation: 13.5 (integrality changes the optimum)" in text
    assert "binding: none" in text  # x + y = 4 < 4.5


def test_render_of_a_fractional_continuous_optimum():
    cert = certificate("continuous x, y\nmaximize x + y\nx + 2 y <= 3.5\nx <= 1.2")
    assert cert.integer_optimum == pytest.approx(2.0) and cert.lp_relaxation is None
    text = cert.render()
    assert "x         1.2    continuous" in text and "y         1.15   continuous" in text
    assert "in whole numbers the optimum would be 2: declare the variables integer" in text
    assert "LP relaxation" not in text


def test_render_shows_notes():
    cert = CheckedSolution(
        "continuous x\nminimize x", "minimize", "", 0.0, {"x": 0.0}, {"x": "continuous"}, 0,
        notes=("solvers disagree: cbc said infeasible, but highs's solution passes the independent check",),
    )  # fmt: skip
    assert cert.render().splitlines()[-1] == (
        "note: solvers disagree: cbc said infeasible, but highs's solution passes the independent check"
    )
    assert cert.render().splitlines()[0] == "optimum (minimize): 0"


def test_table_hides_helper_variables():
    cert = CheckedSolution(
        "...", "maximize", "", 3.0, {"x": 3.0, "_mix_option1": 1.0, "long_name": 0.25, "_mix_option2": 0.0},
        {"x": "integer", "long_name": "continuous"}, 1,
    )  # fmt: skip
    assert cert.table() == "variable   value  kind\nx          3      integer\nlong_name  0.25   continuous"


def test_a_disjunction_model_has_no_helpers_in_its_solution():
    cert = certificate("integer x, y <= 10\nmaximize x + y\ncap: x + y <= 15\nmix: x <= 2 or y <= 2")
    assert set(cert.values) == {"x", "y"} and cert.objective == 12.0
    assert "_mix" not in cert.render()


def test_only_an_optimal_result_has_a_certificate():
    model = parse_model("integer x\nmaximize x\nx >= 2\nx <= 1")
    with pytest.raises(ValueError, match="infeasible"):
        CheckedSolution.from_result(model, solve_model(model))
    with pytest.raises(ValueError, match="error"):
        CheckedSolution.from_result(model, MilpResult("error"))


def test_to_dict_from_dict_round_trip():
    cert = certificate("continuous x, y\nmaximize x + y\nx + 2 y <= 3.5\nx <= 1.2")
    data = json.loads(json.dumps(cert.to_dict()))
    assert data["kind"] == "milp_solution"
    back = CheckedSolution.from_dict(data)
    assert back == cert
    assert back.to_dict() == cert.to_dict()
    assert back.render() == cert.render()
    via_types = certificate_from_dict(data)
    assert isinstance(via_types, CheckedSolution) and via_types == cert
    assert via_types.constraints == cert.constraints


def test_from_dict_fills_missing_optional_fields():
    back = CheckedSolution.from_dict(
        {"model": "integer x\nmaximize x", "sense": "maximize", "objective": "3", "values": {"x": 3}, "checked": 0}
    )
    assert back.objective == 3.0 and back.values == {"x": 3.0} and back.kinds == {}
    assert back.binding == () and back.notes == () and back.lp_relaxation is None


# -- the model for people ---------------------------------------------------------------------

ALL_KINDS = """integer x <= 10
integer n
continuous z_1 in [-5, 5]
continuous w free
binary b, c
maximize profit: 3 x + z_1 - n
cap: x + 2 z_1 <= 12
rng: -3 <= z_1 - x <= 2
link: if b then x >= 4
off: if not c then z_1 <= 1.5
mix: x <= 2 or z_1 >= 3
card: at most 1 of b, c
w = z_1
"""


def test_model_markdown_with_every_constraint_kind():
    assert model_markdown(parse_model(ALL_KINDS)) == "\n".join(
        [
            "**maximize** profit = 3 x + z_1 - n",
            "",
            "| constraint | |",
            "|---|---|",
            "| cap | x + 2 z_1 ≤ 12 |",
            "| rng | -z_1 + x ≤ 3 |",
            "| rng_2 | z_1 - x ≤ 2 |",
            "| link | if b then x ≥ 4 |",
            "| off | if not c then z_1 ≤ 1.5 |",
            "| mix | x ≤ 2 or z_1 ≥ 3 |",
            "| card | at most 1 of b, c |",
            "| c13 | w - z_1 = 0 |",
            "",
            "variables: x integer in [0, 10]; n integer ≥ 0; z_1 continuous in [-5, 5]; w continuous in [-∞, ∞]; "
            "b binary; c binary",
        ]
    )


def test_model_markdown_without_objective_name():
    assert model_markdown(parse_model("continuous x\nminimize 2 x\nx >= 1")).splitlines()[0] == "**minimize** 2 x"


def test_model_latex_with_every_constraint_kind():
    latex = model_latex(parse_model(ALL_KINDS))
    assert latex == "\n".join(
        [
            r"\begin{aligned}",
            r"\max\quad & 3 \mathit{x} + \mathit{z\_1} - \mathit{n} \\",
            r"\text{s.t.}\quad & \mathit{x} + 2 \mathit{z\_1} \le 12 && \text{(cap)} \\",
            r"& -\mathit{z\_1} + \mathit{x} \le 3 && \text{(rng)} \\",
            r"& \mathit{z\_1} - \mathit{x} \le 2 && \text{(rng\_2)} \\",
            r"& \mathit{b} = 1 \Rightarrow \mathit{x} \ge 4 && \text{(link)} \\",
            r"& \mathit{c} = 0 \Rightarrow \mathit{z\_1} \le 1.5 && \text{(off)} \\",
            r"& \mathit{x} \le 2 \lor \mathit{z\_1} \ge 3 && \text{(mix)} \\",
            r"& \mathit{b} + \mathit{c} \le 1 && \text{(card)} \\",
            r"& \mathit{w} - \mathit{z\_1} = 0 && \text{(c13)} \\",
            r"& 0 \le \mathit{x} \le 10,\ \mathit{x} \in \mathbb{Z},\ \mathit{n} \in \mathbb{Z}_{\ge 0},\ "
            r"-5 \le \mathit{z\_1} \le 5,\ -\infty \le \mathit{w} \le \infty,\ \mathit{b} \in \{0, 1\},\ "
            r"\mathit{c} \in \{0, 1\}",
            r"\end{aligned}",
        ]
    )
    # every underscore is escaped, except the subscript of the whole numbers
    assert not re.search(r"(?<!\\)_(?!\{\\ge 0\})", latex)
    assert latex.count("{") == latex.count("}")


def test_model_latex_minimize():
    assert model_latex(parse_model("continuous x\nminimize 2 x\nx >= 1")).splitlines()[1] == (
        r"\min\quad & 2 \mathit{x} \\"
    )
