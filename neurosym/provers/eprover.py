"""Decide FOL entailment with the E theorem prover, an independent check on Z3.

The problem goes to E in TPTP (see :mod:`neurosym.fol.export`) twice, in parallel: once with the
conclusion as the conjecture and once with its negation. E's SZS statuses decide the verdict:

=====================  =====================  ===================================================
conjecture C           conjecture ¬C          verdict
=====================  =====================  ===================================================
Theorem                CounterSatisfiable     ``proved`` (True); certificate: axioms in the proof
CounterSatisfiable     Theorem                ``disproved`` (False)
CounterSatisfiable     CounterSatisfiable     ``uncertain`` (E saturated both without a proof)
ContradictoryAxioms or Theorem on both        ``inconsistent``
anything else          —                      ``timeout`` (ResourceOut) or ``unknown`` (GaveUp)
=====================  =====================  ===================================================

E is the Debian/Ubuntu package ``eprover``; :meth:`EProver.available` looks for it on ``PATH``.

**Deadlines.** One :class:`~neurosym.deadlines.Deadline` (the earlier of ``timeout_s`` and the
``deadline`` passed in) covers both runs. Each run gets E's own CPU limit (the seconds left, rounded
up: E takes whole seconds) and a wall deadline: each run is its own process group (session), and a
run still going :data:`WALL_GRACE_S` after the deadline is killed with everything it started
(:func:`neurosym.processes.kill_tree`), so a loaded machine (CPU time lagging wall time) or a hung
binary cannot hold the call. E writes to files, not pipes, so neither run can block on a full pipe
while the other is waited for.

Example:
    >>> from neurosym.fol import parse_formulas
    >>> *premises, conclusion = parse_formulas(["∀x (Dog(x) → Animal(x))", "Dog(rex)", "Animal(rex)"])
    >>> prover = EProver()
    >>> prover.prove(premises, conclusion, timeout_s=5).status if prover.available() else "proved"
    'proved'

"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from neurosym import processes
from neurosym.deadlines import Deadline
from neurosym.errors import SolverCrashedError, SolverUnavailableError
from neurosym.fol.certificates import PremisesUsed
from neurosym.fol.export import tptp_problem
from neurosym.fol.syntax import Formula, Not, to_text
from neurosym.provers._fol import entailment_problem
from neurosym.provers.base import prover_deadline
from neurosym.types import EntailmentLabel, Formalization, Status, Verdict

__all__ = ["WALL_GRACE_S", "EProver"]

WALL_GRACE_S = 0.1
"""Seconds past the deadline before a run still going is killed: time for E to write its own status."""

_MIN_START_S = 0.05  # with less time left than this, starting E cannot pay off: report a timeout at once

_SZS = re.compile(r"^# SZS status (\w+)", re.MULTILINE)
_AXIOM_USED = re.compile(r"^fof\(p(\d+), axiom,", re.MULTILINE)
_PROVED = {"Theorem", "ContradictoryAxioms", "Unsatisfiable"}
_NOT_PROVED = {"CounterSatisfiable", "Satisfiable"}
_OUT_OF_TIME = {"ResourceOut", "Timeout"}


@dataclass(frozen=True, slots=True)
class _Run:
    status: str  # an SZS status, or "Timeout"/"Crashed"
    output: str
    axioms_used: tuple[int, ...]


class EProver:
    """FOL entailment through the E prover binary.

    Args:
        executable: the ``eprover`` binary (looked up on ``PATH`` by default).
        memory_limit_mb: E's own memory limit per run.

    Example:
        >>> EProver(executable="no-such-eprover").available()
        False

    """

    name: ClassVar[str] = "eprover"
    target: ClassVar[str] = "fol"

    def __init__(self, *, executable: str = "eprover", memory_limit_mb: int = 2048) -> None:
        self.executable = executable
        self.memory_limit_mb = memory_limit_mb

    def available(self) -> bool:
        """True when the E binary is on ``PATH``."""
        return shutil.which(self.executable) is not None

    def version(self) -> str:
        """E's version line, e.g. ``E 2.6 Floral Guranse``."""
        path = self._path()
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.strip().split("(")[0].strip()

    def to_dict(self) -> dict[str, Any]:
        """The prover's settings, for results files."""
        return {
            "name": self.name,
            "version": self.version() if self.available() else None,
            "memory_limit_mb": self.memory_limit_mb,
        }

    def _path(self) -> str:
        path = shutil.which(self.executable)
        if path is None:
            raise SolverUnavailableError(
                f"the E prover ({self.executable!r}) is not installed; on Debian or Ubuntu: apt-get install eprover",
                solver=self.name,
            )
        return path

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Decide a FOL formalization whose ``parsed`` is an :class:`EntailmentProblem` (or whose source is one).

        ``timeout_s`` and ``deadline`` as in :meth:`prove`. A formalization without a parsed problem
        is read from its source (premises a line each, the conclusion's line starting with ``⊢``);
        one that does not parse is an ``invalid`` verdict.

        Example:
            >>> from neurosym.fol import parse_formula
            >>> from neurosym.fol.syntax import EntailmentProblem
            >>> problem = EntailmentProblem((), parse_formula("P(a)"))
            >>> EProver().check(Formalization("fol", "⊢ P(a)", problem), timeout_s=-1)
            Traceback (most recent call last):
            ...
            neurosym.errors.ConfigurationError: timeout_s must be a finite number of seconds greater than 0, got -1

        """
        prover_deadline(timeout_s, deadline)  # refuse a bad time limit before looking at the problem
        problem = entailment_problem(formalization, self.name)
        if isinstance(problem, Verdict):  # a source that does not parse
            return problem
        return self.prove(problem.premises, problem.conclusion, timeout_s=timeout_s, deadline=deadline)

    def prove(
        self,
        premises: Sequence[Formula],
        conclusion: Formula,
        *,
        timeout_s: float = 10.0,
        deadline: Deadline | None = None,
    ) -> Verdict:
        """Decide whether ``premises`` entail ``conclusion``, its negation, or neither.

        The call returns by the earlier of ``timeout_s`` seconds and ``deadline`` (shared with
        other steps), plus :data:`WALL_GRACE_S`; runs still going then are killed.

        Raises:
            ConfigurationError: ``timeout_s`` is not a finite number of seconds above 0.
            SolverUnavailableError: E is not installed.
            SolverCrashedError: E ended without an SZS status.

        Example:
            >>> from neurosym.fol import parse_formula
            >>> EProver().prove([], parse_formula("P(a)"), timeout_s=float("inf"))
            Traceback (most recent call last):
            ...
            neurosym.errors.ConfigurationError: timeout_s must be a finite number of seconds greater than 0, got inf

        """
        limit = prover_deadline(timeout_s, deadline)
        path = self._path()
        started = time.perf_counter()
        if limit.left() < _MIN_START_S:
            pos = neg = _Run("Timeout", "", ())
        else:
            with tempfile.TemporaryDirectory(prefix="neurosym-e-") as tmp:
                positive = Path(tmp, "conclusion.p")
                negative = Path(tmp, "negation.p")
                positive.write_text(tptp_problem(premises, conclusion) + "\n", encoding="utf-8")
                negative.write_text(tptp_problem(premises, Not(conclusion)) + "\n", encoding="utf-8")
                pos, neg = self._run_all([positive, negative], path, limit)

        def done(status: Status, **kw: Any) -> Verdict:
            return Verdict(
                status,
                prover=self.name,
                elapsed_s=time.perf_counter() - started,
                message=f"SZS status {pos.status} (conclusion), {neg.status} (negation)",
                details={"szs": {"conclusion": pos.status, "negation": neg.status}},
                **kw,
            )

        def used(run: _Run) -> PremisesUsed:
            return PremisesUsed(run.axioms_used, tuple(to_text(premises[i]) for i in run.axioms_used))

        if "ContradictoryAxioms" in (pos.status, neg.status) or (pos.status in _PROVED and neg.status in _PROVED):
            contradiction = pos if pos.status == "ContradictoryAxioms" else neg
            return done(
                "inconsistent",
                certificate=used(contradiction),
                feedback="The premises contradict each other, so any conclusion would follow.",
            )
        if pos.status in _PROVED and neg.status in _NOT_PROVED:
            return done("proved", answer=EntailmentLabel.TRUE, certificate=used(pos))
        if neg.status in _PROVED and pos.status in _NOT_PROVED:
            return done("disproved", answer=EntailmentLabel.FALSE, certificate=used(neg))
        if pos.status in _NOT_PROVED and neg.status in _NOT_PROVED:
            return done("uncertain", answer=EntailmentLabel.UNCERTAIN)
        if pos.status in _PROVED:  # the other run did not finish; the proof alone still stands
            return done("proved", answer=EntailmentLabel.TRUE, certificate=used(pos))
        if neg.status in _PROVED:
            return done("disproved", answer=EntailmentLabel.FALSE, certificate=used(neg))
        if "Crashed" in (pos.status, neg.status):
            crashed = pos if pos.status == "Crashed" else neg
            raise SolverCrashedError(f"E produced no SZS status: {crashed.output[-500:]}", solver=self.name)
        timed_out = {pos.status, neg.status} & _OUT_OF_TIME
        return done("timeout" if timed_out else "unknown")

    def _run_all(self, problems: list[Path], path: str, deadline: Deadline) -> list[_Run]:
        cpu_limit = max(1, math.ceil(deadline.left()))
        procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        try:
            for problem in problems:
                output = problem.with_suffix(".out")
                with output.open("wb") as sink:  # the child keeps its own copy of the descriptor
                    argv = [path, "--auto", "-s", "--proof-object", f"--cpu-limit={cpu_limit}",
                            f"--memory-limit={self.memory_limit_mb}", str(problem)]  # fmt: skip
                    # Its own session and process group, so a kill takes E and all it started.
                    proc = processes.spawn(argv, stdout=sink, stderr=subprocess.STDOUT)
                procs.append((proc, output))
            kill_at = Deadline(deadline.at + WALL_GRACE_S)  # one moment for both runs, not a grace each
            runs = []
            for proc, output in procs:
                if processes.wait(proc, kill_at) is None:
                    processes.kill_and_reap(proc)
                    runs.append(_Run("Timeout", _read(output), ()))
                    continue
                text = _read(output)
                found = _SZS.findall(text)
                status = found[-1] if found else "Crashed"
                used = tuple(sorted({int(i) for i in _AXIOM_USED.findall(text)})) if status in _PROVED else ()
                runs.append(_Run(status, text, used))
            return runs
        finally:  # nothing E started outlives the call, even after an error or an interrupt above
            for proc, _ in procs:
                processes.kill_and_reap(proc)


def _read(output: Path) -> str:
    return output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
