r"""The Python sandbox as a prover for ``python`` formalizations: run the program, report what ``solution()`` returned.

The program runs in :mod:`neurosym.provers.sandbox` (a jailed fork server, never this process).
Its verdict is the Python target's (:func:`neurosym.targets.python.execution_verdict`):
``computed`` with the number ``solution()`` returned, ``invalid`` for a program that raises,
returns something other than a number or does not compile (with feedback for the model),
``timeout`` at the time limit, ``unknown`` when the sandbox itself fails or cannot run here.

Example:
    >>> from neurosym.types import Formalization
    >>> prover = PythonSandboxProver()
    >>> v = prover.check(Formalization("python", "def solution():\n    return 6 * 7\n"), timeout_s=10)
    >>> (v.status, v.answer.value) if prover.available() else ("computed", 42.0)
    ('computed', 42.0)

"""

from __future__ import annotations

import dataclasses
import platform
from importlib import metadata
from typing import Any, ClassVar

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError
from neurosym.provers.base import prover_deadline
from neurosym.types import Formalization, Verdict

__all__ = ["PythonSandboxProver"]

_MIN_RUN_S = 0.05  # with less time left, starting the program cannot pay off: a timeout at once


class PythonSandboxProver:
    """Runs ``solution()`` programs in the sandbox and says what they returned.

    Args:
        sandbox: the :class:`~neurosym.provers.sandbox.Sandbox` to run in (default: this
            process's shared one, :func:`~neurosym.provers.sandbox.default_sandbox`, started
            on first use).
        limits: the sandbox limits of each run; the call's time limit caps ``wall_s``.
        entry_point: the function called after the program is executed.

    Example:
        >>> PythonSandboxProver().to_dict()["limits"]["wall_s"]
        10.0

    """

    name: ClassVar[str] = "python-sandbox"
    target: ClassVar[str] = "python"

    def __init__(self, *, sandbox: Any = None, limits: Any = None, entry_point: str = "solution") -> None:
        from neurosym.provers.sandbox import Limits

        self.sandbox = sandbox
        self.limits = limits if limits is not None else Limits(wall_s=10.0, cpu_s=10.0)
        self.entry_point = entry_point

    def available(self) -> bool:
        """True when this machine can run the sandbox (bubblewrap, libseccomp); nothing is started."""
        from neurosym.provers.sandbox import sandbox_problem

        return sandbox_problem() is None

    def to_dict(self) -> dict[str, Any]:
        """The prover's settings and what runs the programs (Python and SymPy versions), for results files."""
        try:
            sympy: str | None = metadata.version("sympy")
        except metadata.PackageNotFoundError:
            sympy = None
        return {
            "name": self.name,
            "python": platform.python_version(),
            "sympy": sympy,
            "limits": dataclasses.asdict(self.limits),
            "entry_point": self.entry_point,
        }

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Run the program (``formalization.source``) and turn what ``solution()`` did into a verdict.

        Returns by the earlier of ``timeout_s`` and ``deadline``, plus the sandbox's start the
        first time (about half a second).

        Raises:
            ConfigurationError: a bad ``timeout_s``, or a formalization of another target.

        """
        from neurosym.provers.sandbox import SandboxUnavailable, default_sandbox
        from neurosym.targets.python.target import execution_verdict

        limit = prover_deadline(timeout_s, deadline)
        if formalization.target != self.target:
            raise ConfigurationError(f"{self.name} runs python programs, not a {formalization.target!r} formalization")
        program = str(formalization.source)
        seconds = limit.left()
        if seconds < _MIN_RUN_S:
            return Verdict("timeout", message="no time left to run the program", prover=self.name)
        limits = dataclasses.replace(self.limits, wall_s=min(self.limits.wall_s, seconds))
        try:
            sandbox = self.sandbox if self.sandbox is not None else default_sandbox()
            run = sandbox.run(program, call=self.entry_point, limits=limits)
        except SandboxUnavailable as exc:
            return Verdict("unknown", message=f"the sandbox cannot run here: {exc}", prover=self.name)
        return execution_verdict(program, run)

    def __repr__(self) -> str:
        return f"PythonSandboxProver(limits={self.limits})"
