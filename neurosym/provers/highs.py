r"""HiGHS (the ``highspy`` package, through PuLP) as a prover for ``milp`` formalizations.

HiGHS runs in this process, single-threaded, with a relative gap of 1e-9 and its own time limit,
which it keeps. Its copyright banner, printed from C++ on the first ``Highs()`` of a process, is
sent to ``/dev/null`` once (see :func:`silence_banner`).

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> from neurosym.types import Formalization
    >>> verdict = HighsProver().check(Formalization("milp", "", parse_model("integer x\nmaximize x\n2 x <= 5")))
    >>> verdict.status, verdict.answer.objective, verdict.prover
    ('optimal', 2.0, 'highs')

"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from importlib import metadata
from typing import Any, ClassVar

from neurosym.provers._pulp import PulpProver

__all__ = ["HighsProver", "silence_banner"]


@functools.cache
def silence_banner() -> None:
    """Construct one ``Highs`` with file descriptor 1 on /dev/null.

    highspy 1.16 prints its copyright banner from C++ on the first ``Highs()`` of a process, before
    PuLP can turn its output off; it would land in the middle of ``neurosym solve``'s report.
    """
    try:
        import highspy
    except ImportError:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class HighsProver(PulpProver):
    """The HiGHS solver (``highspy``) through PuLP: one solve, this solver's own verdict.

    Example:
        >>> HighsProver().available(), HighsProver().to_dict()["name"]
        (True, 'highs')

    """

    name: ClassVar[str] = "highs"
    display_name: ClassVar[str] = "HiGHS"

    def available(self) -> bool:
        """True when ``highspy`` and PuLP are installed (nothing is imported)."""
        return importlib.util.find_spec("highspy") is not None and importlib.util.find_spec("pulp") is not None

    def to_dict(self) -> dict[str, Any]:
        """The solver's name and the versions of highspy and PuLP."""
        versions: dict[str, str | None] = {}
        for package in ("highspy", "pulp"):
            try:
                versions[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                versions[package] = None
        return {"name": self.name, "version": versions["highspy"], "pulp": versions["pulp"], "threads": 1}

    def _engine(self, time_limit: float) -> Any:
        import pulp

        silence_banner()
        return pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=1e-9, threads=1)

    def _stopped_by(self, engine: Any, prob: Any) -> tuple[bool, str]:
        highs = getattr(prob, "solverModel", None)
        if highs is None or not hasattr(highs, "getModelStatus"):
            return False, ""
        import highspy

        status = highs.getModelStatus()
        return status == highspy.HighsModelStatus.kTimeLimit, highs.modelStatusToString(status)
