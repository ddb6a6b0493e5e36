r"""First-order logic as a loop target: FOLIO-style prompts, Z3 (and E), entailment labels.

Example:
    >>> from neurosym.types import Problem
    >>> target = FolTarget(constrained=False)
    >>> problem = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
    >>> output = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"
    >>> f = target.parse(problem, output)
    >>> verdict = target.check(f, timeout_s=5)
    >>> verdict.status, target.answer_key(verdict)
    ('proved', 'True')

"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from neurosym.errors import ConfigurationError
from neurosym.fol.parser import parse_formula
from neurosym.fol.syntax import EntailmentProblem
from neurosym.targets.fol.check import check_fol
from neurosym.targets.fol.declare import (
    build_declared_request,
    declare_decoder,
    declared_signature,
    interleaved_decoder,
)
from neurosym.targets.fol.translator import FolTranslation, build_fol_request, parse_fol_output, problem_from_text
from neurosym.translators.base import GenerationRequest, Message
from neurosym.translators.decoding import Decoder
from neurosym.types import Formalization, Problem, Verdict

__all__ = ["DECODINGS", "FolTarget", "warm_up_fol"]

DECODINGS = ("whole", "interleaved", "declare")
"""The ways :class:`FolTarget` draws an answer (its ``decoding`` option)."""


@dataclass(frozen=True)
class FolTarget:
    """Natural-language entailment problems through first-order logic.

    Args:
        constrained: ask for grammar-constrained decoding (set it False for a backend without
            grammar support, which would refuse or ignore the constraint).
        provers: provers to run; several are cross-checked.
        repair_signature_clashes: rename clashing names apart instead of an ``invalid`` verdict.
        decoding: how the answer is drawn (see :mod:`neurosym.targets.fol.declare`): ``"whole"``
            (one request for the whole answer, the layout of the recorded benchmarks),
            ``"interleaved"`` (the same layout, the sentences written by neurosym and only the
            formulas by the model) or ``"declare"`` (the signature first, then the formulas
            under a grammar compiled from it). ``"whole"`` is the class's default, which keeps
            the development benchmarks' requests; :func:`neurosym.solve` and ``neurosym solve``
            build the target with ``"declare"`` (``neurosym.targets.fol.DEFAULT_DECODING``).

    """

    name: ClassVar[str] = "fol"
    constrained: bool = True
    provers: Sequence[str] = field(default=("z3",))
    repair_signature_clashes: bool = False
    decoding: str = "whole"

    def __post_init__(self) -> None:
        if self.decoding not in DECODINGS:
            raise ConfigurationError(f"decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}")

    def _structured(self, problem: Problem) -> Problem:
        if problem.conclusion is None or not problem.premises:
            return problem_from_text(problem.text)
        return problem

    def request(self, problem: Problem) -> GenerationRequest:
        """The few-shot FOL prompt for ``problem`` (see :mod:`neurosym.targets.fol.translator`).

        With ``decoding="declare"`` the prompt and the whole-answer grammar are those of the
        declared layout (:func:`~neurosym.targets.fol.declare.build_declared_request`).
        """
        if self.decoding == "declare":
            return build_declared_request(self._structured(problem), constrained=self.constrained)
        return build_fol_request(self._structured(problem), constrained=self.constrained)

    def decoder(self, problem: Problem) -> Decoder | None:
        """How the loop draws answers beyond one plain request: ``None`` for ``decoding="whole"``.

        Example:
            >>> from neurosym.types import Problem
            >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
            >>> FolTarget().decoder(p) is None, type(FolTarget(decoding="declare").decoder(p)).__name__
            (True, 'DeclareThenUse')

        """
        structured = self._structured(problem)
        if self.decoding == "interleaved":
            return interleaved_decoder(structured, self.request(structured), constrained=self.constrained)
        if self.decoding == "declare":
            return declare_decoder(structured, constrained=self.constrained)
        return None

    def parse(self, problem: Problem, output: str) -> Formalization:
        """Read the formulas (and a declared signature); raises ParseError when the layout or a formula is malformed."""
        structured = self._structured(problem)
        translation: FolTranslation = parse_fol_output(output, expected_premises=len(structured.premises))
        premises = tuple(parse_formula(text) for text in translation.premises)
        conclusion = parse_formula(translation.conclusion)
        source = "\n".join([*translation.premises, "⊢ " + translation.conclusion])
        signature = declared_signature(output)
        declared = signature.render().rstrip("\n") if signature is not None else ""
        return Formalization("fol", source, EntailmentProblem(premises, conclusion), declared=declared)

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Decide with :func:`neurosym.check_fol` (signature check, provers, cross-check)."""
        problem = formalization.parsed
        if not isinstance(problem, EntailmentProblem):
            raise TypeError(f"a FOL formalization holds an EntailmentProblem, not {type(problem).__name__}")
        return check_fol(
            list(problem.premises),
            problem.conclusion,
            timeout=timeout_s,
            provers=tuple(self.provers),
            repair_signature_clashes=self.repair_signature_clashes,
        )

    def fingerprint(self) -> dict[str, Any]:
        """What its verdicts depend on besides the formalization: its options and its provers' versions (cache keys).

        Example:
            >>> sorted(FolTarget().fingerprint())
            ['target', 'z3']

        """
        options = {k: v for k, v in dataclasses.asdict(self).items() if k != "decoding"}  # decoding only
        fingerprint: dict[str, Any] = {"target": options}
        if "z3" in self.provers:
            import z3

            fingerprint["z3"] = z3.get_version_string()
        if "eprover" in self.provers:
            from neurosym.provers import get_prover

            fingerprint["eprover"] = get_prover("eprover").to_dict().get("version")
        return fingerprint

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """The entailment label (``'True'``, ``'False'``, ``'Uncertain'``) of a decided verdict."""
        if not verdict.decided or verdict.answer is None:
            return None
        return getattr(verdict.answer, "value", str(verdict.answer))

    def evidence(self, verdict: Verdict) -> int:
        """How strong the evidence of a decided verdict is, for the loop's ``selection="evidence"``.

        1: the provers proved the conclusion or its negation from the premises ('True', 'False').
        0: neither follows ('Uncertain'), which is also what a translation gets that fails to
        connect the premises to the conclusion (a predicate named two ways, a premise left out),
        the commonest error of small models; so a proof among the samples outweighs any number
        of 'Uncertain' ones. Chosen on the 80 development items (benchmarks/results/logic_loop.md).

        Example:
            >>> from neurosym.types import EntailmentLabel, Verdict
            >>> FolTarget().evidence(Verdict("proved", answer=EntailmentLabel.TRUE))
            1
            >>> FolTarget().evidence(Verdict("unknown"))
            0

        """
        return 1 if self.answer_key(verdict) in ("True", "False") else 0

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """Show the model its previous answer and the parser's or prover's complaint; ask again.

        Example:
            >>> from neurosym.types import Problem
            >>> t = FolTarget(constrained=False)
            >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
            >>> r = t.repair_request(p, t.request(p), "Premises: ...", "formula 1 is not well formed")
            >>> [m.role for m in r.messages[-2:]], r.messages[-1].content.startswith("Your answer has a problem")
            (['assistant', 'user'], True)

        """
        follow_up = (
            f"Your answer has a problem: {feedback.strip()}\n"
            "Write the whole answer again, corrected, in exactly the same layout."
        )
        messages = (*previous.messages, Message("assistant", output), Message("user", follow_up))
        return GenerationRequest(messages, previous.constraint)


def warm_up_fol() -> None:
    """Build the FOL parser and run Z3 once, so that a prover worker's first call costs no more than the rest."""
    check_fol(["P(a)"], "P(a)", timeout=30)
