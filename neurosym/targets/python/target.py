r"""Python as a loop target: program-aided answers to word problems, run in the sandbox.

The model writes ``def solution():`` returning the answer (see :mod:`neurosym.targets.python.translator`);
the program runs in :mod:`neurosym.provers.sandbox` (never in this process) and its return value is the
answer. Exceptions, time-outs and non-numeric returns become ``invalid`` or ``timeout`` verdicts
whose feedback (the trimmed traceback, say) goes back to the model in a repair prompt.

Answers are compared as numbers with a stated tolerance (:data:`REL_TOL`, :data:`ABS_TOL`);
exact forms that are not plain numbers (``sqrt(2)/2``) are compared by SymPy inside the sandbox.

Example:
    >>> from neurosym.types import Problem
    >>> target = PythonTarget()
    >>> problem = Problem("Tom has 3 apples and buys 4 more. How many apples does he have?")
    >>> f = target.parse(problem, "```python\ndef solution():\n    return 3 + 4\n```")
    >>> verdict = target.check(f, timeout_s=10)
    >>> verdict.status, verdict.answer.value, target.answer_key(verdict)
    ('computed', 7.0, 7)

"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from neurosym.provers.sandbox import Execution, Limits, SandboxUnavailable, default_sandbox
from neurosym.targets.python.translator import ENTRY_POINT, build_python_request, extract_program
from neurosym.translators.base import GenerationRequest, Message
from neurosym.types import Formalization, NumberAnswer, Problem, Verdict

__all__ = ["ABS_TOL", "REL_TOL", "ProgramRun", "PythonTarget", "execution_verdict", "number_key", "numbers_match"]

REL_TOL = 1e-6
"""Relative tolerance under which two numeric answers are the same answer."""
ABS_TOL = 1e-9
"""Absolute tolerance, for answers near zero."""
PROVER = "python-sandbox"
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FRACTION = re.compile(r"^[+-]?\d+/\d+$")


def numbers_match(a: float, b: float, *, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    """Whether two numeric answers agree within the tolerance.

    Example:
        >>> numbers_match(0.1 + 0.2, 0.3), numbers_match(18.0, 18.5)
        (True, False)

    """
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


@dataclass(frozen=True)
class ProgramRun:
    """The evidence for a computed answer: the program, what it returned and printed, and its cost."""

    KIND: ClassVar[str] = "program_run"
    program: str
    returned: str
    stdout: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": "program_run", "program": self.program, "returned": self.returned, "stdout": self.stdout,
                "wall_s": round(self.wall_s, 6), "cpu_s": round(self.cpu_s, 6)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProgramRun:
        """Read back :meth:`to_dict`."""
        return cls(data["program"], data["returned"], data.get("stdout", ""),
                   float(data.get("wall_s", 0.0)), float(data.get("cpu_s", 0.0)))  # fmt: skip

    def render(self) -> str:
        """The program and its output, for people."""
        lines = ["Program:", *("    " + line for line in self.program.rstrip("\n").splitlines())]
        if self.stdout.strip():
            lines += ["Printed:", *("    " + line for line in self.stdout.rstrip("\n").splitlines()[:20])]
        lines.append(f"solution() returned {self.returned}  (ran {self.wall_s * 1000:.0f} ms in the sandbox)")
        return "\n".join(lines)


def _trim(text: str, limit: int = 1200) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


@dataclass(frozen=True)
class PythonTarget:
    """Word problems with a numeric answer, through a program run in the sandbox.

    Args:
        limits: the sandbox limits for each run (the loop's prover timeout caps ``wall_s``).
        shots: how many worked examples the prompt shows (default all four).
        rel_tol, abs_tol: when two numeric answers are the same.

    """

    name: ClassVar[str] = "python"
    limits: Limits = field(default_factory=lambda: Limits(wall_s=10.0, cpu_s=10.0))
    shots: int | None = None
    rel_tol: float = REL_TOL
    abs_tol: float = ABS_TOL

    def request(self, problem: Problem) -> GenerationRequest:
        """The few-shot program-aided prompt for ``problem``'s text (or its question)."""
        return build_python_request(problem.text or problem.question or "", shots=self.shots)

    def parse(self, problem: Problem, output: str) -> Formalization:
        """Extract and syntax-check the program (nothing runs); raises ParseError with the reason."""
        program = extract_program(output, entry_point=ENTRY_POINT)
        return Formalization("python", program, program)

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Run the program in this process's sandbox and turn what it returned into a verdict."""
        limits = replace(self.limits, wall_s=min(self.limits.wall_s, timeout_s))
        try:
            run = default_sandbox().run(formalization.source, call=ENTRY_POINT, limits=limits)
        except SandboxUnavailable as exc:
            return Verdict("unknown", message=f"the sandbox cannot run here: {exc}", prover=PROVER)
        return execution_verdict(formalization.source, run)

    def fingerprint(self) -> dict[str, Any]:
        """What its verdicts depend on besides the program: its limits and tolerances (cache keys).

        Example:
            >>> PythonTarget().fingerprint()["target"]["limits"]["wall_s"]
            10.0

        """
        return {"target": dataclasses.asdict(self)}

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """A vote key: the number rounded to the tolerance (integers as ``int``)."""
        if not verdict.decided or not isinstance(verdict.answer, NumberAnswer):
            return None
        return number_key(verdict.answer.value, self.rel_tol)

    def same_answer(self, answer: NumberAnswer, gold: str | float) -> bool:
        """Whether ``answer`` equals ``gold``: within the tolerance, or exactly by SymPy (in the sandbox).

        Example:
            >>> PythonTarget().same_answer(NumberAnswer(0.7071067811865476, "sqrt(2)/2"), "1/sqrt(2)")
            True

        """
        gold_text = str(gold).strip().replace(",", "")
        if _PLAIN_NUMBER.match(gold_text) or isinstance(gold, (int, float)):
            return numbers_match(answer.value, float(gold_text), rel_tol=self.rel_tol, abs_tol=self.abs_tol)
        exact = answer.exact or repr(answer.value)
        if exact == gold_text:
            return True
        return default_sandbox().sympy_equal(exact, gold_text) is True

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """Show the model its program and what went wrong (the trimmed traceback, say); ask again.

        Example:
            >>> from neurosym.types import Problem
            >>> t, p = PythonTarget(), Problem("What is 2 + 2?")
            >>> r = t.repair_request(p, t.request(p), "def solution(): return 2 +", "syntax error")
            >>> r.messages[-1].content.splitlines()[0]
            'Your program has a problem: syntax error'

        """
        follow_up = (
            f"Your program has a problem: {feedback.strip()}\n"
            "Write the whole program again, corrected, as one ```python block with def solution()."
        )
        messages = (*previous.messages, Message("assistant", output), Message("user", follow_up))
        return GenerationRequest(messages, previous.constraint)


def number_key(value: float, rel_tol: float = REL_TOL) -> Hashable:
    """Vote key of a number: an ``int`` when it is whole within the tolerance, else rounded.

    Example:
        >>> number_key(18.0000000001), number_key(2.5), number_key(1 / 3)
        (18, 2.5, 0.333333)

    """
    nearest = round(value)
    if abs(value - nearest) <= rel_tol * max(1.0, abs(value)):
        return int(nearest)
    digits = max(1, round(-math.log10(rel_tol)))
    return float(f"{value:.{digits}g}")


def execution_verdict(program: str, run: Execution) -> Verdict:
    r"""The verdict on one sandbox run of a ``solution()`` program (feedback written for the model).

    Example:
        >>> execution_verdict("...", Execution("error", exception="ZeroDivisionError",
        ...     traceback="ZeroDivisionError: division by zero")).feedback
        'solution() raised an exception:\nZeroDivisionError: division by zero'

    """
    common: dict[str, Any] = {"prover": PROVER, "elapsed_s": run.wall_s, "details": {"execution": run.to_dict()}}
    if run.status == "ok":
        number = run.number
        value = run.value or {}
        if number is not None:
            exact = value.get("text")
            certificate = ProgramRun(program, str(exact), run.stdout, run.wall_s, run.cpu_s)
            return Verdict("computed", answer=NumberAnswer(number, exact=exact), certificate=certificate, **common)
        kind, text = value.get("type", "value"), value.get("text")
        if kind == "int" and text is None:
            problem = f"solution() returned an integer with {value.get('digits')} digits, too large to be an answer"
        elif kind in ("float", "sympy", "rational") and text is not None:
            problem = f"solution() returned {text}, which is not a finite real number"
        else:
            problem = f"solution() returned {kind} {text!r}; it must return the answer as a number"
        return Verdict("invalid", feedback=problem, message=problem, **common)
    if run.status == "timeout":
        problem = f"the program did not finish: {run.message}. Compute the answer directly, without long loops."
        return Verdict("timeout", feedback=problem, message=run.message, **common)
    if run.status == "error":
        problem = "solution() raised an exception:\n" + _trim(run.traceback or f"{run.exception}: {run.message}")
        return Verdict("invalid", feedback=problem, message=f"{run.exception}: {run.message}", **common)
    if run.status == "memory":
        problem = "the program ran out of memory; compute the answer without building huge lists or numbers"
        return Verdict("invalid", feedback=problem, message="MemoryError", **common)
    if run.status == "output_limit":
        problem = "the program printed far too much; return the answer instead of printing"
        return Verdict("invalid", feedback=problem, message=run.message, **common)
    if run.details.get("signal"):  # the program itself died (deep recursion, a file too large)
        problem = f"the program crashed: {run.message}. Avoid deep recursion; use a loop or a formula."
        return Verdict("invalid", feedback=problem, message=run.message, **common)
    return Verdict("unknown", message=f"the sandbox failed: {run.message}", **common)
