"""Optimization benchmark data (the data folder's opt/): NL4Opt formulations and gold sets, MAMO, IndustryOR.

The loaders moved to :mod:`neurosym.bench.suites.opt_data`, so that the benchmarks run from the
installed package; the data folder is ``$NEUROSYM_DATA`` (else the checkout's ``../shared/data``,
see :mod:`neurosym.bench.data`). This module keeps the names the benchmark scripts and their
tests import, and the files' paths as constants.

Example:
    >>> NL4OPT_TEST.name, NL4OPT_CROSSCHECK.name
    ('test.jsonl', 'nl4opt_test_crosscheck.json')
    >>> consensus({"SIRL": 10.0, "LLMOPT": 10.0004, "NL4OPT-E": None})
    10.0

"""

from __future__ import annotations

from neurosym.bench.data import dataset
from neurosym.bench.suites.opt_data import (
    ALL_GOLD_SETS,
    CORRECTED_GOLD_SETS,
    GOLD_REL_TOL,
    NO_SOLUTION,
    Nl4OptItem,
    OptItem,
    annotation_model,
    consensus,
    gold_matches,
    load_industryor,
    load_mamo,
    load_nl4opt_test,
    nl4opt_golds,
    parse_quantity,
)

__all__ = [
    "ALL_GOLD_SETS",
    "CORRECTED_GOLD_SETS",
    "DATA",
    "GOLD_REL_TOL",
    "NL4OPT_CROSSCHECK",
    "NL4OPT_TEST",
    "NO_SOLUTION",
    "Nl4OptItem",
    "OptItem",
    "annotation_model",
    "consensus",
    "gold_matches",
    "load_industryor",
    "load_mamo",
    "load_nl4opt_test",
    "nl4opt_golds",
    "parse_quantity",
]

NL4OPT_TEST = dataset("nl4opt-test").locate()
NL4OPT_CROSSCHECK = dataset("nl4opt-crosscheck").locate()
DATA = dataset("mamo").locate().parent
"""The data folder's ``opt/``."""
