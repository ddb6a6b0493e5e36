"""The prover contract: what every prover promises, run over each registered prover and the test prover.

:class:`ProverContract` holds the tests (as PuLP's solver tests do); a subclass per prover gives
the prover and its cases: a trivially true one, a trivially false or undecided one, a malformed
one and, where one exists, a problem too hard to finish within a second. Every registered prover
must have a subclass here (the last test checks that).
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import pytest

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError
from neurosym.fol import parse_formula
from neurosym.fol.syntax import EntailmentProblem
from neurosym.loop._testing import ECHO_SPEC, ScriptedProver
from neurosym.milp.parser import parse_model
from neurosym.provers import Prover, get_prover, list_provers
from neurosym.targets.fol.check import check_fol
from neurosym.targets.registry import register_target, unregister_target
from neurosym.types import STATUSES, Formalization, Verdict


def our_children() -> set[int]:
    """Child processes of this test process, apart from multiprocessing's helpers."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"forkserver" not in cmdline:
            found.add(int(entry))
    return found


class ProverContract:
    """The tests every prover passes; a subclass names the prover and gives its cases."""

    prover_name: ClassVar[str | None] = None
    """The registered name (``None`` for a test double, built by :meth:`make_prover`)."""
    true_statuses: ClassVar[set[str]]
    """Statuses the trivially true case may get."""
    false_statuses: ClassVar[set[str]]
    """Statuses the trivially false (or undecided) case may get."""
    hard_statuses: ClassVar[set[str]] = {"timeout"}
    """Statuses the hard case may get within :attr:`hard_timeout_s`."""
    hard_timeout_s: ClassVar[float] = 1.0

    def make_prover(self) -> Prover:
        assert self.prover_name is not None
        return get_prover(self.prover_name)

    def true_case(self) -> Formalization:
        raise NotImplementedError

    def false_case(self) -> Formalization:
        raise NotImplementedError

    def malformed_case(self) -> Formalization:
        raise NotImplementedError

    def hard_case(self) -> Formalization | None:
        return None

    def state(self) -> object:
        """What :meth:`Prover.available` must leave unchanged besides processes and temporary files."""
        return None

    @pytest.fixture
    def prover(self) -> Prover:
        prover = self.make_prover()
        if not prover.available():
            pytest.skip(f"{prover.name} cannot run on this machine")
        return prover

    def test_is_a_prover_with_a_name_and_a_target(self, prover):
        assert isinstance(prover, Prover)
        assert isinstance(prover.name, str) and prover.name and isinstance(prover.target, str) and prover.target
        if self.prover_name is not None:
            assert prover.name == self.prover_name
            assert type(get_prover(prover.name)) is type(prover)
            assert prover.target in {info.target for info in list_provers() if info.name == prover.name}

    def test_a_trivially_true_case(self, prover):
        verdict = prover.check(self.true_case(), timeout_s=30)
        assert isinstance(verdict, Verdict)
        assert verdict.status in self.true_statuses, verdict
        assert verdict.decided and verdict.answer is not None
        assert verdict.prover.startswith(prover.name)

    def test_a_trivially_false_or_undecided_case(self, prover):
        verdict = prover.check(self.false_case(), timeout_s=30)
        assert verdict.status in self.false_statuses, verdict
        assert verdict.status not in self.true_statuses

    def test_a_malformed_formalization_is_a_verdict_not_an_exception(self, prover):
        verdict = prover.check(self.malformed_case(), timeout_s=30)
        assert verdict.status in {"invalid", "unknown"}, verdict
        assert not verdict.decided and verdict.answer is None
        assert verdict.message or verdict.feedback  # it says what is wrong

    def test_a_formalization_of_another_target_is_a_usage_mistake(self, prover):
        with pytest.raises(ConfigurationError):
            prover.check(Formalization("no-such-target", "anything"), timeout_s=5)

    def test_the_timeout_is_honoured_on_a_hard_case(self, prover):
        case = self.hard_case()
        if case is None:
            pytest.skip(f"{prover.name} has no case too hard to finish in {self.hard_timeout_s:g} s")
        started = time.monotonic()
        verdict = prover.check(case, timeout_s=self.hard_timeout_s)
        took = time.monotonic() - started
        assert verdict.status in self.hard_statuses, verdict
        assert took < 3 * (self.hard_timeout_s + 1), took  # a generous bound: the status is the point

    def test_a_deadline_that_has_passed_is_a_timeout(self, prover):
        verdict = prover.check(self.true_case(), timeout_s=30, deadline=Deadline(0.0))
        assert verdict.status == "timeout", verdict

    @pytest.mark.parametrize("bad", [math.nan, math.inf, 0, -1], ids=["nan", "inf", "zero", "negative"])
    def test_a_bad_timeout_is_a_configuration_error(self, prover, bad):
        with pytest.raises(ConfigurationError, match="timeout_s"):
            prover.check(self.true_case(), timeout_s=bad)

    def test_to_dict_is_json_and_names_the_prover(self, prover):
        info = prover.to_dict()
        assert json.loads(json.dumps(info)) == info
        assert info["name"] == prover.name and len(info) >= 2  # the name and at least a version or a setting

    def test_available_has_no_side_effects(self, monkeypatch, tmp_path):
        prover = self.make_prover()
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        children, state = our_children(), self.state()
        answers = {prover.available() for _ in range(3)}
        assert len(answers) == 1 and isinstance(answers.pop(), bool)
        assert our_children() <= children  # nothing left running
        assert list(tmp_path.iterdir()) == []  # nothing written
        assert self.state() == state

    def test_verdicts_round_trip_through_their_dict_form(self, prover):
        for case in (self.true_case(), self.false_case(), self.malformed_case()):
            verdict = prover.check(case, timeout_s=30)
            data = json.loads(json.dumps(verdict.to_dict()))
            back = Verdict.from_dict(data)
            assert back.to_dict() == data
            assert (back.status, back.answer, back.prover) == (verdict.status, verdict.answer, verdict.prover)
            assert type(back.certificate) is type(verdict.certificate)
            assert back.status in STATUSES


# --------------------------------------------------------------------------------------------- FOL

# A strict order without a greatest element has only infinite models: no prover finds a countermodel.
NO_MAXIMUM = ["∀x ∃y R(x, y)", "∀x ¬R(x, x)", "∀x ∀y ∀z (R(x, y) ∧ R(y, z) → R(x, z))"]


def fol(premises: list[str], conclusion: str) -> Formalization:
    """The formalization check_fol builds: the source (premises, then the conclusion after ⊢) and the parsed problem."""
    problem = EntailmentProblem(tuple(parse_formula(p) for p in premises), parse_formula(conclusion))
    return Formalization("fol", "\n".join([*premises, "⊢ " + conclusion]), problem)


class FolCases:
    true_statuses: ClassVar[set[str]] = {"proved"}
    false_statuses: ClassVar[set[str]] = {"disproved"}

    def true_case(self) -> Formalization:
        return fol(["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)")

    def false_case(self) -> Formalization:
        return fol(["∀x (Dog(x) → ¬Cat(x))", "Dog(rex)"], "Cat(rex)")

    def malformed_case(self) -> Formalization:
        return Formalization("fol", "P(a) ∧\n⊢ P(a)")  # no parsed problem, and the source does not parse

    def hard_case(self) -> Formalization:
        return fol(NO_MAXIMUM, "P(a)")


class TestZ3Contract(FolCases, ProverContract):
    prover_name = "z3"


class TestEProverContract(FolCases, ProverContract):
    prover_name = "eprover"
    hard_statuses: ClassVar[set[str]] = {"timeout", "unknown"}  # E may give up (GaveUp) before the deadline


def test_a_fol_source_without_a_parsed_problem_is_read():
    source = fol(["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)").source
    verdict = get_prover("z3").check(Formalization("fol", source), timeout_s=10)
    assert verdict.status == "proved" and verdict.certificate.indices == (0, 1)
    assert verdict.status == check_fol(["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)").status


# --------------------------------------------------------------------------------------------- MILP


def market_split(seed: int = 0, items: int = 30, rows: int = 4) -> str:
    """A market-split model (Cornuéjols and Dawande): no solution is found by branch and bound in a second."""
    rng = random.Random(seed)
    names = [f"x{i}" for i in range(items)]
    lines = ["binary " + ", ".join(names), "minimize " + " + ".join(names[:3])]
    for j in range(rows):
        coefs = [rng.randint(0, 99) for _ in names]
        terms = " + ".join(f"{c} {n}" for c, n in zip(coefs, names, strict=True))
        lines.append(f"split{j}: {terms} == {sum(coefs) // 2}")
    return "\n".join(lines)


class MilpCases:
    true_statuses: ClassVar[set[str]] = {"optimal"}
    false_statuses: ClassVar[set[str]] = {"inconsistent"}

    def true_case(self) -> Formalization:
        text = "integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4\nx <= 3"
        return Formalization("milp", text, parse_model(text))

    def false_case(self) -> Formalization:
        text = "integer x\nmaximize x\nlow: x >= 2\nhigh: x <= 1"
        return Formalization("milp", text, parse_model(text))

    def malformed_case(self) -> Formalization:
        return Formalization("milp", "maximize 3 +* x")

    def hard_case(self) -> Formalization:
        text = market_split()
        return Formalization("milp", text, parse_model(text))

    def test_the_optimum_is_the_answer(self, prover):
        verdict = prover.check(self.true_case(), timeout_s=30)
        assert verdict.answer.objective == 11.0 and dict(verdict.answer.values) == {"x": 3.0, "y": 1.0}


class TestHighsContract(MilpCases, ProverContract):
    prover_name = "highs"


class TestCbcContract(MilpCases, ProverContract):
    prover_name = "cbc"

    def state(self) -> object:
        from neurosym.provers.cbc import _bundled_cbc

        bundled = _bundled_cbc()
        return bundled.stat().st_mode if bundled is not None else None  # available() must not chmod it


# --------------------------------------------------------------------------------------------- Python


class TestPythonSandboxContract(ProverContract):
    prover_name = "python-sandbox"
    true_statuses: ClassVar[set[str]] = {"computed"}
    false_statuses: ClassVar[set[str]] = {"invalid"}

    def true_case(self) -> Formalization:
        return Formalization("python", "def solution():\n    return 6 * 7\n")

    def false_case(self) -> Formalization:
        return Formalization("python", "def solution():\n    return 'forty-two'\n")  # not a number: no answer

    def malformed_case(self) -> Formalization:
        return Formalization("python", "def solution(:\n    return 1\n")

    def hard_case(self) -> Formalization:
        return Formalization("python", "def solution():\n    while True:\n        pass\n")

    def state(self) -> object:
        import neurosym.provers.sandbox as sandbox

        return sandbox._default  # available() must not start the shared sandbox


# --------------------------------------------------------------------------------------------- proof kernels


def coq(script: str, statement: str | None = None) -> Formalization:
    """A Coq proof task as the coq target builds it (the script, and the statement it must prove)."""
    from neurosym.provers.coq import CoqTask

    task = CoqTask(script, statement=statement)
    return Formalization("coq", task.source, task)


class TestCoqContract(ProverContract):
    prover_name = "coq"
    true_statuses: ClassVar[set[str]] = {"proved"}
    false_statuses: ClassVar[set[str]] = {"invalid"}  # a proof the kernel rejects proves nothing

    def true_case(self) -> Formalization:
        return coq("Theorem t : 1 + 1 = 2.\nProof. reflexivity. Qed.", "Theorem t : 1 + 1 = 2.")

    def false_case(self) -> Formalization:
        return coq("Theorem t : 1 + 1 = 3.\nProof. reflexivity. Qed.", "Theorem t : 1 + 1 = 3.")

    def malformed_case(self) -> Formalization:
        return Formalization("coq", "Theorem t : 1 +* = .\nProof. Qed.")

    def hard_case(self) -> Formalization:
        script = ("Require Import PArith.\nTheorem t : True.\nProof.\n"
                  "  assert (Pos.iter (fun n : nat => n) 0 (10 ^ 15)%positive = 0) by (vm_compute; reflexivity).\n"
                  "  exact I.\nQed.")  # fmt: skip
        return coq(script, "Theorem t : True.")

    def state(self) -> object:
        import neurosym.provers.coq.prover as prover

        return sorted(map(repr, prover._kernels))  # available() must not start a kernel


class TestLeanContract(ProverContract):
    """Runs where a Lean REPL is configured (NEUROSYM_LEAN_REPL); elsewhere the prover fixture skips."""

    prover_name = "lean"
    true_statuses: ClassVar[set[str]] = {"proved"}
    false_statuses: ClassVar[set[str]] = {"invalid"}

    def true_case(self) -> Formalization:
        from neurosym.provers.lean import LeanTask

        task = LeanTask("theorem t : 2 + 2 = 4 := by decide", statement="theorem t : 2 + 2 = 4")
        return Formalization("lean", task.source, task)

    def false_case(self) -> Formalization:
        from neurosym.provers.lean import LeanTask

        task = LeanTask("theorem t : 2 + 2 = 5 := by decide", statement="theorem t : 2 + 2 = 5")
        return Formalization("lean", task.source, task)

    def malformed_case(self) -> Formalization:
        return Formalization("lean", "theorem t : 2 + = := by")


# --------------------------------------------------------------------------------------------- choice


def choice(program: str, question: str, letters: str) -> Formalization:
    """A choice formalization as the choice target builds it (the task's source and the task)."""
    from neurosym.targets.choice.check import choice_task

    task = choice_task(program, question, letters)
    return Formalization("choice", task.source, task)


class TestCvc5Contract(ProverContract):
    """cvc5 on choice programs."""

    prover_name = "cvc5"
    true_statuses: ClassVar[set[str]] = {"proved"}
    false_statuses: ClassVar[set[str]] = {"inconsistent"}

    def make_prover(self) -> Prover:
        from neurosym.provers.cvc5 import Cvc5Prover

        return Cvc5Prover()

    def true_case(self) -> Formalization:
        return choice("var x: 1..3\nassert x > 2\noption A: x == 3\noption B: x == 1", "Which must be true?", "AB")

    def false_case(self) -> Formalization:
        return choice("var x: 1..3\nassert x > 2\nassert x < 2\noption A: x == 3\noption B: x == 1",
                      "Which must be true?", "AB")  # fmt: skip

    def malformed_case(self) -> Formalization:
        return Formalization("choice", "# question: must_be_true\n# options: A B\nvar x: 1..\noption A: x")

    def hard_case(self) -> Formalization:
        # Factoring 1000000007 * 1000000009 is far beyond a second.
        return choice("var p: int\nvar q: int\nassert p > 1 and q > 1\nassert p * q == 1000000016000000063\n"
                      "option A: p < q\noption B: p > q", "Which must be true?", "AB")  # fmt: skip


# --------------------------------------------------------------------------------------------- the test prover


class TestScriptedProverContract(ProverContract):
    true_statuses: ClassVar[set[str]] = {"computed"}
    false_statuses: ClassVar[set[str]] = {"unknown"}

    @pytest.fixture(autouse=True)
    def _echo_registered(self):
        """Its certificates are the echo target's: read back by kind only while that target is registered."""
        register_target(ECHO_SPEC)
        yield
        unregister_target(ECHO_SPEC.name)

    def make_prover(self) -> Prover:
        return ScriptedProver()

    def true_case(self) -> Formalization:
        return Formalization("echo", "5")

    def false_case(self) -> Formalization:
        return Formalization("echo", "unknown")

    def malformed_case(self) -> Formalization:
        return Formalization("echo", "five")

    def hard_case(self) -> Formalization:
        return Formalization("echo", "hang")


def test_every_registered_prover_has_a_contract():
    covered = {cls.prover_name for cls in ProverContract.__subclasses__()}
    assert {info.name for info in list_provers()} <= covered
