"""The MILP target: parsing model output, verdicts with feedback, vote keys, repairs, and the loop."""

from __future__ import annotations

import json
import pickle
import random

import pytest

from neurosym.errors import ConfigurationError, ParseError
from neurosym.loop.refine import Strategy, refine
from neurosym.milp.report import CheckedSolution
from neurosym.milp.syntax import Model
from neurosym.targets import get_target
from neurosym.targets.milp import REL_TOL, MilpTarget, milp_verdict
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Assignment, Formalization, NumberAnswer, Problem, Verdict

PROBLEM = Problem(
    "A workshop makes chairs and tables. A chair needs 2 units of wood and 3 hours; a table needs 4 units "
    "of wood and 2 hours. There are 40 units of wood and 36 hours. A chair earns $30 and a table $50. "
    "How many of each maximize earnings?",
    id="chairs",
)
GOOD = "integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\nwood: 2 chairs + 4 tables <= 40\n"
GOOD += "hours: 3 chairs + 2 tables <= 36\n"
# the earnings are 540 at 8 chairs and 6 tables (both constraints binding)
BEST = max(30 * c + 50 * t for c in range(21) for t in range(11) if 2 * c + 4 * t <= 40 and 3 * c + 2 * t <= 36)
# at most 5 of each, but at least 40 units of wood used: 2*5 + 4*5 = 30 < 40
INFEASIBLE = "integer chairs, tables <= 5\nmaximize 30 chairs + 50 tables\nwood: 2 chairs + 4 tables >= 40\n"
UNBOUNDED = "integer chairs, tables\nmaximize 30 chairs + 50 tables\nwood: 2 chairs + 4 tables >= 40\n"
UNBOUNDED += "hours: 3 chairs + 2 tables >= 36\n"


def verdict_of(model_text: str, target: MilpTarget | None = None) -> Verdict:
    target = target or MilpTarget()
    return target.check(target.parse(PROBLEM, model_text), timeout_s=10)


# -- parse ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        GOOD,
        f"```\n{GOOD}```",
        f"Here is the model:\n\n```milp\n{GOOD}```\n\nSolving it gives the best plan.",
        f"Let me set this up.\n\n{GOOD}\nThe solver will find the optimum.",
    ],
)
def test_parse_reads_the_model_out_of_the_output(output):
    formalization = MilpTarget().parse(PROBLEM, output)
    assert formalization.target == "milp"
    assert formalization.source == GOOD
    assert isinstance(formalization.parsed, Model)
    assert [c.name for c in formalization.parsed.constraints] == ["wood", "hours"]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("The best plan is 8 chairs and 6 tables.", "no model in the output"),
        ("```\ninteger x\nmaximize x * x\n```", "multiplies variables together"),
        ("integer x\nmaximize y\n", "unknown variable 'y'"),
    ],
)
def test_parse_errors_are_parse_errors(output, message):
    with pytest.raises(ParseError, match=message):
        MilpTarget().parse(PROBLEM, output)


# -- check ------------------------------------------------------------------------------------


def test_optimal_verdict():
    verdict = verdict_of(GOOD)
    assert verdict.status == "optimal" and verdict.decided
    assert verdict.answer == Assignment({"chairs": 8.0, "tables": 6.0}, objective=float(BEST))
    assert isinstance(verdict.certificate, CheckedSolution) and verdict.certificate.objective == BEST
    assert verdict.prover == "pulp:highs+cbc" and verdict.elapsed_s > 0
    assert verdict.details["solver_status"] == "optimal"
    assert [r["solver"] for r in verdict.details["runs"]] == ["highs", "cbc"]
    assert all("values" not in r for r in verdict.details["runs"])
    assert verdict.feedback == ""


def test_check_parses_the_source_when_there_is_no_parsed_model():
    verdict = MilpTarget().check(Formalization("milp", GOOD), timeout_s=10)
    assert verdict.status == "optimal" and verdict.answer.objective == BEST


def test_infeasible_verdict_lists_the_conflicting_constraints():
    # 2 chairs + 4 tables >= 40 needs more than 2*5 + 4*5 = 30
    verdict = verdict_of(INFEASIBLE)
    assert verdict.status == "inconsistent" and not verdict.decided and verdict.answer is None
    assert verdict.message == "infeasible model"
    assert verdict.feedback.splitlines() == [
        "The model is infeasible: these constraints cannot all hold together:",
        "  wood: 2 chairs + 4 tables >= 40",
        "Check their directions (<= or >=) and numbers against the problem.",
    ]
    assert verdict.details["conflict"] == ["wood"]


def test_infeasible_from_bounds_alone():
    verdict = verdict_of("integer x in [1.2, 1.8]\nmaximize x\ncap: x <= 5\n")
    assert verdict.status == "inconsistent"
    assert verdict.feedback == (
        "The model is infeasible: the variable bounds and whole-number requirements admit no solution."
    )


def test_unbounded_verdict_names_the_runaway_variables():
    verdict = verdict_of(UNBOUNDED)
    assert verdict.status == "invalid" and verdict.message == "unbounded model"
    assert verdict.feedback.startswith("The objective is unbounded: nothing in the model limits chairs, tables,")
    assert "so the maximum is infinite" in verdict.feedback
    assert verdict.details["runaway"] == ["chairs", "tables"]


def test_unbounded_minimum():
    verdict = verdict_of("continuous x free\ncontinuous y <= 3\nminimize x + y\nx <= 10\n")
    assert verdict.status == "invalid" and "limits x, so the minimum is infinite" in verdict.feedback


def test_not_linear_verdict_names_the_variable_without_a_bound():
    verdict = verdict_of("integer x\nbinary b\nmaximize x\nx >= 1\nlink: if b then x <= 3\n")
    assert verdict.status == "invalid"
    assert "'x'" in verdict.feedback and "'link'" in verdict.feedback and "upper bound" in verdict.feedback
    assert verdict.message == verdict.feedback


def test_timeout_and_error_verdicts(monkeypatch):
    import neurosym.targets.milp.target as target_module
    from neurosym.milp.solve import MilpResult

    monkeypatch.setattr(target_module, "solve_model", lambda model, time_limit: MilpResult("timeout"))
    model = MilpTarget().parse(PROBLEM, GOOD).parsed
    verdict = milp_verdict(model, timeout_s=3)
    assert verdict.status == "timeout" and verdict.message == "no optimum proved within 3 s"
    monkeypatch.setattr(
        target_module, "solve_model", lambda model, time_limit: MilpResult("error", notes=("highs: error boom",))
    )
    verdict = milp_verdict(model, timeout_s=3)
    assert verdict.status == "unknown" and verdict.message == "highs: error boom"


def test_an_infeasible_verdict_without_time_for_the_conflict_says_so(monkeypatch):
    import neurosym.targets.milp.target as target_module
    from neurosym.milp.solve import MilpResult

    monkeypatch.setattr(
        target_module, "solve_model", lambda model, time_limit: MilpResult("infeasible", diagnosed=False)
    )
    verdict = milp_verdict(MilpTarget().parse(PROBLEM, INFEASIBLE).parsed, timeout_s=3)
    assert verdict.status == "inconsistent"
    assert verdict.feedback == "The model is infeasible; no time was left to find which constraints conflict."


def market_split_with_misses(rows: int = 4, items: int = 30) -> str:
    """Split 30 items into two halves of equal weight four times over, paying for every miss.

    A feasible point is found at once, but no solver proves the optimum in a second (Cornuéjols and
    Dawande's market-split instances defeat branch and bound).
    """
    rng = random.Random(0)
    names = [f"x{i}" for i in range(items)]
    lines = ["binary " + ", ".join(names), "continuous " + ", ".join(f"over{j}, under{j}" for j in range(rows))]
    lines.append("minimize " + " + ".join(f"over{j} + under{j}" for j in range(rows)))
    for j in range(rows):
        coefs = [rng.randint(0, 99) for _ in names]
        terms = " + ".join(f"{c} {n}" for c, n in zip(coefs, names, strict=True))
        lines.append(f"split{j}: {terms} + over{j} - under{j} == {sum(coefs) // 2}")
    return "\n".join(lines)


def test_a_time_limit_with_only_a_feasible_solution_is_a_timeout_that_says_so():
    model = MilpTarget().parse(PROBLEM, market_split_with_misses()).parsed
    verdict = milp_verdict(model, timeout_s=1)
    assert verdict.status == "timeout" and not verdict.decided and verdict.answer is None
    assert verdict.message.startswith("no optimum proved within 1 s; ")
    assert "CBC stopped at its time limit with a feasible solution, optimality not proved" in verdict.message
    assert [run["status"] for run in verdict.details["runs"]] == ["feasible", "feasible"]
    objectives = [run["objective"] for run in verdict.details["runs"]]
    assert verdict.details["best_feasible_objective"] == min(objectives) >= 0
    assert MilpTarget().answer_key(verdict) is None


def test_time_limits_are_checked():
    model = MilpTarget().parse(PROBLEM, GOOD).parsed
    for bad in (0, -2, float("nan"), float("inf")):
        with pytest.raises(ConfigurationError, match="timeout_s must be"):
            milp_verdict(model, timeout_s=bad)


# -- answers ----------------------------------------------------------------------------------


def test_answer_key_is_the_objective_within_the_tolerance():
    target = MilpTarget()
    verdict = verdict_of(GOOD)
    assert target.answer_key(verdict) == 540
    same = Verdict("optimal", answer=Assignment({"x": 1.0}, objective=540.0000000001))
    other = Verdict("optimal", answer=Assignment({"x": 1.0}, objective=540.01))
    assert target.answer_key(same) == target.answer_key(verdict)
    assert target.answer_key(other) != target.answer_key(verdict)
    assert target.answer_key(Verdict("optimal", answer=Assignment({"x": 0.5}, objective=2.35))) == 2.35
    # different solutions, same optimum: one answer
    assert target.answer_key(Verdict("optimal", answer=Assignment({"y": 9.0}, objective=540.0))) == 540


def test_answer_key_is_none_without_an_optimum():
    target = MilpTarget()
    assert target.answer_key(verdict_of(INFEASIBLE)) is None
    assert target.answer_key(Verdict("optimal", answer=Assignment({"x": 1.0}))) is None
    assert target.answer_key(Verdict("invalid", answer=Assignment({"x": 1.0}, objective=3.0))) is None
    assert REL_TOL == 1e-6


def test_same_answer_within_a_relative_tolerance():
    target = MilpTarget()
    assert target.same_answer(Assignment({"x": 1.0}, objective=1499.97), 1500)  # 2e-5 relative
    assert not target.same_answer(Assignment({"x": 1.0}, objective=1499.7), 1500)  # 2e-4 relative
    assert target.same_answer(Assignment({"x": 1.0}, objective=1499.7), 1500, rel_tol=1e-3)
    assert target.same_answer(NumberAnswer(-2.5), -2.5)
    assert target.same_answer(Assignment({}, objective=0.0), 0)
    assert not target.same_answer(Assignment({"x": 1.0}), 0.0)  # no objective


def test_repair_request_carries_the_feedback():
    target = MilpTarget()
    request = target.request(PROBLEM)
    feedback = verdict_of(INFEASIBLE).feedback
    repair = target.repair_request(PROBLEM, request, INFEASIBLE, feedback)
    assert repair.messages[: len(request.messages)] == request.messages
    assert [m.role for m in repair.messages[-2:]] == ["assistant", "user"]
    assert repair.messages[-2].content == INFEASIBLE
    assert repair.messages[-1].content.startswith("Your model has a problem: The model is infeasible:")
    assert "  wood: 2 chairs + 4 tables >= 40" in repair.messages[-1].content
    assert repair.messages[-1].content.endswith("Write the whole model again, corrected, in the same language: "
                                                "declarations, objective, constraints.")  # fmt: skip
    assert repair.constraint == request.constraint


def test_request_and_constrained_request():
    plain = MilpTarget().request(PROBLEM)
    assert plain.constraint is None and plain.messages[-1].content == f"Problem: {' '.join(PROBLEM.text.split())}"
    constrained = MilpTarget(constrained=True, shots=1).request(Problem(question="Maximize x?"))
    assert constrained.constraint is not None and constrained.constraint.kind == "grammar"
    assert len(constrained.messages) == 4 and constrained.messages[-1].content == "Problem: Maximize x?"


def test_the_target_pickles_and_is_registered():
    target = MilpTarget(constrained=True, shots=2, rel_tol=1e-4)
    assert pickle.loads(pickle.dumps(target)) == target
    assert get_target("milp") == MilpTarget()
    assert get_target("milp", constrained=True) == MilpTarget(constrained=True)
    assert MilpTarget.name == "milp"


def test_verdict_round_trip_keeps_the_answer_and_certificate():
    verdict = verdict_of(GOOD)
    back = Verdict.from_dict(json.loads(json.dumps(verdict.to_dict())))
    assert back.status == "optimal"
    assert isinstance(back.answer, Assignment) and back.answer == verdict.answer
    assert isinstance(back.certificate, CheckedSolution) and back.certificate == verdict.certificate
    assert back.certificate.render() == verdict.certificate.render()
    assert back.details == verdict.details and back.prover == verdict.prover
    assert MilpTarget().answer_key(back) == 540


def test_verdict_round_trip_of_an_infeasible_model():
    verdict = verdict_of(INFEASIBLE)
    back = Verdict.from_dict(json.loads(json.dumps(verdict.to_dict())))
    assert (back.status, back.feedback, back.answer, back.certificate) == (verdict.status, verdict.feedback, None, None)


# -- the loop ---------------------------------------------------------------------------------


def test_the_loop_repairs_an_infeasible_model():
    backend = ScriptedBackend([f"```\n{INFEASIBLE}```", f"Fixed:\n```\n{GOOD}```"])
    result = refine(PROBLEM, MilpTarget(), backend, strategy=Strategy(samples=1, repair_rounds=2))
    assert result.answer == BEST and result.verified and not result.abstained
    assert [(a.repair, a.status) for a in result.attempts] == [(0, "inconsistent"), (1, "optimal")]
    assert result.winner is result.attempts[1]
    assert result.winner.verdict.answer.values == {"chairs": 8.0, "tables": 6.0}
    assert len(backend.calls) == 2  # stopped repairing once the answer was checked
    repair = backend.calls[1][0][0]
    assert "wood: 2 chairs + 4 tables >= 40" in repair.messages[-1].content
    assert repair.messages[-2].content == f"```\n{INFEASIBLE}```"


def test_the_loop_repairs_a_parse_error_then_an_unbounded_model():
    backend = ScriptedBackend(["integer chairs\nmaximize chairs * tables\n", UNBOUNDED, GOOD])
    result = refine(PROBLEM, MilpTarget(), backend, strategy=Strategy(samples=1, repair_rounds=2))
    assert result.answer == BEST
    assert [a.repair for a in result.attempts] == [0, 1, 2]
    assert result.attempts[0].parse_error and result.attempts[1].status == "invalid"
    assert "could not be read" in backend.calls[1][0][0].messages[-1].content
    assert "nothing in the model limits chairs, tables" in backend.calls[2][0][0].messages[-1].content


def test_the_loop_abstains_when_repairs_run_out():
    backend = ScriptedBackend([INFEASIBLE, INFEASIBLE])
    result = refine(PROBLEM, MilpTarget(), backend, strategy=Strategy(samples=1, repair_rounds=1))
    assert result.answer is None and result.abstained and not result.verified
    assert len(result.attempts) == 2


def test_cached_verdicts_of_the_milp_target_depend_on_the_solver_versions(tmp_path):
    from neurosym.loop.cache import Cache, CachedChecker, target_settings

    settings = target_settings(MilpTarget(), 10.0)
    assert settings["pulp"] and settings["highspy"] and settings["target"]["rel_tol"] == 1e-6
    target = MilpTarget()
    formalization = target.parse(Problem("..."), "integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4\nx <= 3")
    calls = []

    def solve(t, f, timeout_s):
        calls.append(f.source)
        return t.check(f, timeout_s=timeout_s)

    with Cache(tmp_path / "c.sqlite") as cache:
        checker = CachedChecker(solve, cache)
        first = checker(target, formalization, 10.0)
        again = checker(target, formalization, 10.0)
    assert len(calls) == 1
    assert again.status == first.status == "optimal" and again.answer == first.answer
    assert isinstance(again.certificate, CheckedSolution) and again.certificate.values == {"x": 3.0, "y": 1.0}


def test_salvage_keeps_a_last_line_that_ended_and_gives_none_for_nothing():
    target, problem = MilpTarget(), Problem("...")
    assert target.salvage(problem, "integer x\nmaximize x\nx <= 3\n") == "integer x\nmaximize x\nx <= 3"
    assert target.salvage(problem, "integer x\ninteger x\nmaximize x\nx <= 3\nx <= 3\nx <") == (
        "integer x\nmaximize x\nx <= 3"
    )
    assert target.salvage(problem, "integer") is None
