"""Starts a proof kernel inside its jail: resource limits and a seccomp filter, then ``exec`` of the kernel.

Run by the jail as ``python -I -S -B launch.py SITE MEMORY_MB FILE_MB DENIED -- PROGRAM ARGS...``
(standard library and pyseccomp only; see :mod:`neurosym.provers.coq.jail`). It is the jail's
process 1 (``bwrap --as-pid-1``) and stays so: ``exec`` keeps the process id, the limits and the
filter, so the kernel is the jail's init and lives under both. Unlike the Python sandbox, the
kernel may start programs (CoqHammer runs external provers), so ``execve`` and ``fork`` stay
allowed; the rest of the sandbox's server filter carries over (``DENIED``, from the host).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import sys

PR_SET_NO_NEW_PRIVS = 38
LOW32 = 0xFFFFFFFF
F_SETOWN, F_SETSIG, F_SETOWN_EX = 8, 10, 15  # as the sandbox: no making the kernel signal another process
FIOSETOWN, SIOCSPGRP, TIOCSTI, TIOCLINUX = 0x8901, 0x8902, 0x5412, 0x541C
PERSONALITY_QUERY = 0xFFFFFFFF


def _limit(kind: int, value: int) -> None:
    resource.setrlimit(kind, (value, value))


def _load_filter(denied: list[str]) -> None:
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    flt.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)  # another ABI would skip every rule
    deny = seccomp.ERRNO(errno.EPERM)
    for name in denied:
        try:
            flt.add_rule(deny, int(name) if name.isdigit() else name)
        except (OSError, ValueError, RuntimeError):  # a syscall this architecture lacks
            pass
    for command in (F_SETOWN, F_SETSIG, F_SETOWN_EX):
        flt.add_rule(deny, "fcntl", seccomp.Arg(1, seccomp.MASKED_EQ, LOW32, command))
    for request in (FIOSETOWN, SIOCSPGRP, TIOCSTI, TIOCLINUX):
        flt.add_rule(deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, LOW32, request))
    flt.add_rule(deny, "personality", seccomp.Arg(0, seccomp.NE, PERSONALITY_QUERY))
    flt.load()


def main(argv: list[str]) -> None:
    """Apply the limits and the filter named in ``argv``, then become the kernel."""
    site, memory_mb, file_mb, denied, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: launch.py SITE MEMORY_MB FILE_MB DENIED -- PROGRAM ARGS...")
    sys.path.insert(0, site)
    _limit(resource.RLIMIT_AS, int(memory_mb) << 20)
    _limit(resource.RLIMIT_FSIZE, int(file_mb) << 20)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NOFILE, 256)
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("cannot set no_new_privs")
    _load_filter([name for name in denied.split(",") if name])
    env = {key: value for key, value in os.environ.items() if key != "LD_LIBRARY_PATH"}  # Python's, not Coq's
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
