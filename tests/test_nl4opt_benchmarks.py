"""The optimization benchmarks: data loaders, the official formulations converted and solved, the loop runner."""

import math

import pytest

from benchmarks import nl4opt_gold, nl4opt_loop, opt_data
from benchmarks.loop_report import Row
from neurosym.milp import parse_model
from neurosym.milp.solve import solve_model
from neurosym.targets.milp import MilpTarget
from neurosym.translators.backends.replay import RecordingBackend
from neurosym.translators.backends.scripted import ScriptedBackend


def test_every_official_formulation_converts_to_a_model_that_parses():
    items = opt_data.load_nl4opt_test()
    assert len(items) == 289 and len({i.id for i in items}) == 289
    for item in items:
        for integer in (False, True):
            model = parse_model(opt_data.annotation_model(item.annotation, integer=integer))
            assert {v.kind for v in model.variables} == {"integer" if integer else "continuous"}


def test_the_first_official_problem_solves_to_its_hand_computed_optimum():
    # max 100 s + 300 t, 50 s + 100 t <= 1000, s <= t: t = 10, s = 0 gives 3000 (s = t = 20/3 gives 2666.7)
    item = opt_data.load_nl4opt_test()[0]
    result = solve_model(parse_model(opt_data.annotation_model(item.annotation)))
    assert result.status == "optimal" and math.isclose(result.objective, 3000.0)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1000", 1000.0), ("$1,000", 1000.0), ("35 percent", 0.35), ("three times", 3.0), ("half", 0.5), ("Two", 2.0)],
)
def test_quantities_read_as_the_annotations_write_them(text, value):
    assert math.isclose(opt_data.parse_quantity(text), value)


def test_consensus_needs_two_agreeing_corrected_sets_and_no_infeasible_claim():
    assert opt_data.consensus({"SIRL": 5.0, "LLMOPT": 5.0, "CoE-LPWP": None}) == 5.0
    assert opt_data.consensus({"SIRL": 5.0}) is None
    assert opt_data.consensus({"SIRL": 5.0, "LLMOPT": 5.1}) is None
    assert opt_data.consensus({"SIRL": 5.0, "LLMOPT": 5.0, "NL4OPT-E": "infeasible"}) is None
    assert opt_data.consensus({"ORLM-HF(2024-05)": 5.0, "SIRL": 5.0}) is None  # ORLM is not a corrected set


def test_gold_answers_map_no_solution_codes_to_infeasible():
    golds = opt_data.nl4opt_golds()
    assert len(golds) == 289
    values = [v for g in golds.values() for v in g.values()]
    assert opt_data.NO_SOLUTION in values and -99999.0 not in values
    assert opt_data.gold_matches(None, "unbounded", opt_data.NO_SOLUTION)
    assert not opt_data.gold_matches(3.0, "optimal", opt_data.NO_SOLUTION)
    assert opt_data.gold_matches(100.005, "optimal", 100.0) and not opt_data.gold_matches(100.02, "optimal", 100.0)


def test_mamo_and_industryor_loaders_attach_every_gold_set_by_question_text():
    easy, complex_, industry = opt_data.load_mamo("easy"), opt_data.load_mamo("complex"), opt_data.load_industryor()
    assert (len(easy), len(complex_), len(industry)) == (652, 211, 100)
    assert sum("SIRL-fixed" in i.golds for i in easy) >= 630  # 642 fixed items, a few rewritten
    assert sum("LLM4OR-clean" in i.golds for i in complex_) == 111
    assert all("ORLM-HF(2024-05)" in i.golds and "LLMOPT" in i.golds for i in industry)
    with pytest.raises(ValueError, match="easy"):
        opt_data.load_mamo("hard")


def test_gold_track_summary_on_a_few_problems():
    items = opt_data.load_nl4opt_test()[:4]
    rows = [nl4opt_gold.solve_item(item) for item in items]
    summary = nl4opt_gold.summarise(rows, opt_data.nl4opt_golds())
    assert summary["problems"] == 4
    assert set(summary["solve_ms"]) == {"highs", "cbc"} and summary["solve_ms"]["cbc"]["n"] == 8
    assert summary["gold_sets"]["NL4OPT-E"]["n"] == 4
    first = rows[0]
    assert first["lp"]["status"] == "optimal" and first["lp"]["objective"] == pytest.approx(3000.0)
    agreement = nl4opt_gold.crosscheck_agreement(rows)
    assert agreement["lp_n"] == 4 and agreement["lp_same"] == 4
    assert "| SIRL |" in nl4opt_gold.render(summary, agreement)


def test_loop_items_come_from_the_consensus_subset_reproducibly():
    items = nl4opt_loop.nl4opt_items()
    assert len(items) == 40 and [i.problem.id for i in items] == [i.problem.id for i in nl4opt_loop.nl4opt_items()]
    for item in items:
        assert opt_data.consensus(item.golds) == pytest.approx(float(item.label))


def test_every_strategy_runs_on_one_item_with_a_scripted_model(tmp_path):
    item = nl4opt_loop.Item(
        "NL4Opt",
        nl4opt_loop.Problem("Chairs earn 30 and tables 50 ...", id="nl4opt-x"),
        "540",
        {"SIRL": 540.0, "LLMOPT": 540.0, "NL4OPT-E": 500.0},
    )
    right = "integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 40\n"
    right += "hours: 3 chairs + 2 tables <= 36\n"
    infeasible = right + "odd: chairs >= 30\n"
    fresh = iter(range(100))

    def model(request, index):
        if "Your model has a problem" in request.messages[-1].content:
            return right
        return infeasible if next(fresh) in (1, 3) else right

    backend = RecordingBackend(ScriptedBackend(model), tmp_path / "c.jsonl", resume=True, one_at_a_time=True)
    rows = nl4opt_loop.run_item(item, backend, MilpTarget())
    by_name = {r.strategy: r for r in rows}
    assert all(r.correct for r in rows), [(r.strategy, r.answer) for r in rows]
    assert by_name["vote-5"].votes == {"540": 3} and by_name["vote-5+repair"].votes == {"540": 5}
    table = nl4opt_loop.per_gold_set(rows, [item])
    sirl = next(t for t in table if t["strategy"] == "greedy" and t["gold_set"] == "SIRL")
    nl4opt_e = next(t for t in table if t["strategy"] == "greedy" and t["gold_set"] == "NL4OPT-E")
    assert sirl["accuracy"] == 1.0 and nl4opt_e["accuracy"] == 0.0
    assert "NL4OPT-E" in nl4opt_loop.render_per_gold_set(table)


def test_a_gold_objective_of_zero_is_scored():
    problem = nl4opt_loop.Problem("a problem whose optimum is 0", id="p0")
    item = nl4opt_loop.Item("NL4Opt", problem, "0", {"NL4OPT-E": 0.0, "CoE-LPWP": 0.0})
    rows = [
        Row("p0", "NL4Opt", name, "0", answer, 1, 0, 0, 0, 0, 0, {}, [], rel_tol=1e-4)
        for name, answer in (("greedy", "0"), ("vote-5", None))
    ]
    table = {(t["strategy"], t["gold_set"]): t for t in nl4opt_loop.per_gold_set(rows, [item])}
    assert table[("greedy", "NL4OPT-E")] == {"strategy": "greedy", "gold_set": "NL4OPT-E", "items": 1, "accuracy": 1.0}
    assert table[("vote-5", "CoE-LPWP")]["accuracy"] == 0.0
