"""The tactic search and `neurosym prove` on files, with the real kernel and scripted models."""

from __future__ import annotations

import json

import pytest

from neurosym.cli import main
from neurosym.provers.coq import kernel_problem
from neurosym.targets.proof import SearchBudget, proof_problem, tactic_search
from neurosym.targets.proof.files import open_theorems, prove_file
from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend
from neurosym.translators.backends.scripted import ScriptedBackend

STATEMENT = "Theorem t : forall a b : nat, a = b + 2 -> a > b."


@pytest.fixture(scope="module", autouse=True)
def coq():
    problem = kernel_problem()
    if problem is not None:
        pytest.skip(f"the Coq kernel cannot run here: {problem}")


def tactics(*replies: str) -> ScriptedBackend:
    """A model that proposes the given tactics in turn, forever."""
    return ScriptedBackend(lambda request, index: f"```coq\n{replies[index % len(replies)]}\n```")


def by_goal(table: dict[str, str], default: str) -> ScriptedBackend:
    """A model whose tactic depends on the goals in the prompt."""

    def reply(request, index):
        prompt = request.messages[-1].content
        return "```coq\n" + next((t for k, t in table.items() if k in prompt), default) + "\n```"

    return ScriptedBackend(reply)


# --------------------------------------------------------------------------------------------- search


def test_the_search_follows_the_goals_and_verifies_the_proof():
    model = by_goal({"H : a = b + 2": "subst a.", "b + 2 > b": "lia."}, "intros a b H.")
    result = tactic_search(proof_problem("t", STATEMENT), model, budget=SearchBudget(candidates=1))
    assert result.proved and result.tactics == ("intros a b H.", "subst a.", "lia.")
    assert result.verdict.status == "proved" and result.verdict.certificate.theorem == "t"
    assert result.kernel_calls >= 4 and result.expansions == 3
    assert "Qed." in result.script


def test_rejected_and_refused_tactics_are_dropped_and_the_budget_ends_the_search():
    result = tactic_search(proof_problem("t", STATEMENT), tactics("apply foo.", "admit.", "intros."),
                           budget=SearchBudget(candidates=3, expansions=5))  # fmt: skip
    assert not result.proved and result.stop_reason in ("budget:expansions", "exhausted")
    assert result.rejected >= 2
    assert all("admit" not in step["tactic"] for step in result.trace)  # refused before the kernel saw it


def test_a_state_seen_before_is_not_expanded_again():
    result = tactic_search(proof_problem("t", STATEMENT), tactics("idtac.", "intros."),
                           budget=SearchBudget(candidates=2, expansions=10, resamples=0))  # fmt: skip
    assert not result.proved and result.stop_reason == "exhausted"
    assert result.nodes <= 3  # the root, after intros, nothing new after that


def test_a_node_whose_candidates_all_failed_is_expanded_again_with_fresh_samples():
    model = ScriptedBackend(["```coq\napply foo.\n```", "```coq\nintros a b H.\n```", "```coq\nlia.\n```"])
    once = tactic_search(proof_problem("t", STATEMENT), model, budget=SearchBudget(candidates=1, resamples=0))
    assert once.stop_reason == "exhausted" and once.expansions == 1
    model = ScriptedBackend(["```coq\napply foo.\n```", "```coq\nintros a b H.\n```", "```coq\nlia.\n```"])
    again = tactic_search(proof_problem("t", STATEMENT), model, budget=SearchBudget(candidates=1))
    assert again.proved and again.tactics == ("intros a b H.", "lia.") and again.expansions == 3


def test_the_token_budget_stops_the_search():
    result = tactic_search(proof_problem("t", STATEMENT), tactics("idtac."),
                           budget=SearchBudget(candidates=1, completion_tokens=1, expansions=50))  # fmt: skip
    assert result.stop_reason in ("budget:tokens", "exhausted") and result.expansions == 1


def test_a_statement_that_does_not_type_check_ends_the_search_at_once():
    result = tactic_search(proof_problem("t", "Theorem t : foo = 1."), tactics("auto."))
    assert result.stop_reason == "invalid-statement" and result.expansions == 0


def test_the_search_records_and_replays(tmp_path):
    cassette = tmp_path / "search.jsonl"
    model = by_goal({"H : a = b + 2": "lia."}, "intros a b H.")
    budget = SearchBudget(candidates=2)
    recorded = tactic_search(proof_problem("t", STATEMENT), RecordingBackend(model, cassette), budget=budget)
    replayed = tactic_search(proof_problem("t", STATEMENT), ReplayBackend(cassette), budget=budget)
    assert recorded.proved and replayed.tactics == recorded.tactics


# --------------------------------------------------------------------------------------------- files

COQ_FILE = """Require Import Arith.
Require Import Lia.

Theorem open_one : forall n : nat, n + 0 = n.
Proof.
  intros n.
Admitted.

Theorem closed : 1 = 1.
Proof. reflexivity. Qed.

Lemma open_two (a b : nat) : a + b = b + a.
Admitted.

Theorem hard : forall n : nat, n * n + 1 <> 0.
Proof.
"""


def test_open_theorems_are_those_admitted_or_unfinished():
    found = open_theorems(COQ_FILE, "coq")
    assert [t.name for t in found] == ["open_one", "open_two", "hard"]
    assert COQ_FILE[found[0].start : found[0].end].endswith("Admitted.")
    lean = "theorem a : 1 = 1 := by rfl\n\ntheorem b (x : ℕ) : x + 0 = x := by\n  sorry\n"
    [open_lean] = open_theorems(lean, "lean")
    assert open_lean.name == "b" and open_lean.statement == "theorem b (x : ℕ) : x + 0 = x"


def test_prove_file_splices_in_what_it_proves(tmp_path):
    result = prove_file(COQ_FILE, "coq")
    assert [(t.name, o.by) for t, o in result.outcomes] == [("open_one", "portfolio"), ("open_two", "portfolio"),
                                                             ("hard", "portfolio")]  # fmt: skip
    assert result.proved == 3 and "Admitted" not in result.text
    path = tmp_path / "done.v"
    path.write_text(result.text)
    assert open_theorems(result.text, "coq") == []


def test_neurosym_prove_on_a_file(tmp_path, capsys):
    path = tmp_path / "work.v"
    path.write_text(COQ_FILE + "Qed.\nTheorem false_one : forall n : nat, n + 1 = n.\nAdmitted.\n")
    code = main(["prove", str(path), "--no-model", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 1  # one theorem is false: not everything was proved
    assert payload["open"] == 3 and payload["proved"] == 2
    assert [t["name"] for t in payload["theorems"] if not t["proved"]] == ["false_one"]
    assert "Theorem false_one : forall n : nat, n + 1 = n.\nAdmitted." in payload["text"]


def test_neurosym_prove_with_a_recorded_model(tmp_path, capsys):
    path = tmp_path / "one.v"
    path.write_text("Theorem sq : forall n : nat, n * n = n * n.\nAdmitted.\n")
    cassette = tmp_path / "model.jsonl"
    answer = "```coq\nTheorem sq : forall n : nat, n * n = n * n.\nProof. intros; reflexivity. Qed.\n```"
    from neurosym.targets.proof.prove import WHOLE_PROOF

    recorded = prove_file(path.read_text(), "coq", RecordingBackend(ScriptedBackend(lambda r, i: answer), cassette),
                          portfolio=False, strategy=WHOLE_PROOF)  # fmt: skip
    assert recorded.proved == 1
    out = tmp_path / "proved.v"
    code = main(["prove", str(path), "--no-portfolio", "--llm", f"replay:{cassette}", "--timeout", "30",
                 "--output", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "sq: proved by the model" in capsys.readouterr().err
    assert "Proof. intros; reflexivity. Qed." in out.read_text()


def test_neurosym_prove_refuses_other_files_and_reports_nothing_to_do(tmp_path, capsys):
    other = tmp_path / "notes.txt"
    other.write_text("Theorem t : True.")
    assert main(["prove", str(other)]) == 2
    done = tmp_path / "done.v"
    done.write_text("Theorem t : True.\nProof. exact I. Qed.\n")
    assert main(["prove", str(done), "--no-model"]) == 0
    assert "no theorem is left unproved" in capsys.readouterr().err


def test_neurosym_prove_on_lean_without_lean_says_what_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NEUROSYM_LEAN_REPL", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    path = tmp_path / "t.lean"
    path.write_text("theorem t : 1 = 1 := by\n  sorry\n")
    assert main(["prove", str(path), "--no-model"]) == 4
    assert "NEUROSYM_LEAN_REPL" in capsys.readouterr().err
