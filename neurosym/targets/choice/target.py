r"""Multiple-choice puzzles as a loop target: the program prompt, the program reader, Z3 and cvc5, the chosen letter.

Example:
    >>> from neurosym.types import Problem
    >>> target = ChoiceTarget(constrained=False)
    >>> problem = Problem("X is 1 or 2. X is not 1.", question="Which must be true?",
    ...                   options=("A) X is 2", "B) X is 1"))
    >>> output = "var x: 1..2\nassert x != 1\noption A: x == 2\noption B: x == 1"
    >>> verdict = target.check(target.parse(problem, output), timeout_s=10)
    >>> verdict.status, target.answer_key(verdict)
    ('proved', 'A')

"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar

from neurosym.errors import ConfigurationError
from neurosym.targets.choice.check import SOLVERS, ChoiceTask, check_choice, choice_task
from neurosym.targets.choice.declare import declare_decoder
from neurosym.targets.choice.language import parse_program
from neurosym.targets.choice.translator import (
    build_choice_request,
    choice_fewshot_examples,
    extract_program,
    option_letters,
    split_problem,
)
from neurosym.translators.base import GenerationRequest, Message
from neurosym.translators.decoding import Decoder
from neurosym.types import Formalization, Problem, Verdict

__all__ = ["ChoiceTarget", "warm_up_choice"]

EXAMPLE_SETS = ("logical_deduction", "ar_lsat")
"""The groups of worked examples a target can show instead of all of them."""
DECODINGS = ("declare", "whole")
"""How the program is drawn (see :class:`ChoiceTarget`)."""


@dataclass(frozen=True)
class ChoiceTarget:
    """Puzzles with answer options through a choice program (:mod:`neurosym.targets.choice.language`).

    Args:
        constrained: ask for grammar-constrained decoding.
        solvers: the solvers that decide each program (several are cross-checked).
        options: answer options given apart from the problem text (``--options``); they win over
            options found in the text.
        examples: which worked examples the prompt shows: ``None`` for all, or one of
            :data:`EXAMPLE_SETS`.
        decoding: ``"declare"`` (the default: where the backend continues a partial answer, the
            program is written line by line, each line under a grammar compiled from the names
            declared above it, the options in the problem's order; see
            :mod:`neurosym.targets.choice.declare`) or ``"whole"`` (one request under the
            language's grammar). Without ``constrained``, or on a backend that cannot continue
            an answer, both are one request.

    """

    name: ClassVar[str] = "choice"
    constrained: bool = True
    solvers: tuple[str, ...] = ("z3", "cvc5")
    options: tuple[str, ...] = ()
    examples: str | None = None
    decoding: str = "declare"

    def __post_init__(self) -> None:
        if self.decoding not in DECODINGS:
            raise ConfigurationError(f"decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}")
        if not self.solvers:
            raise ConfigurationError("name at least one solver")
        for solver in self.solvers:
            if solver not in SOLVERS:
                raise ConfigurationError(
                    f"unknown solver {solver!r} for the choice target; known: {', '.join(SOLVERS)}"
                )
        if self.examples is not None and self.examples not in EXAMPLE_SETS:
            raise ConfigurationError(f"unknown example set {self.examples!r}; known: {', '.join(EXAMPLE_SETS)}")

    def structured(self, problem: Problem) -> Problem:
        """The problem with its question and options read (from :attr:`options`, else from the text)."""
        if problem.options and problem.question and not self.options:
            return problem
        given = self.options or problem.options
        found = split_problem(problem.text if not problem.question else f"{problem.text} {problem.question}", given)
        return dataclasses.replace(problem, text=found.text, question=found.question, options=found.options)

    def shown_examples(self) -> tuple[dict[str, Any], ...]:
        """The worked examples the prompt shows."""
        return tuple(e for e in choice_fewshot_examples() if self.examples is None or e["set"] == self.examples)

    def decoder(self, problem: Problem) -> Decoder | None:
        """The line-by-line decoder when ``decoding="declare"`` and constrained (else ``None``: one request).

        Example:
            >>> p = Problem("X is 1. Which must be true? A) X is 1 B) X is 2")
            >>> type(ChoiceTarget().decoder(p)).__name__, ChoiceTarget(decoding="whole").decoder(p)
            ('Interleaved', None)

        """
        structured = self.structured(problem)
        if self.decoding != "declare" or not self.constrained or not structured.options:
            return None
        return declare_decoder(option_letters(structured.options))

    def request(self, problem: Problem) -> GenerationRequest:
        """The few-shot program prompt (raises ConfigurationError when the problem has no options)."""
        return build_choice_request(self.structured(problem), examples=self.shown_examples(),
                                    constrained=self.constrained)  # fmt: skip

    def parse(self, problem: Problem, output: str) -> Formalization:
        """Read the program (ParseError when it is missing, malformed, ill-typed or too large)."""
        structured = self.structured(problem)
        program = parse_program(extract_program(output))
        letters = option_letters(structured.options)
        task = choice_task(program, structured.question or "", letters, structured.options)
        return Formalization("choice", task.source, task)

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Decide with :func:`~neurosym.targets.choice.check.check_choice` (every solver, cross-checked)."""
        task = formalization.parsed
        if not isinstance(task, ChoiceTask):
            raise TypeError(f"a choice formalization holds a ChoiceTask, not {type(task).__name__}")
        return check_choice(task, timeout=timeout_s, solvers=self.solvers)

    def fingerprint(self) -> dict[str, Any]:
        """Its options and its solvers' versions (cache keys).

        Example:
            >>> sorted(ChoiceTarget().fingerprint())
            ['cvc5', 'target', 'z3']

        """
        import z3

        fingerprint: dict[str, Any] = {"target": dataclasses.asdict(self), "z3": z3.get_version_string()}
        if "cvc5" in self.solvers:
            fingerprint["cvc5"] = metadata.version("cvc5")
        return fingerprint

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """The chosen option's letter of a decided verdict."""
        if not verdict.decided or verdict.answer is None:
            return None
        return getattr(verdict.answer, "exact", None)

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """Show the model its program and what was wrong with it; ask for the whole program again.

        Example:
            >>> from neurosym.types import Problem
            >>> t = ChoiceTarget(constrained=False)
            >>> p = Problem("X is 1.", question="Which must be true?", options=("A) X is 1", "B) X is 2"))
            >>> r = t.repair_request(p, t.request(p), "var x: 1..2", "no formula for option A")
            >>> r.messages[-1].content.startswith("Your program has a problem")
            True

        """
        follow_up = (
            f"Your program has a problem: {feedback.strip()}\n"
            "Write the whole program again, corrected, in exactly the same layout."
        )
        messages = (*previous.messages, Message("assistant", output), Message("user", follow_up))
        return GenerationRequest(messages, previous.constraint)


def warm_up_choice() -> None:
    """Build the parser and run both solvers once, so that a prover worker's first call costs no more than the rest."""
    task = choice_task("var x: 1..2\nassert x > 1\noption A: x == 2\noption B: x == 1", "Which must be true?", "AB")
    check_choice(task, timeout=30)
