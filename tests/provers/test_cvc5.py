"""cvc5 through its PyPI bindings: the engine's answers, its time limit, and the prover on choice formalizations."""

from __future__ import annotations

import time

import pytest

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError
from neurosym.provers.cvc5 import Cvc5Engine, Cvc5Prover
from neurosym.targets.choice.check import choice_task
from neurosym.targets.choice.engine import Z3Engine
from neurosym.targets.choice.language import parse_program
from neurosym.types import Formalization

pytestmark = pytest.mark.skipif(not Cvc5Prover().available(), reason="the cvc5 package is not installed")

PROGRAM = """sort p = {ann, bob, cid}
fun seat(p): 1..3
var tall: bool
var big: int
assert distinct(seat)
assert [one] seat(ann) == 1
assert tall -> seat(bob) == 3
assert big == 123456789012345678901234567890
option A: seat(bob) == 2
option B: seat(cid) == 1"""


@pytest.mark.parametrize("engine_class", [Cvc5Engine, Z3Engine])
def test_both_engines_give_models_cores_and_big_integers(engine_class):
    program = parse_program(PROGRAM)
    engine = engine_class(program)
    model = engine.solve([program.options[0].formula])
    assert model.status == "sat" and model.values["seat(bob)"] == "2" and model.values["tall"] == "false"
    assert model.values["seat(ann)"] == "1" and model.values["big"] == "123456789012345678901234567890"
    conflict = engine.solve([program.options[1].formula])
    assert conflict.status == "unsat"
    labels = {program.conditions[i].label for i in conflict.core}
    assert labels == {"line 5", "one"}  # distinct(seat) and seat(ann) == 1 rule out seat(cid) == 1
    dropped = engine.solve([program.options[1].formula], drop=[1])
    assert dropped.status == "sat" and dropped.values["seat(cid)"] == "1"


def test_cvc5_keeps_its_time_limit():
    program = parse_program("var p: int\nvar q: int\nassert p > 1 and q > 1\nassert p * q == 1000000016000000063")
    started = time.monotonic()
    outcome = Cvc5Engine(program).solve([], deadline=Deadline.after(1.0))
    assert outcome.status == "timeout" and time.monotonic() - started < 4.0


def test_the_prover_reads_a_source_without_a_parsed_task():
    task = choice_task(PROGRAM, "Which one of the following could be true?", "AB")
    from_source = Cvc5Prover().check(Formalization("choice", task.source), timeout_s=10)
    from_task = Cvc5Prover().check(Formalization("choice", task.source, task), timeout_s=10)
    assert from_source.status == from_task.status == "proved" and from_source.answer.exact == "A"
    assert from_source.certificate.to_dict() == from_task.certificate.to_dict()


def test_the_prover_refuses_other_targets_and_reports_bad_sources():
    with pytest.raises(ConfigurationError):
        Cvc5Prover().check(Formalization("fol", "P(a)"), timeout_s=5)
    verdict = Cvc5Prover().check(Formalization("choice", "var x: bool\noption A: x"), timeout_s=5)
    assert verdict.status == "invalid" and "# question:" in verdict.message
    assert Cvc5Prover().to_dict()["version"]
