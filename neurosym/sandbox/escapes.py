r"""Escape attempts against the sandbox: each is a hostile program and a test of its outcome.

:func:`run_escape_suite` tries every attack in :data:`ATTACKS` and says which were contained.
``neurosym sandbox`` runs it on the user's machine; the test suite runs it in CI.

An attack program returns a string starting with ``ESCAPED`` when it got what it wanted; it is
contained when it did not (it may also have been stopped: a timeout, a crash, an error), the
host-side checks hold (no file appeared outside the jail, no secret leaked), and the sandbox
answers a normal program correctly afterwards.

Example:
    >>> from neurosym.sandbox import Limits, Sandbox
    >>> with Sandbox(limits=Limits(wall_s=3, cpu_s=2, memory_mb=768)) as box:
    ...     report = run_escape_suite(box, names=["subprocess", "fork_bomb"])
    >>> [(r.name, r.contained) for r in report]
    [('subprocess', True), ('fork_bomb', True)]

"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from neurosym.sandbox import Execution, Sandbox

__all__ = ["ATTACKS", "Attack", "AttackResult", "run_escape_suite"]


@dataclass(frozen=True)
class Attack:
    """One escape attempt.

    Attributes:
        name: a short identifier.
        goal: what the program tries to do, in words.
        code: the body of ``solution()``; ``{secret}``, ``{host_file}``, ``{host_dir}`` and
            ``{port}`` are filled in by the suite.
        expect: statuses that count as stopped (besides a returned string that does not start
            with ``ESCAPED``).

    """

    name: str
    goal: str
    code: str
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttackResult:
    """How one attack ended."""

    name: str
    goal: str
    contained: bool
    status: str
    evidence: str

    def render(self) -> str:
        """One line for people."""
        return f"{'contained' if self.contained else 'ESCAPED  '}  {self.name:<22} {self.status:<12} {self.evidence}"


ATTACKS: tuple[Attack, ...] = (
    Attack(
        "network_internet",
        "open a TCP connection to 1.1.1.1:53",
        """
        import socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=2).close()
            return "ESCAPED: connected"
        except OSError as exc:
            return f"blocked: {exc}"
    """,
    ),
    Attack(
        "network_host_loopback",
        "reach a server listening on the host's 127.0.0.1",
        """
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
            return "ESCAPED: connected to the host"
        except OSError as exc:
            return f"blocked: {exc}"
    """,
    ),
    Attack(
        "network_dns",
        "resolve a host name",
        """
        import socket
        try:
            return "ESCAPED: " + str(socket.getaddrinfo("pypi.org", 443)[0][4])
        except OSError as exc:
            return f"blocked: {exc}"
    """,
    ),
    Attack(
        "write_outside_tmp",
        "write files outside the jail's /tmp and into the host",
        """
        import os, sys
        wrote = []
        for path in ["/x", "/usr/x", "/etc/x", "/dev/x", "/dev/shm/x", "/opt/neurosym/x",
                     sys.prefix + "/x", "{host_dir}/x", "/root/x", "/home/x"]:
            try:
                with open(path, "w") as f:
                    f.write("x")
                wrote.append(path)
            except OSError:
                pass
        return "ESCAPED: wrote " + ", ".join(wrote) if wrote else "blocked"
    """,
    ),
    Attack(
        "read_parent_environment",
        "read a secret from neurosym's environment",
        """
        import os
        found = [k for k, v in os.environ.items() if "{secret}" in v]
        for path in ["/proc/1/environ", "/proc/self/environ", "/proc/" + str(os.getppid()) + "/environ"]:
            try:
                if "{secret}" in open(path, "rb").read().decode("latin-1"):
                    found.append(path)
            except OSError:
                pass
        return "ESCAPED: " + ", ".join(found) if found else "blocked: " + ", ".join(sorted(os.environ))
    """,
    ),
    Attack(
        "read_host_files",
        "read ~/.ssh, /etc/shadow and a secret file of the host",
        """
        import os
        read = []
        for path in ["{host_file}", os.path.expanduser("~/.ssh/id_rsa"), "/root/.ssh/authorized_keys",
                     "/etc/shadow", "/etc/passwd", "/home"]:
            try:
                if os.path.isdir(path):
                    if os.listdir(path):
                        read.append(path)
                else:
                    open(path, "rb").read(1)
                    read.append(path)
            except OSError:
                pass
        return "ESCAPED: read " + ", ".join(read) if read else "blocked"
    """,
    ),
    Attack(
        "os_system",
        "run a shell command with os.system",
        """
        import os
        code = os.system("echo pwned > /tmp/pwned")
        return "ESCAPED: the shell ran" if code == 0 or os.path.exists("/tmp/pwned") else f"blocked: exit {code}"
    """,
    ),
    Attack(
        "subprocess",
        "start a program with subprocess",
        """
        import subprocess
        try:
            out = subprocess.run(["/usr/bin/id"], capture_output=True, timeout=2)
            return "ESCAPED: " + out.stdout.decode()
        except OSError as exc:
            return f"blocked: {exc}"
    """,
    ),
    Attack(
        "ctypes_libc",
        "call system(), fork() and kill() through ctypes",
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        got = []
        if libc.system(b"true") == 0:
            got.append("system")
        pid = libc.fork()
        if pid == 0:
            libc._exit(0)
        if pid > 0:
            got.append("fork")
        if libc.kill(os.getppid(), 9) == 0:
            got.append("kill parent")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
    ),
    Attack(
        "fork_bomb",
        "fork without end",
        """
        import os
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    while True:
                        pass
                children += 1
        except OSError as exc:
            return ("ESCAPED: " if children else "blocked: ") + f"{children} forks, then {exc}"
    """,
        expect=("timeout",),
    ),
    Attack(
        "thread_bomb",
        "start threads without end",
        """
        import threading, time
        started = 0
        try:
            while started < 100_000:
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
                started += 1
        except RuntimeError as exc:
            return f"blocked after {started} threads: {exc}"
        return f"ESCAPED: {started} threads"
    """,
        expect=("memory",),
    ),
    Attack(
        "memory_bomb",
        "allocate 20 GB",
        # bytes(n) comes from calloc, so the pages are reserved but not written: the address-space
        # limit is what stops it, at once. Writing them (bytearray) costs 0.3 s of CPU per 100 MB
        # on some virtual machines, and the CPU limit would end it first.
        """
        blocks = []
        for _ in range(200):
            blocks.append(bytes(100 * 1024 * 1024))
        return "ESCAPED"
    """,
        expect=("memory", "crashed"),
    ),
    Attack(
        "infinite_loop",
        "run for ever",
        """
        while True:
            pass
    """,
        expect=("timeout",),
    ),
    Attack(
        "sleep_forever",
        "sleep for ever (no CPU time used)",
        """
        import time
        time.sleep(10**6)
    """,
        expect=("timeout",),
    ),
    Attack(
        "output_flood",
        "print gigabytes",
        """
        chunk = "x" * (1 << 20)
        for _ in range(4096):
            print(chunk)
        return "ESCAPED: printed 4 GB"
    """,
        expect=("output_limit", "timeout"),
    ),
    Attack(
        "disk_fill",
        "fill the disk",
        """
        with open("/tmp/big", "wb") as f:
            for _ in range(4096):
                f.write(b"x" * (1 << 20))
        return "ESCAPED: wrote 4 GB"
    """,
        expect=("crashed", "error"),
    ),
    Attack(
        "ignore_signals",
        "ignore every catchable signal and loop",
        """
        import signal
        for sig in range(1, signal.NSIG):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError, RuntimeError):
                pass
        while True:
            pass
    """,
        expect=("timeout",),
    ),
    Attack(
        "raise_limits",
        "lift its own CPU and memory limits",
        """
        import resource
        lifted = []
        for limit in (resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_NPROC):
            try:
                resource.setrlimit(limit, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                lifted.append(limit)
            except (ValueError, OSError):
                pass
        return f"ESCAPED: lifted {lifted}" if lifted else "blocked"
    """,
    ),
    Attack(
        "builtins_tricks",
        "reach os through __builtins__, __loader__ and object subclasses",
        """
        got = []
        try:
            importer = __builtins__["__import__"] if isinstance(__builtins__, dict) else __builtins__.__import__
            importer("os").execv("/usr/bin/id", ["id"])
            got.append("execv")
        except OSError:
            pass
        for cls in ().__class__.__base__.__subclasses__():
            if cls.__name__ == "Popen":
                try:
                    cls(["/usr/bin/id"]).wait()
                    got.append("Popen")
                except OSError:
                    pass
        try:
            __loader__.load_module("os").system("true") == 0 and got.append("loader")
        except (AttributeError, ImportError, OSError, TypeError):
            pass
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
    ),
    Attack(
        "sys_modules_tricks",
        "swap modules in sys.modules to get a process",
        """
        import sys, importlib
        got = []
        os_module = sys.modules["os"]
        sys.modules["posix"].system = lambda cmd: 0
        if os_module.spawnv(os_module.P_WAIT, "/usr/bin/true", ["true"]) == 0:
            got.append("spawnv")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
        expect=("error",),
    ),
    Attack(
        "kill_server",
        "kill the sandbox's server and init processes",
        """
        import os, signal
        got = []
        for pid in (os.getppid(), 1):
            try:
                os.kill(pid, signal.SIGKILL)
                got.append(str(pid))
            except OSError:
                pass
        return "ESCAPED: killed " + ", ".join(got) if got else "blocked"
    """,
    ),
    Attack(
        "proc_memory",
        "read the server's memory through /proc",
        """
        import os
        try:
            with open(f"/proc/{os.getppid()}/mem", "rb") as f:
                f.read(1)
            return "ESCAPED: opened the server's memory"
        except OSError as exc:
            return f"blocked: {exc}"
    """,
    ),
    Attack(
        "new_namespace",
        "unshare or ptrace through raw system calls",
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        got = []
        if libc.unshare(0x10000000) == 0:  # CLONE_NEWUSER
            got.append("unshare")
        if libc.ptrace(16, os.getppid(), 0, 0) == 0:  # PTRACE_ATTACH
            got.append("ptrace")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
    ),
    Attack(
        "recursion_bomb",
        "recurse until the C stack overflows",
        """
        import sys
        sys.setrecursionlimit(10**8)
        def f(n):
            return f(n + 1) + 1
        return f(0)
    """,
        expect=("crashed", "error", "memory", "timeout"),
    ),
    Attack(
        "leave_state",
        "leave a file and a module change for the next program",
        """
        import sympy
        open("/tmp/left-behind", "w").write("x")
        sympy.left_behind = True
        return "planted"
    """,
    ),
)


def _leak_check() -> str:
    return textwrap.dedent("""
        def solution():
            import os, sympy
            left = [p for p in ("/tmp/left-behind", "/tmp/pwned", "/tmp/big") if os.path.exists(p)]
            if getattr(sympy, "left_behind", False):
                left.append("sympy.left_behind")
            return "ESCAPED: found " + ", ".join(left) if left else "clean"
    """)


def _program(attack: Attack, fill: dict[str, str]) -> str:
    body = attack.code
    for key, value in fill.items():
        body = body.replace("{" + key + "}", value)
    return "def solution():\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def _judge(attack: Attack, run: Execution, healthy: bool) -> tuple[bool, str]:
    if not healthy:
        return False, "the sandbox did not answer a normal program afterwards"
    text = (run.value or {}).get("text") or ""
    if run.ok and isinstance(text, str) and text.startswith("ESCAPED"):
        return False, text
    if run.ok:
        return True, text or "returned nothing"
    evidence = run.message or f"{run.exception}: {run.traceback.strip().splitlines()[-1] if run.traceback else ''}"
    return True, evidence


def run_escape_suite(
    sandbox: Sandbox,
    *,
    names: Sequence[str] | None = None,
    on_result: Callable[[AttackResult], None] | None = None,
) -> list[AttackResult]:
    """Try the attacks (all, or those named) in ``sandbox``; what each achieved.

    The suite puts a secret in this process's environment and a secret file in a fresh host
    folder, and listens on a host loopback port, so that the attacks have something to find.
    """
    chosen = [a for a in ATTACKS if names is None or a.name in names]
    secret = secrets.token_hex(16)
    results: list[AttackResult] = []
    probe = "def solution():\n    return 6 * 7\n"
    with tempfile.TemporaryDirectory(prefix="neurosym-escape-") as folder, socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        host_file = Path(folder) / "secret.txt"
        host_file.write_text(secret)
        fill = {
            "secret": secret,
            "host_file": str(host_file),
            "host_dir": folder,
            "port": str(listener.getsockname()[1]),
        }
        os.environ["NEUROSYM_ESCAPE_SECRET"] = secret
        try:
            sandbox.start()  # the servers start with the secret in their parent's environment
            for attack in chosen:
                run = sandbox.run(_program(attack, fill))
                healthy = sandbox.run(probe).number == 42.0
                contained, evidence = _judge(attack, run, healthy)
                if contained and run.status not in ("ok", *attack.expect):
                    contained, evidence = False, f"unexpected status {run.status}: {evidence}"
                if sorted(p.name for p in Path(folder).iterdir()) != ["secret.txt"]:
                    contained, evidence = False, "a file appeared in the host folder"
                if attack.name == "leave_state":
                    leak = sandbox.run(_leak_check())
                    text = (leak.value or {}).get("text", "")
                    contained, evidence = (leak.ok and text == "clean"), f"next program: {text or leak.message}"
                result = AttackResult(attack.name, attack.goal, contained, run.status, evidence[:160])
                results.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            os.environ.pop("NEUROSYM_ESCAPE_SECRET", None)
    return results
