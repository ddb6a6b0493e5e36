"""Misbehaving "provers" for the tests of :class:`neurosym.loop.pool.ProverPool`. Not public API.

They live in the package, not in the test module, because a pool worker runs under forkserver or
spawn and unpickles a task's function by importing its module by name. Test modules that pytest
loads with ``--import-mode=importlib`` cannot be imported that way.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from neurosym.errors import ConfigurationError
from neurosym.targets.fol import FolTarget
from neurosym.types import Formalization, Verdict

__all__ = [
    "HangingFolTarget",
    "allocate",
    "exit_now",
    "hang",
    "hang_with_child",
    "kill_self",
    "not_a_verdict",
    "quick",
    "raise_error",
]


def quick(tag: str = "") -> Verdict:
    """Answer at once; ``details`` carries the worker's pid and the ``tag``."""
    return Verdict("proved", message=tag, prover="quick", details={"pid": os.getpid(), "tag": tag})


def hang(seconds: float = 1000.0) -> Verdict:
    """Sleep (far longer than any test's timeout), then answer."""
    time.sleep(seconds)
    return quick("woke up")


def hang_with_child(pid_file: str, *, new_session: bool = False) -> Verdict:
    """Start ``sleep 1000``, write its pid to ``pid_file``, then hang.

    With ``new_session=True`` the child leaves the worker's process group, as the E prover's runs do.
    """
    child = subprocess.Popen(["sleep", "1000"], start_new_session=new_session)
    tmp = Path(pid_file + ".tmp")
    tmp.write_text(str(child.pid), encoding="ascii")
    tmp.replace(pid_file)  # atomic, so a reader never sees a half-written pid
    time.sleep(1000)
    return quick("woke up")


def exit_now(code: int = 3) -> Verdict:
    """End the worker process at once with ``code``, as a crashing native solver would."""
    os._exit(code)


def kill_self(signum: int) -> Verdict:
    """Send the signal ``signum`` to the worker itself (e.g. SIGSEGV)."""
    os.kill(os.getpid(), signum)
    time.sleep(10)
    return quick("survived")


def raise_error(kind: str = "value") -> Verdict:
    """Raise ``ValueError("boom")``, or ``ConfigurationError`` with ``kind="configuration"``."""
    if kind == "configuration":
        raise ConfigurationError("bad option for the test prover")
    raise ValueError("boom")


def allocate(megabytes: int) -> Verdict:
    """Allocate and touch ``megabytes`` MB, then answer."""
    block = bytearray(megabytes * 1024 * 1024)
    return quick(f"allocated {len(block) // (1024 * 1024)} MB")


def not_a_verdict() -> Verdict:
    """Break the contract: return a number instead of a verdict."""
    return 42  # type: ignore[return-value]


@dataclass(frozen=True)
class HangingFolTarget(FolTarget):
    """The FOL target, except that checking a formalization that mentions ``Hang`` never returns."""

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        if "Hang" in formalization.source:
            hang()
        return super().check(formalization, timeout_s=timeout_s)
