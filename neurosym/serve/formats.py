r"""What the page offers for download: the model as LP or MPS text, the solution as CSV.

LP and MPS are written by :mod:`neurosym.milp.files` (the model linearised, each row named after
its constraint, the neurosym model as comments at the top).

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> text = model_file(parse_model("integer x\nmaximize 2 x\ncap: x <= 4"), "lp")
    >>> [line for line in text.splitlines() if line.startswith(" cap")]
    [' cap: +1 x <= +4']

"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Literal

from neurosym.milp.files import model_to_lp, model_to_mps
from neurosym.milp.syntax import Model

__all__ = ["ModelFormat", "model_file", "solution_csv"]

ModelFormat = Literal["lp", "mps"]
"""The model file formats the page offers for download."""


def model_file(model: Model, fmt: ModelFormat) -> str:
    r"""The model in LP or MPS format.

    Raises:
        LinearizationError: a logic constraint over a variable with no finite bound.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> "ROWS" in model_file(parse_model("integer x\nmaximize x\ncap: x <= 4"), "mps")
        True

    """
    if fmt not in ("lp", "mps"):
        raise ValueError(f"unknown model format {fmt!r}; expected lp or mps")
    return model_to_lp(model) if fmt == "lp" else model_to_mps(model)


def solution_csv(values: Mapping[str, float], kinds: Mapping[str, str], objective: float | None = None) -> str:
    """The solution as CSV (``variable,value,kind``), helper variables left out, the objective last.

    Example:
        >>> print(solution_csv({"x": 3.0, "_helper": 1.0}, {"x": "integer"}, objective=6.0), end="")
        variable,value,kind
        x,3,integer
        objective,6,

    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["variable", "value", "kind"])
    for name, value in values.items():
        if not name.startswith("_"):
            writer.writerow([name, _csv_number(value), kinds.get(name, "")])
    if objective is not None:
        writer.writerow(["objective", _csv_number(objective), ""])
    return out.getvalue()


def _csv_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
