"""The fork server that runs inside the bubblewrap sandbox (standard library and pyseccomp only).

It is started by :class:`neurosym.sandbox.Sandbox` as ``python -I -S -B _server.py SITE...``
inside a bwrap jail (no network, read-only file system, private /tmp, own PID namespace). It
imports the slow modules (SymPy) once, then serves one request per line on stdin: for each it
forks a child that gets fresh state, resource limits and a seccomp filter (no exec, no fork, no
signals to other processes), runs the program there, and answers one JSON line on stdout.

Model-written code runs only in those children, never in this process, so this process stays
pristine: every execution starts from the same state.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import resource
import selectors
import shutil
import signal
import sys
import time
import traceback

PR_SET_DUMPABLE = 4
CLONE_THREAD = 0x00010000
RESULT_FD = 3
MAX_RESULT_BYTES = 1 << 20
MAX_TEXT = 2000  # characters of a returned value's text or an exception message kept
DENIED_SYSCALLS = (
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "bpf", "perf_event_open",
    "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup", "pidfd_open",
    "pidfd_send_signal", "pidfd_getfd", "tkill", "kcmp", "setpgid", "setsid",
)  # fmt: skip


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _deny_syscalls() -> None:
    """Seccomp: no new programs, no new processes (threads are fine), no signals to others."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            flt.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):  # a syscall this architecture lacks
            pass
    # clone without CLONE_THREAD makes a process: refuse it. clone3 hides its flags in memory,
    # so refuse it as "not implemented", which makes the C library fall back to clone.
    flt.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    me = os.getpid()
    flt.add_rule(deny, "kill", seccomp.Arg(0, seccomp.NE, me))
    flt.add_rule(deny, "tgkill", seccomp.Arg(0, seccomp.NE, me))
    flt.load()


def _set_limits(limits: dict) -> None:
    cpu = max(1, math.ceil(limits["cpu_s"]))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
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
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _encode_sympy(value: object) -> dict:
    import sympy

    expr = sympy.sympify(value)
    out = {"type": "sympy", "text": _clip(str(expr)), "srepr": _clip(sympy.srepr(expr), 4 * MAX_TEXT), "float": None}
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


def _sympy_equal(request: dict) -> dict:
    import sympy

    try:
        a, b = (sympy.sympify(text, rational=True) for text in (request["a"], request["b"]))
        difference = sympy.simplify(a - b)
        equal = bool(difference == 0) if difference.is_number or difference == 0 else False
        return {"status": "ok", "value": {"type": "bool", "text": str(equal)}}
    except BaseException as exc:
        return {"status": "error", **_describe_exception(exc), "phase": "sympy"}


def _child(request: dict, stdout_w: int, stderr_w: int, result_w: int, workdir: str) -> None:
    """Runs in the forked child; never returns."""
    try:
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout_w, 1)
        os.dup2(stderr_w, 2)
        os.dup2(result_w, RESULT_FD)
        os.closerange(RESULT_FD + 1, 1 << 16)
        os.chdir(workdir)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        _set_limits(request["limits"])
        _deny_syscalls()
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


def _sweep(keep: set[int]) -> int:
    """SIGKILL every process of this PID namespace but init, this server and ``keep``."""
    killed = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in keep and int(name) not in (1, os.getpid()):
            try:
                os.kill(int(name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def _wipe(*folders: str) -> None:
    for folder in folders:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(folder, entry)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass


def _execute(request: dict) -> dict:
    limits = request["limits"]
    cap = int(limits["output_bytes"])
    workdir = "/tmp/work"
    os.makedirs(workdir, exist_ok=True)
    pipes = [os.pipe() for _ in range(3)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _child(request, pipes[0][1], pipes[1][1], pipes[2][1], workdir)
    for _, w in pipes:
        os.close(w)
    readers = {pipes[0][0]: "stdout", pipes[1][0]: "stderr", pipes[2][0]: "result"}
    kept: dict[str, bytearray] = {name: bytearray() for name in readers.values()}
    seen = dict.fromkeys(readers.values(), 0)
    deadline = started + float(limits["wall_s"])
    reason = None
    with selectors.DefaultSelector() as selector:
        for fd in readers:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.perf_counter()
            if left <= 0:
                reason = "timeout"
                break
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                name = readers[key.fd]
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                seen[name] += len(chunk)
                limit = MAX_RESULT_BYTES if name == "result" else cap
                if len(kept[name]) < limit:
                    kept[name] += chunk[: limit - len(kept[name])]
                if name != "result" and seen[name] > 64 * cap:
                    reason = "output"
            if reason:
                break
    if reason is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - started
    for fd in readers:
        os.close(fd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    swept = _sweep(set())
    _wipe("/tmp", "/dev/shm")
    response: dict = {
        "stdout": kept["stdout"].decode("utf-8", "replace"),
        "stderr": kept["stderr"].decode("utf-8", "replace"),
        "stdout_truncated": seen["stdout"] > cap,
        "stderr_truncated": seen["stderr"] > cap,
        "wall_s": wall,
        "cpu_s": cpu,
        "swept": swept,
    }
    if reason == "timeout":
        return {**response, "status": "timeout", "message": f"killed after {limits['wall_s']} s of wall time"}
    if reason == "output":
        return {**response, "status": "output_limit", "message": f"killed after writing more than {64 * cap} bytes"}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        if sig in (signal.SIGXCPU, signal.SIGKILL) and response["cpu_s"] >= math.ceil(limits["cpu_s"]) - 0.05:
            return {**response, "status": "timeout", "message": f"killed after {limits['cpu_s']} s of CPU time"}
        if sig == signal.SIGXFSZ:
            return {**response, "status": "crashed", "signal": name,
                    "message": f"wrote a file larger than {limits['file_mb']} MB"}  # fmt: skip
        return {**response, "status": "crashed", "signal": name, "message": f"the program died of {name}"}
    try:
        result = json.loads(bytes(kept["result"]).decode("utf-8", "replace")) if kept["result"] else None
    except ValueError:
        result = None
    if not isinstance(result, dict) or result.get("status") not in ("ok", "error"):
        code = os.WEXITSTATUS(status)
        return {**response, "status": "crashed", "message": f"the program exited with code {code} and no result"}
    if result.get("exception") == "MemoryError":
        result["status"] = "memory"
    return {**response, **result}


def main() -> None:
    for folder in sys.argv[1:]:
        sys.path.append(folder)
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # siblings of the same uid cannot read our memory
    for module in os.environ.get("NEUROSYM_SANDBOX_PRELOAD", "").split(","):
        if module:
            __import__(module)
    import pyseccomp  # noqa: F401  (fail now, not in the first child)

    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            response = _execute(request)
        except Exception as exc:  # a bug of ours: report it, keep serving
            response = {"status": "crashed", "message": f"sandbox server error: {type(exc).__name__}: {exc}"}
        out.write(json.dumps(response).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
