"""The FOLIO gold run: all 204 validation items through the parser and both provers.

The figures asserted are the ones the benchmark (python -m benchmarks.folio_gold) measured and
the README states.
"""

import pytest

from benchmarks.folio_gold import DEFAULT_DATA, load_items, run, summarize
from neurosym.provers.eprover import EProver

pytestmark = pytest.mark.slow

# Items whose gold FOL does not give the gold label (see README).
MALFORMED = {2, 87, 108, 109, 110}
WRONG_LABEL = {5, 27, 29, 47, 112, 114, 138, 139}


@pytest.fixture(scope="module")
def summary():
    if not DEFAULT_DATA.exists():
        pytest.fail(f"benchmark data missing: {DEFAULT_DATA}")
    items = load_items(DEFAULT_DATA)
    assert len(items) == 204
    rows = list(run(items, timeout=20.0, with_e=EProver().available(), out=None))
    return summarize(rows)


def test_parse_rate(summary):
    assert summary["parsed"] == 199


def test_accuracy_matches_the_best_published_converter(summary):
    assert summary["z3_correct"] == 191
    assert {w["index"] for w in summary["wrong"]} == MALFORMED | WRONG_LABEL


def test_no_item_is_left_undecided(summary):
    assert summary["z3_statuses"].get("timeout", 0) == 0
    assert summary["z3_statuses"].get("unknown", 0) == 0
    assert summary["z3_statuses"]["invalid"] == len(MALFORMED)


@pytest.mark.eprover
def test_z3_and_e_agree_on_every_item(summary):
    if "agree" not in summary:
        pytest.skip("the E prover (eprover) is not installed")
    assert summary["agree"] == 204
    assert summary["eprover_correct"] == 191
