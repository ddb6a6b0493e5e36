r"""The proof targets in the loop: ``coq`` (checked by the jailed Coq kernel) and ``lean`` (by the Lean REPL).

A problem either gives its statement (``metadata["statement"]`` and ``metadata["header"]``: miniF2F,
``neurosym prove``), and then the model proves it as given, or gives only text (``neurosym solve
--target coq "..."``), and then the model writes the statement too: the kernel checks the proof,
and nothing checks that the statement says what the text says (the report says so).

:meth:`CoqProofTarget.parse` reads the script out of the answer and, when the model wrote only the
proof, puts the given statement in front of it; :meth:`CoqProofTarget.check` asks
:class:`~neurosym.provers.coq.CoqProver` (what *verified* means is there). A verified proof votes
for its statement, so with ``first_verified`` the loop stops at the first proof.

Example:
    >>> target = CoqProofTarget()
    >>> problem = proof_problem("t", "Theorem t : forall n : nat, n + 0 = n.", "Require Import Arith.")
    >>> f = target.parse(problem, "```coq\nProof.\n  intros n. lia.\nQed.\n```")
    >>> print(f.parsed.script, end="")
    Theorem t : forall n : nat, n + 0 = n.
    Proof.
      intros n. lia.
    Qed.
    >>> target.check(f, timeout_s=60).status  # lia is not loaded by Arith
    'invalid'

"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from neurosym.errors import ParseError
from neurosym.provers.coq import STANDARD_AXIOMS, CoqProof, CoqProver, CoqTask, KernelLimits, coq_version
from neurosym.provers.coq.sentences import parse_theorem, split_sentences, statement_tokens
from neurosym.provers.lean import ALLOWED_AXIOMS, LeanProof, LeanProver, LeanTask, lean_statement_tokens
from neurosym.provers.lean import parse_lean_theorem as _parse_lean_theorem
from neurosym.targets.proof.translator import Language, build_proof_request, extract_script, repair_proof_request
from neurosym.translators.base import GenerationRequest
from neurosym.types import AnswerKind, Formalization, Problem, Verdict

__all__ = ["CoqProofTarget", "LeanProofTarget", "complete_coq_script", "complete_lean_script", "proof_problem"]

_PRELUDE = re.compile(r"^(?:Require|From|Import|Export|Open|Local\s+Open|Set|Unset)\b")


def proof_problem(name: str, statement: str, header: str = "", informal: str = "", *,
                  metadata: Mapping[str, Any] | None = None) -> Problem:  # fmt: skip
    """A problem that gives its statement formally (miniF2F, ``neurosym prove``).

    Example:
        >>> proof_problem("t", "Theorem t : True.").metadata["statement"]
        'Theorem t : True.'

    """
    data = {"statement": statement, "header": header, "informal": informal, **(metadata or {})}
    return Problem(text=informal, answer_kind=AnswerKind.PROOF, id=name, metadata=data)


def complete_coq_script(script: str, statement: str) -> str:
    r"""``script``, with the given ``statement`` put before its proof when the model wrote only the proof.

    Imports and scope commands the model put first stay first.

    Example:
        >>> print(complete_coq_script("Require Import Lia.\nProof. lia. Qed.", "Theorem t : 1 + 1 = 2."))
        Require Import Lia.
        Theorem t : 1 + 1 = 2.
        Proof. lia. Qed.

    """
    given = parse_theorem(statement)
    sentences = split_sentences(script)
    if given is None or any((head := parse_theorem(s.text)) is not None and head.name == given.name
                            for s in sentences):  # fmt: skip
        return script
    if any(parse_theorem(s.text) is not None for s in sentences):
        return script  # it states another theorem: the prover will say the given one is missing
    cut = 0
    for sentence in sentences:
        if not _PRELUDE.match(sentence.code.strip()):
            break
        cut = sentence.end
    before, after = script[:cut].rstrip("\n"), script[cut:].lstrip("\n")
    return (before + "\n" if before else "") + statement.strip() + "\n" + after


def complete_lean_script(script: str, statement: str) -> str:
    r"""``script``, with the given Lean ``statement`` put before it when the model wrote only tactics.

    Example:
        >>> print(complete_lean_script("norm_num", "theorem t : 2 + 2 = 4"))
        theorem t : 2 + 2 = 4 := by
          norm_num

    """
    given = _parse_lean_theorem(statement)
    if given is None or re.search(rf"(?m)^\s*(?:theorem|lemma)\s+{re.escape(given.name)}\b", script):
        return script
    if re.search(r"(?m)^\s*(?:theorem|lemma)\s", script):
        return script
    body = re.sub(r"^\s*:=\s*by\b", "", script.strip())
    lines = [line for line in body.strip("\n").splitlines()]
    indented = "\n".join(line if line.startswith("  ") else "  " + line for line in lines)
    return statement.rstrip().removesuffix(":= by").rstrip() + " := by\n" + indented


def _statement_key(statement: str, language: Language) -> str:
    tokens = statement_tokens(statement) if language == "coq" else lean_statement_tokens(statement)
    return " ".join(tokens)


@dataclass(frozen=True)
class CoqProofTarget:
    """Proofs in Coq, checked by the jailed kernel (see the module docstring).

    Args:
        memory_mb: the kernel's memory limit.
        shots: worked examples in the prompt (default 4 of ``fewshot.json``).
        jail: run the kernel in its bubblewrap jail.
        allowed_axioms: what a verified proof may rest on.

    """

    name: ClassVar[str] = "coq"
    language: ClassVar[Language] = "coq"
    memory_mb: int = 4096
    shots: int | None = 4
    jail: bool = True
    allowed_axioms: tuple[str, ...] = field(default=STANDARD_AXIOMS)

    def prover(self) -> CoqProver:
        """The prover this target checks with (the process's shared kernel for its settings)."""
        return CoqProver(KernelLimits(memory_mb=self.memory_mb), jail=self.jail, allowed_axioms=self.allowed_axioms)

    def request(self, problem: Problem) -> GenerationRequest:
        """The few-shot prompt: prove the given statement, or state and prove the text."""
        return build_proof_request(problem, self.language, shots=self.shots)

    def parse(self, problem: Problem, output: str) -> Formalization:
        """The script in the answer (with the given statement put in front of a bare proof); ParseError if none."""
        script = extract_script(output, self.language)
        statement = problem.metadata.get("statement") or None
        header = str(problem.metadata.get("header") or "")
        if statement:
            script = complete_coq_script(script, str(statement))
        else:
            split_sentences(script)  # an unterminated comment or string is a parse error, for the repair prompt
        task = CoqTask(script, header, str(statement) if statement else None)
        return Formalization(self.name, task.source, task)

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Verify the script with the kernel."""
        return self.prover().check(formalization, timeout_s=timeout_s)

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """A verified proof votes for its statement (its tokens); anything else votes for nothing."""
        if verdict.status != "proved" or not isinstance(verdict.certificate, CoqProof):
            return None
        return _statement_key(verdict.certificate.statement, self.language)

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """Show the model its proof and what Coq said (line, column, message, goals); ask for the whole proof again."""
        return repair_proof_request(previous, output, feedback, self.language)

    def fingerprint(self) -> dict[str, Any]:
        """What its verdicts depend on besides the script: the kernel's version and the settings.

        Example:
            >>> CoqProofTarget().fingerprint()["target"]["name"]
            'coq'

        """
        return {"target": {"name": self.name, "memory_mb": self.memory_mb, "jail": self.jail,
                           "allowed_axioms": list(self.allowed_axioms)}, "kernel": coq_version()}  # fmt: skip


@dataclass(frozen=True)
class LeanProofTarget:
    """Proofs in Lean 4, checked through the REPL (``NEUROSYM_LEAN_REPL``; see :mod:`neurosym.provers.lean`).

    Example:
        >>> LeanProofTarget().name
        'lean'

    """

    name: ClassVar[str] = "lean"
    language: ClassVar[Language] = "lean"
    shots: int | None = 4
    allowed_axioms: tuple[str, ...] = field(default=ALLOWED_AXIOMS)

    def prover(self) -> LeanProver:
        """The prover this target checks with."""
        return LeanProver(allowed_axioms=self.allowed_axioms)

    def request(self, problem: Problem) -> GenerationRequest:
        """The few-shot prompt: prove the given statement, or state and prove the text."""
        return build_proof_request(problem, self.language, shots=self.shots)

    def parse(self, problem: Problem, output: str) -> Formalization:
        """The script in the answer (with the given statement in front of bare tactics); ParseError if none."""
        script = extract_script(output, self.language)
        statement = problem.metadata.get("statement") or None
        if statement:
            statement = str(statement).rstrip().removesuffix(":= by").rstrip()
            script = complete_lean_script(script, statement)
        elif _parse_lean_theorem(script) is None:
            raise ParseError("the answer states no Lean theorem (theorem NAME ... : statement := by ...)")
        task = LeanTask(script, str(problem.metadata.get("header") or ""), statement)
        return Formalization(self.name, task.source, task)

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Verify the script with Lean."""
        return self.prover().check(formalization, timeout_s=timeout_s)

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """A verified proof votes for its statement; anything else for nothing."""
        if verdict.status != "proved" or not isinstance(verdict.certificate, LeanProof):
            return None
        return _statement_key(verdict.certificate.statement, self.language)

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """Show the model its proof and what Lean said; ask for the whole proof again."""
        return repair_proof_request(previous, output, feedback, self.language)

    def fingerprint(self) -> dict[str, Any]:
        """The settings and where Lean is (verdicts depend on its version and Mathlib's)."""
        from neurosym.provers.lean import find_repl

        setup = find_repl()
        return {"target": {"name": self.name, "allowed_axioms": list(self.allowed_axioms)},
                "lean": setup.to_dict() if setup else None}  # fmt: skip
