"""Every converted NL4Opt formulation out to LP and MPS and back: the same model, the same optimum from both solvers.

The 289 official test formulations (as annotated, and with every variable integer) are written by
HiGHS, read back by HiGHS's readers into the modeling language, and solved by HiGHS and CBC; each
solver's optimum must be the one the original model has. Needs the shared data folder
(``$NEUROSYM_DATA`` or ``../shared/data``): skipped, with the reason, where it is absent.
"""

from __future__ import annotations

import math

import pytest

from neurosym.bench.data import DATA_ENV, dataset
from neurosym.milp.files import load_model_text, model_to_lp, model_to_mps
from neurosym.milp.parser import parse_model
from neurosym.milp.solve import OBJ_REL_TOL, solve_model

OFFICIAL_TEST_PROBLEMS = 289


@pytest.fixture(scope="module")
def formulations():
    """(id, variant, model) for every official formulation, both variants."""
    path = dataset("nl4opt-test").locate()
    if not path.is_file():
        pytest.skip(f"the NL4Opt test set is not at {path}: set {DATA_ENV} to the folder that holds opt/")
    from neurosym.bench.suites.opt_data import annotation_model, load_nl4opt_test

    items = load_nl4opt_test(path)
    assert len(items) == OFFICIAL_TEST_PROBLEMS
    return [
        (item.id, variant, parse_model(annotation_model(item.annotation, integer=variant == "integer")))
        for item in items
        for variant in ("lp", "integer")
    ]


def shape(model):
    """The model up to the order of the variables and of a row's terms.

    HiGHS keeps the matrix by column, and an LP file's reader numbers the variables in the order
    they first appear (the objective's first).
    """
    rows = [(c.name, c.sense, c.rhs, c.expr.coefficients) for c in model.constraints]
    variables = sorted(model.variables, key=lambda v: v.name)
    return variables, model.sense, model.objective.coefficients, model.objective.constant, rows


@pytest.mark.slow
def test_every_formulation_survives_lp_and_mps_with_the_same_optimum_from_both_solvers(formulations):
    problems: list[str] = []
    statuses: dict[str, int] = {}
    for item_id, variant, model in formulations:
        original = solve_model(model, sensitivity=False)
        statuses[original.status] = statuses.get(original.status, 0) + 1
        for fmt, write in (("lp", model_to_lp), ("mps", model_to_mps)):
            loaded = load_model_text(write(model), fmt)
            where = f"{item_id} ({variant}, {fmt})"
            if loaded.notes:
                problems.append(f"{where}: reading it back changed it: {loaded.notes}")
            if shape(loaded.model) != shape(model):
                problems.append(f"{where}: the model read back differs")
            again = solve_model(loaded.model, sensitivity=False)
            if again.status != original.status:
                problems.append(f"{where}: {again.status}, the original is {original.status}")
                continue
            if original.status != "optimal":
                continue
            if not math.isclose(again.objective, original.objective, rel_tol=OBJ_REL_TOL, abs_tol=1e-9):
                problems.append(f"{where}: the checked optimum is {again.objective}, was {original.objective}")
            before = {run.solver: run for run in original.runs}
            for run in again.runs:
                # each solver against itself: CBC's solution file has 7 or 8 digits, HiGHS's values are exact
                was = before[run.solver]
                if run.status != was.status or not math.isclose(run.objective, was.objective, rel_tol=1e-9):
                    problems.append(f"{where}: {run.solver} {run.status} {run.objective}, was {was.objective}")
    assert not problems, "\n".join(problems[:20])
    assert sum(statuses.values()) == 2 * OFFICIAL_TEST_PROBLEMS
    assert statuses.get("optimal", 0) > 500  # nearly all of them have an optimum: the comparison is not vacuous
