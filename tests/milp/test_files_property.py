"""Property: every model of linear rows goes out to LP and MPS and comes back the same, numbers bit for bit."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosym.milp.files import load_model_text, model_to_lp, model_to_mps
from neurosym.milp.parser import MAX_ABS_COEFFICIENT, parse_model
from neurosym.milp.syntax import Comparison, LinearExpr, Model, Variable

NUMBERS = st.one_of(
    st.integers(-1000, 1000).map(float),
    st.sampled_from([0.1, 1 / 3, 2 / 3, 1e-7, 123456.789, 0.30000000000000004, 1e11, -2.5e-5]),
    # HiGHS drops matrix entries of 1e-12 and below (SMALLEST_COEFFICIENT), when it writes and when it reads
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or abs(x) > 1e-11),
)
NONZERO = NUMBERS.filter(lambda x: x != 0 and abs(x) <= MAX_ABS_COEFFICIENT)


@st.composite
def variables(draw, name):
    kind = draw(st.sampled_from(["continuous", "integer", "binary"]))
    if kind == "binary":
        return Variable(name, "binary", 0.0, 1.0)
    lower = draw(st.one_of(st.none(), st.integers(-50, 50).map(float), NUMBERS.filter(lambda x: abs(x) < 1e5)))
    upper = draw(st.one_of(st.none(), st.integers(-50, 200).map(float)))
    if lower is not None and upper is not None and lower > upper:
        lower, upper = upper, lower
    if kind == "integer" and lower == 0.0 and upper == 1.0:
        upper = 2.0  # an integer in [0, 1] reads back as binary, which is the same variable
    return Variable(name, kind, lower, upper)


@st.composite
def models(draw):
    count = draw(st.integers(1, 6))
    names = [f"v{i}" for i in range(count)]
    declared = tuple(draw(variables(n)) for n in names)

    def expr(allow_empty):
        chosen = draw(st.lists(st.sampled_from(names), min_size=0 if allow_empty else 1, unique=True))
        return LinearExpr(tuple((n, draw(NONZERO)) for n in chosen))

    rows = tuple(
        Comparison(expr(False), draw(st.sampled_from(["<=", ">=", "=="])), draw(NUMBERS), f"row{j}")
        for j in range(draw(st.integers(0, 6)))
    )
    objective = LinearExpr(expr(True).terms, draw(NUMBERS))
    return Model(declared, draw(st.sampled_from(["maximize", "minimize"])), objective, rows)


def shape(model):
    rows = [(c.name, c.sense, c.rhs, c.expr.coefficients) for c in model.constraints]
    variables = sorted(model.variables, key=lambda v: v.name)
    return variables, model.sense, model.objective.coefficients, model.objective.constant, rows


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_lp_and_mps_round_trips_keep_every_number(model):
    for fmt, write in (("lp", model_to_lp), ("mps", model_to_mps)):
        loaded = load_model_text(write(model), fmt)
        assert loaded.notes == ()
        assert shape(loaded.model) == shape(model), fmt
        assert parse_model(loaded.model.render()) == loaded.model  # and it is the modeling language again
