r"""``neurosym milp FILE``: solve and check a model file with no LLM.

The file is an LP file (``.lp``), an MPS file (``.mps``) or neurosym's modeling language
(``.nsm``); LP and MPS are read by HiGHS (:func:`neurosym.milp.files.load_model`). Both solvers
solve it (:func:`neurosym.milp.solve.solve_model`), the solution is checked against the model,
and the report shows the model, the solution, the binding constraints, HiGHS's sensitivity
analysis, or for an infeasible model its irreducible infeasible subset. ``--save OUT`` writes
the model again (``.lp``, ``.mps`` or ``.nsm``: a conversion), ``--json`` prints everything as JSON.

Exit codes (those of ``neurosym``): 0 an optimum; 1 none (infeasible, unbounded, a timeout);
2 bad input (an unreadable file, a model the language cannot hold, a logic constraint that
cannot be linearised); 3 the solvers failed; 4 a solver is not installed.

Example:
    >>> import argparse, io, pathlib, tempfile
    >>> parser = argparse.ArgumentParser(prog="neurosym milp")
    >>> add_arguments(parser)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "plan.nsm"
    >>> _ = path.write_text("continuous x\nmaximize 2 x\ncap: x <= 4")
    >>> out = io.StringIO()
    >>> run(parser.parse_args([str(path)]), out, io.StringIO())
    0
    >>> print(out.getvalue().split("Solution:")[1].splitlines()[1].strip())
    optimum (maximize): 8

"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from neurosym.deadlines import check_seconds
from neurosym.errors import ConfigurationError, InputError
from neurosym.milp.files import file_format, load_model, write_model
from neurosym.milp.report import CheckedSolution, iis_line, model_markdown
from neurosym.milp.solve import MilpResult, solve_model
from neurosym.milp.syntax import Model

__all__ = ["EXIT_CODES", "add_arguments", "exit_code", "render", "run", "save_path"]

EXIT_CODES = {"optimal": 0, "infeasible": 1, "unbounded": 1, "timeout": 1, "not_linear": 2, "error": 3}
"""The exit code of each :class:`~neurosym.milp.solve.MilpResult` status."""
_FORMAT_NAMES = {"lp": "LP format", "mps": "MPS", "nsm": "neurosym modeling language"}


def _seconds(text: str) -> float:
    try:
        return check_seconds(float(text), "--timeout")
    except (ValueError, ConfigurationError) as err:  # ConfigurationError is a ValueError; float() raises one too
        message = str(err) if isinstance(err, ConfigurationError) else f"not a number of seconds: {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def save_path(text: str) -> str:
    """An output model path, checked to end in ``.lp``, ``.mps`` or ``.nsm`` (an argparse ``type``).

    Example:
        >>> save_path("out.mps")
        'out.mps'

    """
    try:
        file_format(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``neurosym milp``'s arguments to ``parser``.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(parser)
        >>> parser.parse_args(["m.lp", "--timeout", "5"]).timeout
        5.0

    """
    parser.add_argument("file", help="the model: FILE.lp (LP format), FILE.mps (MPS) or FILE.nsm (modeling language)")
    parser.add_argument(
        "--timeout", type=_seconds, default=10.0, help="seconds for the whole solve, both solvers (default 10)"
    )
    parser.add_argument(
        "--save", type=save_path, metavar="OUT", help="also write the model to OUT (.lp, .mps or .nsm: a conversion)"
    )
    parser.add_argument("--no-sensitivity", action="store_true", help="skip HiGHS's sensitivity analysis")
    parser.add_argument("--json", action="store_true", help="print the model, the result (or the error) as JSON")


def exit_code(result: MilpResult) -> int:
    """The exit code for a result (see :data:`EXIT_CODES`).

    Example:
        >>> exit_code(MilpResult("infeasible"))
        1

    """
    return EXIT_CODES.get(result.status, 3)


def render(model: Model, result: MilpResult, *, where: str = "", notes: tuple[str, ...] = ()) -> str:
    r"""The report for people: the model, what reading it changed, then the solution or what is wrong.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> model = parse_model("integer x, y\nmaximize x\na: x >= 5\nb: y <= 3\nc: x + y <= 4")
        >>> print(render(model, solve_model(model)).splitlines()[-1])
        irreducible infeasible subset (HiGHS IIS, checked): a, c; with the bounds y >= 0

    """
    lines = [f"Model{f' ({where})' if where else ''}:"]
    lines += [("    " + line).rstrip() for line in model_markdown(model).splitlines()]
    lines += [f"note: {note}" for note in notes]
    lines.append(f"Status: {result.status}")
    if result.status == "optimal" and result.check is not None:
        certificate = CheckedSolution.from_result(model, result)
        lines += ["Solution:", *(("    " + line).rstrip() for line in certificate.render().splitlines())]
        if result.sensitivity is not None and all(v.fixed for v in result.sensitivity.variables):
            lines.append("sensitivity: every variable is integer; with them fixed at the optimum no LP is left")
        return "\n".join(lines)
    if result.status == "infeasible":
        if result.conflict:
            lines.append("these constraints cannot all hold together:")
            lines += [f"    {name}: {model.constraint(name).render()}" for name in result.conflict]
        elif result.diagnosed:
            lines.append("the variable bounds and whole-number requirements admit no solution")
        if result.iis:
            lines.append(
                iis_line({"constraints": result.iis, "method": result.iis_method, "bounds": result.iis_bounds})
            )
    elif result.status == "unbounded":
        lines.append(f"the objective is unbounded; the variables that run away: {', '.join(result.runaway) or '?'}")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Read, solve, check and report one model file; the exit code (see the module docstring).

    Raises:
        InputError: the file cannot be read or does not fit the modeling language.
        ParseError: an ``.nsm`` file that does not parse.

    """
    loaded = load_model(args.file)
    result = solve_model(loaded.model, time_limit=args.timeout, sensitivity=not args.no_sensitivity)
    saved: Path | None = None
    if args.save:
        saved = write_model(loaded.model, args.save)
    if args.json:
        payload: dict[str, Any] = {
            "file": str(args.file),
            "format": loaded.format,
            "model": loaded.model.render(),
            "notes": list(loaded.notes),
            "result": result.to_dict(),
            "saved": str(saved) if saved is not None else None,
            "exit_code": exit_code(result),
        }
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        where = f"{Path(args.file).name}, {_FORMAT_NAMES[loaded.format]}"
        out.write(render(loaded.model, result, where=where, notes=loaded.notes) + "\n")
        if saved is not None:
            out.write(f"Saved: {saved}\n")
    return exit_code(result)
