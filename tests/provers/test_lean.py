"""The Lean 4 prover: the REPL client and what "verified" means, against LeanReplTestDouble and, where installed, Lean.

No Lean toolchain reaches the machines neurosym is built on, so most tests drive the client through
tests/provers/lean_repl_test_double.py, a clearly named stand-in that speaks the REPL's documented
JSON messages and decides by fixed rules (it checks no proof). The tests at the end run real Lean
where ``NEUROSYM_LEAN_REPL`` (and ``NEUROSYM_LEAN_PROJECT`` for Mathlib) are set, and skip with the
reason elsewhere.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError
from neurosym.provers import get_prover
from neurosym.provers.lean import (
    LeanProof,
    LeanProver,
    LeanRepl,
    LeanSetup,
    LeanTask,
    find_repl,
    lean_refusals,
    lean_statement_tokens,
    parse_axioms,
    parse_lean_theorem,
)
from neurosym.types import Formalization

DOUBLE = Path(__file__).with_name("lean_repl_test_double.py")
HEADER = "import Mathlib\nopen Real"
STATEMENT = "theorem t (x : ℝ) (h : 0 < x) : 0 < x ^ 2"
PROOF = STATEMENT + " := by\n  positivity"


@pytest.fixture
def log(tmp_path):
    return tmp_path / "requests.jsonl"


@pytest.fixture
def repl(log, monkeypatch):
    monkeypatch.setenv("LEAN_DOUBLE_LOG", str(log))
    with LeanRepl([sys.executable, str(DOUBLE)]) as r:
        yield r


@pytest.fixture
def prover(repl):
    return LeanProver(setup=LeanSetup(tuple(repl.argv)), _repl=repl)


def requests(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def check(prover, script: str, *, statement: str | None = STATEMENT, header: str = HEADER, timeout_s: float = 30):
    task = LeanTask(script, header, statement)
    return prover.check(Formalization("lean", task.source, task), timeout_s=timeout_s)


# --------------------------------------------------------------------------------------------- text


def test_theorems_are_split_into_name_binders_and_type():
    head = parse_lean_theorem("-- a comment\ntheorem foo (a b : ℕ) [Fact (1 < a)] : a + b = b + a := by omega")
    assert (head.name, head.binders, head.type) == ("foo", "(a b : ℕ) [Fact (1 < a)]", "a + b = b + a")
    assert head.proposition == "∀ (a b : ℕ) [Fact (1 < a)], a + b = b + a"
    assert parse_lean_theorem("def f := 1") is None


def test_statements_compare_by_tokens_up_to_the_proof():
    assert lean_statement_tokens("lemma t (x:ℝ) (h:0<x) : 0 < x^2 := by positivity") == lean_statement_tokens(STATEMENT)
    assert lean_statement_tokens("theorem t (x : ℝ) : 0 ≤ x ^ 2") != lean_statement_tokens(STATEMENT)


@pytest.mark.parametrize(
    ("script", "rule"),
    [
        ("theorem t : 1 = 1 := by sorry", "sorry"),
        ("theorem t : 1 = 1 := by admit", "sorry"),
        ("axiom cheat : False", "assumption"),
        ('#eval IO.Process.run {cmd := "sh"}', "runs-code"),
        ('run_cmd Lean.logInfo "x"', "runs-code"),
        ('elab "cheat" : tactic => pure ()', "runs-code"),
        ("unsafe def f : Nat := 1", "unsafe"),
        ("theorem t : 2 + 2 = 4 := by native_decide", "unsafe"),
        ("set_option debug.skipKernelTC true", "checks-off"),
        ("import Mathlib.Tactic", "import"),
        ("def neurosym_statement := True", "reserved-name"),
    ],
)
def test_dangerous_lean_is_refused(script, rule):
    assert [r.rule for r in lean_refusals(script)] == [rule]


def test_comments_and_strings_are_not_read_for_refusals():
    assert lean_refusals("theorem t : True := by\n  -- sorry\n  /- admit /- nested -/ -/\n  trivial") == []
    assert lean_refusals('theorem t : "sorry".length = 5 := by rfl') == []


def test_print_axioms_is_read():
    assert parse_axioms([{"data": "'t' does not depend on any axioms"}]) == ()
    assert parse_axioms([{"data": "'t' depends on axioms: [propext, Classical.choice, Quot.sound]"}]) == (
        "propext", "Classical.choice", "Quot.sound")  # fmt: skip
    assert parse_axioms([{"data": "something else"}]) is None


# --------------------------------------------------------------------------------------------- the REPL protocol


def test_commands_reuse_environments_and_tactic_mode_uses_proof_states(repl):
    deadline = Deadline.after(30)
    first = repl.command("def f := 2", deadline)
    assert set(first) >= {"env"}
    answer = repl.command("example : f = 2 := by\n  sorry", deadline, env=first["env"])
    [sorry] = answer["sorries"]
    assert sorry["goal"] == "⊢ goal" and isinstance(sorry["proofState"], int)
    step = repl.tactic("norm_num", sorry["proofState"], deadline)
    assert step["goals"] == [] and step["proofState"] != sorry["proofState"]
    assert repl.command("def g := 1", deadline, env=999) == {"message": "Unknown environment."}


def test_environments_pickle_to_disk_and_back(repl, tmp_path):
    deadline = Deadline.after(30)
    env = repl.command("axiom a : False", deadline)["env"]
    assert repl.pickle_env(env, tmp_path / "env.olean", deadline) == {"env": env}
    loaded = repl.unpickle_env(tmp_path / "env.olean", deadline)["env"]
    printed = repl.command("theorem b : False := a\n#print axioms b", deadline, env=loaded)
    assert parse_axioms(printed["messages"]) == ("a",)


def test_a_request_past_its_deadline_stops_the_repl_which_restarts(repl):
    started = time.monotonic()
    assert repl.command("hang", Deadline.after(0.5)) is None
    assert time.monotonic() - started < 5
    assert "env" in repl.command("def f := 1", Deadline.after(30))
    assert repl.restarts == 1


def test_the_header_is_elaborated_once_per_process(prover, log):
    assert check(prover, PROOF).status == "proved"
    assert check(prover, STATEMENT + " := by\n  nlinarith [h]").status == "proved"
    headers = [r for r in requests(log) if r.get("cmd") == HEADER]
    assert len(headers) == 1 and all("env" not in r for r in headers)


# --------------------------------------------------------------------------------------------- verified


def test_a_proof_of_the_given_statement_is_verified(prover, log):
    verdict = check(prover, PROOF)
    assert verdict.status == "proved", verdict
    assert isinstance(verdict.certificate, LeanProof) and verdict.certificate.theorem == "t"
    assert verdict.certificate.axioms == ()
    assert LeanProof.from_dict(verdict.certificate.to_dict()) == verdict.certificate
    sent = [r["cmd"] for r in requests(log) if "cmd" in r]
    assert "def neurosym_statement : Prop := ∀ (x : ℝ) (h : 0 < x), 0 < x ^ 2" in sent
    assert any(c.startswith("theorem neurosym_check : neurosym_statement := @t") for c in sent)


def test_classical_axioms_are_allowed_and_others_are_not(prover):
    assert check(prover, STATEMENT + " := by\n  exact Classical.byContradiction (by positivity)").status == "proved"
    strict = LeanProver(setup=prover.setup, allowed_axioms=(), _repl=prover.repl)
    verdict = check(strict, STATEMENT + " := by\n  exact Classical.byContradiction (by positivity)")
    assert verdict.status == "invalid" and "Classical.choice" in verdict.message


def test_sorry_errors_and_changed_statements_are_not_verified(prover):
    assert check(prover, STATEMENT + " := by\n  sorry").details["where"] == "refused"
    wrong = check(prover, STATEMENT + " := by\n  nlinarith\n  bogus")
    assert wrong.status == "invalid" and (wrong.details["line"], wrong.details["column"]) == (3, 3)
    changed = check(prover, "theorem t (x : ℝ) : 0 ≤ x ^ 2 := by positivity")
    assert changed.status == "invalid" and "was changed" in changed.message
    missing = check(prover, "theorem u : True := trivial")
    assert missing.status == "invalid" and "does not state the theorem t" in missing.message


def test_the_kernel_check_catches_a_statement_that_only_looks_the_same(prover):
    """The same tokens after a notation that changes a symbol: the token check passes, neurosym_check does not."""
    verdict = check(prover, 'local notation "ℝ" => ℕ\n' + PROOF)
    assert verdict.status == "invalid" and verdict.details["where"] == "statement"
    assert "not the statement given" in verdict.message
    helper = STATEMENT.replace("theorem t", "theorem helper") + " := by positivity\n"
    assert check(prover, helper + STATEMENT + " := by\n  exact helper x h").status == "proved"


def test_without_a_statement_the_first_theorem_is_checked_and_its_axioms_listed(prover):
    verdict = check(prover, "theorem mine : 2 + 2 = 4 := by norm_num", statement=None)
    assert verdict.status == "proved" and verdict.certificate.theorem == "mine"


def test_a_crashed_repl_is_a_verdict_and_the_next_check_works(prover):
    verdict = check(prover, STATEMENT + " := by\n  crash")
    assert verdict.status == "unknown" and "ended" in verdict.message
    assert check(prover, PROOF).status == "proved"


def test_timeouts_hold(prover):
    started = time.monotonic()
    verdict = check(prover, STATEMENT + " := by\n  hang", timeout_s=1)
    assert verdict.status == "timeout" and time.monotonic() - started < 5
    assert check(prover, PROOF).status == "proved"


def test_the_lean_prover_is_registered_and_says_where_lean_is_missing(monkeypatch):
    monkeypatch.delenv("NEUROSYM_LEAN_REPL", raising=False)
    prover = get_prover("lean")
    assert isinstance(prover, LeanProver)
    assert prover.available() is (find_repl() is not None)
    with pytest.raises(ConfigurationError):
        prover.check(Formalization("coq", "Goal True."), timeout_s=5)


# --------------------------------------------------------------------------------------------- real Lean

REAL = find_repl()


@pytest.mark.skipif(REAL is None, reason="no Lean REPL here: set NEUROSYM_LEAN_REPL (and NEUROSYM_LEAN_PROJECT)")
def test_real_lean_verifies_a_core_proof_and_refuses_sorry():
    prover = LeanProver(setup=REAL)
    statement = "theorem two_plus_two : 2 + 2 = 4"
    good = check(prover, statement + " := by decide", statement=statement, header="")
    assert good.status == "proved", good
    bad = check(prover, "theorem two_plus_two : 2 + 2 = 4 := by\n  rfl\n  exact foo", statement=statement, header="")
    assert bad.status == "invalid"


def test_neurosym_prove_on_a_lean_file_goes_through_the_repl(tmp_path, monkeypatch, capsys, log):
    """The whole path of `neurosym prove FILE.lean`, with the test double behind NEUROSYM_LEAN_REPL."""
    from neurosym.cli import main

    wrapper = tmp_path / "repl"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {DOUBLE}\n", encoding="utf-8")
    wrapper.chmod(0o755)
    monkeypatch.setenv("NEUROSYM_LEAN_REPL", str(wrapper))
    monkeypatch.setenv("NEUROSYM_LEAN_JAIL", "0")  # the wrapper runs this interpreter, which the jail does not show
    monkeypatch.setenv("LEAN_DOUBLE_LOG", str(log))
    monkeypatch.delenv("NEUROSYM_LEAN_PROJECT", raising=False)
    path = tmp_path / "t.lean"
    path.write_text("import Mathlib\n\ntheorem t (x : ℕ) : x + 0 = x := by\n  sorry\n", encoding="utf-8")
    assert main(["prove", str(path), "--no-model"]) == 0
    captured = capsys.readouterr()
    assert "t: proved by the portfolio (omega)" in captured.err
    assert "theorem t (x : ℕ) : x + 0 = x := by\n  omega" in captured.out and "sorry" not in captured.out
    sent = [r["cmd"] for r in requests(log) if "cmd" in r]
    assert sent[0] == "import Mathlib\n\n"  # the file before the theorem, as its header


def test_the_repl_runs_in_the_kernel_jail(tmp_path, coq_jail):
    """The jailed path (binds, launcher, limits) with the test double: its files are visible, the host's are not."""
    from neurosym.provers.sandbox._jail import jail_python

    folder = str(DOUBLE.parent)
    setup = LeanSetup((jail_python().executable, "-I", "-S", f"{folder}/{DOUBLE.name}"), binds=((folder, folder),),
                      jail=True)  # fmt: skip
    with LeanRepl(setup.command, jail=setup, memory_mb=1024) as repl:
        answer = repl.command("def f := 1", Deadline.after(30))
        assert answer == {"env": 0}
        prover = LeanProver(setup=setup, _repl=repl)
        assert check(prover, PROOF).status == "proved"
        outside = repl.pickle_env(0, tmp_path / "outside.olean", Deadline.after(30))  # the host's tmp_path is not there
        assert "could not write" in outside["message"] and not (tmp_path / "outside.olean").exists()
        inside = repl.pickle_env(0, "/tmp/env.olean", Deadline.after(30))  # the jail's private /tmp is writable
        assert inside == {"env": 0} and "env" in repl.unpickle_env("/tmp/env.olean", Deadline.after(30))


@pytest.fixture
def coq_jail():
    from neurosym.provers.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is not None:
        pytest.skip(f"no jail here: {problem}")
