"""The prover contract for the Lean prover on machines without Lean: run against LeanReplTestDouble.

``TestLeanContract`` (in test_prover_contract.py) runs the contract with real Lean where a REPL is
configured, and skips elsewhere, which is everywhere neurosym is built. Here the same contract
drives :class:`~neurosym.provers.lean.LeanProver` through tests/provers/lean_repl_test_double.py,
a clearly named stand-in that speaks the REPL's documented JSON protocol and decides by fixed
rules (it checks no proof: ``bogus`` is an error, ``hang`` never answers). What this shows is the
client's side of the contract: verdicts, not exceptions; deadlines that hold; timeouts refused
when they are not positive and finite; the dict forms. Whether Lean accepts a proof is for the
real-Lean tests.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from neurosym.provers.lean import LeanProver, LeanRepl, LeanSetup, LeanTask
from neurosym.types import Formalization

_CONTRACT = Path(__file__).with_name("test_prover_contract.py")
_spec = importlib.util.spec_from_file_location("neurosym_tests_prover_contract", _CONTRACT)
assert _spec is not None and _spec.loader is not None
_contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_contract)
ProverContract = _contract.ProverContract

DOUBLE = Path(__file__).parents[1] / "provers" / "lean_repl_test_double.py"


def lean(script: str, statement: str | None) -> Formalization:
    """A Lean proof task as the lean target builds it."""
    task = LeanTask(script, "", statement)
    return Formalization("lean", task.source, task)


class TestLeanProverOnTheReplTestDoubleContract(ProverContract):
    """The Lean prover's client side of the contract, against the REPL test double (not Lean)."""

    true_statuses: ClassVar[set[str]] = {"proved"}
    false_statuses: ClassVar[set[str]] = {"invalid"}

    @pytest.fixture(autouse=True)
    def _one_double_per_test(self):
        self._repl = LeanRepl([sys.executable, str(DOUBLE)])
        yield
        self._repl.close()

    def make_prover(self) -> LeanProver:
        repl = getattr(self, "_repl", None) or LeanRepl([sys.executable, str(DOUBLE)])
        return LeanProver(setup=LeanSetup(tuple(repl.argv)), _repl=repl)

    def true_case(self) -> Formalization:
        return lean("theorem t : 2 + 2 = 4 := by\n  decide", "theorem t : 2 + 2 = 4")

    def false_case(self) -> Formalization:
        return lean("theorem t : 2 + 2 = 5 := by\n  bogus", "theorem t : 2 + 2 = 5")  # the double's error

    def malformed_case(self) -> Formalization:
        # The double parses nothing, so the malformed case is one the client itself must refuse: not Lean at all.
        return Formalization("lean", "Sure! The proof is by induction on n, and the claim follows.")

    def hard_case(self) -> Formalization:
        return lean("theorem t : True := by\n  hang", "theorem t : True")  # the double never answers
