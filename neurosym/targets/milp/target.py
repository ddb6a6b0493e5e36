r"""MILP as a loop target: the optimization-modeling assistant.

The model writes a model in neurosym's MILP language (:mod:`neurosym.milp.model`); HiGHS and CBC
both solve it, the solution is re-checked against the declared model, and the answer is the
checked optimum (an :class:`~neurosym.types.Assignment` with the objective). A model that cannot
be solved gets feedback the translator can act on: the parse error, the non-linear term, the
conflicting constraints of an infeasible model, the variables that run away in an unbounded one.

Answers agree when their objectives agree within :data:`REL_TOL`.

Example:
    >>> from neurosym.types import Problem
    >>> target = MilpTarget()
    >>> f = target.parse(Problem("..."), "integer x, y\nmaximize 3 x + 2 y\ncap: x + y <= 4\nx <= 3")
    >>> verdict = target.check(f, timeout_s=10)
    >>> verdict.status, verdict.answer.objective, dict(verdict.answer.values), target.answer_key(verdict)
    ('optimal', 11.0, {'x': 3.0, 'y': 1.0}, 11)

"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from neurosym.deadlines import check_seconds
from neurosym.errors import ConfigurationError
from neurosym.milp.files import write_model
from neurosym.milp.parser import parse_model
from neurosym.milp.report import CheckedSolution
from neurosym.milp.solve import solve_model
from neurosym.milp.syntax import Model
from neurosym.targets.milp.declare import declare_decoder
from neurosym.targets.milp.translator import build_milp_request, extract_model
from neurosym.targets.python.target import number_key
from neurosym.translators.base import GenerationRequest, Message
from neurosym.translators.decoding import Decoder
from neurosym.types import Assignment, Formalization, NumberAnswer, Problem, Verdict

__all__ = ["REL_TOL", "MilpTarget", "milp_verdict"]

REL_TOL = 1e-6
"""Relative tolerance under which two optimal objectives are the same answer."""
PROVER = "pulp:highs+cbc"


@dataclass(frozen=True)
class MilpTarget:
    """Optimization word problems through a MILP model solved by HiGHS and CBC and checked independently.

    Args:
        constrained: ask for grammar-constrained output (llama.cpp, vLLM), see
            :func:`~neurosym.targets.milp.translator.model_gbnf`.
        shots: how many worked examples the prompt shows (default all three).
        rel_tol: when two optimal objectives are the same answer.
        grammar: GBNF text to constrain the output with instead of
            :func:`~neurosym.targets.milp.translator.model_gbnf` (a recording made with another
            grammar replays only with that grammar: the text is part of the request).
        decoding: ``"whole"`` (one request for the whole model, as recorded) or ``"declare"``
            (the declarations first, then the objective and constraints over the declared
            variables only; see :mod:`neurosym.targets.milp.declare`). ``"declare"`` needs
            ``constrained``.

    """

    name: ClassVar[str] = "milp"
    constrained: bool = False
    shots: int | None = None
    rel_tol: float = REL_TOL
    grammar: str | None = None
    decoding: str = "whole"

    def __post_init__(self) -> None:
        if self.decoding not in ("whole", "declare"):
            raise ConfigurationError(f"decoding must be 'whole' or 'declare', got {self.decoding!r}")

    def decoder(self, problem: Problem) -> Decoder | None:
        """How the loop draws models beyond one plain request: ``None`` unless ``decoding="declare"`` and constrained.

        Example:
            >>> MilpTarget().decoder(Problem("...")) is None
            True
            >>> type(MilpTarget(constrained=True, decoding="declare").decoder(Problem("..."))).__name__
            'DeclareThenUse'

        """
        if self.decoding == "declare" and self.constrained:
            return declare_decoder(constrained=True)
        return None

    def request(self, problem: Problem) -> GenerationRequest:
        """The few-shot modeling prompt for ``problem``'s text (or its question)."""
        return build_milp_request(
            problem.text or problem.question or "", shots=self.shots, constrained=self.constrained, grammar=self.grammar
        )

    def parse(self, problem: Problem, output: str) -> Formalization:
        """Extract and parse the model (nothing is evaluated); raises ParseError with line, column and reason."""
        text = extract_model(output)
        model = parse_model(text)
        return Formalization("milp", text, model)

    def salvage(self, problem: Problem, output: str) -> str | None:
        r"""The complete part of a model the token cap cut off: its finished lines, each only once.

        The loop calls it for an output that ended at the token cap and cannot be read (see
        :mod:`neurosym.loop.refine`). A small model that runs out of tokens is almost always
        repeating lines it wrote already, so the unfinished last line is dropped, and so are exact
        repeats (a repeated declaration would be an error). Measured on the 40 NL4Opt development
        items (benchmarks/results/nl4opt_loop.md); ``None`` when nothing is left.

        Example:
            >>> cut = "integer x\nmaximize x\ncap: x <= 3\ncap: x <= 3\ninteger x\nc2: x + "
            >>> print(MilpTarget().salvage(Problem("..."), cut))
            integer x
            maximize x
            cap: x <= 3

        """
        lines = output.split("\n")
        if not output.endswith("\n"):
            lines.pop()  # the line the cap cut
        seen: set[str] = set()
        kept = []
        for line in lines:
            if line.strip() and line.strip() in seen:
                continue
            seen.add(line.strip())
            kept.append(line)
        text = "\n".join(kept).strip("\n")
        return text or None

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Solve with both solvers, check the solution, and turn the outcome into a verdict."""
        model = formalization.parsed if isinstance(formalization.parsed, Model) else parse_model(formalization.source)
        return milp_verdict(model, timeout_s=timeout_s)

    def save(self, formalization: Formalization, path: str | os.PathLike[str]) -> Path:
        r"""Write the formalization's model to ``path``: LP, MPS or the modeling language, by the suffix.

        ``neurosym solve --target milp --save FILE`` calls it with the final model; see
        :func:`neurosym.milp.files.write_model` (logic constraints go out linearised, rows named).

        Raises:
            InputError: an unknown suffix, a model that cannot be linearised, a path that cannot be written.

        Example:
            >>> import tempfile, pathlib
            >>> f = MilpTarget().parse(Problem("..."), "integer x\nmaximize x\ncap: x <= 3")
            >>> path = MilpTarget().save(f, pathlib.Path(tempfile.mkdtemp()) / "plan.lp")
            >>> [line for line in path.read_text().splitlines() if line.startswith(" cap")]
            [' cap: +1 x <= +3']

        """
        model = formalization.parsed if isinstance(formalization.parsed, Model) else parse_model(formalization.source)
        return write_model(model, path)

    def fingerprint(self) -> dict[str, Any]:
        """What its verdicts depend on besides the model: its options and the solvers' versions (cache keys).

        A solver upgrade may change an optimum or a status, so PuLP's and highspy's versions count.

        Example:
            >>> sorted(MilpTarget().fingerprint())
            ['highspy', 'pulp', 'target']

        """
        from importlib.metadata import version

        options = {
            k: v for k, v in dataclasses.asdict(self).items() if k not in ("grammar", "decoding")
        }  # decoding only
        return {"target": options, "pulp": version("pulp"), "highspy": version("highspy")}

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """A vote key: the optimal objective rounded to the tolerance."""
        if not verdict.decided or not isinstance(verdict.answer, Assignment) or verdict.answer.objective is None:
            return None
        return number_key(verdict.answer.objective, self.rel_tol)

    def same_answer(self, answer: Assignment | NumberAnswer, gold: float, *, rel_tol: float = 1e-4) -> bool:
        """Whether an answer's objective equals a gold objective within ``rel_tol`` (benchmarks use 1e-4).

        Example:
            >>> MilpTarget().same_answer(Assignment({"x": 1.0}, objective=1499.97), 1500)
            True

        """
        value = answer.objective if isinstance(answer, Assignment) else answer.value
        return value is not None and math.isclose(value, float(gold), rel_tol=rel_tol, abs_tol=1e-6)

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        r"""Show the model its model and what was wrong with it; ask for the whole model again.

        Example:
            >>> t, p = MilpTarget(), Problem("Maximize x with x at most 3.")
            >>> r = t.repair_request(p, t.request(p), "integer x\nmaximize x", "the objective is unbounded")
            >>> r.messages[-1].content.splitlines()[0]
            'Your model has a problem: the objective is unbounded'

        """
        follow_up = (
            f"Your model has a problem: {feedback.strip()}\n"
            "Write the whole model again, corrected, in the same language: declarations, objective, constraints."
        )
        messages = (*previous.messages, Message("assistant", output), Message("user", follow_up))
        return GenerationRequest(messages, previous.constraint)


def milp_verdict(model: Model, *, timeout_s: float = 10.0) -> Verdict:
    r"""Solve ``model`` and say what was found, with feedback written for the translator.

    ``timeout_s`` bounds the whole solve (see :func:`~neurosym.milp.solve.solve_model`). A
    ``timeout`` verdict's message says which solver its time limit stopped and whether it had a
    feasible solution, whose objective (not proved optimal) is in ``details["best_feasible_objective"]``.

    Example:
        >>> from neurosym.milp import parse_model
        >>> v = milp_verdict(parse_model("integer x, y\nmaximize x + y\na: x >= 5\nb: x + y <= 3"))
        >>> v.status, v.feedback.splitlines()[0]
        ('inconsistent', 'The model is infeasible: these constraints cannot all hold together:')

    """
    result = solve_model(model, time_limit=check_seconds(timeout_s, "timeout_s"))
    details: dict[str, Any] = {
        "solver_status": result.status,
        "runs": [{k: v for k, v in r.to_dict().items() if k != "values"} for r in result.runs],
        "notes": list(result.notes),
    }
    common: dict[str, Any] = {"prover": PROVER, "elapsed_s": result.seconds, "details": details}
    if result.status == "optimal":
        certificate = CheckedSolution.from_result(model, result)
        answer = Assignment(dict(result.values), objective=result.objective)
        return Verdict("optimal", answer=answer, certificate=certificate, **common)
    if result.status == "infeasible":
        details["conflict"] = list(result.conflict)
        details["iis"] = {
            "constraints": list(result.iis),
            "method": result.iis_method,
            "bounds": list(result.iis_bounds),
        }
        lines = [f"  {name}: {model.constraint(name).render()}" for name in result.conflict]
        if lines:
            feedback = "The model is infeasible: these constraints cannot all hold together:\n" + "\n".join(lines)
            feedback += "\nCheck their directions (<= or >=) and numbers against the problem."
        elif not result.diagnosed:
            feedback = "The model is infeasible; no time was left to find which constraints conflict."
        else:
            feedback = "The model is infeasible: the variable bounds and whole-number requirements admit no solution."
        return Verdict("inconsistent", feedback=feedback, message="infeasible model", **common)
    if result.status == "unbounded":
        details["runaway"] = list(result.runaway)
        names = ", ".join(result.runaway) or "some variables"
        feedback = (
            f"The objective is unbounded: nothing in the model limits {names}, so the {model.sense[:3]}imum is "
            "infinite. A constraint from the problem is probably missing or points the wrong way."
        )
        return Verdict("invalid", feedback=feedback, message="unbounded model", **common)
    if result.status == "not_linear":
        return Verdict("invalid", feedback=result.notes[0], message=result.notes[0], **common)
    if result.status == "timeout":
        # Say which solver the clock stopped and whether it had a solution: a feasible point is not an optimum.
        stopped = [r.message for r in result.runs if r.status in ("feasible", "timeout") and r.message]
        feasible = [r.objective for r in result.runs if r.status == "feasible" and r.objective is not None]
        if feasible:
            details["best_feasible_objective"] = (max if model.sense == "maximize" else min)(feasible)
        message = f"no optimum proved within {timeout_s:g} s" + "".join(f"; {m}" for m in stopped)
        return Verdict("timeout", message=message, **common)
    return Verdict("unknown", message="; ".join(result.notes) or "the solvers failed", **common)
