r"""Test doubles for the loop's own unit tests: misbehaving "provers" for the pool, a test target and a test prover.

Not public API. They live in the package, not in the test modules, because a pool worker runs
under forkserver or spawn and unpickles a task's function by importing its module by name. Test
modules that pytest loads with ``--import-mode=importlib`` cannot be imported that way.

- the functions (:func:`quick`, :func:`hang`, :func:`exit_now`...) misbehave in a pool worker;
- :class:`ScriptedProver` is a prover whose verdicts follow the formalization's text (a
  number is computed, ``hang`` waits out its time limit), so that loop tests need no solver;
- :class:`EchoTarget` is a target whose model output is ``ANSWER: <number>``, checked by a
  :class:`ScriptedProver`; :data:`ECHO_SPEC` is its registry entry (not registered: a test
  registers it when it needs the registry).

Both pass the conformance suites every real prover and target passes (tests/conformance).

Example:
    >>> from neurosym.types import Problem
    >>> target = EchoTarget()
    >>> verdict = target.check(target.parse(Problem("What is 2 + 3?"), "ANSWER: 5"), timeout_s=5)
    >>> verdict.status, target.answer_key(verdict), verdict.prover
    ('computed', 5.0, 'scripted')

"""

from __future__ import annotations

import math
import os
import re
import subprocess
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, ParseError
from neurosym.provers.base import prover_deadline
from neurosym.targets.fol import FolTarget
from neurosym.targets.registry import SolveOptions, TargetSpec
from neurosym.translators.base import GenerationRequest, Message
from neurosym.types import AnswerKind, Formalization, NumberAnswer, Problem, Verdict

__all__ = [
    "ECHO_SPEC",
    "EchoTarget",
    "Echoed",
    "HangingFolTarget",
    "ScriptedProver",
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
    return 42  # type: ignore[return-value]  # the broken contract is the point of this double


@dataclass(frozen=True)
class HangingFolTarget(FolTarget):
    """The FOL target, except that checking a formalization that mentions ``Hang`` never returns."""

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        if "Hang" in formalization.source:
            hang()
        return super().check(formalization, timeout_s=timeout_s)


# --------------------------------------------------------------------------------------------- test prover


@dataclass(frozen=True)
class Echoed:
    """The certificate of a :class:`ScriptedProver` verdict: the text it read.

    Example:
        >>> Echoed.from_dict(Echoed("5").to_dict()), Echoed("5").render()
        (Echoed(text='5'), 'echoed: 5')

    """

    KIND: ClassVar[str] = "echoed"
    text: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": self.KIND, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Echoed:
        """Read back :meth:`to_dict`."""
        return cls(str(data["text"]))

    def render(self) -> str:
        """The text, for people."""
        return f"echoed: {self.text}"


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class ScriptedProver:
    """A test prover for ``echo`` formalizations whose verdict the formalization's text decides.

    ``script`` maps a text to the verdict to return for it; other texts follow the rules: a
    finite number is ``computed`` (that number, certificate :class:`Echoed`), ``hang`` waits
    out the call's time limit and is a ``timeout``, ``unknown`` is ``unknown``, anything else is
    ``invalid``. ``calls`` lists the texts checked in this process (a pool worker's copy keeps
    its own).

    Example:
        >>> prover = ScriptedProver({"42": Verdict("uncertain", prover="scripted")})
        >>> [prover.check(Formalization("echo", text), timeout_s=1).status for text in ("7", "x", "42")]
        ['computed', 'invalid', 'uncertain']
        >>> prover.calls
        ['7', 'x', '42']

    """

    script: Mapping[str, Verdict] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    name: ClassVar[str] = "scripted"
    target: ClassVar[str] = "echo"

    def available(self) -> bool:
        """Always: it needs nothing."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """Its name and how many scripted answers it has."""
        return {"name": self.name, "version": "1", "scripted": len(self.script)}

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """The scripted verdict for ``formalization.source`` (see the class docstring)."""
        limit = prover_deadline(timeout_s, deadline)
        if formalization.target != self.target:
            raise ConfigurationError(f"{self.name} checks echo formalizations, not {formalization.target!r}")
        started = time.perf_counter()
        text = str(formalization.source).strip()
        self.calls.append(text)
        common: dict[str, Any] = {"prover": self.name}
        if limit.expired():
            return Verdict("timeout", message="the deadline had passed", **common)
        if text in self.script:
            return self.script[text]
        if text == "hang":
            time.sleep(limit.left())
            return Verdict("timeout", message="hung until the time limit", elapsed_s=time.perf_counter() - started,
                           **common)  # fmt: skip
        if text == "unknown":
            return Verdict("unknown", message="scripted to give up", **common)
        if _NUMBER.match(text) and math.isfinite(float(text)):
            value = float(text)
            return Verdict("computed", answer=NumberAnswer(value, exact=text), certificate=Echoed(text), **common)
        return Verdict("invalid", feedback=f"{text!r} is not a number", message="not a number", **common)


# --------------------------------------------------------------------------------------------- test target


_ANSWER = re.compile(r"ANSWER:\s*(\S+)")


@dataclass(frozen=True)
class EchoTarget:
    """A test target: the model answers ``ANSWER: <number>`` and a :class:`ScriptedProver` checks it.

    Example:
        >>> from neurosym.types import Problem
        >>> EchoTarget().parse(Problem("What is 2 + 3?"), "I think... ANSWER: 5").source
        '5'

    """

    name: ClassVar[str] = "echo"
    prover: ScriptedProver = field(default_factory=ScriptedProver)

    def request(self, problem: Problem) -> GenerationRequest:
        """The question after one worked example."""
        return GenerationRequest(
            (
                Message("system", "Answer with ANSWER: followed by the number."),
                Message("user", "What is 1 + 1?"),
                Message("assistant", "ANSWER: 2"),
                Message("user", problem.text or problem.question or ""),
            )
        )

    def parse(self, problem: Problem, output: str) -> Formalization:
        """The text after ``ANSWER:``; ParseError when there is none."""
        found = _ANSWER.search(output)
        if found is None:
            raise ParseError("no 'ANSWER: <number>' in the output", text=output[:200])
        return Formalization("echo", found.group(1), found.group(1))

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """The :class:`ScriptedProver`'s verdict."""
        return self.prover.check(formalization, timeout_s=timeout_s)

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """The number of a decided verdict."""
        if not verdict.decided or not isinstance(verdict.answer, NumberAnswer):
            return None
        return verdict.answer.value

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """The conversation so far, the output and the feedback."""
        return GenerationRequest((*previous.messages, Message("assistant", output), Message("user", feedback)))

    def fingerprint(self) -> dict[str, Any]:
        """Its prover's settings."""
        return {"target": self.name, "prover": self.prover.to_dict()}


def _build_echo(options: SolveOptions) -> EchoTarget:
    return EchoTarget()


ECHO_SPEC = TargetSpec(
    name="echo",
    description="echo the model's number (a test target)",
    answer_kind=AnswerKind.NUMBER,
    build=_build_echo,
    certificates=(Echoed,),
)
"""The test target's registry entry (register it with :func:`neurosym.targets.register_target` in a test)."""
