"""The sandbox: results, limits, bad programs, fresh state and a healthy pool afterwards."""

import threading

import pytest

from neurosym.provers.sandbox import Execution, Limits, Sandbox


def prog(body: str) -> str:
    return "def solution():\n" + "".join(f"    {line}\n" for line in body.splitlines())


def test_values_come_back_typed_with_exact_text(sandbox):
    cases = {
        "return 42": ("int", "42", 42.0),
        "return 2.5": ("float", "2.5", 2.5),
        "from fractions import Fraction\nreturn Fraction(1, 3)": ("rational", "1/3", 1 / 3),
        "import sympy\nreturn sympy.sqrt(2) / 2": ("sympy", "sqrt(2)/2", 2**0.5 / 2),
        "import sympy\nreturn sympy.Rational(7, 2)": ("rational", "7/2", 3.5),
        "return 'seven'": ("str", "seven", None),
        "return None": ("none", "None", None),
        "return True": ("bool", "True", None),
    }
    for body, (kind, text, number) in cases.items():
        run = sandbox.run(prog(body))
        assert run.status == "ok", (body, run)
        assert (run.value["type"], run.value["text"], run.number) == (kind, text, number), body


def test_nan_and_infinity_are_not_numbers(sandbox):
    assert sandbox.run(prog("return float('nan')")).number is None
    assert sandbox.run(prog("return float('inf')")).value["text"] == "inf"


def test_enormous_integers_are_reported_by_size_not_printed(sandbox):
    run = sandbox.run(prog("return 7 ** 100000"))
    assert run.ok and run.value["text"] is None and run.value["digits"] > 80000
    assert run.number is None


def test_syntax_error_is_an_error_with_the_line(sandbox):
    run = sandbox.run("def solution(:\n    return 1\n")
    assert run.status == "error" and run.exception == "SyntaxError"
    assert "line 1" in run.traceback


def test_missing_solution_is_named(sandbox):
    run = sandbox.run("def answer():\n    return 1\n")
    assert run.status == "error" and "solution()" in run.message


def test_exception_traceback_shows_the_program_lines_only(sandbox):
    run = sandbox.run(prog("x = 1\nreturn x / 0"))
    assert run.status == "error" and run.exception == "ZeroDivisionError"
    assert 'File "<program>", line 3' in run.traceback and "_server" not in run.traceback


def test_system_exit_is_caught(sandbox):
    run = sandbox.run(prog("raise SystemExit(3)"))
    assert run.status == "error" and run.exception == "SystemExit"


def test_recursion_error_and_stack_overflow_leave_the_pool_healthy(sandbox):
    run = sandbox.run(prog("def f(n):\n    return f(n + 1)\nreturn f(0)"))
    assert run.status == "error" and run.exception == "RecursionError"
    deep = sandbox.run(
        prog("import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1) + 1\nreturn f(0)")
    )
    assert deep.status in ("crashed", "timeout", "memory")
    assert sandbox.run(prog("return 1")).number == 1.0


def test_output_is_captured_and_capped(sandbox):
    run = sandbox.run(prog("print('hello')\nimport sys\nprint('warn', file=sys.stderr)\nreturn 1"))
    assert run.stdout == "hello\n" and run.stderr == "warn\n" and not run.stdout_truncated
    big = sandbox.run(prog("print('x' * 10000)\nreturn 1"))
    assert big.ok and big.stdout_truncated and len(big.stdout) == 4096


def test_wall_clock_limit_kills_a_sleeping_program(sandbox):
    run = sandbox.run(prog("import time\ntime.sleep(60)"), limits=Limits(wall_s=0.5, cpu_s=2))
    assert run.status == "timeout" and run.wall_s < 3.0  # killed at the deadline, not at the end of the sleep


def test_every_execution_starts_fresh(sandbox):
    sandbox.run(prog("import math\nmath.pi = 3\nopen('/tmp/note', 'w').write('x')\nreturn 1"))
    for _ in range(2):  # both servers
        run = sandbox.run(prog("import math, os\nreturn [math.pi, os.path.exists('/tmp/note'), os.getcwd()]"))
        assert run.value["text"] == "[3.141592653589793, False, '/tmp/work']"


def test_program_too_long_is_refused_without_running(sandbox):
    run = sandbox.run("x" * 300_000)
    assert run.status == "error" and "longer than 200,000 characters" in run.message


def test_sympy_equal_decides_in_the_sandbox(sandbox):
    assert sandbox.sympy_equal("sqrt(8)", "2*sqrt(2)") is True
    assert sandbox.sympy_equal("1/3", "0.33") is False
    # SymPy's parser evaluates its input; ours reads arithmetic only, so code is refused unread.
    assert sandbox.sympy_equal("__import__('os').system('true')", "0") is None
    assert sandbox.sympy_equal("(", "1") is None


def test_map_runs_in_parallel_and_keeps_order(sandbox):
    runs = sandbox.map([prog(f"return {i}") for i in range(10)])
    assert [r.number for r in runs] == [float(i) for i in range(10)]


def test_server_started_from_a_short_lived_thread_survives_it(sandbox_available):
    # bwrap --die-with-parent is tied to the starting *thread*; servers must outlive it.
    with Sandbox() as box:
        starter = threading.Thread(target=box.start)
        starter.start()
        starter.join()
        assert box.run(prog("return 5")).number == 5.0


def test_a_dead_server_is_replaced(sandbox):
    with Sandbox() as box:
        assert box.run(prog("return 1")).ok
        box._servers[0].kill()  # as if the OOM killer took it
        run = box.run(prog("return 2"))
        assert run.number == 2.0 and box.restarts == 1


def test_closed_sandbox_refuses_work(sandbox_available):
    from neurosym.provers.sandbox import SandboxUnavailable

    box = Sandbox()
    box.close()
    with pytest.raises(SandboxUnavailable):
        box.run(prog("return 1"))
    with pytest.raises(SandboxUnavailable):
        box.start()


def test_a_server_killed_with_its_tree_leaves_no_jail_process_behind(sandbox_available):
    # The server is pid 1 of its jail, in a session of its own (bwrap --new-session): a kill of
    # bwrap's process group alone would leave it to --die-with-parent; the tree kill takes it directly.
    from neurosym.processes import descendants, has_ended

    with Sandbox() as box:
        box.start()
        server = box._servers[0]
        jail = [server.process.pid, *descendants(server.process.pid)]
        assert len(jail) >= 2  # bwrap and the fork server
        server.kill()
        assert all(has_ended(pid) for pid in jail)
        assert box.run(prog("return 3")).number == 3.0 and box.restarts == 1


def test_execution_serialises():
    run = Execution("ok", value={"type": "int", "text": "3", "float": 3.0})
    assert run.to_dict()["value"]["text"] == "3" and run.number == 3.0
