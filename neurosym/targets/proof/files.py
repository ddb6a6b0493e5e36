r"""``neurosym prove FILE``: find the theorems a ``.v`` or ``.lean`` file leaves unproved, prove them, splice them in.

A Coq theorem is open when its proof ends in ``Admitted.``, or the file ends inside it (``Proof.``
and nothing after); a Lean theorem is open when its proof uses ``sorry``. Each open theorem is
proved with :func:`~neurosym.targets.proof.prove.prove_problem` on the file's text before it as a
trusted header (so earlier theorems, proved or not, are in scope: a proof that uses one still
``Admitted`` rests on it, and is not verified), and every verified proof replaces the open one in
the file before the next theorem is tried.

Example:
    >>> text = "Require Import Arith.\nTheorem t : forall n : nat, n + 0 = n.\nProof.\nAdmitted.\n"
    >>> [(t.name, t.statement) for t in open_theorems(text, "coq")]
    [('t', 'Theorem t : forall n : nat, n + 0 = n.')]
    >>> result = prove_file(text, "coq")
    >>> print(result.text, end="")
    Require Import Arith.
    Require Import Lia Lra Psatz.
    Theorem t : forall n : nat, n + 0 = n.
    Proof.
      intros.
      Timeout 3 lia.
    Qed.

"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neurosym.errors import InputError, ParseError
from neurosym.provers.coq.sentences import parse_theorem, split_sentences
from neurosym.provers.lean import parse_lean_theorem
from neurosym.targets.proof.prove import ProofOutcome, prove_problem
from neurosym.targets.proof.search import SearchBudget
from neurosym.targets.proof.target import CoqProofTarget, LeanProofTarget, proof_problem
from neurosym.targets.proof.translator import Language
from neurosym.translators.base import LLMBackend

__all__ = ["FileResult", "OpenTheorem", "language_of", "open_theorems", "prove_file"]

_ENDS = ("Qed.", "Defined.", "Admitted.", "Abort.", "Save")


def language_of(path: str) -> Language:
    """The proof language of a file, by its suffix (``.v``: Coq, ``.lean``: Lean).

    Example:
        >>> language_of("a/b.v"), language_of("x.lean")
        ('coq', 'lean')

    """
    if path.endswith(".v"):
        return "coq"
    if path.endswith(".lean"):
        return "lean"
    raise InputError(f"{path}: neurosym prove reads Coq (.v) and Lean (.lean) files")


@dataclass(frozen=True, slots=True)
class OpenTheorem:
    """A theorem left unproved: its name and statement, and the span of text a proof replaces.

    Example:
        >>> OpenTheorem("t", "Theorem t : True.", 0, 27).name
        't'

    """

    name: str
    statement: str
    start: int
    end: int


def open_theorems(text: str, language: Language) -> list[OpenTheorem]:
    """The theorems of ``text`` left with ``Admitted``/an unfinished proof (Coq) or ``sorry`` (Lean), in order.

    Raises:
        InputError: the file cannot be read as Coq (an unterminated comment or string).

    """
    if language == "lean":
        return _open_lean(text)
    try:
        sentences = split_sentences(text)
    except ParseError as exc:
        raise InputError(f"cannot read the file as Coq: {exc.message}") from None
    found: list[OpenTheorem] = []
    i = 0
    while i < len(sentences):
        head = parse_theorem(sentences[i].text) if sentences[i].complete else None
        if head is None:
            i += 1
            continue
        j = i + 1
        while j < len(sentences) and not sentences[j].code.strip().startswith(_ENDS):
            j += 1
        ended = j < len(sentences)
        if not ended or sentences[j].code.strip().startswith(("Admitted.", "Abort.")):
            stop = sentences[j].end if ended else len(text.rstrip())
            found.append(OpenTheorem(head.name, sentences[i].text, sentences[i].start, stop))
        i = j + 1
    return found


_LEAN_DECL = re.compile(r"(?m)^(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+)?(?:theorem|lemma)\s")
_LEAN_NEXT = re.compile(r"(?m)^(?:@\[|theorem|lemma|def|example|instance|structure|inductive|namespace|end|section"
                        r"|open|noncomputable|abbrev|#)")  # fmt: skip


def _open_lean(text: str) -> list[OpenTheorem]:
    found = []
    for match in _LEAN_DECL.finditer(text):
        following = _LEAN_NEXT.search(text, match.end())
        stop = following.start() if following else len(text)
        body = text[match.start() : stop].rstrip()
        if not re.search(r"(?<![\w.'])sorry(?![\w'])", body):
            continue
        head = parse_lean_theorem(body)
        if head is None:
            continue
        cut = body.find(":=")
        statement = body[:cut].rstrip() if cut != -1 else body
        found.append(OpenTheorem(head.name, statement, match.start(), match.start() + len(body)))
    return found


@dataclass(frozen=True)
class FileResult:
    r"""The file with every proof found spliced in, and each open theorem's outcome (in order).

    Example:
        >>> FileResult("Theorem t : True.\nProof. exact I. Qed.\n").proved
        0

    """

    text: str
    outcomes: list[tuple[OpenTheorem, ProofOutcome]] = field(default_factory=list)

    @property
    def proved(self) -> int:
        """How many open theorems got a verified proof."""
        return sum(outcome.proved for _, outcome in self.outcomes)


def prove_file(
    text: str,
    language: Language,
    backend: LLMBackend | None = None,
    *,
    portfolio: bool = True,
    tactic_timeout_s: float = 3.0,
    search: SearchBudget | None = None,
    on_theorem: Callable[[OpenTheorem, ProofOutcome], None] | None = None,
    **loop: Any,
) -> FileResult:
    """Prove every open theorem of ``text`` (see the module docstring); ``loop`` goes to :func:`prove_problem`."""
    target = CoqProofTarget() if language == "coq" else LeanProofTarget()
    outcomes: list[tuple[OpenTheorem, ProofOutcome]] = []
    current = text
    for original in open_theorems(text, language):
        theorem = next((t for t in open_theorems(current, language) if t.name == original.name), None)
        if theorem is None:
            continue
        header = current[: theorem.start]
        problem = proof_problem(theorem.name, theorem.statement, header)
        outcome = prove_problem(
            problem,
            backend,
            target=target,
            portfolio=portfolio,
            tactic_timeout_s=tactic_timeout_s,
            search=search,
            **loop,
        )
        outcomes.append((theorem, outcome))
        if on_theorem is not None:
            on_theorem(theorem, outcome)
        if outcome.proved and outcome.script:
            current = current[: theorem.start] + outcome.script.strip("\n") + current[theorem.end :]
            if not current.endswith("\n"):
                current += "\n"
    return FileResult(current, outcomes)
