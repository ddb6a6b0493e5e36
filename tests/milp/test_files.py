"""Model files: LP and MPS out through HiGHS's writer, in through HiGHS's readers (and PuLP's, as a cross-check)."""

from __future__ import annotations

import math
import subprocess

import pytest

from neurosym.errors import InputError, ParseError
from neurosym.milp.files import (
    file_format,
    load_model,
    load_model_text,
    model_to_lp,
    model_to_mps,
    model_to_text,
    read_model,
    write_model,
)
from neurosym.milp.parser import parse_model
from neurosym.milp.solve import solve_model

LOGIC = (
    "integer vans, trucks <= 20\nbinary use_trucks\nminimize cost: 40 vans + 110 trucks + 50 use_trucks + 7\n"
    "boxes: 8 vans + 20 trucks >= 90\nfee: if not use_trucks then trucks = 0\nmix: vans <= 6 or trucks <= 2\n"
    "pick: at most 1 of use_trucks"
)


def optimum(model):
    result = solve_model(model, sensitivity=False)
    assert result.status == "optimal", result.notes
    assert all(run.status == "optimal" for run in result.runs)
    return result.objective


@pytest.mark.parametrize("fmt", ["lp", "mps"])
def test_a_model_with_logic_constraints_goes_out_linearised_with_its_rows_named(fmt):
    model = parse_model(LOGIC)
    text = model_to_text(model, fmt)
    # the neurosym model itself rides along as comments
    marker = "\\" if fmt == "lp" else "*"
    assert f"{marker}   fee: if not use_trucks then trucks = 0" in text
    back = load_model_text(text, fmt).model
    names = [c.name for c in back.constraints]
    # fee keeps one row (trucks >= 0 holds within the bounds); mix (either-or) is one row per option and their sum
    assert names == ["boxes", "fee", "mix_1", "mix_2", "mix_3", "pick"]
    helpers = [v for v in back.variables if v.name.startswith("_mix_option")]
    assert [v.kind for v in helpers] == ["binary", "binary"]
    assert back.objective.constant == 7.0
    assert math.isclose(optimum(back), optimum(model), rel_tol=1e-9)


@pytest.mark.parametrize("fmt", ["lp", "mps"])
def test_bounds_kinds_and_senses_survive_the_round_trip(fmt):
    text = (
        "continuous f free\ncontinuous g in [-3, 7.25]\ninteger n >= -4 <= 9\nbinary b\ncontinuous h >= 2\n"
        "maximize 0.1 f + g - 2.5 n + b + h\nle: f + g <= 10\nge: f - n >= -3.5\neq: g + h + b = 6\n"
        "tiny: 0.000001 f + 1e-7 g <= 1"
    )
    model = parse_model(text)
    back = load_model_text(model_to_text(model, fmt), fmt).model
    assert back.variables == model.variables
    # HiGHS keeps the matrix by column, so a row's terms come back in column order
    assert [(c.name, c.sense, c.rhs, c.expr.coefficients) for c in back.constraints] == [
        (c.name, c.sense, c.rhs, c.expr.coefficients) for c in model.constraints
    ]
    assert back.objective == model.objective and back.sense == model.sense
    # the model read back is the modeling language again: it prints and parses to itself
    assert parse_model(back.render()) == back


def cbc_reads(path, *, maximize: bool) -> float:
    """The optimum CBC's own reader and solver find in a model file (CBC 2.10 ignores MPS's OBJSENSE: -max)."""
    from neurosym.provers.cbc import cbc_path

    solution = path.with_suffix(".sol")
    args = [cbc_path(), str(path), *(["-max"] if maximize else []), "-solve", "-solution", str(solution)]
    subprocess.run(args, capture_output=True, text=True, timeout=60, check=True, cwd=path.parent)
    first = solution.read_text().splitlines()[0]
    assert first.startswith("Optimal - objective value"), first
    return float(first.split()[-1])


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
@pytest.mark.parametrize("sense", ["minimize", "maximize"])
def test_cbc_reads_the_files_to_the_same_optimum(tmp_path, suffix, sense):
    text = (
        LOGIC
        if sense == "minimize"
        else LOGIC.replace(
            "minimize cost: 40 vans + 110 trucks + 50 use_trucks", "maximize cost: 3 vans - 110 trucks - 50 use_trucks"
        )
    )
    if suffix == ".lp":  # CBC 2.10's LP reader drops an objective's constant (its MPS reader keeps it)
        text = text.replace(" + 7", "")
    model = parse_model(text)
    path = write_model(model, tmp_path / f"plan{suffix}")
    assert math.isclose(cbc_reads(path, maximize=sense == "maximize"), optimum(model), rel_tol=1e-9)


def test_write_model_picks_the_format_by_suffix(tmp_path):
    model = parse_model("integer x\nmaximize x\ncap: x <= 2.5")
    for name in ("m.lp", "m.MPS", "m.nsm"):
        path = write_model(model, tmp_path / name)
        assert read_model(path).constraints[0].render() in ("x <= 2.5",)
    assert (tmp_path / "m.nsm").read_text() == model.render() + "\n"
    with pytest.raises(InputError, match=r"ends in \.lp"):
        write_model(model, tmp_path / "m.txt")
    with pytest.raises(InputError, match="cannot write"):
        write_model(model, tmp_path / "missing" / "folder" / "m.lp")


def test_a_model_that_cannot_be_linearised_is_not_written():
    model = parse_model("binary b\ncontinuous x free\nminimize x\nsw: if b then x <= 3\nneed: b = 1")
    with pytest.raises(InputError, match=r"cannot be written as a LP file.*no finite"):
        model_to_lp(model)


def test_names_the_language_cannot_hold_are_renamed_and_said():
    text = "min\n obj: x(1,2) + free + y.z\nst\n c.1: x(1,2) + free >= 2\n r#2: y.z + x(1,2) >= 1\nend\n"
    loaded = load_model_text(text, "lp")
    assert [v.name for v in loaded.model.variables] == ["x_1_2", "free_", "y_z"]
    assert [c.name for c in loaded.model.constraints] == ["c_1", "r_2"]
    assert len(loaded.notes) == 5 and "'x(1,2)' is called 'x_1_2'" in loaded.notes[0]
    assert parse_model(loaded.model.render()) == loaded.model


def test_a_ranged_row_is_two_constraints():
    text = "NAME r\nROWS\n N obj\n L cap\nCOLUMNS\n x obj -1 cap 1\nRHS\n RHS cap 8\nRANGES\n RNG cap 5\nENDATA\n"
    loaded = load_model_text(text, "mps")
    assert [c.render() for c in loaded.model.constraints] == ["x >= 3", "x <= 8"]
    assert [c.name for c in loaded.model.constraints] == ["cap", "cap_2"]
    assert "ranged row" in loaded.notes[0]
    assert optimum(loaded.model) == -8.0


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("min\n obj: x + [ x ^ 2 ] / 2\nst\n c: x >= 1\nend\n", "lp", "quadratic objective"),
        ("min\n obj: x\nst\n c: x >= 1\nbounds\n x <= 5\nsemi\n x\nend\n", "lp", "semi-continuous"),
        ("max\n obj: x\nst\n c: x <= 1e15\nend\n", "lp", "beyond the modeling language's limit"),
        ("NAME e\nROWS\n N obj\n G never\n L cap\nCOLUMNS\n x obj 1 cap 1\nRHS\n RHS never 5 cap 3\nENDATA\n",
         "mps", "no variables and can never hold"),
        ("max\n obj: x\nst\n c: x <=\nend\n", "lp", "HiGHS could not read the model as an LP file"),
        ("", "mps", "is empty"),
    ],
)  # fmt: skip
def test_what_the_language_cannot_hold_is_refused_with_what_it_is(text, fmt, message):
    with pytest.raises(InputError, match=message):
        load_model_text(text, fmt)


def test_load_model_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_model(tmp_path / "none.lp")
    (tmp_path / "bin.mps").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InputError, match="not UTF-8"):
        load_model(tmp_path / "bin.mps")
    (tmp_path / "bad.lp").write_text("max\n obj: x\nst\n c: x <=\nend\n")
    with pytest.raises(InputError, match=r"bad\.lp") as caught:
        load_model(tmp_path / "bad.lp")
    assert "neurosym-model-" not in str(caught.value)  # the temporary copy's name is not shown
    (tmp_path / "bad.nsm").write_text("integer x\nmaximize x * x")
    with pytest.raises(ParseError, match="multiplies variables"):
        load_model(tmp_path / "bad.nsm")
    with pytest.raises(InputError, match="a directory"):
        load_model(tmp_path / "dir.lp" if (tmp_path / "dir.lp").mkdir() is None else tmp_path)


def test_file_format_by_suffix():
    assert [file_format(n) for n in ("a.lp", "b.Mps", "c.NSM")] == ["lp", "mps", "nsm"]
    with pytest.raises(InputError):
        file_format("model.gz")


def test_mps_and_lp_texts_read_back_to_the_same_model():
    model = parse_model(LOGIC)
    assert load_model_text(model_to_lp(model), "lp").model == load_model_text(model_to_mps(model), "mps").model


@pytest.mark.parametrize("fmt", ["lp", "mps"])
def test_an_integer_variable_in_no_row_stays_integer(fmt):
    # HiGHS 1.16 writes such a column outside MPS's integer markers; the export puts it inside
    model = parse_model("integer idle free\ninteger spare >= 2\ncontinuous y\nmaximize y\nc: y <= 3")
    back = load_model_text(model_to_text(model, fmt), fmt).model
    assert sorted(back.variables, key=lambda v: v.name) == sorted(model.variables, key=lambda v: v.name)


@pytest.mark.parametrize("fmt", ["lp", "mps"])
def test_names_that_are_keywords_of_the_file_formats_survive(fmt):
    # LP keywords, names that look like exponents, and constraints named as variables (labels are apart)
    names = ["e", "e1", "st", "end", "bounds", "gen", "bin", "semi", "sos", "obj", "E2", "subject"]
    text = (
        f"continuous {', '.join(names)}\nmaximize {' + '.join(names)}\n"
        "st: e + e1 + st + end + bounds <= 4\nend: gen + bin + semi + sos + obj + E2 + subject <= 3\n"
        "bounds: 3 e1 + 2 e <= 2\nsubject: st <= 1"
    )
    model = parse_model(text)
    loaded = load_model_text(model_to_text(model, fmt), fmt)
    assert loaded.notes == ()
    assert sorted(v.name for v in loaded.model.variables) == sorted(names)
    assert [c.name for c in loaded.model.constraints] == ["st", "end", "bounds", "subject"]
    assert optimum(loaded.model) == optimum(model)
