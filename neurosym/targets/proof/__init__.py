r"""The proof targets: theorems proved by a model and checked by a real kernel (``coq``; ``lean`` where Lean is).

- ``translator``: the prompts (prove a given statement; state and prove a text; the next tactic)
  and reading scripts back; worked examples in ``fewshot.json`` (miniF2F-rocq *valid* statements,
  proofs written for neurosym) and ``fewshot_lean.json``;
- ``target``: :class:`CoqProofTarget` and :class:`LeanProofTarget`, the loop's view;
- ``search``: best-first tactic search over the kernel's goals;
- ``prove``: the portfolio, then whole proofs, then the search, with the credit kept apart;
- ``report``: the statement next to the text, with the note that their agreement is not checked.

``neurosym solve --target coq "TEXT"`` asks the model for a statement and a proof; a text that is
itself a Coq theorem (``Theorem t : ... .``) is proved as given.

Example:
    >>> COQ_SPEC.name, COQ_SPEC.answer_kind.value, LEAN_SPEC.name
    ('coq', 'proof', 'lean')
    >>> COQ_SPEC.make_problem("Theorem t : 1 = 1.", None, None).metadata["statement"]
    'Theorem t : 1 = 1.'

"""

from __future__ import annotations

from collections.abc import Sequence

from neurosym.provers.coq import CoqProof, kernel_problem, parse_theorem
from neurosym.provers.lean import LeanProof, LeanReplError, find_repl, parse_lean_theorem
from neurosym.settings import SamplingSettings
from neurosym.targets.proof.prove import WHOLE_PROOF, ProofOutcome, prove_problem
from neurosym.targets.proof.report import FAITHFULNESS_NOTE, render_proof
from neurosym.targets.proof.search import SearchBudget, SearchResult, tactic_search
from neurosym.targets.proof.target import (
    CoqProofTarget,
    LeanProofTarget,
    complete_coq_script,
    complete_lean_script,
    proof_problem,
)
from neurosym.targets.registry import SolveOptions, TargetSpec, word_problem
from neurosym.types import AnswerKind, Formalization, Problem

__all__ = [
    "COQ_SPEC",
    "FAITHFULNESS_NOTE",
    "LEAN_SPEC",
    "WHOLE_PROOF",
    "CoqProofTarget",
    "LeanProofTarget",
    "ProofOutcome",
    "SearchBudget",
    "SearchResult",
    "complete_coq_script",
    "complete_lean_script",
    "proof_problem",
    "prove_problem",
    "render_proof",
    "tactic_search",
]

SETTINGS = SamplingSettings(temperature=0.0, max_tokens=1024, seed=0)


def _coq_problem(text: str | None, premises: Sequence[str] | None, conclusion: str | None) -> Problem:
    problem = word_problem(text, premises, conclusion, name="coq", kind=AnswerKind.PROOF)
    if parse_theorem(problem.text) is not None:  # a Coq theorem to prove as given
        return proof_problem(parse_theorem(problem.text).name, problem.text)  # type: ignore[union-attr]
    return problem


def _lean_problem(text: str | None, premises: Sequence[str] | None, conclusion: str | None) -> Problem:
    problem = word_problem(text, premises, conclusion, name="lean", kind=AnswerKind.PROOF)
    head = parse_lean_theorem(problem.text)
    if head is not None and problem.text.lstrip().startswith(("theorem", "lemma")):
        return proof_problem(head.name, problem.text, "import Mathlib")
    return problem


def _build_coq(options: SolveOptions) -> CoqProofTarget:
    return CoqProofTarget()


def _build_lean(options: SolveOptions) -> LeanProofTarget:
    return LeanProofTarget()


def _coq_ready() -> None:
    """Refuse before the model is asked: its proof could not be checked."""
    from neurosym.errors import SolverUnavailableError

    reason = kernel_problem()
    if reason is not None:
        raise SolverUnavailableError(reason, solver="coq")


def _lean_ready() -> None:
    if find_repl() is None:
        raise LeanReplError("no Lean REPL here: set NEUROSYM_LEAN_REPL (and NEUROSYM_LEAN_PROJECT for Mathlib)",
                            solver="lean")  # fmt: skip


def _describe(formalization: Formalization) -> dict[str, object]:
    parsed = formalization.parsed
    return {"script": getattr(parsed, "script", formalization.source), "header": getattr(parsed, "header", ""),
            "statement": getattr(parsed, "statement", None)}  # fmt: skip


COQ_SPEC = TargetSpec(
    name="coq",
    description="theorems proved in Coq and checked by its kernel (the statement from the text is not checked)",
    answer_kind=AnswerKind.PROOF,
    build=_build_coq,
    problem=_coq_problem,
    settings=SETTINGS,
    certificates=(CoqProof,),
    render=render_proof,
    describe=_describe,
    ready=_coq_ready,
)
"""The Coq proof target's registry entry."""

LEAN_SPEC = TargetSpec(
    name="lean",
    description="theorems proved in Lean 4 and checked through the Lean REPL (where Lean is installed)",
    answer_kind=AnswerKind.PROOF,
    build=_build_lean,
    problem=_lean_problem,
    settings=SETTINGS,
    certificates=(LeanProof,),
    render=render_proof,
    describe=_describe,
    ready=_lean_ready,
)
"""The Lean proof target's registry entry."""
