"""The Coq kernel as a prover: sentences, refusals, the jailed kernel, what "verified" means, and bad input.

Every test that needs Coq runs the real one (Debian's coq and libcoq-coquelicot, installed by
scripts/install) and skips, with the reason, where it is missing.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, ParseError
from neurosym.provers import get_prover
from neurosym.provers.coq import (
    STANDARD_AXIOMS,
    CoqKernel,
    CoqProof,
    CoqProver,
    CoqTask,
    KernelLimits,
    check_statement,
    kernel_problem,
    parse_assumptions,
    parse_theorem,
    refusals,
    split_sentences,
)
from neurosym.provers.coq.portfolio import PORTFOLIO, Tactic, portfolio_script, run_portfolio
from neurosym.provers.coq.sentences import statement_tokens
from neurosym.types import Formalization, ProofAnswer, Verdict


@pytest.fixture(scope="module")
def coq():
    problem = kernel_problem()
    if problem is not None:
        pytest.skip(f"the Coq kernel cannot run here: {problem}")


@pytest.fixture(scope="module")
def kernel(coq):
    with CoqKernel(limits=KernelLimits(memory_mb=2048)) as k:
        yield k


@pytest.fixture(scope="module")
def prover(coq):
    return CoqProver(limits=KernelLimits(memory_mb=2048))


def check(prover, script: str, *, statement: str | None = None, header: str = "", timeout_s: float = 60) -> Verdict:
    task = CoqTask(script, header, statement)
    return prover.check(Formalization("coq", task.source, task), timeout_s=timeout_s)


REALS = "Require Import Reals.\nRequire Import Lra.\nOpen Scope R_scope."
STATEMENT = "Theorem shift : forall x : R, x < x + 1."
PROOF = STATEMENT + "\nProof.\n  intros x.\n  lra.\nQed."


# --------------------------------------------------------------------------------------------- sentences


def test_sentences_end_at_a_dot_followed_by_a_blank():
    text = 'Lemma l : Nat.add 1 0 = 1 /\\ 1.5 = 1.5.\nProof. split; (* a "comment." *) reflexivity. Qed.'
    assert [s.text for s in split_sentences(text)] == [
        "Lemma l : Nat.add 1 0 = 1 /\\ 1.5 = 1.5.",
        "Proof.",
        'split; (* a "comment." *) reflexivity.',
        "Qed.",
    ]


def test_bullets_braces_and_selectors_are_sentences_of_their_own():
    text = "Proof.\n  split.\n  - auto.\n  + { exact I. }\n  2: { lia. }\n  ** idtac.\nQed."
    assert [s.text for s in split_sentences(text)] == [
        "Proof.", "split.", "-", "auto.", "+", "{", "exact I.", "}", "2: {", "lia.", "}", "**", "idtac.", "Qed.",
    ]  # fmt: skip


def test_strings_and_nested_comments_hide_dots():
    text = 'Notation "x ... y" := (x + y) (at level 50). (* (* a. *) b. "c*)" *)\nCheck 1 ... 2.'
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == ['Notation "x ... y" := (x + y) (at level 50).', "Check 1 ... 2."]
    assert (sentences[1].line, sentences[1].column) == (2, 1)


def test_recursive_notation_dots_do_not_end_a_sentence():
    text = 'Notation "[ x ; .. ; y ]" := (cons x .. (cons y nil) ..).\nCheck [1 ; 2].'
    assert len(split_sentences(text)) == 2


def test_a_missing_final_dot_and_unterminated_text_are_reported():
    assert not split_sentences("Goal True.\nexact I")[-1].complete
    with pytest.raises(ParseError, match="unterminated comment starting at line 2, column 3"):
        split_sentences("Goal True.\n  (* never closed")
    with pytest.raises(ParseError, match="unterminated string"):
        split_sentences('Check "open.')


def test_statements_compare_by_tokens_not_layout():
    a = "Theorem t :\n  forall x:R, (* why *) x <= x."
    assert statement_tokens(a) == statement_tokens("Lemma t : forall x : R, x <= x.")
    assert statement_tokens(a) != statement_tokens("Theorem t : forall x : R, x < x.")
    head = parse_theorem("Theorem t (a b : nat) {c : nat} : a + b + c = c + b + a.")
    assert (head.name, head.binders, head.type) == ("t", "(a b : nat) {c : nat}", "a + b + c = c + b + a")
    assert parse_theorem("Theorem t : forall f : nat -> nat, f = f.").type == "forall f : nat -> nat, f = f"


# --------------------------------------------------------------------------------------------- refusals

REFUSED = [
    ('Declare ML Module "evil_plugin".', "plugin"),
    ('Load "/etc/passwd".', "file"),
    ('Add LoadPath "/tmp" as Evil.', "load-path"),
    ('Add Rec ML Path "/tmp".', "load-path"),
    ('Cd "/tmp".', "file"),
    ('Redirect "/tmp/out" Print nat.', "file"),
    ('Extraction "/tmp/out.ml" nat.', "extraction"),
    ("Separate Extraction nat.", "extraction"),
    ("Unset Guard Checking.", "checks-off"),
    ("Local Unset Positivity Checking.", "checks-off"),
    ("Unset Universe Checking.", "checks-off"),
    ("#[bypass_check(guard)] Fixpoint f (n : nat) : nat := f n.", "checks-off"),
    ("Admitted.", "admitted"),
    ("Time Fail Admitted.", "admitted"),
    ("Abort.", "abort"),
    ("intros; admit.", "admit"),
    ("give_up.", "admit"),
    ("Axiom cheat : False.", "assumption"),
    ("Parameter p : nat.", "assumption"),
    ("Hypothesis h : False.", "assumption"),
    ("Variables (x : nat) (h : x = 0).", "assumption"),
    ("Context (h : False).", "assumption"),
    ("Conjecture c : False.", "assumption"),
    ("Declare Module M : Typ.", "assumption"),
    ("Reset Initial.", "document"),
    ("Quit.", "document"),
    ("Set Ltac Debug.", "document"),
    ("Eval native_compute in 1 + 1.", "native"),
    ("Definition neurosym_statement := True.", "reserved-name"),
]


@pytest.mark.parametrize(("sentence", "rule"), REFUSED, ids=[s for s, _ in REFUSED])
def test_each_dangerous_command_is_refused(sentence, rule):
    found = refusals(split_sentences("Lemma ok : True.\nProof. exact I. Qed.\n" + sentence))
    assert [r.rule for r in found] == [rule]
    assert found[0].line == 3 and found[0].column == 1


@pytest.mark.parametrize(
    "sentence",
    [
        "Require Import Coq.Reals.Reals.",
        "From Coq Require Import Lia.",
        "Lemma helper : forall n : nat, n + 0 = n.",
        "Ltac admit_free := idtac.",
        "Set Printing All.",
        "Check (fun admitted_x : nat => admitted_x).",
        "Notation \"'admit'\" := I.",  # only in a string: it is the text of a notation, not the tactic
        "(* Admitted. *) exact I.",
        "Timeout 3 lia.",
    ],
)
def test_ordinary_sentences_are_not_refused(sentence):
    assert refusals(split_sentences(sentence)) == []


# --------------------------------------------------------------------------------------------- the kernel


def test_the_kernel_steps_sentence_by_sentence_with_goals_and_errors(kernel):
    run = kernel.run(["Goal forall n : nat, n + 0 = n.", "intros n.", "rewrite <- plus_n_O.", "apply foo."],
                     Deadline.after(60))  # fmt: skip
    assert run.status == "error"
    assert [len(step.goals) for step in run.steps] == [1, 1, 1]
    assert run.steps[2].goals[0].conclusion == "n = n"
    assert run.steps[1].goals[0].hypotheses == ("n : nat",)
    assert run.steps[1].goals[0].conclusion == "n + 0 = n"
    assert run.error.sentence == 3 and "foo" in run.error.message
    assert "apply foo."[run.error.start : run.error.stop] == "foo"


def test_the_kernel_reuses_the_shared_beginning_of_the_previous_script(kernel):
    head = ["Require Import Reals.", "Open Scope R_scope.", "Goal forall x : R, x = x.", "intros."]
    first = kernel.run([*head, "reflexivity.", "Qed."], Deadline.after(60))
    again = kernel.run([*head, "auto.", "Qed."], Deadline.after(60))
    assert first.status == again.status == "ok"
    assert again.reused >= 2  # at least the imports (going back into a closed proof starts before it)
    assert again.steps[-1].goals is None
    assert [s.sentence for s in again.steps][-2:] == ["auto.", "Qed."]
    prefix = kernel.run([*head, "reflexivity."], Deadline.after(60))
    assert prefix.status == "ok" and prefix.goals == ()  # the old Qed was dropped, not kept after the edit


def test_a_loop_is_stopped_at_the_deadline_and_the_kernel_restarts(kernel):
    restarts = kernel.restarts
    started = time.monotonic()
    run = kernel.run(["Ltac spin := idtac; spin.", "Goal True.", "spin."], Deadline.after(1.5))
    assert run.status == "timeout"
    assert time.monotonic() - started < 5
    assert not kernel.alive()
    good = kernel.run(["Goal True.", "exact I.", "Qed."], Deadline.after(60))
    assert good.status == "ok" and kernel.restarts == restarts + 1


def test_a_killed_kernel_is_replaced_with_its_whole_tree(kernel):
    kernel.run(["Goal True."], Deadline.after(60))
    pid = kernel.pid
    os.kill(pid, signal.SIGKILL)
    run = kernel.run(["Goal True.", "exact I.", "Qed."], Deadline.after(60))
    assert run.status in ("ok", "crashed")
    if run.status == "crashed":  # it died while answering: the next run starts a new one
        run = kernel.run(["Goal True.", "exact I.", "Qed."], Deadline.after(60))
    assert run.status == "ok" and kernel.pid != pid


@pytest.mark.parametrize("said", ["No space left on device", "Too many open files"])
def test_an_error_that_blames_the_jail_replaces_the_kernel_instead_of_judging_the_script(kernel, said):
    """A full /tmp or no file descriptors left broke a whole portfolio run once: such errors mean a broken kernel."""
    kernel.run(["Goal True."], Deadline.after(60))
    pid = kernel.pid
    run = kernel.run(["Goal True.", f'fail "{said}".'], Deadline.after(60))  # the words Coq's Sys_error would use
    assert run.status == "crashed" and said in run.message and not kernel.alive()
    good = kernel.run(["Goal True.", "exact I.", "Qed."], Deadline.after(60))
    assert good.status == "ok" and good.restarted and kernel.pid != pid


def test_the_kernel_runs_in_its_jail(kernel):
    """Its own namespaces (no network), a root with /usr and a private /tmp only, seccomp and no new privileges."""
    assert kernel.run(["Goal True."], Deadline.after(60)).status == "ok"
    pid = kernel.pid
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == pid]
    assert len(children) == 1, "bwrap runs the kernel as its only child"
    inside = children[0]
    with open(f"/proc/{inside}/status", encoding="ascii") as handle:
        status = handle.read()
    assert "NoNewPrivs:\t1" in status and "Seccomp:\t2" in status
    assert status.split("NSpid:")[1].splitlines()[0].split()[-1] == "1"  # the jail's process 1
    with open(f"/proc/{inside}/cmdline", "rb") as handle:
        assert handle.read().split(b"\0")[0].endswith(b"coqidetop.opt")  # the launcher became the kernel
    try:
        namespaces = {n: os.readlink(f"/proc/{inside}/ns/{n}") for n in ("net", "pid", "user", "ipc", "uts")}
        root = set(os.listdir(f"/proc/{inside}/root"))
    except PermissionError:  # another user's namespace: only root may look inside
        pytest.skip("this user may not look into the jail's namespaces")
    for namespace, link in namespaces.items():
        assert link != os.readlink(f"/proc/self/ns/{namespace}")
    assert {"usr", "tmp", "opt"} <= root and not root & {"work", "home", "root", "proc", "sys", "var"}


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rpartition(b")")[2].split()[1])
    except OSError:
        return -1


# --------------------------------------------------------------------------------------------- verified


def test_a_proof_of_the_given_statement_is_verified_with_its_assumptions(prover):
    verdict = check(prover, PROOF, statement=STATEMENT, header=REALS)
    assert verdict.status == "proved", verdict
    assert verdict.answer == ProofAnswer(STATEMENT, PROOF)
    certificate = verdict.certificate
    assert isinstance(certificate, CoqProof) and certificate.theorem == "shift"
    assert certificate.assumptions and set(certificate.assumptions) <= set(STANDARD_AXIOMS)  # the reals' axioms
    assert CoqProof.from_dict(certificate.to_dict()) == certificate
    assert "Checked by Coq" in certificate.render() and "lra." in certificate.render()


def test_helper_lemmas_with_their_own_proofs_are_allowed(prover):
    script = ("Lemma helper : forall x : R, 0 < 1 -> x < x + 1.\nProof. intros; lra. Qed.\n\n"
              f"{STATEMENT}\nProof. intros x. apply helper. lra. Qed.")  # fmt: skip
    assert check(prover, script, statement=STATEMENT, header=REALS).status == "proved"


def test_an_unfinished_proof_is_not_verified_and_says_what_is_left(prover):
    verdict = check(prover, STATEMENT + "\nProof.\n  intros x.", statement=STATEMENT, header=REALS)
    assert verdict.status == "invalid" and verdict.details["where"] == "unfinished"
    assert "x < x + 1" in verdict.feedback


def test_a_wrong_tactic_gives_the_line_column_message_and_goals(prover):
    script = STATEMENT + "\nProof.\n  intros x.\n  lia.\nQed."
    verdict = check(prover, script, statement=STATEMENT, header=REALS)
    assert verdict.status == "invalid"
    assert (verdict.details["line"], verdict.details["column"]) == (4, 3)
    assert "lia." in verdict.feedback and "x < x + 1" in verdict.feedback and "x : R" in verdict.feedback


def test_a_changed_statement_is_refused_as_written(prover):
    weaker = "Theorem shift : forall x : R, x <= x + 1."
    verdict = check(prover, weaker + "\nProof. intros; lra. Qed.", statement=STATEMENT, header=REALS)
    assert verdict.status == "invalid" and verdict.details["where"] == "statement"
    assert "was changed" in verdict.message


def test_a_statement_given_a_new_meaning_is_caught_by_the_kernel(prover):
    """The same text after a definition that shadows R: the tokens match, the kernel's check does not."""
    script = "Definition R := nat.\nOpen Scope nat_scope.\n" + STATEMENT + "\nProof. intros; lia. Qed."
    verdict = check(prover, "Require Import Lia.\n" + script, statement=STATEMENT, header=REALS)
    assert verdict.status == "invalid" and verdict.details["where"] == "statement"
    assert "not the statement given" in verdict.message


def test_a_missing_theorem_is_reported(prover):
    verdict = check(prover, "Lemma other : True.\nProof. exact I. Qed.", statement=STATEMENT, header=REALS)
    assert verdict.status == "invalid" and "does not state the theorem shift" in verdict.message


def test_without_a_given_statement_the_last_theorem_is_checked(prover):
    verdict = check(prover, "Lemma a : True.\nProof. exact I. Qed.\nTheorem b : 2 = 2.\nProof. reflexivity. Qed.")
    assert verdict.status == "proved" and verdict.certificate.theorem == "b"
    assert verdict.certificate.assumptions == ()


def test_assumptions_of_the_trusted_header_are_allowed_but_not_others(prover):
    header = "Axiom excluded : forall P : Prop, P \\/ ~ P."
    script = "Theorem t : forall P : Prop, P \\/ ~ P.\nProof. exact excluded. Qed."
    verdict = check(prover, script, statement="Theorem t : forall P : Prop, P \\/ ~ P.", header=header)
    assert verdict.status == "proved" and verdict.certificate.assumptions == ("excluded",)
    strict = CoqProver(limits=prover.limits, allowed_axioms=())
    real = check(strict, PROOF, statement=STATEMENT, header=REALS)
    assert real.status == "invalid" and "ClassicalDedekindReals" in real.message


def test_print_assumptions_is_read_by_section():
    text = ("Section Variables:\nx : nat\nAxioms:\nClassical_Prop.classic\n  : forall P : Prop, P \\/ ~ P\n"
            "Constants relying on a non-guarded fixpoint:\nf : nat -> nat")  # fmt: skip
    assert parse_assumptions(text) == {
        "Section Variables": ["x"],
        "Axioms": ["Classical_Prop.classic"],
        "Constants relying on a non-guarded fixpoint": ["f"],
    }


def test_statement_validity_as_shipped(coq):
    assert check_statement(REALS, STATEMENT).ok
    bad = check_statement("Require Import Stdlib.Reals.Reals.", STATEMENT)
    assert not bad.ok and "Stdlib" in bad.message


def test_the_prover_is_registered_and_refuses_other_targets(coq):
    prover = get_prover("coq")
    assert isinstance(prover, CoqProver) and prover.available()
    with pytest.raises(ConfigurationError):
        prover.check(Formalization("lean", "theorem t : True := trivial"), timeout_s=5)
    assert prover.to_dict()["version"].startswith("8.")


# --------------------------------------------------------------------------------------------- bad input
# Each bad script gets a clear verdict, and the kernel is healthy afterwards.

GOOD = (PROOF, STATEMENT, REALS)


def assert_healthy(prover) -> None:
    script, statement, header = GOOD
    verdict = check(prover, script, statement=statement, header=header)
    assert verdict.status == "proved", verdict


BAD_INPUT = {
    # Ltac's recursion either runs out of time or overflows the kernel's stack (an error Coq reports).
    "loops in a tactic": (
        "Ltac spin := idtac; spin.\nTheorem t : True.\nProof.\n  spin.\nQed.",
        {"timeout", "invalid"},
    ),
    "loops in a computation": (
        "Require Import PArith.\nTheorem t : True.\nProof.\n"
        "  assert (H : Pos.iter (fun n : nat => n) 0 (10 ^ 15)%positive = 0) by (vm_compute; reflexivity).\n"
        "  exact I.\nQed.",
        {"timeout"},
    ),
    "exhausts memory": (
        "Theorem t : True.\nProof.\n  assert (H : Nat.pow 3 40 = 0).\n  { vm_compute. reflexivity. }\n  exact I.\nQed.",
        {"invalid", "unknown"},
    ),
    "declares an axiom": ("Axiom cheat : False.\nTheorem t : True.\nProof. destruct cheat. Qed.", {"invalid"}),
    "uses Admitted": ("Theorem t : True.\nProof.\nAdmitted.", {"invalid"}),
    "uses admit": ("Theorem t : True.\nProof. admit. Qed.", {"invalid"}),
    "loads a plugin": ('Declare ML Module "coq-hammer.plugin".\nTheorem t : True.\nProof. exact I. Qed.', {"invalid"}),
    "writes a file": ('Redirect "/tmp/escape" Print nat.\nTheorem t : True.\nProof. exact I. Qed.', {"invalid"}),
    "extracts to a file": ('Extraction "/tmp/x.ml" nat.\nTheorem t : True.\nProof. exact I. Qed.', {"invalid"}),
    "switches the guard off": ("Unset Guard Checking.\nTheorem t : False.\nProof. exact I. Qed.", {"invalid"}),
    "is not Coq at all": ("Sure! Here is the proof: by induction on n, the claim follows.", {"invalid"}),
    "is binary noise": ("\x00\x01\x02\ufffd \u202e)(*", {"invalid"}),
}


WHY_REFUSED = {
    # case: the stage that stopped it (``details["where"]``) and, for a refusal, its rule
    "declares an axiom": ("refused", "assumption"),
    "uses Admitted": ("refused", "admitted"),
    "uses admit": ("refused", "admit"),
    "loads a plugin": ("refused", "plugin"),
    "writes a file": ("refused", "file"),
    "extracts to a file": ("refused", "extraction"),
    "switches the guard off": ("refused", "checks-off"),
    "is not Coq at all": ("statement", None),
    "is binary noise": ("parse", None),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_gets_a_clear_verdict_and_the_kernel_stays_healthy(prover, case):
    script, statuses = BAD_INPUT[case]
    statement = None if case in ("is not Coq at all", "is binary noise") else "Theorem t : True."
    if case in ("declares an axiom", "switches the guard off"):
        statement = None
    started = time.monotonic()
    verdict = check(prover, script, statement=statement, timeout_s=6 if case.startswith("loops") else 60)
    assert verdict.status in statuses, verdict
    assert not verdict.decided and verdict.answer is None
    assert verdict.message and verdict.feedback
    assert time.monotonic() - started < 60
    if case in WHY_REFUSED:  # stopped before the kernel ran it, or by what the kernel said, with the reason
        where, rule = WHY_REFUSED[case]
        assert verdict.details["where"] == where, verdict
        if rule is not None:
            assert verdict.details["refused"][0]["rule"] == rule
            assert "not allowed in a proof script" in verdict.message and "line " in verdict.message
    assert_healthy(prover)


def test_a_changed_statement_is_a_verdict_and_the_kernel_stays_healthy(prover):
    verdict = check(prover, "Theorem shift : True.\nProof. exact I. Qed.", statement=STATEMENT, header=REALS)
    assert verdict.status == "invalid" and verdict.details["where"] == "statement"
    assert_healthy(prover)


def test_a_memory_bomb_meets_the_memory_limit_not_the_machine(coq):
    small = CoqProver(limits=KernelLimits(memory_mb=1024))
    script = (
        "Theorem t : True.\nProof.\n  assert (H : Nat.pow 3 40 = 0).\n  { vm_compute. reflexivity. }\n  exact I.\nQed."
    )
    started = time.monotonic()
    verdict = check(small, script, statement="Theorem t : True.")
    assert verdict.status in ("invalid", "unknown") and time.monotonic() - started < 60
    if verdict.status == "invalid":
        assert "Out of memory" in verdict.message
    assert check(small, "Theorem t : True.\nProof. exact I. Qed.", statement="Theorem t : True.").status == "proved"
    small.kernel.close()


# --------------------------------------------------------------------------------------------- portfolio


def test_the_portfolio_says_which_tactic_closed_the_goal(prover):
    result = run_portfolio(prover, "Require Import ZArith.\nOpen Scope Z_scope.",
                           "Theorem t : forall x y : Z, x < y -> x + 1 <= y.", tactics=PORTFOLIO,
                           stop_at_first=False)  # fmt: skip
    assert result.closed_by == "lia"
    assert "nia" in result.closing and "lra" not in result.closing  # lra works over the reals
    assert result.verdict.status == "proved" and result.verdict.certificate.theorem == "t"
    assert {t.tactic for t in result.tries} == {t.name for t in PORTFOLIO}


def test_the_portfolio_fails_honestly_on_a_false_statement(prover):
    result = run_portfolio(prover, "", "Theorem t : forall n : nat, n + 1 = n.", tactics=PORTFOLIO[:4])
    assert result.closed_by is None and result.verdict is None
    assert all(t.status != "proved" for t in result.tries) and len(result.tries) == 4


def test_portfolio_scripts_follow_the_refusal_rules():
    for tactic in [*PORTFOLIO, Tactic("hammer", "hammer", ("From Hammer Require Import Hammer.",))]:
        assert refusals(split_sentences(portfolio_script(STATEMENT, tactic, 3))) == []


def test_stepping_gives_each_sentences_place_goals_and_the_error(prover):
    script = "Goal forall x : nat, x = x.\n  intros x.\n  apply nope."
    steps = prover.steps(CoqTask(script))
    assert [(s["line"], s["column"]) for s in steps] == [(1, 1), (2, 3), (3, 3)]
    assert steps[1]["goals"] == [{"hypotheses": ["x : nat"], "conclusion": "x = x"}]
    assert (
        steps[2]["error"]["line"] == 3 and steps[2]["error"]["column"] == 9 and "nope" in steps[2]["error"]["message"]
    )
