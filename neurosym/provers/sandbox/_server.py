"""The fork server that runs inside the bubblewrap sandbox (standard library and pyseccomp only).

It is started by :class:`neurosym.provers.sandbox.Sandbox` as ``python -I -S -B server.py SITE...`` inside
a bwrap jail (no network, no ``/proc``, read-only file system, private ``/tmp``, own PID namespace)
with ``--as-pid-1``: this process is the jail's init, so no other process (no bwrap reaper) lives
there. It imports the slow modules (SymPy) once, makes itself non-dumpable, puts itself under a
seccomp filter (no exec, no ptrace, no mounts...), and then serves one request per line on stdin:
for each it forks a child that gets fresh state, resource limits and a stricter filter (no new
processes, no signals or scheduling changes aimed at another process), runs the program there,
and answers one JSON line on stdout.

What a child says about itself (on its result channel, fd 3) is read strictly
(:mod:`_protocol`) and only for how the program ended and what it returned; wall and CPU time,
stdout, stderr, truncation, timeouts and signals are measured here. After each execution every
other process of the jail is killed and ``/tmp`` is emptied whatever its permissions; a server
that cannot empty it says so (``restart``) and exits, and the client starts a new jail.

Model-written code runs only in those children, never in this process, so this process stays
pristine: every execution starts from the same state.
"""

from __future__ import annotations

import ast
import ctypes
import errno
import json
import math
import os
import resource
import selectors
import signal
import stat
import struct
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any  # free: _protocol imports typing anyway

# mypy reads the host branch: the jail's path (the module next to this file) exists only at run time.
if __name__ == "__main__" and not TYPE_CHECKING:  # in the jail: the protocol module lies next to this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _protocol as protocol
else:  # imported on the host (tests, doctests)
    from neurosym.provers.sandbox import _protocol as protocol

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CLONE_THREAD = 0x00010000
RESULT_FD = 3
MAX_RESULT_BYTES = 1 << 20
MAX_TEXT = protocol.MAX_TEXT
WORKDIR = "/tmp/work"
MAX_WIPE_DEPTH = 64
MAX_WIPE_ENTRIES = 200_000
LOW32 = 0xFFFFFFFF

# Denied to the server and so to every child (filters are inherited): new programs, debugging,
# mounts and namespaces, kernel interfaces that bypass a syscall filter or read the host (io_uring,
# bpf, syslog, statmount), IPC objects that would outlive an execution, and host administration.
JAIL_DENIED = (
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "open_by_handle_at",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "syslog", "fanotify_init", "lookup_dcookie",
    "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "vhangup", "iopl", "ioperm", "uselib", "nfsservctl",
    "sethostname", "setdomainname",
)  # fmt: skip
JAIL_DENIED_NUMBERS = {"statmount": 457, "listmount": 458}  # x86_64; newer than this libseccomp's table
# Denied to children only: new processes (threads are fine) and process groups.
CHILD_DENIED = ("fork", "vfork", "pidfd_open", "pidfd_send_signal", "tkill", "setpgid", "setsid",
                "process_madvise", "process_mrelease")  # fmt: skip
# Allowed to a child only for itself, named by 0 in the first argument.
CHILD_SELF_ONLY = ("prlimit64", "sched_setaffinity", "sched_setparam", "sched_setscheduler", "sched_setattr",
                   "migrate_pages", "move_pages")  # fmt: skip
# Allowed to a child only when the first argument is its own process id.
CHILD_SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
F_SETOWN, F_SETSIG, F_SETOWN_EX = 8, 10, 15  # fcntl: make the kernel signal a chosen process on I/O
FIOSETOWN, SIOCSPGRP, TIOCSTI, TIOCLINUX = 0x8901, 0x8902, 0x5412, 0x541C  # ioctl: the same, and tty input
PERSONALITY_QUERY = 0xFFFFFFFF


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _new_filter() -> Any:  # a pyseccomp SyscallFilter (pyseccomp is untyped)
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    # x32 and i386 system calls (another ABI on the same CPU) would skip every rule: kill instead.
    flt.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    return flt


def _server_filter() -> Any:
    """The server's seccomp filter, which every child inherits: what no process of the jail may do."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    flt = _new_filter()
    for name in (*JAIL_DENIED, *JAIL_DENIED_NUMBERS.values()):
        try:
            flt.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):  # a syscall this architecture lacks
            pass
    # The kernel reads these arguments as 32-bit ints, so compare the low 32 bits only: setting the
    # high ones must not slip past the rule.
    for command in (F_SETOWN, F_SETSIG, F_SETOWN_EX):
        flt.add_rule(deny, "fcntl", seccomp.Arg(1, seccomp.MASKED_EQ, LOW32, command))
    for request in (FIOSETOWN, SIOCSPGRP, TIOCSTI, TIOCLINUX):
        flt.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, LOW32, request))
    flt.add_rule(deny, "personality", seccomp.Arg(0, seccomp.NE, PERSONALITY_QUERY))
    return flt


def _child_filter(child_pid: int) -> Any:
    """What a child may not do on top of the server's filter (which stays: filters stack)."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    flt = _new_filter()
    add = flt.add_rule
    for name in CHILD_DENIED:
        try:
            add(deny, name)
        except (OSError, ValueError, RuntimeError):
            pass
    # clone without CLONE_THREAD makes a process: refuse it. clone3 hides its flags in memory,
    # so refuse it as "not implemented", which makes the C library fall back to clone.
    add(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    add(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for name in CHILD_SIGNALS:  # a mismatch in any bit, high ones included, is refused
        add(deny, name, seccomp.Arg(0, seccomp.NE, child_pid))
    for name in CHILD_SELF_ONLY:
        add(deny, name, seccomp.Arg(0, seccomp.NE, 0))
    # setpriority(which, who) and ioprio_set(which, who): only PRIO_PROCESS / IOPRIO_WHO_PROCESS of itself.
    add(deny, "setpriority", seccomp.Arg(0, seccomp.NE, 0))
    add(deny, "setpriority", seccomp.Arg(1, seccomp.NE, 0))
    add(deny, "ioprio_set", seccomp.Arg(0, seccomp.NE, 1))
    add(deny, "ioprio_set", seccomp.Arg(1, seccomp.NE, 0))
    return flt


def _bpf(flt: Any) -> bytes:
    """The compiled BPF program of a pyseccomp filter."""
    memory = os.memfd_create("seccomp")
    with open(memory, "w+b") as file:
        flt.export_bpf(file)
        file.seek(0)
        return file.read()


class _ChildFilterTemplate:
    """The child filter compiled once, with a stand-in for the child's pid patched in at each fork.

    Building a filter with libseccomp costs about a millisecond, a tenth of a short execution;
    patching the compiled program costs microseconds. The template is trusted only if patching
    it gives, byte for byte, what libseccomp compiles for a real pid; otherwise every child
    builds its own.
    """

    STAND_IN = 0x3EADBEEF  # no pid is this large (pid_max is at most 2**22)

    def __init__(self) -> None:
        self.template: bytes | None = _bpf(_child_filter(self.STAND_IN))
        probe = 4242
        if self.template == _bpf(_child_filter(probe)) or self._patched(probe) != _bpf(_child_filter(probe)):
            self.template = None  # the pid is not where the template has its stand-in

    def _patched(self, pid: int) -> bytes:
        assert self.template is not None
        program = bytearray(self.template)
        for offset in range(0, len(program), 8):  # struct sock_filter: u16 code, u8 jt, u8 jf, u32 k
            if struct.unpack_from("=I", program, offset + 4)[0] == self.STAND_IN:
                struct.pack_into("=I", program, offset + 4, pid)
        return bytes(program)

    def load(self, pid: int) -> None:
        """Put the calling process (``pid``) under its child filter."""
        if self.template is None:
            _child_filter(pid).load()
            return
        program = self._patched(pid)
        instructions = ctypes.create_string_buffer(program, len(program))
        fprog = _SockFprog(len(program) // 8, ctypes.addressof(instructions))
        libc = _libc()
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or (
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0
        ):
            raise OSError(ctypes.get_errno(), "could not load the child's seccomp filter")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _set_limits(limits: dict) -> None:
    cpu = max(1, math.ceil(limits["cpu_s"]))
    # SIGXCPU at the soft limit says "CPU time" unambiguously; SIGKILL a second later if it is ignored.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = int(limits["memory_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = int(limits["file_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _encode(value: object, depth: int = 0) -> dict:
    """A JSON description of a returned value: its type and exact text, and a float where numeric."""
    import fractions
    import numbers

    if value is None or isinstance(value, bool):
        return {"type": "none" if value is None else "bool", "text": str(value)}
    if isinstance(value, int):
        digits = math.ceil(value.bit_length() * math.log10(2)) if value else 1
        if digits > 4000:
            return {"type": "int", "text": None, "digits": digits, "float": None}
        return {"type": "int", "text": str(value), "float": float(value) if digits < 300 else None}
    if isinstance(value, float):
        return {"type": "float", "text": repr(value), "float": value if math.isfinite(value) else None}
    if isinstance(value, fractions.Fraction):
        return {"type": "rational", "text": _clip(str(value)), "float": _float_or_none(value)}
    if isinstance(value, str):
        return {"type": "str", "text": _clip(value)}
    module = type(value).__module__ or ""
    if module.startswith("sympy"):
        return _encode_sympy(value)
    if module.startswith("numpy") and hasattr(value, "item") and getattr(value, "size", 1) == 1:
        return _encode(value.item(), depth)
    if isinstance(value, numbers.Number):
        return {"type": type(value).__name__, "text": _clip(str(value)), "float": _float_or_none(value)}
    if isinstance(value, (list, tuple)) and depth == 0:
        return {"type": "list", "text": _clip(repr(value)), "items": [_encode(v, 1) for v in list(value)[:50]]}
    return {"type": type(value).__name__, "text": _clip(repr(value))}


def _float_or_none(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]  # any value: the except below takes what float refuses
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _encode_sympy(value: object) -> dict:
    import sympy

    expr = sympy.sympify(value)
    out: dict[str, object] = {
        "type": "sympy",
        "text": _clip(str(expr)),
        "srepr": _clip(sympy.srepr(expr), 4 * MAX_TEXT),
        "float": None,
    }
    if getattr(expr, "is_number", False):
        try:
            out["float"] = _float_or_none(complex(expr.evalf()).real) if expr.is_real is not False else None
        except (TypeError, ValueError, ArithmeticError):
            pass
    if isinstance(expr, sympy.Integer):
        out["type"] = "int"
    elif isinstance(expr, sympy.Rational):
        out["type"] = "rational"
    return out


def _describe_exception(exc: BaseException) -> dict:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<program>"]
    lines = traceback.format_list(frames[-8:]) if frames else []
    try:
        message = str(exc)
    except Exception:  # a hostile __str__
        message = "<unprintable>"
    text = "".join(lines) + f"{type(exc).__name__}: {_clip(message, 500)}"
    return {"exception": type(exc).__name__, "message": _clip(message, 500), "traceback": _clip(text, 4000)}


def _run_program(request: dict) -> dict:
    code = request["code"]
    try:
        compiled = compile(code, "<program>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        return {"status": "error", **_describe_exception(exc), "phase": "compile",
                "traceback": "".join(traceback.format_exception_only(type(exc), exc))[-4000:]}  # fmt: skip
    namespace: dict = {"__name__": "__main__"}
    try:
        exec(compiled, namespace)
        call = request.get("call")
        if call is None:
            return {"status": "ok", "value": None}
        function = namespace.get(call)
        if not callable(function):
            return {"status": "error", "exception": "NameError", "phase": "call",
                    "message": f"the program defines no function {call}()",
                    "traceback": f"NameError: the program defines no function {call}()"}  # fmt: skip
        value = function()
        return {"status": "ok", "value": _encode(value)}
    except BaseException as exc:  # the program's own exceptions, SystemExit included
        return {"status": "error", **_describe_exception(exc), "phase": "run"}


SYMPY_NAMES = {"abs": "Abs", "ceil": "ceiling", "min": "Min", "max": "Max", "ln": "log", "mod": "Mod", "pow": "Pow"}


def _build_expression(text: str) -> Any:  # a SymPy expression (SymPy is untyped)
    """The SymPy expression of ``text``, built node by node from its checked syntax tree (never eval'd)."""
    import sympy

    tree = protocol.expression_tree(text)
    source = protocol.expression_source(text)
    operators = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                 ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b}  # fmt: skip

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, int):
                return sympy.Integer(node.value)
            literal = (ast.get_source_segment(source, node) or repr(node.value)).replace("_", "")
            return sympy.Rational(literal)  # as sympify(..., rational=True): 0.1 is 1/10
        if isinstance(node, ast.Name):
            if node.id in protocol.EXPRESSION_CONSTANTS:
                return getattr(sympy, node.id)
            return sympy.Symbol(node.id)
        if isinstance(node, ast.UnaryOp):
            operand = build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return operators[type(node.op)](build(node.left), build(node.right))
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            function = getattr(sympy, SYMPY_NAMES.get(node.func.id, node.func.id))
            return function(*(build(arg) for arg in node.args))
        raise protocol.Malformed(f"{type(node).__name__} is not allowed")  # expression_tree refused it already

    return build(tree)


def _sympy_equal(request: dict) -> dict:
    import sympy

    try:
        a, b = (_build_expression(request[key]) for key in ("a", "b"))
        difference = sympy.simplify(a - b)
        equal = bool(difference == 0) if difference.is_number or difference == 0 else False
        return {"status": "ok", "value": {"type": "bool", "text": str(equal)}}
    except BaseException as exc:
        return {"status": "error", **_describe_exception(exc), "phase": "sympy"}


def _child(request: dict, stdout_w: int, stderr_w: int, result_w: int, child_filter: _ChildFilterTemplate) -> None:
    """Runs in the forked child; never returns."""
    try:
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout_w, 1)
        os.dup2(stderr_w, 2)
        os.dup2(result_w, RESULT_FD)
        os.closerange(RESULT_FD + 1, 1 << 16)
        os.chdir(WORKDIR)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        _set_limits(request["limits"])
        child_filter.load(os.getpid())
        result = _sympy_equal(request) if request.get("task") == "sympy_equal" else _run_program(request)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        data = json.dumps(result).encode()[:MAX_RESULT_BYTES]
        os.write(RESULT_FD, data)
        os._exit(0)
    except BaseException:
        os._exit(70)


def _sweep() -> int:
    """SIGKILL every other process of this PID namespace (this server is its init) and reap them all."""
    try:
        os.kill(-1, signal.SIGKILL)  # from a namespace's init: everyone in it but itself
    except OSError:
        pass
    reaped = 0
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return reaped
        except InterruptedError:
            continue
        reaped += 1


class WipeFailed(Exception):
    """/tmp could not be emptied; the server must not serve again."""


def _remove_contents(folder_fd: int, depth: int, budget: list[int]) -> None:
    """Remove everything in the open folder, whatever its permissions; no symlink is followed."""
    with os.scandir(folder_fd) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        budget[0] -= 1
        if budget[0] < 0:
            raise WipeFailed(f"more than {MAX_WIPE_ENTRIES} entries")
        info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(name, dir_fd=folder_fd)
            continue
        if depth >= MAX_WIPE_DEPTH:
            raise WipeFailed(f"folders nested more than {MAX_WIPE_DEPTH} deep")
        # Nothing else runs in the jail now, so the folder just seen is still that folder.
        os.chmod(name, 0o700, dir_fd=folder_fd)
        inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder_fd)
        try:
            _remove_contents(inner, depth + 1, budget)
        finally:
            os.close(inner)
        os.rmdir(name, dir_fd=folder_fd)


def _reset_tmp(mode: int) -> str | None:
    """Empty /tmp (chmod back what a program locked), give it back its mode and a fresh work folder.

    Returns why that failed, or ``None``; only called when no other process lives in the jail.
    """
    try:
        os.chmod("/tmp", mode)
        folder = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            _remove_contents(folder, 0, [MAX_WIPE_ENTRIES])
        finally:
            os.close(folder)
        space = os.statvfs("/tmp")
        left = os.listdir("/tmp")
        if left or space.f_bfree != space.f_blocks:
            return f"/tmp still holds {left or 'data'} after the wipe"
        os.mkdir(WORKDIR, 0o700)
    except (OSError, WipeFailed, RecursionError) as exc:
        return f"could not empty /tmp: {type(exc).__name__}: {exc}"
    return None


def _checked_limits(request: dict) -> dict:
    limits = request.get("limits")
    if not isinstance(limits, dict):
        raise ValueError("the request has no limits")
    for key in ("wall_s", "cpu_s", "memory_mb", "file_mb", "output_bytes"):
        value = limits.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
            raise ValueError(f"bad limit {key}: {value!r}")
    return limits


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux before 5.3: poll instead
        return None


def _execute(request: dict, child_filter: _ChildFilterTemplate) -> dict:
    limits = _checked_limits(request)
    cap = int(limits["output_bytes"])
    pipes = [os.pipe() for _ in range(3)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _child(request, pipes[0][1], pipes[1][1], pipes[2][1], child_filter)
    for _, w in pipes:
        os.close(w)
    pidfd = _pidfd(pid)
    readers = {pipes[0][0]: "stdout", pipes[1][0]: "stderr", pipes[2][0]: "result"}
    kept: dict[str, bytearray] = {name: bytearray() for name in readers.values()}
    seen = dict.fromkeys(readers.values(), 0)
    limit = {"stdout": cap, "stderr": cap, "result": MAX_RESULT_BYTES}
    deadline = started + float(limits["wall_s"])
    reason = None
    wait_status: int | None = None
    with selectors.DefaultSelector() as selector:
        for fd in readers:
            selector.register(fd, selectors.EVENT_READ)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ)
        # Until the child has exited *and* its pipes are drained: a child that closes its pipes
        # and sleeps is still killed at the deadline.
        while wait_status is None or any(fd in selector.get_map() for fd in readers):
            left = deadline - time.perf_counter()
            if left <= 0:
                reason = "timeout"
                break
            for key, _ in selector.select(left if pidfd is not None else min(left, 0.005)):
                if key.fd == pidfd:
                    selector.unregister(pidfd)
                    wait_status = os.waitpid(pid, 0)[1]
                    continue
                chunk = os.read(key.fd, 65536)
                name = readers[key.fd]
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                seen[name] += len(chunk)
                if len(kept[name]) < limit[name]:
                    kept[name] += chunk[: limit[name] - len(kept[name])]
                if seen[name] > (64 * cap if name != "result" else MAX_RESULT_BYTES):
                    reason = "output" if name != "result" else "result"
            if reason:
                break
            if pidfd is None and wait_status is None:
                done, status = os.waitpid(pid, os.WNOHANG)
                wait_status = status if done else None
    if wait_status is None:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        wait_status = os.waitpid(pid, 0)[1]
    wall = time.perf_counter() - started
    for fd in readers:
        os.close(fd)
    if pidfd is not None:
        os.close(pidfd)
    swept = _sweep()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = max(0.0, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime))
    response = {
        "stdout": kept["stdout"].decode("utf-8", "replace"),
        "stderr": kept["stderr"].decode("utf-8", "replace"),
        "stdout_truncated": seen["stdout"] > cap,
        "stderr_truncated": seen["stderr"] > cap,
        "wall_s": wall,
        "cpu_s": cpu_s,
    }
    details: dict = {"swept": swept}
    outcome = _outcome(reason, wait_status, bytes(kept["result"]), limits, cpu_s, details)
    return {**outcome, **response, "details": details}  # the measured fields last: nothing overrides them


def _outcome(reason: str | None, wait_status: int, result: bytes, limits: dict, cpu: float, details: dict) -> dict:
    """How the execution ended, from the exit status first and the child's own report last."""
    if reason == "timeout":
        return {"status": "timeout", "message": f"killed after {limits['wall_s']} s of wall time"}
    if reason == "output":
        return {
            "status": "output_limit",
            "message": f"killed after writing more than {64 * limits['output_bytes']} bytes",
        }
    if reason == "result":
        return {"status": "output_limit", "message": f"killed after writing a result over {MAX_RESULT_BYTES} bytes"}
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        details["signal"] = name
        cpu_limit = max(1, math.ceil(limits["cpu_s"]))
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_limit - 0.1):
            return {"status": "timeout", "message": f"killed after {limits['cpu_s']} s of CPU time"}
        if sig == signal.SIGXFSZ:
            return {"status": "crashed", "message": f"wrote a file larger than {limits['file_mb']} MB"}
        return {"status": "crashed", "message": f"the program died of {name}"}
    code = os.WEXITSTATUS(wait_status)
    if code != 0 or not result:
        return {"status": "crashed", "message": f"the program exited with code {code} and no result"}
    try:
        clean = protocol.clean_result(protocol.loads(result, MAX_RESULT_BYTES))
    except protocol.Malformed as exc:
        return {"status": "crashed", "message": f"the program's result was malformed: {exc}"}
    if "phase" in clean:
        details["phase"] = clean.pop("phase")
    if clean.get("exception") == "MemoryError":
        clean["status"] = "memory"
    return clean


def main() -> None:
    if os.getpid() != 1:  # bwrap's own init would be a process without this filter, open to the child
        sys.exit("the sandbox server must be the jail's init process (bwrap --as-pid-1)")
    for folder in sys.argv[1:]:
        sys.path.append(folder)
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the same uid may read or write our memory
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as init, ignore it: a child's SIGINT must not stop us
    for module in os.environ.get("NEUROSYM_SANDBOX_PRELOAD", "").split(","):
        if module:
            __import__(module)
    child_filter = _ChildFilterTemplate()
    _server_filter().load()
    tmp_mode = stat.S_IMODE(os.stat("/tmp").st_mode)
    problem = _reset_tmp(tmp_mode)
    if problem is not None:
        sys.exit(problem)
    out = sys.stdout.buffer
    out.write(protocol.dumps({"ready": True}))
    out.flush()
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            response = _execute(request, child_filter)
        except Exception as exc:  # a bug of ours or a bad request: report it, keep serving
            response = {"status": "crashed", "message": f"sandbox server error: {type(exc).__name__}: {exc}"}
            _sweep()
        problem = _reset_tmp(tmp_mode)
        if problem is not None:
            response["restart"] = problem
        out.write(protocol.dumps(response))
        out.flush()
        if problem is not None:
            sys.exit(problem)


if __name__ == "__main__":
    main()
