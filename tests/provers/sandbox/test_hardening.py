"""The sandbox against the outside audit: each test is one attack that used to get through.

1. bubblewrap's init (pid 1) was dumpable and unfiltered: the server is now the jail's init.
2. Signals, limits and priorities could be aimed at the server.
3. A locked (mode 000) work folder or /tmp broke every later execution and leaked files.
4. The result channel was trusted: measured fields, NaN and sympy_equal could be forged.
5. A child that closed its pipes and slept was a crash after the grace time, not a timeout.
6. The jail showed host paths (the checkout, the virtual environment).
"""

import json
import math
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosym.errors import ConfigurationError
from neurosym.provers.sandbox import Execution, Limits, Sandbox, _execution
from neurosym.provers.sandbox import _protocol as protocol

TEST_LIMITS = Limits(wall_s=3.0, cpu_s=2.0, memory_mb=768, file_mb=4, output_bytes=4096)  # as conftest's
CHECKOUT = str(Path(__file__).resolve().parents[3])


def prog(body: str) -> str:
    return "def solution():\n" + "".join(f"    {line}\n" for line in body.splitlines())


def returned(run: Execution) -> object:
    assert run.ok, run
    return eval(run.value["text"])  # the repr of a list of plain values, made by our own server


@pytest.fixture
def one_server(sandbox_available):
    """A fresh one-worker sandbox, so that consecutive programs share a server and restarts count."""
    with Sandbox(workers=1, limits=TEST_LIMITS) as box:
        box.start()
        yield box


# 1. No dumpable or unfiltered process in the jail.


def test_the_server_is_the_jails_init_and_there_is_no_proc(sandbox):
    run = sandbox.run(
        prog(
            "import ctypes, os\n"
            "dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)\n"  # PR_GET_DUMPABLE, inherited from the server
            "return [os.getppid(), dumpable, os.path.exists('/proc/1/mem'), os.path.exists('/proc/self')]"
        )
    )
    assert returned(run) == [1, 0, False, False]


def _host_children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                children.append(int(entry.name))
    return children


def test_every_process_of_the_jail_is_filtered_and_is_its_init(one_server):
    # Seen from the host: bwrap has one child, the server, which is pid 1 of its namespace, runs
    # under a seccomp filter with no_new_privs, and has no children of its own between executions.
    bwrap = one_server._servers[0].process.pid
    [server] = _host_children(bwrap)
    status = Path(f"/proc/{server}/status").read_text()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Seccomp"].strip() == "2" and fields["NoNewPrivs"].strip() == "1"
    assert fields["NSpid"].split()[-1] == "1"
    assert _host_children(server) == []


def test_the_server_memory_and_pipes_are_out_of_reach(sandbox):
    run = sandbox.run(
        prog(
            "import os\n"
            "reached = []\n"
            "for path in ('/proc/1/mem', '/proc/1/fd/0', '/proc/1/fd/1'):\n"
            "    try:\n"
            "        os.close(os.open(path, os.O_WRONLY))\n"
            "        reached.append(path)\n"
            "    except OSError:\n"
            "        pass\n"
            "return reached"
        )
    )
    assert returned(run) == []


# 2. Nothing aimed at another process.


def test_signals_limits_and_priorities_aimed_at_the_server_are_refused(sandbox):
    if os.uname().machine != "x86_64":
        pytest.skip("rt_sigqueueinfo is called by its x86_64 number")
    run = sandbox.run(
        prog(
            "import ctypes, errno, fcntl, os, resource, signal, socket\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "libc.syscall.restype = ctypes.c_long\n"
            "def refused(call):\n"
            "    try:\n"
            "        call()\n"
            "    except OSError as exc:\n"
            "        return exc.errno == errno.EPERM\n"
            "    return False\n"
            "info = ctypes.create_string_buffer(128)\n"
            "ctypes.set_errno(0)\n"
            "queued = libc.syscall(ctypes.c_long(129), 1, signal.SIGINT, info)\n"  # rt_sigqueueinfo (x86_64)
            "a, b = socket.socketpair()\n"
            "return [queued == -1 and ctypes.get_errno() == errno.EPERM,\n"
            "        refused(lambda: os.kill(1, signal.SIGINT)),\n"
            "        refused(lambda: resource.prlimit(1, resource.RLIMIT_NOFILE, (4, 4))),\n"
            "        refused(lambda: os.setpriority(os.PRIO_PROCESS, 1, 19)),\n"
            "        refused(lambda: os.setpriority(os.PRIO_USER, 0, 19)),\n"
            "        refused(lambda: os.sched_setaffinity(1, {0})),\n"
            "        refused(lambda: fcntl.fcntl(a.fileno(), fcntl.F_SETOWN, 1)),\n"
            "        refused(lambda: os.pidfd_open(1))]"
        )
    )
    assert returned(run) == [True] * 8
    # A program may still lower its own priority and read and set its own limits.
    own = sandbox.run(prog("import os, resource\nos.nice(1)\nreturn resource.getrlimit(resource.RLIMIT_NOFILE)[0]"))
    assert own.ok and own.number > 4


# 3. A fresh work folder for every program, whatever the previous one did to permissions.

LOOK_AROUND = prog(
    "import os\n"
    "found = []\n"
    "for root, folders, files in os.walk('/tmp'):\n"
    "    found += [os.path.join(root, name) for name in folders + files]\n"
    "open('note.txt', 'w').write('x')\n"
    "return [sorted(found), os.getcwd(), open('note.txt').read(), oct(os.stat('/tmp').st_mode)]"
)


@pytest.mark.parametrize(
    "lock",
    [
        "os.chmod('/tmp/work/box', 0)\nos.chdir('/')\nos.chmod('/tmp/work', 0)",
        "os.chdir('/')\nos.chmod('/tmp/work', 0)\nos.chmod('/tmp', 0)",
    ],
    ids=["work_folder_000", "tmp_000"],
)
def test_a_locked_folder_leaks_nothing_and_breaks_nothing(one_server, lock):
    planted = one_server.run(
        prog(
            f"import os\nos.mkdir('/tmp/work/box')\nopen('/tmp/work/box/secret', 'w').write('s3cret')\n{lock}\nreturn 1"
        )
    )
    assert planted.number == 1.0
    after = one_server.run(LOOK_AROUND)
    assert returned(after) == [["/tmp/work"], "/tmp/work", "x", "0o40755"]
    assert one_server.restarts == 0  # the wipe undid the permissions: no new jail was needed


def test_a_server_that_cannot_empty_tmp_is_replaced(one_server):
    # Folders nested past the wipe's depth limit: the server says so and the client starts a new jail.
    planted = one_server.run(prog("import os\nfor _ in range(100):\n    os.mkdir('d')\n    os.chdir('d')\nreturn 2"))
    assert planted.number == 2.0 and "restart" in planted.details
    after = one_server.run(LOOK_AROUND)
    assert returned(after)[0] == ["/tmp/work"]
    assert one_server.restarts == 1


# 4. The result channel cannot override what is measured; responses are checked on the host.


def test_a_forged_result_cannot_override_the_measured_fields(sandbox):
    forged = {"status": "ok", "value": {"type": "int", "text": "7", "float": 7}, "stdout": "forged",
              "wall_s": 1e-9, "cpu_s": 1e9, "stderr_truncated": True, "details": {"signal": "SIGFORGED"}}  # fmt: skip
    forge = f"os.write(3, {json.dumps(forged)!r}.encode())"
    run = sandbox.run(prog(f"import os, sys\nprint('real')\nsys.stdout.flush()\n{forge}\nos._exit(0)"))
    assert run.ok and run.number == 7.0  # what it returned is its own business...
    assert run.stdout == "real\n" and not run.stderr_truncated  # ...what it printed and cost is measured
    assert 1e-4 < run.wall_s < 3.0 and run.cpu_s < 3.0 and "signal" not in run.details


@pytest.mark.parametrize(
    "document",
    [
        '{"status": "ok", "value": {"type": "float", "text": "nan", "float": NaN}}',
        '{"status": "ok", "value": {"type": "float", "text": "inf", "float": 1e999}}',
        '{"status": "ok", "value": [1, 2]}',
        '{"status": "timeout"}',
        '{"status": "ok", "value": {"type": "int", "text": 5, "float": "7"}}',
    ],
)
def test_a_malformed_result_is_a_crash_not_a_number(sandbox, document):
    from neurosym.targets.python import execution_verdict

    run = sandbox.run(prog(f"import os\nos.write(3, {document!r}.encode())\nos._exit(0)"))
    assert run.status == "crashed" and run.number is None and "malformed" in run.message
    assert execution_verdict("...", run).status == "unknown"  # a verdict, never an exception in the vote


def test_sympy_equal_cannot_be_forged_through_the_result_channel(sandbox):
    verdict = '{"status": "ok", "value": {"type": "bool", "text": "True"}}'
    expression = f"__import__('os').write(3, {verdict!r}.encode()) and __import__('os')._exit(0)"
    assert sandbox.sympy_equal(expression, "2") is None
    assert sandbox.sympy_equal("Symbol('x').__class__", "1") is None
    assert sandbox.sympy_equal("sin('__import__(\"os\")')", "0") is None


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("sqrt(2)/2", "1/sqrt(2)", True),
        ("x^2 + 2*x + 1", "(x + 1)**2", True),
        ("0.5", "1/2", True),
        ("Rational(1, 3)", "1/3", True),
        ("-pi/4", "atan(-1)", True),
        ("log(E**3)", "3", True),
        ("1e-3", "1/1000", True),
        ("1/3", "0.333", False),
        ("7", "7.000001", False),
    ],
)
def test_sympy_equal_reads_the_arithmetic_grammar(sandbox, a, b, equal):
    assert sandbox.sympy_equal(a, b) is equal


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "text", "float", "digits", "items", "srepr", "x"]) | st.text(max_size=8),
                      inner, max_size=5),
    max_leaves=20,
)  # fmt: skip
RESPONSE_KEYS = [*Execution.__dataclass_fields__, "restart", "swept", "signal", "phase", "unknown"]
RESPONSES = st.one_of(
    JSONISH,
    st.dictionaries(st.sampled_from(RESPONSE_KEYS), JSONISH, max_size=10),
    st.builds(
        lambda fields, status, value: {**fields, "status": status, "value": value},
        st.dictionaries(st.sampled_from(RESPONSE_KEYS), JSONISH, max_size=8),
        st.sampled_from([*protocol.STATUSES, "bogus"]),
        JSONISH,
    ),
)


@settings(derandomize=True, max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RESPONSES)
def test_the_host_reads_any_response_into_a_well_typed_execution(response):
    run = _execution(response, output_chars=4096)
    assert isinstance(run, Execution) and run.status in protocol.STATUSES
    assert all(isinstance(getattr(run, name), str) for name in ("stdout", "stderr", "message", "traceback"))
    assert isinstance(run.stdout_truncated, bool) and isinstance(run.stderr_truncated, bool)
    assert run.exception is None or isinstance(run.exception, str)
    assert all(isinstance(t, float) and math.isfinite(t) and t >= 0 for t in (run.wall_s, run.cpu_s))
    assert run.value is None or (isinstance(run.value, dict) and isinstance(run.value["type"], str))
    assert run.number is None or math.isfinite(run.number)
    json.dumps(run.to_dict(), allow_nan=False)  # everything in it is plain, finite JSON


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.binary(max_size=200) | JSONISH.map(lambda v: json.dumps(v).encode()))
def test_the_protocol_reader_refuses_with_malformed_only(data):
    try:
        document = protocol.loads(data)
    except protocol.Malformed:
        return
    json.dumps(document, allow_nan=False)  # what it accepts has no NaN or infinity


def test_a_valid_response_is_read_in_full():
    run = _execution(
        {
            "status": "error",
            "exception": "ZeroDivisionError",
            "message": "division by zero",
            "traceback": "tb",
            "stdout": "x\n",
            "stderr": "",
            "stdout_truncated": False,
            "wall_s": 0.5,
            "cpu_s": 0.25,
            "details": {"phase": "run", "swept": 0, "evil": "dropped"},
            "evil": "dropped",
        }
    )
    assert (run.status, run.exception, run.stdout) == ("error", "ZeroDivisionError", "x\n")
    assert (run.wall_s, run.cpu_s) == (0.5, 0.25)
    assert run.details == {"phase": "run", "swept": 0}
    too_long = _execution({"status": "ok", "stdout": "x" * 5000}, output_chars=4096)
    assert too_long.status == "crashed" and "longer than" in too_long.message


# 5. A hung child is a timeout at its wall limit, and the server stays.


def test_a_child_that_closes_its_pipes_and_sleeps_times_out_at_its_limit(one_server):
    run = one_server.run(
        prog("import os, time\nfor fd in (1, 2, 3):\n    os.close(fd)\ntime.sleep(60)"),
        limits=Limits(wall_s=1.0, cpu_s=2),
    )
    assert run.status == "timeout" and 1.0 <= run.wall_s < 2.0
    assert one_server.restarts == 0 and one_server.run(prog("return 3")).number == 3.0


# 6. No host path inside.


def test_the_jail_shows_only_neutral_paths(sandbox):
    run = sandbox.run(
        prog(
            "import os, sys, sympy, mpmath\n"
            "mountinfo = os.path.exists('/proc/self/mountinfo')\n"
            "return [sys.executable, sys.prefix, sympy.__file__, mpmath.__file__, os.__file__, sys.path, mountinfo,"
            " sorted(os.listdir('/opt')), sorted(os.listdir('/opt/site'))]"
        )
    )
    executable, prefix, sympy_file, mpmath_file, os_file, path, mountinfo, opt, site = returned(run)
    assert executable.startswith("/opt/python/bin/python3") and prefix == "/opt/python"
    assert sympy_file == "/opt/site/sympy/__init__.py" and mpmath_file == "/opt/site/mpmath/__init__.py"
    assert os_file.startswith("/opt/python/lib/python3") and not mountinfo
    assert all(entry.startswith("/opt/") for entry in path), path
    assert opt == ["neurosym", "python", "site"] and site == ["mpmath", "pyseccomp.py", "sympy"]
    for host in {CHECKOUT, sys.prefix}:
        assert host not in run.value["text"]


def test_the_installation_s_own_packages_are_hidden(sandbox):
    run = sandbox.run(prog("import os, sys\nfolder = os.path.join(os.path.dirname(os.__file__), 'site-packages')\n"
                           "return os.listdir(folder) if os.path.isdir(folder) else []"))  # fmt: skip
    assert returned(run) == []


def test_limits_refuse_nonsense():
    for bad in ({"wall_s": float("nan")}, {"cpu_s": 0}, {"memory_mb": 0}, {"output_bytes": 1.5}, {"file_mb": True}):
        with pytest.raises(ConfigurationError):
            Limits(**bad)
