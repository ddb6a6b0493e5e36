"""The bubblewrap command line of one fork server's jail, with the host's files at neutral paths.

Inside the jail nothing names the host's folders: the Python installation is bound at
``/opt/python`` (its interpreter, standard library and shared library only: its own
``site-packages`` is hidden), each allowed package at ``/opt/site/<name>``, the server at
``/opt/neurosym``, and ``/usr`` (with the ``/bin``, ``/lib``... links) for the C libraries. There
is no ``/proc`` (no ``mountinfo`` that shows where those came from, no ``/proc/1/mem``, no host
sysctl files) and no ``/sys``; the host name is ``sandbox``.

Example:
    >>> from neurosym.provers.sandbox import Limits
    >>> argv = bwrap_command(Limits())
    >>> argv[0], "--as-pid-1" in argv, "--proc" in argv
    ('bwrap', True, False)
    >>> [argv[i + 2] for i, arg in enumerate(argv) if arg == "--ro-bind" and argv[i + 2].startswith("/opt/site")]
    ['/opt/site/sympy', '/opt/site/mpmath', '/opt/site/pyseccomp.py']

"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neurosym.provers.sandbox import Limits

__all__ = [
    "ALLOWED_PACKAGES",
    "JAIL_PYTHON",
    "JAIL_SITE",
    "PRELOAD",
    "JailPython",
    "bwrap_command",
    "jail_command",
    "jail_python",
    "server_command",
]

SERVER = Path(__file__).with_name("_server.py")
PROTOCOL = Path(__file__).with_name("_protocol.py")
PRELOAD = ("sympy", "math", "fractions", "decimal", "itertools", "datetime", "statistics")
ALLOWED_PACKAGES = ("sympy", "mpmath", "pyseccomp")
JAIL_PYTHON = "/opt/python"
JAIL_SITE = "/opt/site"
JAIL_SERVER_DIR = "/opt/neurosym"
JAIL_HOSTNAME = "sandbox"


@dataclass(frozen=True)
class JailPython:
    """Where this interpreter's parts are on the host, and where the jail shows them.

    Attributes:
        binds: ``(host path, jail path)`` pairs, bound read-only.
        executable: the interpreter's path in the jail.
        hidden: jail folders covered by an empty read-only tmpfs (the installation's own packages).
        library_path: ``LD_LIBRARY_PATH`` in the jail (the shared libpython's folder), or ``None``.

    """

    binds: tuple[tuple[str, str], ...]
    executable: str
    hidden: tuple[str, ...]
    library_path: str | None


def jail_python() -> JailPython:
    """The running interpreter and the allowed packages, laid out under :data:`JAIL_PYTHON` and :data:`JAIL_SITE`.

    Example:
        >>> jail_python().executable.startswith("/opt/python/bin/python3")
        True

    """
    executable = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = os.path.dirname(os.__file__)  # the base installation's, also from a virtual environment
    jail_executable = f"{JAIL_PYTHON}/bin/{version}"
    binds = [(executable, jail_executable), (stdlib, f"{JAIL_PYTHON}/lib/{version}")]
    library_path = None
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        soname = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
        library = Path(sysconfig.get_config_var("LIBDIR") or "") / str(soname)
        if soname and library.exists():
            binds.append((str(library), f"{JAIL_PYTHON}/lib/{soname}"))
            library_path = f"{JAIL_PYTHON}/lib"
    hidden = tuple(f"{JAIL_PYTHON}/lib/{version}/{name}" for name in ("site-packages", "dist-packages")
                   if (Path(stdlib) / name).is_dir())  # fmt: skip
    for name in ALLOWED_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        binds.append((str(source), f"{JAIL_SITE}/{source.name}"))
    return JailPython(tuple(binds), jail_executable, hidden, library_path)


def jail_command(limits: Limits) -> list[str]:
    """The ``bwrap`` options of a fork server's jail for executions under ``limits`` (its /tmp size), then ``--``.

    The command after them (:func:`server_command`) is the jail's process 1 (``--as-pid-1``: no
    bwrap init that a program could write into), in new user, PID, network, IPC, UTS and cgroup
    namespaces, with no capabilities.

    Example:
        >>> from neurosym.provers.sandbox import Limits
        >>> jail_command(Limits())[-1], "--unshare-all" in jail_command(Limits())
        ('--', True)

    """
    python = jail_python()
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--as-pid-1"]
    argv += ["--die-with-parent", "--new-session", "--hostname", JAIL_HOSTNAME, "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for source, target in python.binds:
        argv += ["--ro-bind", source, target]
    for folder in python.hidden:
        argv += ["--tmpfs", folder, "--remount-ro", folder]
    argv += ["--ro-bind", str(SERVER), f"{JAIL_SERVER_DIR}/server.py"]
    argv += ["--ro-bind", str(PROTOCOL), f"{JAIL_SERVER_DIR}/_protocol.py"]
    argv += ["--dev", "/dev"]
    argv += ["--size", str(4 * limits.file_mb << 20), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]  # the jail's own root and /dev: no writes either
    argv += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    argv += ["--setenv", "LANG", "C.UTF-8", "--setenv", "NEUROSYM_SANDBOX_PRELOAD", ",".join(PRELOAD)]
    if python.library_path:
        argv += ["--setenv", "LD_LIBRARY_PATH", python.library_path]
    return [*argv, "--"]


def server_command() -> list[str]:
    """The fork server's command line as the jail sees it (the interpreter and the server at neutral paths).

    Example:
        >>> server_command()[-2:]
        ['/opt/neurosym/server.py', '/opt/site']

    """
    return [jail_python().executable, "-I", "-S", "-B", f"{JAIL_SERVER_DIR}/server.py", JAIL_SITE]


def bwrap_command(limits: Limits) -> list[str]:
    """The whole ``bwrap`` argv that starts one fork server: :func:`jail_command` then :func:`server_command`."""
    return [*jail_command(limits), *server_command()]
