r"""Model files: a neurosym model out to LP and MPS, and LP, MPS and ``.nsm`` files in.

Three formats, chosen by the file's suffix:

- ``.lp``: the LP file format (CPLEX's), which most solvers and modeling tools read;
- ``.mps``: free-format MPS, the older exchange format;
- ``.nsm``: neurosym's own modeling language, as :func:`~neurosym.milp.parser.parse_model` reads it.

Out (:func:`model_to_lp`, :func:`model_to_mps`, :func:`write_model`): the model is linearised
first (:func:`~neurosym.milp.linearize.linearize`), so an if-then, an either-or or a cardinality
constraint arrives as the big-M rows the solvers are given, and HiGHS writes the file. Each row
is named after the constraint it comes from (``<name>_1``, ``<name>_2``... for a constraint that
became several rows, see :func:`neurosym.milp._highs.row_names`), and the file opens with the
neurosym model itself as comments, so a reader can see what the rows stand for. The objective's
name is not kept: HiGHS calls it ``obj``. The LP text uses the format's long section names
(``subject to``, ``general``, ``binary``): CBC 2.10 reads HiGHS's short ``gen`` and ``bin`` as
variable names and drops integrality. Two limits of other readers, not of the files: CBC 2.10's
LP reader drops an objective's constant, and its MPS reader ignores ``OBJSENSE`` (run it with
``-max``), as the MPS standard has no such section.

In (:func:`read_model`, :func:`load_model`, :func:`load_model_text`): LP and MPS files are read by
HiGHS's own readers (``Highs.readModel``), not by a parser of neurosym's, and the model HiGHS
read is turned into the modeling language: each column a variable (an integer one in ``[0, 1]``
becomes ``binary``), each row a named comparison (a ranged row two, ``<name>`` and
``<name>_2``). Order may change: a row's terms come in column order, and an LP file's reader
numbers the variables in the order they first appear (the objective's first); HiGHS drops
matrix entries of magnitude 1e-12 and below. A name the
language cannot hold (``x(1,2)``, a keyword such as ``free``) is renamed and the rename is
listed in :attr:`LoadedModel.notes`. What the language has no word
for is refused with an :class:`~neurosym.errors.InputError` that says what it is: a quadratic
objective, semi-continuous or semi-integer variables, a row without variables that cannot hold,
a number beyond :data:`~neurosym.milp.parser.MAX_ABS_COEFFICIENT`.

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> model = parse_model("integer x, y\nmaximize profit: 3 x + 2 y\ncap: x + y <= 4\nx <= 3")
    >>> text = model_to_lp(model)
    >>> [line for line in text.splitlines() if line.startswith((" cap", " c4"))]
    [' cap: +1 x +1 y <= +4', ' c4: +1 x <= +3']
    >>> back = load_model_text(model_to_mps(model), "mps").model
    >>> print(back.render())
    integer x
    integer y
    maximize 3 x + 2 y
    cap: x + y <= 4
    c4: x <= 3

"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from neurosym.errors import InputError
from neurosym.milp._highs import build_highs, new_highs
from neurosym.milp.linearize import LinearizationError, linearize
from neurosym.milp.parser import MAX_ABS_COEFFICIENT, MAX_MODEL_CHARS, parse_model
from neurosym.milp.syntax import Comparison, Constraint, LinearExpr, Model, Variable, VarKind

__all__ = [
    "FORMATS",
    "MAX_FILE_BYTES",
    "FileFormat",
    "LoadedModel",
    "file_format",
    "load_model",
    "load_model_text",
    "model_to_lp",
    "model_to_mps",
    "model_to_text",
    "read_model",
    "write_model",
]

FileFormat = Literal["lp", "mps", "nsm"]
"""The model file formats: LP, MPS and neurosym's modeling language."""
FORMATS: tuple[FileFormat, ...] = ("lp", "mps", "nsm")
MAX_FILE_BYTES = 20_000_000
"""Largest model file read (bytes)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Words the modeling language reads as keywords, so that no variable or constraint may be called so.
_KEYWORDS = frozenset(
    "integer continuous binary free inf infinity maximize minimize maximise minimise or if then not of in "
    "exactly constraints variables".split()
)


@dataclass(frozen=True)
class LoadedModel:
    r"""A model read from a file: the model, the format it came in, and what reading it changed.

    ``notes`` lists renamed variables and constraints, rows left out (no variables, always true)
    and other things a reader of the original file should know.

    Example:
        >>> loaded = load_model_text("continuous x\nmaximize x\nx <= 2", "nsm")
        >>> loaded.format, loaded.model.render(), loaded.notes
        ('nsm', 'continuous x\nmaximize x\nc3: x <= 2', ())

    """

    model: Model
    format: FileFormat
    notes: tuple[str, ...] = ()


def file_format(path: str | os.PathLike[str]) -> FileFormat:
    r"""The format a file name's suffix names (``.lp``, ``.mps``, ``.nsm``; any case).

    Raises:
        InputError: another suffix.

    Example:
        >>> file_format("plan.LP"), file_format("plan.mps")
        ('lp', 'mps')

    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InputError(
            f"{Path(path).name}: a model file ends in .lp (LP format), .mps (MPS) or .nsm (neurosym's modeling "
            "language)"
        )
    return suffix


# -- out ------------------------------------------------------------------------------------------


def _comment_header(model: Model, marker: str) -> str:
    lines = ["neurosym model (the rows below are its linear form; logic constraints as big-M rows):"]
    lines += ["  " + line for line in model.render().splitlines()]
    return "".join(f"{marker} {line}".rstrip() + "\n" for line in lines)


def _highs_text(model: Model, fmt: Literal["lp", "mps"]) -> str:
    try:
        lp = linearize(model)
    except LinearizationError as err:
        raise InputError(f"the model cannot be written as a {fmt.upper()} file: {err}") from None
    highs = build_highs(lp)
    with tempfile.TemporaryDirectory(prefix="neurosym-model-") as folder:
        path = os.path.join(folder, f"model.{fmt}")
        _call_logged(highs, "writeModel", path, what=f"write the {fmt.upper()} file")
        body = Path(path).read_text(encoding="utf-8")
    if fmt == "lp":
        used = {n for row in lp.rows for n in row.expr.names} | set(lp.objective.names)
        # HiGHS leaves out a continuous variable >= 0 that is in no row and not in the objective: name it in bounds
        unused = [f" {v.name} >= 0" for v in lp.variables if v.name not in used and v.kind == "continuous"
                  and v.lower == 0 and v.upper is None]  # fmt: skip
        return _comment_header(model, "\\") + _long_lp_keywords(body, unused)
    return _comment_header(model, "*") + _marked_integers(body, {v.name for v in lp.variables if v.integral})


def _marked_integers(text: str, integral: set[str]) -> str:
    """HiGHS's MPS text with the integer markers set again: each run of integer columns inside INTORG/INTEND.

    HiGHS 1.16 places the markers wrongly around a column that is in no row and not in the
    objective: outside them for an integer one (read back as continuous), inside them for a
    continuous one that follows an integer one (read back as integer, or refused).
    """
    out: list[str] = []
    in_columns = inside = False
    for line in text.splitlines():
        fields = line.split()
        header = line[:1] not in (" ", "\t", "")
        if header:
            if inside:
                out.append("    MARKEND   'MARKER'                 'INTEND'")
                inside = False
            in_columns = line.strip() == "COLUMNS"
        elif in_columns and "'MARKER'" in fields:
            continue  # HiGHS's own markers: set again below
        elif in_columns and fields:
            integer = fields[0] in integral
            if integer and not inside:
                out.append("    MARKINT   'MARKER'                 'INTORG'")
            elif inside and not integer:
                out.append("    MARKEND   'MARKER'                 'INTEND'")
            inside = integer
        out.append(line)
    return "\n".join(out) + "\n"


# HiGHS writes the LP format's short section names; CBC 2.10's reader takes "bin" and "gen" for
# variable names in the bounds section and solves without integrality. The long names are read by all.
_LP_SECTIONS = {"min": "minimize", "max": "maximize", "st": "subject to", "bounds": "bounds", "bin": "binary",
                "gen": "general", "semi": "semi-continuous", "end": "end"}  # fmt: skip


def _long_lp_keywords(text: str, bounds: list[str]) -> str:
    """HiGHS's LP text with the long section names, ``bounds`` added to its bounds, and no empty sections."""
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        section = _LP_SECTIONS.get(line.strip()) if line == line.strip() else None
        if section is None:
            out.append(line)
            continue
        extra = bounds if section == "bounds" else []
        following = lines[i + 1].strip() if i + 1 < len(lines) else "end"
        if section in ("bounds", "binary", "general", "semi-continuous") and following in _LP_SECTIONS and not extra:
            continue  # an empty section
        out.append(section)
        out.extend(extra)
    return "\n".join(out) + "\n"


def model_to_lp(model: Model) -> str:
    r"""The model as LP-format text, written by HiGHS (see the module docstring).

    Raises:
        InputError: a logic constraint cannot be linearised (it names the variable that needs a bound).

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> text = model_to_lp(parse_model("binary b\ninteger x <= 10\nmaximize x\nsw: if not b then x <= 0"))
        >>> [line for line in text.splitlines() if line.startswith(" sw")]
        [' sw: -10 b +1 x <= +0']

    """
    return _highs_text(model, "lp")


def model_to_mps(model: Model) -> str:
    r"""The model as free-format MPS text, written by HiGHS (see the module docstring).

    Raises:
        InputError: a logic constraint cannot be linearised.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> "ROWS" in model_to_mps(parse_model("continuous x\nminimize x\nlow: x >= 1"))
        True

    """
    return _highs_text(model, "mps")


def model_to_text(model: Model, fmt: FileFormat) -> str:
    r"""The model in ``fmt``: LP, MPS or the modeling language (``nsm``, :meth:`Model.render`).

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> model_to_text(parse_model("continuous x\nminimize x\nlow: x >= 1"), "nsm")
        'continuous x\nminimize x\nlow: x >= 1\n'

    """
    if fmt == "lp":
        return model_to_lp(model)
    if fmt == "mps":
        return model_to_mps(model)
    if fmt == "nsm":
        return model.render() + "\n"
    raise InputError(f"unknown model format {fmt!r}; known: {', '.join(FORMATS)}")


def write_model(model: Model, path: str | os.PathLike[str]) -> Path:
    r"""Write the model to ``path`` in the format its suffix names (``.lp``, ``.mps``, ``.nsm``); returns the path.

    Raises:
        InputError: an unknown suffix, a model that cannot be linearised, a path that cannot be written.

    Example:
        >>> import tempfile, pathlib
        >>> from neurosym.milp.parser import parse_model
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> path = write_model(parse_model("integer x\nmaximize x\nx <= 2"), folder / "m.mps")
        >>> read_model(path).render()
        'integer x\nmaximize x\nc3: x <= 2'

    """
    target = Path(path)
    text = model_to_text(model, file_format(target))
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


# -- in -------------------------------------------------------------------------------------------


def _call_logged(highs: Any, method: str, path: str, *, what: str, source: str = "") -> None:
    """Call ``highs.<method>(path)``; on failure raise InputError quoting HiGHS (``path`` shown as ``source``)."""
    import highspy

    with tempfile.TemporaryDirectory(prefix="neurosym-highs-log-") as folder:
        log = os.path.join(folder, "highs.log")
        highs.setOptionValue("output_flag", True)
        highs.setOptionValue("log_to_console", False)
        highs.setOptionValue("log_file", log)
        try:
            status = getattr(highs, method)(path)
        finally:
            highs.setOptionValue("log_file", "")
            highs.setOptionValue("output_flag", False)
        messages = Path(log).read_text(encoding="utf-8", errors="replace") if os.path.exists(log) else ""
    if status == highspy.HighsStatus.kError:
        if source:  # the temporary file's name means nothing to the reader
            messages = messages.replace(path, source)
        detail = "\n".join("  " + line.rstrip() for line in messages.splitlines() if line.strip()) or "  no message"
        raise InputError(f"HiGHS could not {what}:\n{detail}")


def _fitting_name(raw: str, taken: set[str], what: str, notes: list[str], fallback: str) -> str:
    """``raw`` if the language can hold it, else a close name it can (the rename goes into ``notes``)."""
    if raw and _NAME.match(raw) and raw.lower() not in _KEYWORDS and raw not in taken:
        taken.add(raw)
        return raw
    base = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_") or fallback
    if not (base[0].isalpha() or base[0] == "_"):
        base = f"{fallback}_{base}"
    if base.lower() in _KEYWORDS:
        base += "_"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    if raw:
        why = (
            "its names are letters, digits and _"
            if not _NAME.match(raw)
            else "it is a keyword of the language"
            if raw.lower() in _KEYWORDS
            else "the name is taken"
        )
        notes.append(f"{what} {raw!r} is called {name!r} in the modeling language ({why})")
    return name


def _number(value: float, where: str) -> float:
    if abs(value) > MAX_ABS_COEFFICIENT:
        raise InputError(
            f"{where} is {value:g}, beyond the modeling language's limit of {MAX_ABS_COEFFICIENT:g}: "
            "rescale the model (change the units)"
        )
    return float(value)


def _bound(value: float, where: str) -> float | None:
    if math.isinf(value) or abs(value) >= 1e30:  # HiGHS's infinity is inf; 1e30 is the usual "infinite" in files
        return None
    return _number(value, where)


def _from_highs(highs: Any, fmt: FileFormat, source: str) -> LoadedModel:
    """The model HiGHS holds, in the modeling language (see the module docstring)."""
    import highspy

    full = highs.getModel()
    if full.hessian_.dim_ > 0:
        raise InputError(
            f"{source} has a quadratic objective; the modeling language is linear (mixed-integer linear programs)"
        )
    lp = full.lp_
    notes: list[str] = []
    kinds = {
        highspy.HighsVarType.kContinuous: "continuous",
        highspy.HighsVarType.kInteger: "integer",
    }
    integrality = list(lp.integrality_) or [highspy.HighsVarType.kContinuous] * lp.num_col_
    taken: set[str] = set()
    names: list[str] = []
    variables: list[Variable] = []
    raw_names = list(lp.col_names_) or [""] * lp.num_col_
    for j in range(lp.num_col_):
        name = _fitting_name(raw_names[j], taken, "variable", notes, f"x{j + 1}")
        names.append(name)
        kind = kinds.get(integrality[j])
        if kind is None:
            raise InputError(
                f"{source}: variable {raw_names[j] or name!r} is semi-continuous or semi-integer, which the modeling "
                "language has no word for (model it with a binary and if-then constraints)"
            )
        lower = _bound(float(lp.col_lower_[j]), f"the lower bound of {name}")
        upper = _bound(float(lp.col_upper_[j]), f"the upper bound of {name}")
        if lower is not None and upper is not None and lower > upper:
            raise InputError(f"{source}: the bounds of {name} are empty: {lower:g} > {upper:g}")
        if kind == "integer" and lower == 0.0 and upper == 1.0:
            kind = "binary"
        variables.append(Variable(name, _kind(kind), lower, upper))
    if not variables:
        raise InputError(f"{source} has no variables")
    costs = [float(c) for c in lp.col_cost_]
    objective = LinearExpr(
        tuple((names[j], _number(c, f"the objective coefficient of {names[j]}")) for j, c in enumerate(costs) if c),
        _number(float(lp.offset_), "the objective's constant"),
    )
    rows: list[list[tuple[str, float]]] = [[] for _ in range(lp.num_row_)]
    matrix = lp.a_matrix_
    if matrix.format_ == highspy.MatrixFormat.kColwise:
        for j in range(lp.num_col_):
            for k in range(matrix.start_[j], matrix.start_[j + 1]):
                rows[matrix.index_[k]].append((names[j], float(matrix.value_[k])))
    else:  # row-wise
        for i in range(lp.num_row_):
            for k in range(matrix.start_[i], matrix.start_[i + 1]):
                rows[i].append((names[matrix.index_[k]], float(matrix.value_[k])))
    constraints: list[Constraint] = []
    row_names = list(lp.row_names_) or [""] * lp.num_row_
    labels: set[str] = set()  # constraint names are labels, apart from the variables' names (as in the parser)
    for i, terms in enumerate(rows):
        name = _fitting_name(row_names[i], labels, "constraint", notes, f"c{i + 1}")
        terms = [(n, _number(c, f"a coefficient of {n} in {name}")) for n, c in terms if c]
        low = _bound(float(lp.row_lower_[i]), f"the lower side of {name}")
        high = _bound(float(lp.row_upper_[i]), f"the upper side of {name}")
        if not terms:
            if (low is None or low <= 1e-9) and (high is None or high >= -1e-9):
                notes.append(f"row {row_names[i] or name!r} has no variables and always holds: left out")
                continue
            raise InputError(
                f"{source}: row {row_names[i] or name!r} has no variables and can never hold "
                f"({low if low is not None else '-inf'} <= 0 <= {high if high is not None else 'inf'}); "
                "the modeling language has no such constraint"
            )
        expr = LinearExpr(tuple(terms))
        if low is None and high is None:
            notes.append(f"row {row_names[i] or name!r} has no bounds (a free row): left out")
            continue
        if low is not None and high is not None and low == high:
            constraints.append(Comparison(expr, "==", low, name))
        elif low is not None and high is not None:
            second = _fitting_name(f"{name}_2", labels, "constraint", notes, f"c{i + 1}_2")
            constraints.append(Comparison(expr, ">=", low, name))
            constraints.append(Comparison(expr, "<=", high, second))
            notes.append(f"the ranged row {name!r} ({low:g} <= ... <= {high:g}) is two constraints: {name}, {second}")
        elif low is not None:
            constraints.append(Comparison(expr, ">=", low, name))
        else:
            assert high is not None
            constraints.append(Comparison(expr, "<=", high, name))
    sense: Literal["maximize", "minimize"] = "maximize" if lp.sense_ == highspy.ObjSense.kMaximize else "minimize"
    model = Model(tuple(variables), sense, objective, tuple(constraints))
    text = model.render()
    model = Model(model.variables, model.sense, model.objective, model.constraints, "", text)
    if len(text) > MAX_MODEL_CHARS:
        notes.append(
            f"the model is {len(text):,} characters in the modeling language, more than the {MAX_MODEL_CHARS:,} "
            "its reader takes: it can be solved, but not edited as text"
        )
    return LoadedModel(model, fmt, tuple(notes))


def _kind(kind: str) -> VarKind:
    return "binary" if kind == "binary" else "integer" if kind == "integer" else "continuous"


def load_model_text(text: str, fmt: FileFormat, *, source: str = "the model") -> LoadedModel:
    r"""Read model text in ``fmt`` (``lp``, ``mps`` through HiGHS's readers; ``nsm`` through :func:`parse_model`).

    Raises:
        InputError: HiGHS cannot read the text (its message is quoted), or the model does not fit
            the modeling language (see the module docstring).
        ParseError: ``nsm`` text that does not parse.

    Example:
        >>> print(load_model_text("max\n obj: 2 x\nst\n cap: x <= 4\nbounds\n x <= 9\nend\n", "lp").model.render())
        continuous x in [0, 9]
        maximize 2 x
        cap: x <= 4

    """
    if fmt == "nsm":
        return LoadedModel(parse_model(text), "nsm")
    if fmt not in ("lp", "mps"):
        raise InputError(f"unknown model format {fmt!r}; known: {', '.join(FORMATS)}")
    if not text.strip():
        raise InputError(f"{source} is empty")
    with tempfile.TemporaryDirectory(prefix="neurosym-model-") as folder:
        path = os.path.join(folder, f"model.{fmt}")
        Path(path).write_text(text, encoding="utf-8")
        highs = new_highs()
        _call_logged(highs, "readModel", path, what=f"read {source} as an {fmt.upper()} file", source=source)
    return _from_highs(highs, fmt, source)


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    r"""Read a model file (its suffix says the format) into the modeling language, with notes on what changed.

    Raises:
        InputError: no such file, too large, not text, a suffix that is not .lp, .mps or .nsm,
            a file HiGHS cannot read, or a model the language cannot hold.
        ParseError: an ``.nsm`` file that does not parse.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.lp"
        >>> _ = path.write_text("min\n obj: x(1) + y\nst\n need: x(1) + y >= 2\nend\n")
        >>> loaded = load_model(path)
        >>> print(loaded.model.render())
        continuous x_1
        continuous y
        minimize x_1 + y
        need: x_1 + y >= 2
        >>> loaded.notes[0]  # doctest: +ELLIPSIS
        "variable 'x(1)' is called 'x_1' in the modeling language (its names are letters, digits and _)"

    """
    target = Path(path)
    fmt = file_format(target)
    if target.is_dir():
        raise InputError(f"{target} is a directory, not a model file")
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        raise InputError(f"no such file: {target}") from None
    except OSError as exc:
        raise InputError(f"cannot read {target}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise InputError(f"{target} is {size:,} bytes; the limit for a model file is {MAX_FILE_BYTES:,}")
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {target}: it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"cannot read {target}: {exc.strerror or exc}") from None
    return load_model_text(text, fmt, source=target.name)


def read_model(path: str | os.PathLike[str]) -> Model:
    r"""Read a model file (``.lp``, ``.mps``, ``.nsm``) into a :class:`~neurosym.milp.syntax.Model`.

    The same as :func:`load_model` without the notes (see it for the errors).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.nsm"
        >>> _ = path.write_text("integer x\nmaximize x\ncap: x <= 3")
        >>> read_model(path).constraint("cap").render()
        'x <= 3'

    """
    return load_model(path).model
