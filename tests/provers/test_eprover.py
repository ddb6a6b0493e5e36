import json
import math
import stat
import time
from pathlib import Path

import pytest

from neurosym import check_fol, combine_verdicts
from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, SolverCrashedError, SolverError, SolverUnavailableError
from neurosym.fol import parse_formula, parse_formulas
from neurosym.fol.certificates import PremisesUsed
from neurosym.fol.syntax import EntailmentProblem
from neurosym.provers import get_prover
from neurosym.provers.eprover import EProver
from neurosym.provers.z3 import Z3Prover
from neurosym.types import EntailmentLabel, Formalization, Verdict

# Hand-checked problems: (premises, conclusion, status, premises used by the proof or None).
CASES = [
    (["P → Q", "P"], "Q", "proved", (0, 1)),
    (["∀x (Man(x) → Mortal(x))", "Bird(tweety)", "Man(socrates)"], "Mortal(socrates)", "proved", (0, 2)),
    (["∀x (A(x) → B(x))", "∀x (B(x) → C(x))"], "∀x (A(x) → C(x))", "proved", (0, 1)),
    (["f(a) = b"], "f(f(a)) = f(b)", "proved", (0,)),
    (["∀x (Dog(x) → ¬Cat(x))", "Dog(rex)"], "Cat(rex)", "disproved", (0, 1)),
    (["∀x (Dog(x) → Animal(x))", "Animal(rex)"], "Dog(rex)", "uncertain", None),
    (["P(a)", "R(b)", "¬P(a)"], "Q(a)", "inconsistent", (0, 2)),
    (["A ⊕ B", "A"], "¬B", "proved", (0, 1)),
    (["A ↔ B", "¬B"], "A", "disproved", (0, 1)),
    (["∃y ∀x Loves(x, y)"], "∀x ∃y Loves(x, y)", "proved", (0,)),
    (["∀x ∃y Loves(x, y)"], "∃y ∀x Loves(x, y)", "uncertain", None),
]


@pytest.mark.eprover
@pytest.mark.parametrize(("premises", "conclusion", "status", "used"), CASES)
def test_e_agrees_with_z3(e_prover, premises, conclusion, status, used):
    ps, c = parse_formulas(premises), parse_formula(conclusion)
    verdict = e_prover.prove(ps, c, timeout_s=10)
    assert verdict.status == status
    assert Z3Prover().prove(ps, c, timeout_s=10).status == status
    assert verdict.prover == "eprover"
    assert (
        verdict.answer
        == {
            "proved": EntailmentLabel.TRUE,
            "disproved": EntailmentLabel.FALSE,
            "uncertain": EntailmentLabel.UNCERTAIN,
            "inconsistent": None,
        }[status]
    )
    assert set(verdict.details["szs"]) == {"conclusion", "negation"}
    assert "SZS status" in verdict.message
    if used is None:
        assert verdict.certificate is None
    else:
        # the axioms E's proof object cites
        assert isinstance(verdict.certificate, PremisesUsed)
        assert verdict.certificate.indices == used
        assert verdict.certificate.formulas == tuple(str(ps[i]) for i in used)
    json.dumps(verdict.to_dict())


@pytest.mark.eprover
def test_e_szs_statuses(e_prover):
    verdict = e_prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)"), timeout_s=10)
    assert verdict.details["szs"] == {"conclusion": "Theorem", "negation": "CounterSatisfiable"}
    verdict = e_prover.prove(parse_formulas(["P(a)", "¬P(a)"]), parse_formula("Q(a)"), timeout_s=10)
    assert "ContradictoryAxioms" in verdict.details["szs"].values()


@pytest.mark.eprover
def test_e_runs_out_of_time_on_a_problem_with_only_infinite_models(e_prover):
    premises = parse_formulas(["∀x ∃y R(x, y)", "∀x ¬R(x, x)", "∀x ∀y ∀z (R(x, y) ∧ R(y, z) → R(x, z))"])
    started = time.perf_counter()
    verdict = e_prover.prove(premises, parse_formula("P(a)"), timeout_s=0.5)
    assert verdict.status in {"timeout", "unknown"}
    assert verdict.status != "uncertain" and verdict.answer is None
    assert "SZS status" in verdict.message
    assert set(verdict.details["szs"].values()) <= {"Timeout", "ResourceOut", "GaveUp"}
    # E's CPU limit is whole seconds and the wall deadline adds a second of grace
    assert time.perf_counter() - started < 5


@pytest.mark.eprover
def test_e_refuses_a_signature_clash_as_a_crash(e_prover):
    # check_fol catches clashes first; E itself rejects a predicate used with two arities
    with pytest.raises(SolverCrashedError, match="E produced no SZS status") as info:
        e_prover.prove(parse_formulas(["P(a)", "P(a, b)"]), parse_formula("P(a)"), timeout_s=5)
    assert info.value.solver == "eprover"


@pytest.mark.eprover
def test_e_version_and_settings(e_prover):
    assert e_prover.version().startswith("E ")
    info = e_prover.to_dict()
    assert info["name"] == "eprover" and info["version"] == e_prover.version()


@pytest.mark.eprover
def test_check_fol_cross_checks_z3_and_e():
    verdict = check_fol(["∀x (Man(x) → Mortal(x))", "Man(socrates)"], "Mortal(socrates)", provers=("z3", "eprover"))
    assert verdict.status == "proved"
    assert verdict.prover == "z3+eprover"
    assert verdict.details["provers"] == {"z3": "proved", "eprover": "proved"}
    assert verdict.details["agree"] is True
    uncertain = check_fol(["P(a)"], "Q(a)", provers=("z3", "eprover"))
    assert uncertain.status == "uncertain"
    assert uncertain.details["agree"] is True


# --- without E ----------------------------------------------------------------------------------


def test_missing_binary():
    prover = EProver(executable="no-such-eprover")
    assert prover.available() is False
    assert prover.to_dict()["version"] is None
    with pytest.raises(SolverUnavailableError, match="not installed") as info:
        prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)"))
    assert info.value.solver == "eprover"
    assert "apt-get install eprover" in str(info.value)
    assert isinstance(info.value, SolverError)
    with pytest.raises(SolverUnavailableError):
        prover.version()


def test_get_prover_passes_options():
    prover = get_prover("eprover", executable="no-such-eprover", memory_limit_mb=512)
    assert isinstance(prover, EProver)
    assert prover.available() is False
    assert prover.to_dict()["memory_limit_mb"] == 512


@pytest.mark.parametrize("timeout", [0, -2, math.nan, math.inf, 1e12, "5", None])
def test_a_bad_timeout_is_a_configuration_error_naming_timeout_s(tmp_path, timeout):
    prover = _fake_e(tmp_path, 'touch "$(dirname "$0")/ran"\necho "# SZS status Theorem"\n')
    problem = EntailmentProblem(tuple(parse_formulas(["P(a)"])), parse_formula("P(a)"))
    with pytest.raises(ConfigurationError, match=r"^timeout_s must be"):
        prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)"), timeout_s=timeout)
    with pytest.raises(ConfigurationError, match=r"^timeout_s must be"):
        prover.check(Formalization("fol", "P(a) ⊢ P(a)", problem), timeout_s=timeout)
    assert not (tmp_path / "ran").exists()  # refused before E was started


def _fake_e(tmp_path, body):
    """A stand-in for the eprover binary: a shell script; $* ends with the problem file."""
    script = tmp_path / "fake-eprover"
    script.write_text('#!/bin/sh\nfor last in "$@"; do :; done\n' + body, encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return EProver(executable=str(script))


def test_proof_object_axioms_become_premises_used(tmp_path):
    prover = _fake_e(
        tmp_path,
        'case "$last" in\n'
        '  *conclusion.p) echo "# SZS status Theorem"; echo "fof(p2, axiom, p_Q(c_a))."; '
        'echo "fof(p0, axiom, p_P(c_a))."; echo "fof(p2, axiom, p_Q(c_a)).";;\n'
        '  *) echo "# SZS status CounterSatisfiable";;\n'
        "esac\n",
    )
    premises = parse_formulas(["P(a)", "R(b)", "Q(a)"])
    verdict = prover.prove(premises, parse_formula("P(a) ∧ Q(a)"), timeout_s=5)
    assert verdict.status == "proved"
    assert verdict.certificate.indices == (0, 2)
    assert verdict.certificate.formulas == ("P(a)", "Q(a)")


@pytest.mark.parametrize(
    ("conclusion_szs", "negation_szs", "status"),
    [
        ("Theorem", "CounterSatisfiable", "proved"),
        ("CounterSatisfiable", "Theorem", "disproved"),
        ("CounterSatisfiable", "CounterSatisfiable", "uncertain"),
        ("ContradictoryAxioms", "ContradictoryAxioms", "inconsistent"),
        ("Theorem", "Theorem", "inconsistent"),
        ("Theorem", "ResourceOut", "proved"),
        ("ResourceOut", "Theorem", "disproved"),
        ("ResourceOut", "CounterSatisfiable", "timeout"),
        ("GaveUp", "GaveUp", "unknown"),
        ("GaveUp", "CounterSatisfiable", "unknown"),
    ],
)
def test_szs_status_table(tmp_path, conclusion_szs, negation_szs, status):
    prover = _fake_e(
        tmp_path,
        f'case "$last" in\n  *conclusion.p) echo "# SZS status {conclusion_szs}";;\n'
        f'  *) echo "# SZS status {negation_szs}";;\nesac\n',
    )
    verdict = prover.prove(parse_formulas(["P(a)"]), parse_formula("Q(a)"), timeout_s=5)
    assert verdict.status == status
    assert verdict.details["szs"] == {"conclusion": conclusion_szs, "negation": negation_szs}


def test_no_szs_status_is_a_crash(tmp_path):
    prover = _fake_e(tmp_path, 'echo "Segmentation fault"\n')
    with pytest.raises(SolverCrashedError, match="Segmentation fault"):
        prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)"), timeout_s=5)


def test_a_hung_prover_is_killed_at_the_deadline(tmp_path):
    prover = _fake_e(tmp_path, "sleep 30\n")
    started = time.perf_counter()
    verdict = prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)"), timeout_s=0.2)
    assert time.perf_counter() - started < 5
    assert verdict.status == "timeout"
    assert verdict.details["szs"] == {"conclusion": "Timeout", "negation": "Timeout"}


def _gone(pid, within_s=5.0):
    """Whether process ``pid`` has ended (is absent or a zombie) within ``within_s`` seconds."""
    stop = time.monotonic() + within_s
    while time.monotonic() < stop:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_hung_prover_and_everything_it_started_are_killed(tmp_path):
    # the fake E starts a grandchild (as a shell script's pipeline would) and hangs; a deadline
    # that only killed E itself would leave the grandchild running
    prover = _fake_e(tmp_path, 'sleep 60 &\necho $! >> "$(dirname "$0")/children"\nwait\n')
    verdict = prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)"), timeout_s=0.3)
    assert verdict.status == "timeout"
    children = [int(line) for line in (tmp_path / "children").read_text().split()]
    assert len(children) == 2  # one per run: the conclusion and its negation
    assert all(_gone(pid) for pid in children)


def test_what_a_finished_prover_left_running_is_killed(tmp_path):
    prover = _fake_e(
        tmp_path, '(sleep 60 & echo $! >> "$(dirname "$0")/children")\necho "# SZS status CounterSatisfiable"\n'
    )
    verdict = prover.prove(parse_formulas(["P(a)"]), parse_formula("Q(a)"), timeout_s=5)
    assert verdict.status == "uncertain"
    children = [int(line) for line in (tmp_path / "children").read_text().split()]
    assert len(children) == 2 and all(_gone(pid) for pid in children)


def test_a_passed_shared_deadline_is_a_timeout_without_starting_e(tmp_path):
    prover = _fake_e(tmp_path, 'touch "$(dirname "$0")/ran"\necho "# SZS status Theorem"\n')
    verdict = prover.prove(parse_formulas(["P(a)"]), parse_formula("P(a)"), timeout_s=30, deadline=Deadline(0.0))
    assert verdict.status == "timeout"
    assert verdict.details["szs"] == {"conclusion": "Timeout", "negation": "Timeout"}
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(("timeout_s", "deadline_s", "cpu_limit"), [(2.5, None, 3), (30, 1.5, 2), (0.2, 30, 1)])
def test_e_gets_the_seconds_left_as_its_cpu_limit(tmp_path, timeout_s, deadline_s, cpu_limit):
    prover = _fake_e(tmp_path, 'echo "$@" >> "$(dirname "$0")/args"\necho "# SZS status CounterSatisfiable"\n')
    deadline = Deadline.after(deadline_s) if deadline_s is not None else None
    prover.prove(parse_formulas(["P(a)"]), parse_formula("Q(a)"), timeout_s=timeout_s, deadline=deadline)
    calls = (tmp_path / "args").read_text().splitlines()
    assert len(calls) == 2
    assert all(f"--cpu-limit={cpu_limit} " in call for call in calls)


def test_a_chatty_prover_cannot_block_on_its_output(tmp_path):
    # far more output than a pipe holds: written to a file, it never blocks E while the other run is awaited
    prover = _fake_e(tmp_path, 'yes "% padding" | head -c 2000000\necho\necho "# SZS status CounterSatisfiable"\n')
    verdict = prover.prove(parse_formulas(["P(a)"]), parse_formula("Q(a)"), timeout_s=20)
    assert verdict.status == "uncertain"


# --- combining verdicts -------------------------------------------------------------------------


def _verdict(status, prover, **kw):
    answer = {
        "proved": EntailmentLabel.TRUE,
        "disproved": EntailmentLabel.FALSE,
        "uncertain": EntailmentLabel.UNCERTAIN,
    }
    return Verdict(status, answer=answer.get(status), prover=prover, elapsed_s=0.5, **kw)


def test_combine_reports_disagreement_as_unknown():
    combined = combine_verdicts([_verdict("proved", "z3"), _verdict("uncertain", "eprover")])
    assert combined.status == "unknown"
    assert combined.answer is None
    assert combined.message == "provers disagree: z3 says proved, eprover says uncertain"
    assert "z3" in combined.message and "eprover" in combined.message
    assert combined.prover == "z3+eprover"
    assert combined.details["agree"] is False
    assert combined.details["provers"] == {"z3": "proved", "eprover": "uncertain"}
    assert set(combined.details["verdicts"]) == {"z3", "eprover"}
    json.dumps(combined.to_dict())


def test_combine_reports_inconsistent_versus_decided_as_disagreement():
    combined = combine_verdicts([_verdict("inconsistent", "z3"), _verdict("proved", "eprover")])
    assert combined.status == "unknown"
    assert "z3 says inconsistent, eprover says proved" in combined.message


def test_combine_agreement():
    certificate = PremisesUsed((0,), ("P(a)",))
    combined = combine_verdicts([_verdict("proved", "z3", certificate=certificate), _verdict("proved", "eprover")])
    assert combined.status == "proved"
    assert combined.answer == EntailmentLabel.TRUE
    assert combined.certificate == certificate  # the first settled verdict wins
    assert combined.prover == "z3+eprover"
    assert combined.details["agree"] is True


def test_combine_one_settled_one_timed_out():
    combined = combine_verdicts([_verdict("timeout", "z3"), _verdict("disproved", "eprover")])
    assert combined.status == "disproved"
    assert combined.details["agree"] is None
    assert combined.details["provers"] == {"z3": "timeout", "eprover": "disproved"}


def test_combine_nothing_settled():
    combined = combine_verdicts([_verdict("timeout", "z3", message="canceled"), _verdict("unknown", "eprover")])
    assert combined.status == "timeout"
    assert combined.message == "canceled"
    assert combined.details["agree"] is None


def test_combine_single_and_empty():
    only = _verdict("proved", "z3")
    assert combine_verdicts([only]) is only
    with pytest.raises(ConfigurationError):
        combine_verdicts([])
