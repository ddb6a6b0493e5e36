"""The choice decision: per-option statuses against brute force, the question kinds, the verdicts, the evidence."""

from __future__ import annotations

import itertools
import json
import math
import random
import time

import pytest

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError
from neurosym.targets.choice import check as choice_check
from neurosym.targets.choice.check import check_choice, choice_task, combine_choice_verdicts, decide
from neurosym.targets.choice.engine import Outcome, Z3Engine
from neurosym.targets.choice.language import Node, parse_program
from neurosym.types import Verdict

# ------------------------------------------------------------------------------ an independent evaluator


def evaluate(node: Node, cells: dict[str, int]) -> int | bool:
    """A grounded expression's value where each unknown has the value in ``cells`` (keys as the engine names them)."""
    head, rest = node[0], node[1:]
    if head in ("int", "bool"):
        return rest[0]
    if head == "const":
        return cells[rest[0]]
    if head == "app":
        return cells[(rest[0], tuple(int(evaluate(a, cells)) for a in rest[1:]))]
    values = [evaluate(child, cells) for child in rest]
    table = {
        "not": lambda v: not v[0],
        "and": all,
        "or": any,
        "implies": lambda v: (not v[0]) or v[1],
        "eq": lambda v: v[0] == v[1],
        "lt": lambda v: v[0] < v[1],
        "le": lambda v: v[0] <= v[1],
        "add": sum,
        "sub": lambda v: v[0] - v[1],
        "mul": lambda v: v[0] * v[1],
        "neg": lambda v: -v[0],
        "distinct": lambda v: len(set(v)) == len(v),
        "ite": lambda v: v[1] if v[0] else v[2],
        "abs": lambda v: abs(v[0]),
    }
    return table[head](values)


def ordering_puzzle(seed: int) -> tuple[str, list[str], list[list[int]]]:
    """A random ordering puzzle: its program, its objects and every placement that meets its conditions."""
    rng = random.Random(seed)
    n = rng.choice([3, 4, 5])
    objects = [f"o{i}" for i in range(n)]
    conditions: list[tuple[str, object]] = []
    for _ in range(rng.randint(1, 4)):
        a, b = rng.sample(objects, 2)
        kind = rng.choice(["before", "at", "not_at", "adjacent"])
        conditions.append((kind, (a, b, rng.randint(1, n))))
    lines = [f"sort thing = {{{', '.join(objects)}}}", f"fun pos(thing): 1..{n}", "assert distinct(pos)"]
    for kind, (a, b, k) in conditions:  # type: ignore[misc]
        lines.append({"before": f"assert pos({a}) < pos({b})", "at": f"assert pos({a}) == {k}",
                      "not_at": f"assert pos({a}) != {k}",
                      "adjacent": f"assert abs(pos({a}) - pos({b})) == 1"}[kind])  # fmt: skip
    worlds = []
    for perm in itertools.permutations(range(1, n + 1)):
        place = dict(zip(objects, perm, strict=True))
        ok = True
        for kind, (a, b, k) in conditions:  # type: ignore[misc]
            ok &= {"before": place[a] < place[b], "at": place[a] == k, "not_at": place[a] != k,
                   "adjacent": abs(place[a] - place[b]) == 1}[kind]  # fmt: skip
        if ok:
            worlds.append(list(perm))
    return "\n".join(lines), objects, worlds


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("solver", ["z3", "cvc5"])
def test_each_options_status_matches_brute_force(seed, solver):
    program, objects, worlds = ordering_puzzle(seed)
    rng = random.Random(seed + 100)
    options = [(rng.choice(objects), rng.randint(1, len(objects))) for _ in range(4)]
    text = program + "\n" + "\n".join(f"option {'ABCD'[i]}: pos({o}) == {k}" for i, (o, k) in enumerate(options))
    verdict = decide(choice_task(text, "Which one of the following could be true?", "ABCD"), solver,
                     deadline=Deadline.after(30))  # fmt: skip
    if not worlds:
        assert verdict.status == "inconsistent" and verdict.certificate.conflict
        return
    expected = {}
    for letter, (thing, k) in zip("ABCD", options, strict=True):
        holds = [w[objects.index(thing)] == k for w in worlds]
        expected[letter] = "entailed" if all(holds) else "contradicted" if not any(holds) else "contingent"
    assert verdict.details["options"] == expected
    could = [letter for letter, status in expected.items() if status != "contradicted"]
    if len(could) == 1:
        assert verdict.status == "proved" and verdict.answer.exact == could[0]
    else:
        assert verdict.status == "unknown" and verdict.details["problem"] in ("several_options", "no_option")


# ------------------------------------------------------------------------------ kinds and verdicts

SHELF = """sort book = {red, blue, green, white}
fun pos(book): 1..4
assert distinct(pos)
assert [left] pos(red) < pos(blue)
assert [first] pos(green) == 1
"""


def task(options: str, question: str, letters: str = "ABC", program: str = SHELF):
    return choice_task(program + options, question, letters)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Which one of the following must be true?", "B"),  # A contingent, B entailed, C contradicted
        ("Which one of the following must be false?", "C"),
        ("Which one of the following CANNOT be true?", "C"),
        ("Each of the following could be true EXCEPT:", "C"),
        ("Each of the following could be false EXCEPT:", "B"),
    ],
)
def test_the_question_kind_picks_the_option(question, answer):
    options = "option A: pos(red) == 2\noption B: pos(green) < pos(blue)\noption C: pos(white) == 1\n"
    verdict = check_choice(task(options, question))
    assert verdict.status == "proved" and verdict.answer.exact == answer, verdict
    assert verdict.details["options"] == {"A": "contingent", "B": "entailed", "C": "contradicted"}
    assert verdict.details["agree"] is True and verdict.prover == "z3+cvc5"


def test_several_options_and_no_option_and_under_determined_are_said_not_guessed():
    options = "option A: pos(red) == 2\noption B: pos(red) == 3\noption C: pos(white) == 1\n"
    several = check_choice(task(options, "Which one of the following could be true?"))
    assert several.status == "unknown" and several.details["problem"] == "several_options"
    assert "A, B" in several.message and several.answer is None and several.feedback
    under = check_choice(task(options, "Which of the following is true?"))
    assert under.status == "unknown" and under.details["problem"] == "under_determined"
    assert "A, B" in under.message and "under-determined" in under.message
    none = check_choice(task("option A: pos(white) == 1\noption B: pos(green) == 2\noption C: pos(blue) == 1\n",
                             "Which one of the following could be true?"))  # fmt: skip
    assert none.status == "unknown" and none.details["problem"] == "no_option"


def test_inconsistent_conditions_name_the_conflict():
    program = SHELF + "assert [wrong] pos(blue) == 1\n"
    verdict = check_choice(task("option A: pos(red) == 2\noption B: true\noption C: false\n",
                                "Which must be true?", program=program))  # fmt: skip
    assert verdict.status == "inconsistent" and not verdict.decided
    conflict = verdict.certificate.conflict
    assert any(c.startswith("wrong:") for c in conflict) and any(c.startswith("first:") for c in conflict)
    assert "contradict" in verdict.feedback


def test_an_unhandled_kind_abstains_and_says_so():
    verdict = check_choice(task("option A: true\noption B: false\noption C: false\n", "Who painted the fence?"))
    assert verdict.status == "unknown" and verdict.details["abstained"] is True
    assert "not one this target handles" in verdict.message


def test_a_conditional_question_needs_and_uses_its_hypothesis():
    options = "option A: pos(red) == 3\noption B: pos(white) == 4\noption C: pos(blue) == 2\n"
    question = "If the white book is second, which one of the following must be true?"
    missing = check_choice(task(options, question))
    assert missing.status == "invalid" and missing.details["problem"] == "no_given"
    verdict = check_choice(task("given pos(white) == 2\n" + options, question))
    assert verdict.status == "proved" and verdict.answer.exact == "A"


def test_counting_counts_the_values_that_could_or_must_hold():
    counting = "how_many(b in book: pos(b) == 2)\noption A: 1\noption B: 2\noption C: 3\n"
    could = check_choice(task(counting, "How many of the books could be second?"))
    # red, blue (after red in 3rd or 4th? no: red 2nd or blue 2nd) and white: brute force below
    worlds = [p for p in itertools.permutations(range(1, 5)) if p[0] < p[1] and p[2] == 1]
    second = {i for p in worlds for i in range(4) if p[i] == 2}
    assert could.status == "proved" and could.answer.exact == "ABC"[len(second) - 1]
    must = check_choice(task("how_many(b in book: pos(b) > 1)\noption A: 1\noption B: 2\noption C: 3\n",
                             "How many of the books must be after the first place?"))  # fmt: skip
    assert must.status == "proved" and must.answer.exact == "C"
    wrong = check_choice(task("option A: true\noption B: false\noption C: false\n", "How many books could be 2nd?"))
    assert wrong.status == "invalid" and wrong.details["problem"] == "no_how_many"


def test_substitution_finds_the_condition_with_the_same_effect():
    options = ("replace left\noption A: pos(blue) > pos(red)\noption B: pos(red) != 4\n"
               "option C: pos(blue) != 1\n")  # fmt: skip
    verdict = check_choice(task(options, "Which one of the following, if substituted for the condition that red "
                                         "is left of blue, would have the same effect?"))  # fmt: skip
    assert verdict.status == "proved" and verdict.answer.exact == "A"
    assert verdict.details["options"] == {"A": "equivalent", "B": "not equivalent", "C": "not equivalent"}
    missing = check_choice(task(options.replace("replace left\n", ""), "Which, if substituted for X, ..."))
    assert missing.status == "invalid" and missing.details["problem"] == "no_replace"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("option A: true\noption B: false\n", "missing_option"),
        ("option A: true\noption B: false\noption C: false\noption D: false\n", "unknown_option"),
        ("how_many(b in book: pos(b) == 2)\noption A: 1\noption B: 2\noption C: 3\n", "unexpected_how_many"),
    ],
)
def test_a_program_that_does_not_fit_the_question_is_invalid(options, problem):
    verdict = check_choice(task(options, "Which one of the following must be true?"))
    assert verdict.status == "invalid" and verdict.details["problem"] == problem and verdict.feedback


# ------------------------------------------------------------------------------ the evidence


def cells_of(values: dict[str, str], program) -> dict:
    """The engine's printed model back as evaluator cells."""
    out: dict = {}
    for symbol in program.symbols:
        for text, arguments in program.cells_of(symbol):
            shown = values[text]
            if symbol.result.kind == "sort":
                value = program.sorts[symbol.result.sort].index(shown)
            elif symbol.result.kind == "bool":
                value = shown == "true"
            else:
                value = int(shown)
            out[symbol.name if not arguments else (symbol.name, arguments)] = value
    return out


@pytest.mark.parametrize("solver", ["z3", "cvc5"])
def test_models_meet_the_conditions_and_cores_are_conflicts(solver):
    options = "option A: pos(red) == 2\noption B: pos(green) < pos(blue)\noption C: pos(white) == 1\n"
    t = task(options, "Which one of the following could be false?")
    verdict = decide(t, solver, deadline=Deadline.after(30))
    program = t.program
    by_letter = {o.letter: o for o in program.options}
    for evidence in verdict.certificate.options:
        formula = by_letter[evidence.letter].formula
        for model, holds in ((evidence.holds_in, True), (evidence.fails_in, False)):
            if model:
                cells = cells_of(dict(model), program)
                assert all(evaluate(c.formula, cells) for c in program.conditions)
                assert bool(evaluate(formula, cells)) is holds
        if evidence.status in ("contradicted", "entailed"):
            kept = [c for c in program.conditions if f"{c.label}: {c.text}" in evidence.core]
            assert kept  # the core names real conditions
            lines = SHELF.splitlines()[:2] + [f"assert {c.text}" for c in kept]
            only_core = "\n".join(lines) + "\noption A: " + by_letter[evidence.letter].text
            again = decide(choice_task(only_core, "Which could be true?", "A"), solver, deadline=Deadline.after(30))
            assert again.details["options"]["A"] == evidence.status  # the core alone suffices


def test_verdicts_round_trip_through_json():
    from neurosym.targets.choice.certificate import ChoiceEvidence

    for question in ("Which must be true?", "Which could be true?"):
        verdict = check_choice(task("option A: pos(red) == 2\noption B: pos(green) < pos(blue)\noption C: false\n",
                                    question))  # fmt: skip
        data = json.loads(json.dumps(verdict.to_dict()))
        back = Verdict.from_dict(data)
        assert back.to_dict() == data and isinstance(back.certificate, ChoiceEvidence)
        assert back.answer == verdict.answer and back.certificate.render() == verdict.certificate.render()


# ------------------------------------------------------------------------------ the cross-check


class LyingZ3Engine(Z3Engine):
    """A test double at the solver boundary: Z3, except that it never finds a conflict for an option."""

    def solve(self, assume, *, drop=(), deadline=None):
        outcome = super().solve(assume, drop=drop, deadline=deadline)
        if assume and outcome.status == "unsat":
            return Outcome("sat", values={})
        return outcome


def test_a_disagreement_between_solvers_is_reported_not_resolved(monkeypatch):
    monkeypatch.setitem(choice_check.SOLVERS, "liar", LyingZ3Engine)
    t = task("option A: pos(red) == 2\noption B: pos(green) < pos(blue)\noption C: pos(white) == 1\n",
             "Which one of the following must be true?")  # fmt: skip
    verdict = check_choice(t, solvers=("z3", "liar"))
    assert verdict.status == "unknown" and verdict.details["problem"] == "solvers_disagree"
    assert verdict.message.startswith("solvers disagree: z3 says proved") and "liar says" in verdict.message
    assert verdict.answer is None and verdict.details["agree"] is False


def test_one_solver_out_of_time_leaves_the_others_verdict_marked_unconfirmed():
    done = Verdict("proved", prover="z3", details={"complete": True, "signature": "A:entailed"})
    late = Verdict("timeout", prover="cvc5", details={"complete": False})
    combined = combine_choice_verdicts([done, late])
    assert combined.status == "proved" and combined.details["agree"] is None and combined.prover == "z3+cvc5"


# ------------------------------------------------------------------------------ time limits

# 1000000007 * 1000000009: finding the factors within 1..10^12 is far beyond a second for either solver.
FACTORING = """var p: int
var q: int
assert p > 1 and q > 1
assert p * q == 1000000016000000063
option A: p < q
option B: p > q
"""


@pytest.mark.parametrize("solver", ["z3", "cvc5"])
def test_a_solver_timeout_is_a_timeout_verdict_on_time(solver):
    started = time.monotonic()
    verdict = check_choice(choice_task(FACTORING, "Which must be true?", "AB"), timeout=1.0, solvers=(solver,))
    took = time.monotonic() - started
    assert verdict.status == "timeout" and "ran out of time" in verdict.message, verdict
    assert took < 5.0, took


def test_a_passed_deadline_is_a_timeout_before_any_solver_runs():
    verdict = decide(task("option A: true\noption B: false\noption C: false\n", "Which must be true?"), "z3",
                     deadline=Deadline(0.0))  # fmt: skip
    assert verdict.status == "timeout"


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0, -1, "10"])
def test_a_bad_timeout_or_solver_is_a_configuration_error(bad):
    t = task("option A: true\noption B: false\noption C: false\n", "Which must be true?")
    with pytest.raises(ConfigurationError, match="timeout"):
        check_choice(t, timeout=bad)
    with pytest.raises(ConfigurationError, match="unknown solver"):
        check_choice(t, solvers=("yices",))
    with pytest.raises(ConfigurationError, match="at least one"):
        check_choice(t, solvers=())


def test_a_large_grounded_program_is_decided():
    # 12 objects in 12 places, 30 random order conditions: ~150 unknown cells; Z3 and cvc5 each decide it.
    rng = random.Random(7)
    objects = [f"o{i}" for i in range(12)]
    order = objects[:]
    rng.shuffle(order)
    lines = [f"sort thing = {{{', '.join(objects)}}}", "fun pos(thing): 1..12", "assert distinct(pos)"]
    lines += [f"assert pos({order[i]}) < pos({order[i + 1]})" for i in range(11)]
    lines += [f"option A: pos({order[0]}) == 1", f"option B: pos({order[0]}) == 2"]
    verdict = check_choice(choice_task("\n".join(lines), "Which must be true?", "AB"))
    assert verdict.status == "proved" and verdict.answer.exact == "A" and verdict.details["agree"] is True
    assert parse_program("\n".join(lines)).cells == 12
