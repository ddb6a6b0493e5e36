"""The Coq proof target in the loop, with the real kernel: parse, check, repair, solve, record and replay."""

from __future__ import annotations

import pytest

from neurosym.loop.refine import Strategy, refine
from neurosym.provers.coq import CoqProof, kernel_problem
from neurosym.solving import solve
from neurosym.targets.proof import FAITHFULNESS_NOTE, CoqProofTarget, proof_problem, prove_problem
from neurosym.targets.proof.report import UNPROVED_NOTE
from neurosym.targets.proof.translator import proof_fewshot_examples
from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Verdict

HEADER = "Require Import Reals.\nOpen Scope R_scope."
STATEMENT = "Theorem half : forall x : R, 2 * x = 1 -> x = 1 / 2."
WRONG = "```coq\nRequire Import Lia.\n" + STATEMENT + "\nProof.\n  intros x h.\n  lia.\nQed.\n```"
RIGHT = "```coq\nRequire Import Lra.\n" + STATEMENT + "\nProof.\n  intros x h.\n  lra.\nQed.\n```"


@pytest.fixture(scope="module", autouse=True)
def coq():
    problem = kernel_problem()
    if problem is not None:
        pytest.skip(f"the Coq kernel cannot run here: {problem}")


@pytest.fixture
def problem():
    return proof_problem("half", STATEMENT, HEADER, "If 2x = 1, then x = 1/2.")


def test_every_worked_example_is_verified_by_the_kernel():
    target = CoqProofTarget()
    for example in proof_fewshot_examples("coq")["examples"]:
        problem = proof_problem(example["name"], example["statement"], example["header"], example["informal"])
        verdict = target.check(target.parse(problem, f"```coq\n{example['script']}\n```"), timeout_s=60)
        assert verdict.status == "proved", (example["name"], verdict.message)
        assert isinstance(verdict.certificate, CoqProof) and verdict.certificate.theorem == example["name"]


def test_a_verified_proof_votes_for_its_statement(problem):
    target = CoqProofTarget()
    verdict = target.check(target.parse(problem, RIGHT), timeout_s=60)
    key = target.answer_key(verdict)
    assert verdict.status == "proved" and key is not None and "half" in key
    assert target.answer_key(Verdict("invalid")) is None


def test_the_kernels_error_goes_back_to_the_model_and_the_repair_is_verified(problem):
    backend = ScriptedBackend([WRONG, RIGHT])
    result = refine(problem, CoqProofTarget(), backend,
                    strategy=Strategy(samples=1, repair_rounds=1, first_verified=True, timeout_s=60))  # fmt: skip
    assert result.verified and result.stop_reason == "first-verified"
    assert [a.repair for a in result.attempts] == [0, 1]
    first = result.attempts[0].verdict
    assert first.status == "invalid" and first.details["line"] == 5
    repair_prompt = backend.calls[1][0][0].messages[-1].content
    assert "line 5, column 3" in repair_prompt and "x : R" in repair_prompt and "2 * x = 1" in repair_prompt


def test_a_changed_statement_is_not_a_proof_even_if_coq_accepts_it(problem):
    weaker = "```coq\nRequire Import Lra.\nTheorem half : forall x : R, x = 1 / 2 -> x = 1 / 2.\nProof. auto. Qed.\n```"
    result = refine(problem, CoqProofTarget(), ScriptedBackend([weaker]), strategy=Strategy(timeout_s=60))
    assert not result.verified
    assert "was changed" in result.attempts[0].verdict.message


def test_the_portfolio_comes_first_and_keeps_the_credit(problem):
    backend = ScriptedBackend(lambda request, index: RIGHT)
    outcome = prove_problem(problem, backend)
    assert outcome.proved and outcome.by == "portfolio" and outcome.tactic == "lra"
    assert backend.calls == []  # no model call
    alone = prove_problem(problem, backend, portfolio=False)
    assert alone.proved and alone.by == "model" and len(backend.calls) == 1


def test_whole_proof_runs_record_and_replay_from_a_cassette(problem, tmp_path):
    cassette = tmp_path / "proofs.jsonl"
    recorder = RecordingBackend(ScriptedBackend([WRONG, RIGHT]), cassette, resume=True, one_at_a_time=True)
    recorded = prove_problem(problem, recorder, portfolio=False)
    replayed = prove_problem(problem, ReplayBackend(cassette), portfolio=False)
    assert recorded.proved and replayed.proved
    assert [a.output for a in replayed.loop.attempts] == [a.output for a in recorded.loop.attempts]
    again = RecordingBackend(ScriptedBackend([]), cassette, resume=True, one_at_a_time=True)
    assert prove_problem(problem, again, portfolio=False).proved  # resumed from the cassette: no new call


def test_solve_autoformalizes_and_says_the_statement_is_not_checked():
    answer = (
        "```coq\nRequire Import Arith Lia.\nTheorem even_sum : forall a b : nat, Nat.Even a -> Nat.Even b -> "
        "Nat.Even (a + b).\nProof.\n  intros a b [k hk] [m hm].\n  exists (k + m).\n  lia.\nQed.\n```"
    )
    result = solve("The sum of two even numbers is even.", target="coq", llm=ScriptedBackend([answer]), timeout=60)
    assert result.verdict.status == "proved", result.verdict
    report = result.render()
    assert FAITHFULNESS_NOTE in report
    assert "Statement written by the model:" in report and "The sum of two even numbers is even." in report
    assert result.to_dict()["formalization"]["statement"] is None


def test_an_unproved_statement_is_still_shown_next_to_the_text_with_the_note():
    answer = "```coq\nTheorem add_zero : forall n : nat, n + 0 = n.\nProof.\n  intros n. reflexivity.\nQed.\n```"
    result = solve("For every natural number n, n + 0 = n.", target="coq", llm=ScriptedBackend([answer]), timeout=60)
    assert result.verdict.status == "invalid"
    report = result.render()
    assert "Statement written by the model (not proved):\n    Theorem add_zero : forall n : nat, n + 0 = n." in report
    assert "The text it formalizes:\n    For every natural number n, n + 0 = n." in report
    assert UNPROVED_NOTE in report and FAITHFULNESS_NOTE not in report
    assert "line 3, column 13" in report  # where Coq refused the proof


def test_solve_proves_a_coq_theorem_given_as_the_text():
    theorem = "Theorem t : forall n : nat, n * 1 = n."
    answer = "```coq\nRequire Import Arith Lia.\n" + theorem + "\nProof. intros; lia. Qed.\n```"
    result = solve(theorem, target="coq", llm=ScriptedBackend([answer]), timeout=60)
    assert result.verdict.status == "proved"
    assert "Theorem (as given):" in result.render() and FAITHFULNESS_NOTE not in result.render()


def test_an_unreadable_answer_is_a_parse_error_for_the_loop(problem):
    result = refine(problem, CoqProofTarget(), ScriptedBackend(["I think it is true.", RIGHT]),
                    strategy=Strategy(samples=1, repair_rounds=1, first_verified=True, timeout_s=60))  # fmt: skip
    assert result.attempts[0].parse_error and result.verified
