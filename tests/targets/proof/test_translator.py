"""Prompts of the proof targets and reading scripts and tactics back (no kernel needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurosym.errors import ParseError
from neurosym.targets.proof import complete_coq_script, complete_lean_script, proof_problem
from neurosym.targets.proof.translator import (
    build_proof_request,
    build_tactic_request,
    extract_script,
    extract_tactic,
    informal_text,
    proof_fewshot_examples,
    repair_proof_request,
)
from neurosym.types import Problem

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "proof" / "minif2f_rocq.jsonl"


def test_fewshot_examples_come_from_the_valid_split_only():
    test_names = set()
    try:
        with open(DATA, encoding="utf-8") as handle:
            test_names = {json.loads(line)["name"] for line in handle if json.loads(line)["split"] == "test"}
    except FileNotFoundError:
        pytest.skip("the miniF2F-rocq data is not here")
    for language in ("coq", "lean"):
        for example in proof_fewshot_examples(language)["examples"]:
            assert example["name"] not in test_names
            assert "valid" in example["source"]


def test_the_prove_prompt_shows_header_statement_and_text():
    problem = proof_problem("t", "Theorem t : 1 + 1 = 2.", "Require Import Arith.", "Show that 1 + 1 = 2.")
    request = build_proof_request(problem, shots=2)
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    last = request.messages[-1].content
    assert "Require Import Arith.\n\nTheorem t : 1 + 1 = 2." in last and "Show that 1 + 1 = 2." in last
    assert "Admitted" in request.messages[0].content  # the instructions forbid it
    assert request.messages[2].content.startswith("```coq\n") and "Qed." in request.messages[2].content


def test_the_autoformalization_prompt_asks_for_statement_and_proof():
    request = build_proof_request(Problem("The sum of two even numbers is even."), shots=1)
    assert "turn a mathematical statement in English" in request.messages[0].content
    assert request.messages[-1].content.endswith("The sum of two even numbers is even.")
    assert "Require Import" in request.messages[2].content  # the examples show the imports


def test_lean_prompts_use_lean_blocks():
    problem = proof_problem("t", "theorem t : 2 + 2 = 4", "import Mathlib")
    request = build_proof_request(problem, "lean", shots=1)
    assert request.messages[2].content.startswith("```lean\n") and ":= by" in request.messages[2].content


def test_informal_text_drops_lean_doc_comment_markers():
    assert informal_text(Problem("/-- Find $x$. Show that it is 3.-/\n")) == "Find $x$. Show that it is 3."
    assert informal_text(Problem("", metadata={"informal": "plain"})) == "plain"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("```coq\nTheorem t : True.\nProof. exact I. Qed.\n```", "Theorem t : True.\nProof. exact I. Qed.\n"),
        ("```\nProof.\n  lia.\nQed.\n```\n", "Proof.\n  lia.\nQed.\n"),
        ("Sure.\n```python\nprint(1)\n```\n```rocq\nProof. auto. Qed.\n```", "Proof. auto. Qed.\n"),
        ("Theorem t : True.\nProof. exact I. Qed.\n\nThis is done.", "Theorem t : True.\nProof. exact I. Qed.\n"),
    ],
)
def test_scripts_are_read_from_fences_or_from_code_among_prose(output, expected):
    assert extract_script(output, "coq") == expected


@pytest.mark.parametrize("output", ["", "I cannot prove this.", "```python\nprint('hi')\n```"])
def test_answers_without_a_proof_are_parse_errors(output):
    with pytest.raises(ParseError, match="no Coq proof"):
        extract_script(output, "coq")


def test_a_huge_script_is_refused():
    with pytest.raises(ParseError, match="too long"):
        extract_script("```coq\nProof.\n" + "  idtac.\n" * 10_000 + "Qed.\n```", "coq")


def test_a_bare_proof_gets_the_given_statement_after_its_imports():
    completed = complete_coq_script(
        "Require Import Lia.\nOpen Scope nat_scope.\nProof. lia. Qed.", "Theorem t : 1 = 1."
    )
    assert completed == "Require Import Lia.\nOpen Scope nat_scope.\nTheorem t : 1 = 1.\nProof. lia. Qed."
    stated = "Theorem t : 1 = 1.\nProof. reflexivity. Qed."
    assert complete_coq_script(stated, "Theorem t : 1 = 1.") == stated
    other = "Lemma u : 2 = 2.\nProof. reflexivity. Qed."
    assert complete_coq_script(other, "Theorem t : 1 = 1.") == other  # the prover will say t is missing


def test_lean_tactics_get_the_given_statement():
    assert (
        complete_lean_script(":= by\n  norm_num", "theorem t : 2 + 2 = 4") == "theorem t : 2 + 2 = 4 := by\n  norm_num"
    )
    whole = "theorem t : 2 + 2 = 4 := by decide"
    assert complete_lean_script(whole, "theorem t : 2 + 2 = 4") == whole


def test_tactics_are_read_from_the_first_block():
    assert extract_tactic("```coq\n  nra.\n```\nor maybe lra") == "nra."
    assert extract_tactic("Next tactic: intros x") == "intros x."
    with pytest.raises(ParseError):
        extract_tactic("```coq\n(* nothing *)\n```")


def test_the_tactic_prompt_shows_the_proof_so_far_and_the_goals():
    request = build_tactic_request(
        "Theorem t : True.", "Require Import Arith.", ["intros."], "============================\nTrue"
    )
    last = request.messages[-1].content
    assert "Proof.\n  intros." in last and "True" in last and "Require Import Arith." in last
    assert request.messages[1].role == "user" and request.messages[2].role == "assistant"  # worked steps


def test_repair_prompts_carry_the_kernels_message():
    request = build_proof_request(proof_problem("t", "Theorem t : True."))
    repaired = repair_proof_request(request, "```coq\nProof. lia. Qed.\n```", "line 1, column 8: lia failed")
    assert repaired.messages[: len(request.messages)] == request.messages
    assert repaired.messages[-2].role == "assistant" and "lia failed" in repaired.messages[-1].content
