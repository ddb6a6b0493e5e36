"""The escape suite: every attack in neurosym.provers.sandbox.escapes must be contained."""

from neurosym.provers.sandbox.escapes import ATTACKS, run_escape_suite


def test_every_escape_attempt_is_contained(sandbox, capsys):
    report = run_escape_suite(sandbox)
    contained = [r for r in report if r.contained]
    with capsys.disabled():
        print(f"\nsandbox escape suite: {len(report)} attacks tried, {len(contained)} contained")
    assert len(report) == len(ATTACKS) >= 40
    assert [r.render() for r in report if not r.contained] == []


def test_the_judge_reports_an_attack_that_got_through(sandbox):
    # The suite must be able to fail: a program that claims success is reported as an escape.
    import neurosym.provers.sandbox.escapes as escapes

    fake = escapes.Attack("claims_success", "nothing", 'return "ESCAPED: pretend"')
    original = escapes.ATTACKS
    escapes.ATTACKS = (fake,)
    try:
        [result] = run_escape_suite(sandbox)
    finally:
        escapes.ATTACKS = original
    assert not result.contained and result.evidence == "ESCAPED: pretend"


def test_attacks_have_unique_names_and_goals():
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)
    assert all(a.goal and a.code.strip() for a in ATTACKS)


def test_an_expression_attack_that_gets_true_is_reported(sandbox):
    # The sympy_equal attacks escape when the answer is True: an honest equal pair shows the judge can fail.
    import neurosym.provers.sandbox.escapes as escapes

    fake = escapes.Attack("equal_pair", "nothing", "sqrt(4)", against="2")
    original = escapes.ATTACKS
    escapes.ATTACKS = (fake,)
    try:
        [result] = run_escape_suite(sandbox)
    finally:
        escapes.ATTACKS = original
    assert not result.contained and result.status == "True"


def test_the_audit_attacks_are_in_the_suite():
    names = {a.name for a in ATTACKS}
    audit = {
        *("init_process_memory", "server_memory_write", "server_pipes", "inherited_fds"),
        *("signal_queue", "signal_sigio", "server_limits", "server_priority", "pidfd_tricks", "tty_injection"),
        *("chmod_workdir", "chmod_tmp", "deep_folders", "closed_pipes_sleep", "host_paths", "host_identity"),
        *("forged_result", "forged_nan", "forged_wrong_types", "sympy_equal_result_channel"),
        *("x32_syscalls", "personality"),
    }
    assert audit <= names
