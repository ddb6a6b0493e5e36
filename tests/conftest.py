"""Fixtures shared by the unit tests: the FOLIO gold formulas and the E prover."""

import json
from pathlib import Path

import pytest

from neurosym.provers.eprover import EProver

FOLIO_VALIDATION = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "logic" / "FOLIO" / "folio-v0.0"
) / "folio-validation.jsonl"


@pytest.fixture(scope="session")
def folio_items():
    """The 204 FOLIO validation items as dicts (premises-FOL, conclusion-FOL, label)."""
    if not FOLIO_VALIDATION.exists():
        pytest.fail(f"FOLIO validation data missing: {FOLIO_VALIDATION}")
    with FOLIO_VALIDATION.open(encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle if line.strip()]
    assert len(items) == 204
    return items


@pytest.fixture
def e_prover():
    """An EProver; the test is skipped, with the reason, when the binary is not installed."""
    prover = EProver()
    if not prover.available():
        pytest.skip("the E prover binary 'eprover' is not on PATH (apt-get install eprover)")
    return prover


@pytest.fixture(autouse=True)
def _no_live_requests(monkeypatch):
    """No test reaches a real model unless it asks for the allow_live_requests fixture."""
    import neurosym.translators.base as translators_base

    monkeypatch.setattr(translators_base, "ALLOW_LIVE_REQUESTS", False)


@pytest.fixture
def allow_live_requests(monkeypatch):
    """Opt in to real model requests (a local server or the embedded model)."""
    import neurosym.translators.base as translators_base

    monkeypatch.setattr(translators_base, "ALLOW_LIVE_REQUESTS", True)


@pytest.fixture
def sandbox_available():
    """Skip, with what is missing, where the Python sandbox cannot run (no bwrap or libseccomp)."""
    from neurosym.provers.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem is not None:
        pytest.skip(f"the Python sandbox cannot run here: {problem}")
