"""The bubblewrap jail of a proof kernel: the Python sandbox's profile, less its ban on starting programs.

What carries over from :mod:`neurosym.provers.sandbox._jail`: new user, PID, network, IPC, UTS
and cgroup namespaces (no network at all), no capabilities and no new user namespaces, a new
session (no terminal to push input into), a read-only view of ``/usr`` (where Coq, its libraries
and the external provers CoqHammer calls live) and nothing else of the host but the loader cache
and findlib's configuration (Coq finds its plugins through findlib); no ``/proc`` or ``/sys``
(Coq needs neither); a private, size-capped ``/tmp`` as the only writable place; a scrubbed
environment; the host name ``kernel``. The kernel is the jail's process 1 (``--as-pid-1``), started
by a launcher (:mod:`neurosym.provers.coq._launch`) that sets its address-space, file-size,
core and open-file limits and loads the sandbox server's seccomp filter without its ban on
``execve``: a kernel and its plugins start programs (CoqHammer's provers).

Example:
    >>> argv = kernel_jail_command(KernelLimits())
    >>> argv[0], "--as-pid-1" in argv, "--proc" in argv, "--unshare-all" in argv, argv[-1]
    ('bwrap', True, False, True, '--')

"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from neurosym.errors import ConfigurationError

__all__ = ["JAIL_HOSTNAME", "KernelLimits", "kernel_jail_command", "launcher_command"]

JAIL_HOSTNAME = "kernel"
LAUNCHER = Path(__file__).with_name("_launch.py")
JAIL_LAUNCHER = "/opt/neurosym/launch.py"
_STARTS_PROGRAMS = ("execve", "execveat")


@dataclass(frozen=True, slots=True)
class KernelLimits:
    """Resource limits of one kernel process (it lives for many checks, so there is no CPU-time limit).

    Attributes:
        memory_mb: address space of the kernel; past it Coq reports ``Out of memory`` (or dies
            and is restarted).
        tmp_mb: size of the jail's private ``/tmp``.
        file_mb: the largest file the kernel may write there.
        answer_mb: the longest answer read from the kernel (a flood beyond it is a broken kernel).

    Example:
        >>> KernelLimits(memory_mb=2048).memory_mb
        2048
        >>> KernelLimits(memory_mb=0)
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: memory_mb must be a whole number greater than 0, got 0

    """

    memory_mb: int = 4096
    tmp_mb: int = 256
    file_mb: int = 16
    answer_mb: int = 32

    def __post_init__(self) -> None:
        for name in ("memory_mb", "tmp_mb", "file_mb", "answer_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < int(value) < 1 << 20:
                raise ConfigurationError(f"{name} must be a whole number greater than 0, got {value!r}")


def _host_view() -> list[str]:
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    argv += ["--ro-bind-try", "/etc/ocamlfind.conf", "/etc/ocamlfind.conf"]
    return argv


def kernel_jail_command(
    limits: KernelLimits,
    *,
    binds: Sequence[tuple[str, str]] = (),
    env: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The ``bwrap`` options of a kernel's jail, then ``--`` (the launcher's command follows).

    ``binds`` are more ``(host path, jail path)`` pairs shown read-only (a Lean toolchain and
    project), ``env`` more variables set in the jail.

    Example:
        >>> "/opt/neurosym/launch.py" in kernel_jail_command(KernelLimits())
        True
        >>> argv = kernel_jail_command(KernelLimits(), binds=[("/usr/share", "/opt/lean")], env=[("ELAN_HOME", "/e")])
        >>> argv[argv.index("/usr/share") + 1], argv[argv.index("ELAN_HOME") + 1]
        ('/opt/lean', '/e')

    """
    from neurosym.provers.sandbox._jail import jail_python

    python = jail_python()
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--as-pid-1"]
    argv += ["--die-with-parent", "--new-session", "--hostname", JAIL_HOSTNAME, *_host_view()]
    for source, target in python.binds:
        if not target.startswith("/opt/site/") or target.endswith(("/pyseccomp", "/pyseccomp.py")):
            argv += ["--ro-bind", source, target]
    for folder in python.hidden:
        argv += ["--tmpfs", folder, "--remount-ro", folder]
    argv += ["--ro-bind", str(LAUNCHER), JAIL_LAUNCHER]
    for source, target in binds:  # before the root turns read-only: their mount points are made in it
        argv += ["--ro-bind", source, target]
    argv += ["--dev", "/dev"]
    argv += ["--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    argv += [
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
    ]
    if python.library_path:
        argv += ["--setenv", "LD_LIBRARY_PATH", python.library_path]
    for name, value in env:
        argv += ["--setenv", name, value]
    return [*argv, "--"]


def launcher_command(limits: KernelLimits, program: list[str]) -> list[str]:
    """The launcher's command line in the jail: the limits and the filter, then ``program``.

    Example:
        >>> launcher_command(KernelLimits(memory_mb=1024), ["/usr/bin/coqidetop.opt"])[5:8]
        ['/opt/site', '1024', '16']

    """
    from neurosym.provers.sandbox._jail import JAIL_SITE, jail_python
    from neurosym.provers.sandbox._server import JAIL_DENIED, JAIL_DENIED_NUMBERS

    denied = [name for name in JAIL_DENIED if name not in _STARTS_PROGRAMS]
    denied += [str(number) for number in JAIL_DENIED_NUMBERS.values()]
    launcher = [jail_python().executable, "-I", "-S", "-B", JAIL_LAUNCHER, JAIL_SITE]
    return [*launcher, str(limits.memory_mb), str(limits.file_mb), ",".join(denied), "--", *program]
