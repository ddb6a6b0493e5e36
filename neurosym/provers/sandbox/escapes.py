r"""Escape attempts against the sandbox: each is a hostile program and a test of its outcome.

:func:`run_escape_suite` tries every attack in :data:`ATTACKS` and says which were contained.
``neurosym sandbox`` runs it on the user's machine; the test suite runs it in CI.

An attack program returns a string starting with ``ESCAPED`` when it got what it wanted; it is
contained when it did not (it may also have been stopped: a timeout, a crash, an error), the
host-side checks hold (no file appeared outside the jail, no secret leaked, the measured fields
of its execution are the real ones), the program run after it on the same server finds nothing
of it, and the sandbox answers a normal program correctly afterwards. Some attacks are
expressions instead, given to :meth:`Sandbox.sympy_equal` against an unequal one: they are
contained unless the answer is ``True``.

The system-call numbers the raw-syscall attacks use are x86_64's; elsewhere those attacks say
``skipped`` (contained) and the others still run.

Example:
    >>> from neurosym.provers.sandbox import Limits, Sandbox
    >>> with Sandbox(limits=Limits(wall_s=3, cpu_s=2, memory_mb=768)) as box:
    ...     report = run_escape_suite(box, names=["subprocess", "fork_bomb", "forged_result"])
    >>> [(r.name, r.contained) for r in report]
    [('subprocess', True), ('fork_bomb', True), ('forged_result', True)]

"""

from __future__ import annotations

import math
import os
import secrets
import socket
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from neurosym.provers.sandbox import Execution, Limits, Sandbox
from neurosym.provers.sandbox._jail import JAIL_HOSTNAME

__all__ = ["ATTACKS", "Attack", "AttackResult", "run_escape_suite"]


@dataclass(frozen=True)
class Attack:
    """One escape attempt.

    Attributes:
        name: a short identifier.
        goal: what the program tries to do, in words.
        code: the body of ``solution()``; ``{secret}``, ``{host_file}``, ``{host_dir}``,
            ``{port}``, ``{hostname}``, ``{host_paths}`` and ``{abstract_socket}`` are filled in
            by the suite. With ``against``, an expression instead.
        expect: statuses that count as stopped (besides a returned string that does not start
            with ``ESCAPED``).
        then: the body of a ``solution()`` run next on the same server, which looks for what the
            attack left behind; it must return a string that does not start with ``ESCAPED``.
        against: when set, ``code`` is an expression compared with this one by
            :meth:`Sandbox.sympy_equal`; ``True`` is an escape.
        check: a host-side look at the execution (and the limits it ran under): what it shows
            that the program should not have achieved, or ``None``.

    Example:
        >>> Attack("noop", "nothing", "return 'blocked'").expect
        ()

    """

    name: str
    goal: str
    code: str
    expect: tuple[str, ...] = ()
    then: str | None = None
    against: str | None = None
    check: Callable[[Execution, Limits], str | None] | None = None


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
        return f"{'contained' if self.contained else 'ESCAPED  '}  {self.name:<26} {self.status:<12} {self.evidence}"


def _measured_fields_hold(run: Execution, limits: Limits) -> str | None:
    """The forged_result attack prints one line and forges the rest: the measured fields must win."""
    if run.stdout != "real output\n":
        return f"stdout is {run.stdout[:40]!r}"
    if run.wall_s < 1e-4 or run.cpu_s > 100 or run.stdout_truncated or run.stderr_truncated:
        return f"measured fields were overridden: wall {run.wall_s}, cpu {run.cpu_s}"
    if run.details.get("signal") or run.details.get("swept") not in (None, 0):
        return f"details were overridden: {run.details}"
    return None


def _finite_or_refused(run: Execution, limits: Limits) -> str | None:
    """A forged result must be refused (or read as a finite number), never crash the host."""
    if run.status not in ("crashed", "ok"):
        return f"status {run.status} from a forged result"
    number = run.number
    if number is not None and not math.isfinite(number):
        return f"the host read the number {number}"
    return None


def _killed_at_the_deadline(run: Execution, limits: Limits) -> str | None:
    if run.wall_s > limits.wall_s + 1.0:
        return f"killed only after {run.wall_s:.2f} s, the limit is {limits.wall_s} s"
    return None


_X86_64 = """
    import ctypes, errno, platform
    if platform.machine() != "x86_64":
        return "skipped: x86_64 system call numbers"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    def reached(number, *args):
        # Whether the system call got past the filter: it did unless it failed with EPERM (or
        # does not exist on this kernel).
        ctypes.set_errno(0)
        result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
        return result >= 0 or ctypes.get_errno() not in (errno.EPERM, errno.ENOSYS)
"""


def _forged(document: str) -> str:
    return f"""
        import os
        os.write(3, {document!r}.encode())
        os._exit(0)
    """


def _raw(body: str) -> str:
    """An attack body that makes raw system calls: the x86_64 prelude (``libc``, ``reached``) first."""
    return textwrap.dedent(_X86_64) + textwrap.dedent(body)


_LEFT_BEHIND = """
    import os
    left = []
    for root, folders, files in os.walk("/tmp"):
        left += [os.path.join(root, name) for name in folders + files if os.path.join(root, name) != "/tmp/work"]
    if os.getcwd() != "/tmp/work" or os.path.islink("/tmp/work") or not os.path.isdir("/tmp/work"):
        left.append("the work folder is not a fresh folder: " + os.getcwd())
    with open("note.txt", "w") as note:  # the work folder must be usable
        note.write("x")
    if open("note.txt").read() != "x":
        left.append("cannot write in the work folder")
    return "ESCAPED: found " + ", ".join(left[:5]) if left else "clean"
"""


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
        then="""
        import os, sympy
        left = [p for p in ("/tmp/left-behind", "/tmp/pwned", "/tmp/big") if os.path.exists(p)]
        if getattr(sympy, "left_behind", False):
            left.append("sympy.left_behind")
        return "ESCAPED: found " + ", ".join(left) if left else "clean"
    """,
    ),
    # The jail's processes: the server is init, not dumpable, and nothing else lives there.
    Attack(
        "init_process_memory",
        "write code into the jail's init process (pid 1) through /proc/1/mem",
        """
        import ctypes, os
        got = []
        if os.getppid() != 1:
            got.append(f"pid 1 is not the server but another process (the server is {os.getppid()})")
        if ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) != 0:  # PR_GET_DUMPABLE, inherited from the server
            got.append("the server is dumpable")
        for path in ("/proc/1/mem", "/proc/1/task/1/mem"):
            try:
                with open(path, "r+b", buffering=0) as memory:
                    memory.seek(0x400000)
                    memory.write(b"\\xcc")
                got.append("wrote " + path)
            except OSError:
                pass
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
    ),
    Attack(
        "server_memory_write",
        "read or write the server's memory: /proc/<server>/mem, process_vm_writev, ptrace",
        _raw("""
        import os
        server = os.getppid()
        got = []
        try:
            with open(f"/proc/{server}/mem", "r+b", buffering=0):
                got.append("opened /proc/<server>/mem")
        except OSError:
            pass
        class IoVec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
        buffer = ctypes.create_string_buffer(8)
        local, remote = IoVec(ctypes.addressof(buffer), 8), IoVec(0x400000, 8)
        for number, name in ((310, "process_vm_readv"), (311, "process_vm_writev")):
            ctypes.set_errno(0)
            if libc.syscall(number, server, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) >= 0 or (
                ctypes.get_errno() not in (errno.EPERM, errno.ENOSYS, errno.ESRCH)
            ):
                got.append(name)
        if reached(101, 0x4206, server, 0, 0):  # ptrace(PTRACE_SEIZE)
            got.append("ptrace")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    Attack(
        "server_pipes",
        "write a forged response into the server's stdout or a request into its stdin via /proc/<pid>/fd",
        """
        import os
        got = []
        for pid in sorted({os.getppid(), 1}):
            for fd in (0, 1, 2):
                path = f"/proc/{pid}/fd/{fd}"
                try:
                    handle = os.open(path, os.O_WRONLY)
                    os.write(handle, b'{"status": "ok", "value": {"type": "str", "text": "ESCAPED: forged"}}\\n')
                    got.append(path)
                except OSError:
                    pass
            try:
                if os.listdir(f"/proc/{pid}/fd"):
                    got.append(f"listed /proc/{pid}/fd")
            except OSError:
                pass
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
    ),
    Attack(
        "inherited_fds",
        "find a file descriptor of the server's (its stdin, its stdout) left open in the child",
        """
        import os, stat
        extra = []
        for fd in range(4, 4096):
            try:
                os.fstat(fd)
                extra.append(fd)
            except OSError:
                pass
        if stat.S_ISFIFO(os.fstat(0).st_mode):
            extra.append("stdin is a pipe")
        return "ESCAPED: open " + ", ".join(map(str, extra)) if extra else "blocked"
    """,
    ),
    # Signals, limits and scheduling aimed at the server.
    Attack(
        "signal_queue",
        "signal the server with rt_sigqueueinfo, rt_tgsigqueueinfo, kill(-1) and high-bit pids",
        _raw("""
        import os, signal
        server = os.getppid()
        info = ctypes.create_string_buffer(128)
        ctypes.memmove(info, (ctypes.c_int * 3)(signal.SIGINT, 0, -1), 12)  # si_signo, si_errno, SI_QUEUE
        got = []
        if reached(129, server, signal.SIGINT, ctypes.addressof(info)):
            got.append("rt_sigqueueinfo")
        if reached(297, server, server, signal.SIGINT, ctypes.addressof(info)):
            got.append("rt_tgsigqueueinfo")
        if reached(62, (1 << 32) | server, 0):  # kill() with the pid's high bits set
            got.append("kill with high bits")
        if reached(62, -1, 0):
            got.append("kill(-1)")
        if reached(234, server, server, 0):
            got.append("tgkill")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    Attack(
        "signal_sigio",
        "make the kernel signal the server on I/O: fcntl F_SETOWN / F_SETSIG, ioctl FIOSETOWN, O_ASYNC",
        _raw("""
        import fcntl, os, signal, socket, struct
        server = os.getppid()
        a, b = socket.socketpair()
        got = []
        for command, argument, name in ((fcntl.F_SETOWN, server, "F_SETOWN"), (10, signal.SIGINT, "F_SETSIG")):
            try:
                fcntl.fcntl(a.fileno(), command, argument)
                got.append(name)
            except OSError:
                pass
        try:
            fcntl.ioctl(a.fileno(), 0x8901, struct.pack("i", server))  # FIOSETOWN
            got.append("FIOSETOWN")
        except OSError:
            pass
        if reached(72, a.fileno(), (1 << 32) | fcntl.F_SETOWN, server):  # fcntl with the command's high bits set
            got.append("F_SETOWN with high bits")
        fcntl.fcntl(a.fileno(), fcntl.F_SETFL, os.O_ASYNC)
        b.send(b"x")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    Attack(
        "server_limits",
        "shrink the server's limits with prlimit (4 open files, 1 s of CPU)",
        """
        import os, resource
        got = []
        for pid in sorted({os.getppid(), 1}):
            for limit, value in ((resource.RLIMIT_NOFILE, 4), (resource.RLIMIT_CPU, 1), (resource.RLIMIT_AS, 1 << 20)):
                try:
                    resource.prlimit(pid, limit, (value, value))
                    got.append(f"prlimit({pid}, {limit})")
                except (OSError, ValueError):
                    pass
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
    ),
    Attack(
        "server_priority",
        "starve the server: setpriority, sched_setaffinity, sched_setscheduler, ioprio_set",
        _raw("""
        import os
        server = os.getppid()
        got = []
        for which, who in ((os.PRIO_PROCESS, server), (os.PRIO_PGRP, 0), (os.PRIO_USER, 0)):
            try:
                os.setpriority(which, who, 19)
                got.append(f"setpriority({which}, {who})")
            except OSError:
                pass
        try:
            os.sched_setaffinity(server, {0})
            got.append("sched_setaffinity")
        except OSError:
            pass
        try:
            os.sched_setscheduler(server, os.SCHED_IDLE, os.sched_param(0))
            got.append("sched_setscheduler")
        except OSError:
            pass
        if reached(251, 1, server, 7 | (3 << 13)):  # ioprio_set(IOPRIO_WHO_PROCESS, server, idle)
            got.append("ioprio_set")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    Attack(
        "pidfd_tricks",
        "get a pidfd for the server, signal it or steal its descriptors (pidfd_open, pidfd_getfd, clone3)",
        _raw("""
        import os
        got = []
        try:
            os.pidfd_open(os.getppid())
            got.append("pidfd_open")
        except OSError:
            pass
        if reached(424, 0, 9, 0, 0):  # pidfd_send_signal on fd 0
            got.append("pidfd_send_signal")
        if reached(438, 0, 1, 0):  # pidfd_getfd
            got.append("pidfd_getfd")
        pidfd = ctypes.c_int(-1)
        args = (ctypes.c_uint64 * 11)(0x1000, ctypes.addressof(pidfd), 0, 0, 17)  # clone3(CLONE_PIDFD, SIGCHLD)
        pid = libc.syscall(ctypes.c_long(435), ctypes.addressof(args), ctypes.c_long(88))
        if pid == 0:
            libc._exit(0)
        if pid > 0:
            got.append("clone3")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    Attack(
        "tty_injection",
        "push input into a terminal with ioctl TIOCSTI (also with the request's high bits set)",
        _raw("""
        import fcntl, os, termios
        targets = [0, 1, 2]
        for path in ("/dev/tty", "/dev/ptmx"):
            try:
                targets.append(os.open(path, os.O_RDWR | os.O_NOCTTY))
            except OSError:
                pass
        got = []
        for fd in targets:
            try:
                fcntl.ioctl(fd, termios.TIOCSTI, b"x")
                got.append(f"TIOCSTI on {fd}")
            except OSError:
                pass
            ctypes.set_errno(0)
            if libc.syscall(ctypes.c_long(16), fd, ctypes.c_long((1 << 32) | termios.TIOCSTI), b"x") == 0:
                got.append(f"TIOCSTI with high bits on {fd}")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    # Other ways around the seccomp filter.
    Attack(
        "x32_syscalls",
        "fork through the x32 system-call ABI, which a filter for x86_64 numbers would not see",
        _raw("""
        pid = libc.syscall(ctypes.c_long(0x40000000 | 57))
        if pid == 0:
            libc._exit(0)
        return f"ESCAPED: x32 fork made process {pid}" if pid > 0 else f"blocked: errno {ctypes.get_errno()}"
    """),
        expect=("crashed",),
    ),
    Attack(
        "i386_syscalls",
        "fork through int 0x80 (the i386 ABI) from machine code in executable memory",
        _raw("""
        import mmap
        code = b"\\xb8\\x02\\x00\\x00\\x00\\xcd\\x80\\xc3"  # mov eax, 2 (i386 fork); int 0x80; ret
        memory = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        memory.write(code)
        function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(memory)))
        pid = function()
        if pid == 0:
            libc._exit(0)
        return f"ESCAPED: i386 fork made process {pid}" if pid > 0 else f"blocked: {pid}"
    """),
        expect=("crashed",),
    ),
    Attack(
        "personality",
        "change the execution domain with personality() (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE)",
        _raw("""
        libc.personality.restype = ctypes.c_int
        previous = libc.personality(ctypes.c_ulong(0x0400000 | 0x0040000))
        return f"ESCAPED: personality changed (was {previous:#x})" if previous != -1 else "blocked"
    """),
    ),
    Attack(
        "raw_clone",
        "make a process with a raw clone() (also with the flags' high bits set) and vfork",
        _raw("""
        got = []
        for flags in (17, (1 << 32) | 17):  # SIGCHLD: a plain fork
            pid = libc.syscall(ctypes.c_long(56), ctypes.c_long(flags), 0, 0, 0, 0)
            if pid == 0:
                libc._exit(0)
            if pid > 0:
                got.append(f"clone({flags:#x})")
        pid = libc.syscall(ctypes.c_long(58))  # vfork
        if pid == 0:
            libc._exit(0)
        if pid > 0:
            got.append("vfork")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    Attack(
        "memfd_exec",
        "run a program from memory: memfd_create, then fexecve / execveat",
        """
        import os
        fd = os.memfd_create("x")
        os.write(fd, open("/usr/bin/true", "rb").read())
        try:
            os.execve(fd, ["true"], {})
        except OSError as exc:
            return f"blocked: {exc}"
        return "ESCAPED: exec returned"
    """,
    ),
    Attack(
        "kernel_interfaces",
        "reach io_uring, bpf, perf_event_open, userfaultfd, keyctl, syslog, statmount, listmount",
        _raw("""
        got = []
        calls = {"io_uring_setup": (425, 1, 0), "bpf": (321, 0, 0, 0), "perf_event_open": (298, 0, 0, -1, -1, 0),
                 "userfaultfd": (323, 0), "keyctl": (250, 0, 0), "syslog": (103, 10, 0, 0),
                 "statmount": (457, 0, 0, 0, 0), "listmount": (458, 0, 0, 0, 0)}
        for name, (number, *args) in calls.items():
            if reached(number, *args):
                got.append(name)
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """),
    ),
    Attack(
        "mount_proc",
        "mount a new /proc (or a tmpfs) to see the server",
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        os.makedirs("/tmp/work/p", exist_ok=True)
        got = [kind for kind in (b"proc", b"tmpfs") if libc.mount(kind, b"/tmp/work/p", kind, 0, None) == 0]
        return "ESCAPED: mounted " + ", ".join(map(bytes.decode, got)) if got else "blocked"
    """,
    ),
    Attack(
        "ipc_objects",
        "leave System V or POSIX IPC objects (shared memory, queues, semaphores) for the next program",
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        got = []
        if libc.shmget(0, 4096, 0o1600) >= 0:  # IPC_PRIVATE, IPC_CREAT | 0600
            got.append("shmget")
        if libc.msgget(0, 0o1600) >= 0:
            got.append("msgget")
        if libc.semget(0, 1, 0o1600) >= 0:
            got.append("semget")
        mq_open = getattr(libc, "mq_open", None)  # in libc since glibc 2.34, in librt before
        if mq_open is not None and mq_open(b"/neurosym", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0:
            got.append("mq_open")
        return "ESCAPED: " + ", ".join(got) if got else "blocked"
    """,
    ),
    # What the jail shows of the host.
    Attack(
        "host_identity",
        "learn the host's name and hardware: hostname, /proc/sys, /proc/cpuinfo, /sys, /etc",
        """
        import os, socket
        seen = []
        if "{hostname}" not in ("", "{jail_hostname}") and "{hostname}" in (socket.gethostname(), os.uname().nodename):
            seen.append("the host's name")
        for path in ("/proc/sys/kernel/hostname", "/proc/sys/kernel/random/boot_id", "/proc/cpuinfo",
                     "/proc/meminfo", "/proc/version", "/sys/class/net", "/sys/kernel", "/etc/hostname",
                     "/etc/hosts", "/etc/machine-id", "/etc/passwd"):
            try:
                if os.path.isdir(path):
                    if os.listdir(path):
                        seen.append(path)
                else:
                    open(path, "rb").read(1)
                    seen.append(path)
            except OSError:
                pass
        return "ESCAPED: read " + ", ".join(seen) if seen else "blocked"
    """,
    ),
    Attack(
        "host_paths",
        "find the host's folders (the checkout, the virtual environment) in paths, mountinfo and maps",
        """
        import os, sys
        places = [sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path, os.getcwd()]
        places += list(os.environ.values())
        for name in ("os", "json", "ctypes", "sympy", "mpmath", "pyseccomp"):
            places.append(getattr(__import__(name), "__file__", None) or "")
        for path in ("/proc/self/mountinfo", "/proc/self/mounts", "/proc/self/maps", "/proc/1/mountinfo"):
            try:
                places.append(open(path, errors="replace").read())
            except OSError:
                pass
        leaked = sorted({host for host in {host_paths} for place in places if host in place})
        return "ESCAPED: the jail shows " + ", ".join(leaked) if leaked else "blocked"
    """,
    ),
    Attack(
        "abstract_socket_host",
        "connect to a host process through an abstract unix socket",
        """
        import socket
        client = socket.socket(socket.AF_UNIX)
        try:
            client.connect("\\0{abstract_socket}")
            return "ESCAPED: connected to the host's abstract socket"
        except OSError as exc:
            return f"blocked: {exc}"
    """,
    ),
    # The result channel: what a program writes there must never override what is measured.
    Attack(
        "forged_result",
        "write its own result on the result channel, claiming other stdout, times and details",
        """
        import os, sys
        print("real output")
        sys.stdout.flush()
        os.write(3, b'{"status": "ok", "value": {"type": "int", "text": "7", "float": 7}, "stdout": "forged", '
                    b'"wall_s": 1e-9, "cpu_s": 1e9, "stdout_truncated": true, "details": {"signal": "SIGFORGED"}, '
                    b'"swept": 99, "signal": "SIGFORGED", "restart": "forged"}')
        os._exit(0)
    """,
        check=_measured_fields_hold,
    ),
    Attack(
        "forged_status",
        "claim a timeout on the result channel",
        _forged('{"status": "timeout", "message": "forged"}'),
        expect=("crashed",),
        check=_finite_or_refused,
    ),
    Attack(
        "forged_nan",
        "return NaN as the number, to crash the host's vote",
        _forged('{"status": "ok", "value": {"type": "float", "text": "nan", "float": NaN}}'),
        expect=("crashed",),
        check=_finite_or_refused,
    ),
    Attack(
        "forged_infinity",
        "return 1e999 (infinity once parsed) as the number",
        _forged('{"status": "ok", "value": {"type": "float", "text": "inf", "float": 1e999}}'),
        expect=("crashed",),
        check=_finite_or_refused,
    ),
    Attack(
        "forged_wrong_types",
        "put a list where the value belongs and strings where numbers belong",
        _forged('{"status": "ok", "value": [1, 2, 3], "exception": ["x"], "message": 5}'),
        expect=("crashed",),
        check=_finite_or_refused,
    ),
    Attack(
        "forged_deep_nesting",
        "nest the result 100,000 deep to overflow the parser's stack",
        """
        import os
        os.write(3, b'{"status": "ok", "value": {"type": "x", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}")
        os._exit(0)
    """,
        expect=("crashed",),
        check=_finite_or_refused,
    ),
    Attack(
        "forged_response_lines",
        "print response lines on stdout, stderr and the result channel to desynchronise the host",
        """
        import os, sys
        line = b'{"status": "ok", "value": {"type": "int", "text": "42", "float": 42}}\\n'
        for fd in (1, 2, 3):
            os.write(fd, line * 3)
        return "blocked"
    """,
        expect=("crashed",),
    ),
    Attack(
        "result_flood",
        "write 100 MB on the result channel",
        """
        import os
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            os.write(3, chunk)
        return "ESCAPED: wrote 100 MB of result"
    """,
        expect=("output_limit",),
    ),
    Attack(
        "sympy_equal_result_channel",
        "make sympy_equal answer True by writing its verdict on the result channel",
        '__import__(\'os\').write(3, b\'{"status": "ok", "value": {"type": "bool", "text": "True"}}\')'
        " and __import__('os')._exit(0)",
        against="2",
    ),
    Attack(
        "sympy_equal_dunder",
        "reach os through a SymPy expression's attributes",
        "Symbol('x').__class__.__mro__[-1].__subclasses__()[0]",
        against="1",
    ),
    Attack(
        "sympy_equal_parser",
        "smuggle code through SymPy's own parser (a string given to sympify or a function)",
        "sin('__import__(\"os\")._exit(0)') + S('1')",
        against="0",
    ),
    # Hangs: a program that closes its pipes is still killed at its wall limit.
    Attack(
        "closed_pipes_sleep",
        "close stdout, stderr and the result channel, then sleep (a crash after the grace time, once)",
        """
        import os, time
        for fd in (1, 2, 3):
            os.close(fd)
        time.sleep(10**6)
    """,
        expect=("timeout",),
        check=_killed_at_the_deadline,
    ),
    # The work folder: nothing survives to the next program, whatever it did to permissions.
    Attack(
        "chmod_workdir",
        "hide a secret in a mode-000 work folder for the next program",
        """
        import os
        os.makedirs("/tmp/work/locked/deeper")
        open("/tmp/work/locked/deeper/secret.txt", "w").write("{secret}")
        os.chmod("/tmp/work/locked/deeper", 0)
        os.chmod("/tmp/work/locked", 0)
        os.chdir("/")
        os.chmod("/tmp/work", 0)
        return "planted"
    """,
        then=_LEFT_BEHIND,
    ),
    Attack(
        "chmod_tmp",
        "lock /tmp itself (mode 000) so that the wipe and the next program fail",
        """
        import os
        open("/tmp/secret.txt", "w").write("{secret}")
        os.chdir("/")
        os.chmod("/tmp", 0)
        return "planted"
    """,
        then=_LEFT_BEHIND,
    ),
    Attack(
        "deep_folders",
        "nest folders 200 deep with a secret at the bottom, past the wipe's depth",
        """
        import os
        for _ in range(200):
            os.mkdir("d")
            os.chdir("d")
        open("secret.txt", "w").write("{secret}")
        return "planted"
    """,
        then=_LEFT_BEHIND,
    ),
    Attack(
        "symlink_swap",
        "swap the work folder for a symlink (to the packages, to /tmp) and leave a fifo",
        """
        import os
        os.chdir("/")
        os.rmdir("/tmp/work")
        os.symlink("/opt/site", "/tmp/work")
        os.symlink("/tmp", "/tmp/loop")
        os.mkfifo("/tmp/fifo")
        return "planted"
    """,
        then=_LEFT_BEHIND,
    ),
)


def _program(body: str, fill: dict[str, str]) -> str:
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


def _host_paths(folder: str) -> list[str]:
    """Host folders that must not appear in the jail: the checkout, the environment, the interpreter's home."""
    candidates = {
        str(Path(__file__).resolve().parents[2]),
        sys.prefix,
        sys.base_prefix,
        str(Path(os.path.realpath(sys.executable)).parent.parent),
        str(Path.home()),
        folder,
    }
    neutral = ("/usr", "/opt", "/bin", "/lib", "/tmp/work")
    return sorted(c for c in candidates if c not in ("", "/") and not c.startswith(neutral))


def _try(attack: Attack, sandbox: Sandbox, fill: dict[str, str], probe: str) -> tuple[bool, str, str]:
    """Run one attack; whether it was contained, its status and the evidence."""
    if attack.against is not None:
        verdict = sandbox.sympy_equal(attack.code, attack.against)
        healthy = sandbox.run(probe).number == 42.0
        if not healthy:
            return False, str(verdict), "the sandbox did not answer a normal program afterwards"
        if verdict is True:
            return False, str(verdict), f"sympy_equal said {attack.code[:40]!r} equals {attack.against!r}"
        return True, str(verdict), "sympy_equal did not say they are equal"
    run = sandbox.run(_program(attack.code, fill))
    following = sandbox.run(_program(attack.then, fill)) if attack.then is not None else None
    healthy = sandbox.run(probe).number == 42.0
    contained, evidence = _judge(attack, run, healthy)
    if contained and run.status not in ("ok", *attack.expect):
        contained, evidence = False, f"unexpected status {run.status}: {evidence}"
    if contained and attack.check is not None:
        problem = attack.check(run, sandbox.limits)
        if problem is not None:
            contained, evidence = False, problem
    if contained and following is not None:
        text = (following.value or {}).get("text") or ""
        if not following.ok or text.startswith("ESCAPED"):
            contained = False
        evidence = f"next program: {text or following.message}"
    return contained, run.status, evidence


def run_escape_suite(
    sandbox: Sandbox,
    *,
    names: Sequence[str] | None = None,
    on_result: Callable[[AttackResult], object] | None = None,  # its return value is ignored
) -> list[AttackResult]:
    """Try the attacks (all, or those named) in ``sandbox``; what each achieved.

    The suite puts a secret in this process's environment and a secret file in a fresh host
    folder, and listens on a host loopback port and a host abstract unix socket, so that the
    attacks have something to find.
    """
    chosen = [a for a in ATTACKS if names is None or a.name in names]
    secret = secrets.token_hex(16)
    results: list[AttackResult] = []
    probe = "def solution():\n    return 6 * 7\n"
    with (
        tempfile.TemporaryDirectory(prefix="neurosym-escape-") as folder,
        socket.socket() as listener,
        socket.socket(socket.AF_UNIX) as abstract,
    ):
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        abstract_name = f"neurosym-escape-{secret}"
        abstract.bind("\0" + abstract_name)
        abstract.listen()
        host_file = Path(folder) / "secret.txt"
        host_file.write_text(secret)
        fill = {
            "secret": secret,
            "host_file": str(host_file),
            "host_dir": folder,
            "port": str(listener.getsockname()[1]),
            "hostname": socket.gethostname(),
            "jail_hostname": JAIL_HOSTNAME,
            "host_paths": repr(_host_paths(folder)),
            "abstract_socket": abstract_name,
        }
        os.environ["NEUROSYM_ESCAPE_SECRET"] = secret
        try:
            sandbox.start()  # the servers start with the secret in their parent's environment
            for attack in chosen:
                contained, status, evidence = _try(attack, sandbox, fill, probe)
                if sorted(p.name for p in Path(folder).iterdir()) != ["secret.txt"]:
                    contained, evidence = False, "a file appeared in the host folder"
                result = AttackResult(attack.name, attack.goal, contained, status, evidence[:160])
                results.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            os.environ.pop("NEUROSYM_ESCAPE_SECRET", None)
    return results
