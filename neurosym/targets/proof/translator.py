r"""Prompts of the proof targets, and reading a proof script back out of a model's answer.

Two tasks, for Coq and for Lean:

- **prove** a statement given formally (miniF2F, ``neurosym prove``): the prompt shows the
  header and the statement (and the informal text, when there is one); the model answers with the
  theorem as given and its proof, helper lemmas allowed;
- **autoformalize** an informal statement (``neurosym solve --target coq``): the model writes the
  imports, the theorem and its proof; nothing checks that the theorem says what the text says.

The worked examples are in ``fewshot.json`` (Coq: miniF2F-rocq *valid* statements with proofs
written for neurosym and checked by Coq) and ``fewshot_lean.json``. :func:`extract_script` takes
the first fenced block (```coq / ```lean, or unlabelled) that states or proves something, or,
without fences, the text from the first line that looks like the language.

Example:
    >>> extract_script("Here it is:\n```coq\nTheorem t : True.\nProof. exact I. Qed.\n```\nDone.", "coq")
    'Theorem t : True.\nProof. exact I. Qed.\n'

"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, Literal

from neurosym.errors import ParseError
from neurosym.translators.base import GenerationRequest, Message
from neurosym.types import Problem

__all__ = [
    "MAX_SCRIPT_CHARS",
    "Language",
    "build_proof_request",
    "build_tactic_request",
    "extract_script",
    "extract_tactic",
    "informal_text",
    "proof_fewshot_examples",
    "repair_proof_request",
]

Language = Literal["coq", "lean"]
MAX_SCRIPT_CHARS = 40_000
NAMES = {"coq": "Coq", "lean": "Lean 4"}
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_LOOKS = {
    "coq": re.compile(r"^\s*(?:Require|From|Theorem|Lemma|Proof\.|Open\s+Scope|Definition|Fixpoint|intros?\b|Qed\.)",
                      re.MULTILINE),
    "lean": re.compile(r"^\s*(?:theorem|lemma|import|open|example|def)\b", re.MULTILINE),
}  # fmt: skip
_PROOF_WORDS = {"coq": re.compile(r"\b(?:Proof|Qed|Theorem|Lemma|intros?|lia|lra|nra|nia)\b"),
                "lean": re.compile(r"(?::=|\bby\b|\btheorem\b|\blemma\b)")}  # fmt: skip

SYSTEM = {
    "coq": (
        "You are an expert in the Coq proof assistant (Coq 8.16 and its standard library). You write complete, "
        "correct proofs that Coq checks. Answer with one ```coq block holding the theorem exactly as given, "
        "then Proof. ... Qed. Put the Require Import lines your tactics need (Lia, Lra, Psatz) first. You may "
        "state and prove helper lemmas before the theorem. Never use Admitted, admit, Abort or Axiom."
    ),
    "lean": (
        "You are an expert in Lean 4 and Mathlib. You write complete, correct proofs that Lean checks. Answer with "
        "one ```lean block holding the theorem exactly as given, followed by := by and the tactic proof. You may "
        "state and prove helper lemmas before it. Never use sorry, admit or axiom."
    ),
}
SYSTEM_AUTOFORMALIZE = {
    "coq": (
        "You are an expert in the Coq proof assistant (Coq 8.16 and its standard library). You turn a mathematical "
        "statement in English into a Coq theorem that says exactly the same thing, and prove it. Answer with one "
        "```coq block: the Require Import lines, the theorem, then Proof. ... Qed. Never use Admitted, admit, "
        "Abort or Axiom."
    ),
    "lean": (
        "You are an expert in Lean 4 and Mathlib. You turn a mathematical statement in English into a Lean theorem "
        "that says exactly the same thing, and prove it. Answer with one ```lean block: the theorem, := by and the "
        "proof. Never use sorry, admit or axiom."
    ),
}
SYSTEM_TACTIC = (
    "You are an expert in the Coq proof assistant. Given a theorem, the tactics applied so far and the goals that "
    "remain, you write the single next tactic: one Coq sentence ending with a period, in one ```coq block."
)


@cache
def proof_fewshot_examples(language: Language = "coq") -> dict[str, Any]:
    """The worked examples of ``language``: ``examples`` (and, for Coq, ``tactic_steps``).

    Example:
        >>> examples = proof_fewshot_examples("coq")["examples"]
        >>> all(e["script"].count("Qed.") >= 1 for e in examples), len(examples) >= 4
        (True, True)

    """
    name = "fewshot.json" if language == "coq" else "fewshot_lean.json"
    text = resources.files("neurosym.targets.proof").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def informal_text(problem: Problem) -> str:
    """The problem's informal statement, without Lean doc-comment markers (``/-- ... -/``).

    Example:
        >>> informal_text(Problem("/-- Show that $1 + 1 = 2$.-/"))
        'Show that $1 + 1 = 2$.'

    """
    text = str(problem.metadata.get("informal") or problem.text or "").strip()
    text = re.sub(r"^/-[-!]?\s*", "", text)
    text = re.sub(r"\s*-/\s*$", "", text)
    return " ".join(text.split())


def _fence(language: Language, body: str) -> str:
    return f"```{language}\n{body.strip()}\n```"


def _prove_turn(language: Language, header: str, statement: str, informal: str) -> str:
    lines = [f"Prove this theorem in {NAMES[language]}."]
    if informal:
        lines.append(f"Informally: {informal}")
    context = (header.strip() + "\n\n" if header.strip() else "") + statement.strip()
    lines.append(_fence(language, context))
    return "\n\n".join(lines)


def _autoformalize_turn(language: Language, informal: str) -> str:
    return f"State this in {NAMES[language]} as a theorem and prove it.\n\n{informal}"


def build_proof_request(problem: Problem, language: Language = "coq", *, shots: int | None = 4) -> GenerationRequest:
    """The few-shot prompt for ``problem``: prove its statement (``metadata["statement"]``) or autoformalize its text.

    Example:
        >>> p = Problem("", metadata={"statement": "Theorem t : 2 + 2 = 4.", "header": "Require Import Arith."})
        >>> r = build_proof_request(p)
        >>> r.messages[0].role, "Theorem t : 2 + 2 = 4." in r.messages[-1].content
        ('system', True)

    """
    examples = proof_fewshot_examples(language)["examples"][:shots]
    statement = problem.metadata.get("statement")
    informal = informal_text(problem)
    if statement:
        messages = [Message("system", SYSTEM[language])]
        for example in examples:
            messages.append(Message("user", _prove_turn(language, example["header"], example["statement"],
                                                        example["informal"])))  # fmt: skip
            messages.append(Message("assistant", _fence(language, example["script"])))
        messages.append(Message("user", _prove_turn(language, str(problem.metadata.get("header") or ""),
                                                    str(statement), informal)))  # fmt: skip
        return GenerationRequest(tuple(messages))
    messages = [Message("system", SYSTEM_AUTOFORMALIZE[language])]
    for example in examples:
        whole = (example["header"].strip() + "\n" if example["header"].strip() else "") + example["script"]
        messages.append(Message("user", _autoformalize_turn(language, example["informal"])))
        messages.append(Message("assistant", _fence(language, whole)))
    messages.append(Message("user", _autoformalize_turn(language, informal)))
    return GenerationRequest(tuple(messages))


def repair_proof_request(previous: GenerationRequest, output: str, feedback: str, language: Language = "coq"
                         ) -> GenerationRequest:  # fmt: skip
    r"""The conversation so far, the model's answer, and the kernel's complaint; asks for the whole proof again.

    Example:
        >>> r = build_proof_request(Problem("", metadata={"statement": "Theorem t : True."}))
        >>> answer = "```coq\nTheorem t : True.\nProof. lia. Qed.\n```"
        >>> repair_proof_request(r, answer, "lia failed").messages[-1].content[:30]
        'Coq rejected the proof: lia fa'

    """
    follow_up = (
        f"{NAMES[language]} rejected the proof: {feedback.strip()}\n\n"
        f"Write the whole theorem and its proof again, corrected, in one ```{language} block."
    )
    return GenerationRequest((*previous.messages, Message("assistant", output), Message("user", follow_up)))


def build_tactic_request(statement: str, header: str, tactics: list[str], goals: str) -> GenerationRequest:
    r"""The prompt of one step of the tactic search: the theorem, the proof so far, the goals; asks for one tactic.

    Example:
        >>> r = build_tactic_request("Theorem t : True.", "", [], "============================\nTrue")
        >>> r.messages[-1].content.startswith("Theorem:")
        True

    """
    steps = proof_fewshot_examples("coq").get("tactic_steps", [])
    messages = [Message("system", SYSTEM_TACTIC)]
    for step in steps:
        messages.append(Message("user", _tactic_turn(step["statement"], "", step["proof_so_far"], step["goals"])))
        messages.append(Message("assistant", _fence("coq", step["tactic"])))
    messages.append(Message("user", _tactic_turn(statement, header, tactics, goals)))
    return GenerationRequest(tuple(messages))


def _tactic_turn(statement: str, header: str, tactics: list[str], goals: str) -> str:
    context = (header.strip() + "\n\n" if header.strip() else "") + statement.strip()
    so_far = "\n".join(["Proof.", *("  " + t for t in tactics)])
    return (f"Theorem:\n{_fence('coq', context)}\n\nProof so far:\n{_fence('coq', so_far)}\n\n"
            f"Goals:\n```\n{goals.strip()}\n```\n\nThe next tactic:")  # fmt: skip


def extract_script(output: str, language: Language = "coq") -> str:
    r"""The proof script in a model's answer; raises :class:`ParseError` when there is none.

    Example:
        >>> extract_script("Theorem t : 1 = 1.\nProof. reflexivity. Qed.\nThis works because...", "coq")
        'Theorem t : 1 = 1.\nProof. reflexivity. Qed.\n'
        >>> extract_script("I think it is true.", "coq")
        Traceback (most recent call last):
        ...
        neurosym.errors.ParseError: no Coq proof in the answer (expected a ```coq block with the theorem and its proof)

    """
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(output)]
    wanted = [body for tag, body in blocks if tag in (language, "", "rocq" if language == "coq" else "lean4")]
    chosen = next((b for b in wanted if _PROOF_WORDS[language].search(b)), None)
    if chosen is None:
        chosen = next((b for _, b in blocks if _PROOF_WORDS[language].search(b)), None)
    if chosen is None:
        chosen = _unfenced(output, language)
    script = chosen.strip("\n").rstrip() + "\n" if chosen and chosen.strip() else ""
    if not script.strip() or not _PROOF_WORDS[language].search(script):
        raise ParseError(f"no {NAMES[language]} proof in the answer (expected a ```{language} block with the theorem "
                         "and its proof)")  # fmt: skip
    if len(script) > MAX_SCRIPT_CHARS:
        raise ParseError(f"the proof is too long: {len(script):,} characters (limit {MAX_SCRIPT_CHARS:,})")
    return script


def _unfenced(output: str, language: Language) -> str:
    match = _LOOKS[language].search(output)
    if not match:
        return ""
    text = output[match.start() :]
    if language == "coq":  # prose after the last Qed. or Defined. is not part of the script
        ends = [m.end() for m in re.finditer(r"\b(?:Qed|Defined)\.", text)]
        if ends:
            text = text[: ends[-1]]
    return text


def extract_tactic(output: str) -> str:
    r"""The tactic a model proposed: the first sentence of its block (or of its answer); raises ParseError if empty.

    Example:
        >>> extract_tactic("```coq\nintros x. lra.\n```")
        'intros x. lra.'
        >>> extract_tactic("Try: nia.")
        'nia.'

    """
    blocks = [body for _, body in _FENCE.findall(output)]
    text = (blocks[0] if blocks else output).strip()
    text = re.sub(r"^(?:Try|Tactic|Next tactic|The next tactic)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"^Proof\.\s*", "", text)
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("(*")]
    text = "\n".join(lines).strip()
    if not text:
        raise ParseError("no tactic in the answer")
    if "." not in text:
        text += "."
    return text
