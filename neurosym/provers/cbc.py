r"""CBC (the binary PuLP bundles, through PuLP) as a prover for ``milp`` formalizations.

CBC runs as a child process (:func:`neurosym.processes.run`) in a private temporary folder that
is removed even when CBC fails or is killed. CBC reads its clock only between steps of its search,
so its own ``-sec`` does not bound a solve: the whole process tree is killed :data:`CBC_GRACE_S`
after the time limit. It runs its serial search: ``-threads 1`` made CBC 2.10.3 stall for 10 s now
and then (see :meth:`CbcProver._engine`).

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> from neurosym.types import Formalization
    >>> verdict = CbcProver().check(Formalization("milp", "integer x\nmaximize x\nx >= 2\nx <= 1"))
    >>> verdict.status, verdict.prover
    ('inconsistent', 'cbc')

"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from neurosym import processes
from neurosym.deadlines import Deadline
from neurosym.errors import SolverUnavailableError
from neurosym.provers._pulp import PulpProver

__all__ = ["CBC_GRACE_S", "CbcProver", "cbc_path"]

CBC_GRACE_S = 0.5
"""How long CBC may run past its own time limit before it is killed (it reads its clock between steps)."""


def _bundled_cbc() -> Path | None:
    """PuLP's bundled CBC binary, if this PuLP has one (PuLP is imported, nothing else happens)."""
    if importlib.util.find_spec("pulp") is None:
        return None
    from pulp.apis import coin_api

    bundled = Path(coin_api.pulp_cbc_path)
    return bundled if bundled.is_file() else None


def cbc_path() -> str:
    """The CBC binary: the stable CBC 2.10 that PuLP bundles, else ``cbc`` on PATH.

    Not the ``cbcbox`` wheel (PuLP's suggested replacement): its development build 2.935 calls
    feasible integer programs infeasible (a bound-tightening bug; tests/milp has the instance).

    Raises:
        SolverUnavailableError: neither is there.

    Example:
        >>> os.access(cbc_path(), os.X_OK)
        True

    """
    bundled = _bundled_cbc()
    if bundled is not None:
        if not os.access(bundled, os.X_OK):  # wheels unpacked without the executable bit
            bundled.chmod(bundled.stat().st_mode | 0o111)
        return str(bundled.resolve())
    found = shutil.which("cbc")
    if found is None:
        raise SolverUnavailableError("CBC is not installed: put a cbc binary (CBC 2.10) on PATH", solver="cbc")
    return found


@functools.cache
def _cbc_solver_class() -> type:
    """PuLP's ``COIN_CMD`` with a hard wall: the process tree is killed :data:`CBC_GRACE_S` after its time limit.

    The files go to a private folder that is removed even when CBC is killed or fails.
    ``status_line`` keeps CBC's own first line of the solution file ("Stopped on time - ..."),
    ``log`` what it printed and ``killed`` whether it had to be killed.
    """
    import pulp

    class DeadlineCbc(pulp.COIN_CMD):
        status_line = ""
        log = ""
        killed = False

        def solve_CBC(self, lp: Any, use_mps: bool = True) -> int:  # PuLP's name for the method it calls
            with tempfile.TemporaryDirectory(prefix="neurosym-cbc-") as folder:
                mps, sol = os.path.join(folder, "model.mps"), os.path.join(folder, "model.sol")
                variables, variable_names, constraint_names, _ = lp.writeMPS(mps, rename=1)
                args = [self.path, mps, *(["-max"] if lp.sense == pulp.LpMaximize else [])]
                args += ["-sec", repr(self.timeLimit)]
                for option in self.options + self.getOptions():
                    args += f"-{option}".split()
                args += ["-solve" if self.mip else "-initialSolve", "-printingOptions", "all", "-solution", sol]
                done = processes.run(args, deadline=Deadline.after(self.timeLimit + CBC_GRACE_S), merge_output=True)
                self.log = done.stdout
                if done.killed:
                    self.killed = True
                    lp.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
                    not_solved: int = pulp.LpStatusNotSolved  # PuLP is untyped: its status codes are ints
                    return not_solved
                if done.returncode != 0 or not os.path.exists(sol):
                    last = (self.log.strip().splitlines() or ["no output"])[-1]
                    raise pulp.PulpSolverError(f"CBC exited with code {done.returncode}: {last}")
                with open(sol, encoding="utf-8", errors="replace") as solution:
                    self.status_line = solution.readline().strip()
                status, values, reduced, shadow, slacks, sol_status = self.readsol_MPS(
                    sol, lp, variables, variable_names, constraint_names
                )
            lp.assignVarsVals(values)
            lp.assignVarsDj(reduced)
            lp.assignConsPi(shadow)
            lp.assignConsSlack(slacks, activity=True)
            lp.assignStatus(status, sol_status)
            solved: int = status  # PuLP is untyped: its status codes are ints
            return solved

    return DeadlineCbc


class CbcProver(PulpProver):
    """The CBC solver through PuLP, run as a child process killed at its deadline: one solve, its own verdict.

    Example:
        >>> CbcProver().available(), CbcProver().to_dict()["name"]
        (True, 'cbc')

    """

    name: ClassVar[str] = "cbc"
    display_name: ClassVar[str] = "CBC"
    kill_grace_s: ClassVar[float | None] = CBC_GRACE_S

    def available(self) -> bool:
        """True when PuLP's bundled CBC or a ``cbc`` on PATH is there (nothing is run or changed)."""
        try:
            return _bundled_cbc() is not None or shutil.which("cbc") is not None
        except ImportError:  # a PuLP too broken to import
            return False

    def to_dict(self) -> dict[str, Any]:
        """The solver's name, PuLP's version and the binary used (CBC prints its version only when run)."""
        try:
            pulp_version: str | None = metadata.version("pulp")
        except metadata.PackageNotFoundError:
            pulp_version = None
        binary = _bundled_cbc() or shutil.which("cbc")
        return {"name": self.name, "pulp": pulp_version, "binary": str(binary) if binary else None, "threads": "serial"}

    def _engine(self, time_limit: float) -> Any:
        # No ``threads``: CBC's default, 0, is its serial search. With ``-threads 1`` CBC 2.10.3 starts
        # a worker thread that can miss the wake-up its start-up handshake sends (the signal is sent
        # without the worker's mutex held); it then sleeps out a 10 s timed wait (CbcThread::waitThread)
        # and the solve ends "Stopped on time" with the optimum found in milliseconds.
        return _cbc_solver_class()(path=cbc_path(), msg=False, timeLimit=time_limit, gapRel=1e-9, timeMode="elapsed")

    def _stopped_by(self, engine: Any, prob: Any) -> tuple[bool, str]:
        if engine.killed:
            return True, "killed"
        return engine.status_line.startswith("Stopped on time"), engine.status_line
