r"""The Coq prover: a model-written proof script is *verified* only if Coq accepts all of it, for the statement given.

Verified also means that it rests on no assumption beyond the standard ones.

A :class:`CoqTask` is what to check: a trusted header (the problem's imports, or the user's file
up to the theorem), the model's script, and, when the problem gives one, the statement the script
must prove. :meth:`CoqProver.check` then

1. cuts the script into sentences and refuses what :mod:`neurosym.provers.coq.policy` forbids
   (plugins, files, checks switched off, ``Admitted``, ``admit``, new axioms...), before Coq runs;
2. finds the theorem: with a given statement, a sentence that states it *as written* (tokens
   compared, comments and blanks aside), else the script's last theorem;
3. runs header, a copy of the given statement elaborated right after the header
   (``Definition neurosym_statement := forall ..., ...``), the script, and then its own check:
   ``Theorem neurosym_check : neurosym_statement. Proof. exact @NAME. Qed.`` (the kernel itself
   says the theorem proved is the statement given: no notation or definition of the script can
   change what the statement means) and ``Print Assumptions``;
4. accepts the assumptions listed only if each is in :data:`STANDARD_AXIOMS` (the classical axioms
   of Coq's standard library that the real numbers rest on) or was declared by the trusted header.

The certificate (:class:`CoqProof`) is the checked file with that assumption list. Every failure
is a verdict whose ``feedback`` is written for the model: the line and column, Coq's message, the
goals before the failing step.

Example:
    >>> task = CoqTask("Theorem two : 1 + 1 = 2.\nProof. reflexivity. Qed.", statement="Theorem two : 1 + 1 = 2.")
    >>> verdict = CoqProver().check(Formalization("coq", task.source, task), timeout_s=60)
    >>> verdict.status, verdict.certificate.theorem, verdict.certificate.assumptions
    ('proved', 'two', ())
    >>> bad = CoqTask("Theorem two : 1 + 1 = 2.\nProof. Admitted.", statement="Theorem two : 1 + 1 = 2.")
    >>> CoqProver().check(Formalization("coq", bad.source, bad), timeout_s=60).feedback
    'line 2, column 8: Admitted. leaves the theorem unproved; this is not allowed in a proof script'

"""

from __future__ import annotations

import atexit
import difflib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, ParseError
from neurosym.provers.base import prover_deadline
from neurosym.provers.coq.jail import KernelLimits
from neurosym.provers.coq.kernel import COQIDETOP, CoqKernel, KernelRun, coq_version
from neurosym.provers.coq.policy import Refusal, refusals
from neurosym.provers.coq.sentences import (
    Sentence,
    TheoremHead,
    parse_theorem,
    position,
    split_sentences,
    statement_tokens,
)
from neurosym.types import Formalization, ProofAnswer, Verdict

__all__ = [
    "STANDARD_AXIOMS",
    "CoqProof",
    "CoqProver",
    "CoqTask",
    "StatementCheck",
    "check_statement",
    "default_kernel",
    "kernel_problem",
    "parse_assumptions",
]

STANDARD_AXIOMS: tuple[str, ...] = (
    # What Coq's real numbers are built on (Reals, since 8.12 from Dedekind cuts).
    "ClassicalDedekindReals.sig_forall_dec",
    "ClassicalDedekindReals.sig_not_dec",
    "FunctionalExtensionality.functional_extensionality_dep",
    # The standard library's classical logic, extensionality and choice, which the real numbers,
    # Coquelicot and the micromega tactics may use; consistent together.
    "Classical_Prop.classic",
    "PropExtensionality.propositional_extensionality",
    "ProofIrrelevance.proof_irrelevance",
    "Eqdep.Eq_rect_eq.eq_rect_eq",
    "JMeq.JMeq_eq",
    "ClassicalEpsilon.constructive_indefinite_description",
    "IndefiniteDescription.constructive_indefinite_description",
    "Description.constructive_definite_description",
    "ClassicalUniqueChoice.dependent_unique_choice",
)
"""The assumptions a verified proof may rest on (names as ``Print Assumptions`` shows them)."""

STATEMENT = "neurosym_statement"
CHECK = "neurosym_check"
PROVER = "coq"
_FEEDBACK_GOALS_CHARS = 1500


@dataclass(frozen=True, slots=True)
class CoqTask:
    r"""What to check: the trusted ``header``, the model's ``script`` and, optionally, the ``statement`` to prove.

    Attributes:
        script: the model-written part (refusal rules apply to it).
        header: trusted text run before it (imports, scopes; in ``neurosym prove``, the user's
            file up to the theorem); assumptions it declares are allowed.
        statement: ``Theorem NAME binders : type.`` as given by the problem; ``None`` when the
            script states its own theorem (autoformalization): then its last theorem is checked.

    Example:
        >>> CoqTask("Proof. lia. Qed.", header="Require Import Lia.").source
        'Require Import Lia.\nProof. lia. Qed.'

    """

    script: str
    header: str = ""
    statement: str | None = None

    @property
    def source(self) -> str:
        """The file that is checked: the header, then the script."""
        if not self.header.strip():
            return self.script
        return self.header.rstrip("\n") + "\n" + self.script

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"script": self.script, "header": self.header, "statement": self.statement}


@dataclass(frozen=True)
class CoqProof:
    r"""The certificate of a verified proof: the checked file, the theorem, and what it rests on.

    Example:
        >>> proof = CoqProof("t", "Theorem t : True.", "Theorem t : True.\nProof. exact I. Qed.", (), "8.16.1")
        >>> print(proof.render().splitlines()[0])
        Checked by Coq 8.16.1: t rests on no assumption

    """

    KIND: ClassVar[str] = "coq_proof"
    theorem: str
    statement: str
    script: str
    assumptions: tuple[str, ...] = ()
    kernel: str = ""
    header: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": self.KIND, "theorem": self.theorem, "statement": self.statement, "script": self.script,
                "assumptions": list(self.assumptions), "kernel": self.kernel, "header": self.header}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CoqProof:
        """Read back :meth:`to_dict`."""
        return cls(data["theorem"], data["statement"], data["script"], tuple(data.get("assumptions", ())),
                   data.get("kernel", ""), data.get("header", ""))  # fmt: skip

    def render(self) -> str:
        """The verdict's evidence for people: the kernel, the assumptions, the file."""
        rests = ", ".join(self.assumptions) if self.assumptions else "no assumption"
        lines = [f"Checked by Coq {self.kernel or '?'}: {self.theorem} rests on {rests}", "Proof script:"]
        body = self.script if not self.header.strip() else self.header.rstrip("\n") + "\n" + self.script
        lines += ["    " + line for line in body.rstrip("\n").splitlines()]
        return "\n".join(lines)


def parse_assumptions(text: str) -> dict[str, list[str]]:
    r"""The names ``Print Assumptions`` lists, by its section (``Axioms``, ``Section Variables``...).

    Example:
        >>> parse_assumptions("Axioms:\nClassical_Prop.classic : forall P : Prop, P \\/ ~ P\nf\n  : nat -> nat")
        {'Axioms': ['Classical_Prop.classic', 'f']}
        >>> parse_assumptions("Closed under the global context")
        {}

    """
    if "Closed under the global context" in text:
        return {}
    sections: dict[str, list[str]] = {}
    current = "Axioms"
    for line in text.splitlines():
        if not line.strip() or line[0].isspace():
            continue
        if line.rstrip().endswith(":") and " : " not in line:
            current = line.rstrip()[:-1].strip()
            sections.setdefault(current, [])
            continue
        sections.setdefault(current, []).append(line.split(" : ", 1)[0].strip())
    return sections


def kernel_problem(*, jail: bool = True) -> str | None:
    """Why this machine cannot run the Coq kernel (in its jail), or ``None`` when it can.

    Example:
        >>> kernel_problem() is None or "install" in kernel_problem()
        True

    """
    import shutil

    if shutil.which(COQIDETOP) is None or shutil.which("coqtop") is None:
        return "Coq is not installed (Debian/Ubuntu: apt-get install coq libcoq-coquelicot)"
    if jail:
        from neurosym.provers.sandbox import sandbox_problem

        problem = sandbox_problem()
        if problem is not None:
            return f"the kernel's jail cannot run: {problem}"
    return None


_kernels: dict[tuple[KernelLimits, bool], CoqKernel] = {}
_kernels_lock = threading.Lock()


def default_kernel(limits: KernelLimits | None = None, *, jail: bool = True) -> CoqKernel:
    """The kernel of this process for ``limits`` (one per setting, started on first use, closed at exit).

    Example:
        >>> default_kernel() is default_kernel()
        True

    """
    key = (limits or KernelLimits(), jail)
    with _kernels_lock:
        kernel = _kernels.get(key)
        if kernel is None:
            kernel = _kernels[key] = CoqKernel(limits=key[0], jail=jail)
        return kernel


@atexit.register
def _close_kernels() -> None:
    with _kernels_lock:
        for kernel in _kernels.values():
            kernel.close()
        _kernels.clear()


def _sentences(text: str, what: str) -> list[Sentence]:
    sentences = split_sentences(text)
    if sentences and not sentences[-1].complete:
        last = sentences[-1]
        shown = " ".join(last.text.split())[:80]
        raise ParseError(f"{what} ends without a final '.' at line {last.line}: {shown}", line=last.line,
                         column=last.column)  # fmt: skip
    return sentences


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n…"


def _render_goals(run: KernelRun, upto: int) -> str:
    """The goals after the accepted sentence just before index ``upto`` of the run."""
    if upto <= 0 or upto > len(run.steps):
        return ""
    goals = run.steps[upto - 1].goals
    if not goals:
        return ""
    shown = "\n\n".join(goal.render() for goal in goals[:3])
    more = f"\n(and {len(goals) - 3} more goals)" if len(goals) > 3 else ""
    return _trim(shown, _FEEDBACK_GOALS_CHARS) + more


@dataclass(frozen=True)
class StatementCheck:
    """Whether a statement type-checks as shipped (header, statement, ``Admitted``): the validity benchmark's unit.

    Example:
        >>> StatementCheck(False, "The reference R was not found").ok
        False

    """

    ok: bool
    message: str = ""
    sentence: str = ""
    seconds: float = 0.0


def check_statement(header: str, statement: str, *, timeout_s: float = 60.0,
                    kernel: CoqKernel | None = None) -> StatementCheck:  # fmt: skip
    """Run ``header`` and ``statement`` closed by ``Admitted`` (trusted: no refusal rules); say if Coq accepts them.

    Example:
        >>> check_statement("Require Import Arith.", "Theorem t : forall n : nat, n + 0 = n.").ok
        True
        >>> check_statement("", "Theorem t : forall x : R, x = x.").message
        'The reference R was not found in the current environment.'

    """
    deadline = prover_deadline(timeout_s)
    kernel = kernel or default_kernel()
    started = time.perf_counter()
    try:
        sentences = [s.text for s in _sentences(header, "the header") + _sentences(statement, "the statement")]
    except ParseError as exc:
        return StatementCheck(False, exc.message, seconds=time.perf_counter() - started)
    run = kernel.run([*sentences, "Admitted."], deadline)
    if run.status == "ok":
        return StatementCheck(True, seconds=run.seconds)
    failed = sentences[run.error.sentence] if run.error and run.error.sentence < len(sentences) else ""
    return StatementCheck(False, run.message or run.status, failed, run.seconds)


@dataclass
class CoqProver:
    """Coq as a prover for the ``coq`` target (see the module docstring).

    Args:
        limits: the kernel's memory and ``/tmp`` limits.
        jail: run the kernel in its bubblewrap jail (default); ``False`` only where there is no
            bubblewrap and the scripts are trusted.
        allowed_axioms: the assumptions a verified proof may rest on.

    Example:
        >>> CoqProver().to_dict()["name"], CoqProver().target
        ('coq', 'coq')

    """

    name: ClassVar[str] = PROVER
    target: ClassVar[str] = "coq"
    limits: KernelLimits = field(default_factory=KernelLimits)
    jail: bool = True
    allowed_axioms: tuple[str, ...] = STANDARD_AXIOMS

    def available(self) -> bool:
        """Whether Coq (and bubblewrap, for the jail) are installed; starts nothing."""
        return kernel_problem(jail=self.jail) is None

    @property
    def kernel(self) -> CoqKernel:
        """The kernel this prover checks with (this process's shared one for its settings)."""
        return default_kernel(self.limits, jail=self.jail)

    def to_dict(self) -> dict[str, Any]:
        """Name, Coq's version and the settings, for results files and cache keys."""
        return {"name": self.name, "version": coq_version(), "memory_mb": self.limits.memory_mb, "jail": self.jail,
                "allowed_axioms": list(self.allowed_axioms)}  # fmt: skip

    def steps(self, task: CoqTask, *, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        r"""Run ``task``'s script sentence by sentence: for each, its line and column, the goals after it, its messages.

        The first sentence Coq refuses ends the list, with its ``error`` (the message, and the line
        and column where Coq points). No refusal rules apply here: this is for reading a script,
        not for verifying it (use :meth:`check`).

        Example:
            >>> task = CoqTask("Goal True /\\ True.\nsplit.\nexact I.")
            >>> [(s["line"], len(s["goals"])) for s in CoqProver().steps(task)]
            [(1, 1), (2, 2), (3, 1)]

        """
        deadline = prover_deadline(timeout_s)
        header = _sentences(task.header, "the header")
        script = split_sentences(task.script)
        run = self.kernel.run([*(s.text for s in header), *(s.text for s in script)], deadline)
        out: list[dict[str, Any]] = []
        for offset, step in enumerate(run.steps[len(header) :]):
            sentence = script[offset]
            out.append({"line": sentence.line, "column": sentence.column, "sentence": sentence.text,
                        "goals": [g.to_dict() for g in step.goals] if step.goals is not None else None,
                        "messages": [m.text for m in step.messages]})  # fmt: skip
        if run.error is not None and run.error.sentence >= len(header):
            sentence = script[run.error.sentence - len(header)]
            line, column = position(task.script, sentence.start + (run.error.start or 0))
            out.append({"line": sentence.line, "column": sentence.column, "sentence": sentence.text,
                        "error": {"message": run.error.message, "line": line, "column": column}})  # fmt: skip
        elif run.status in ("timeout", "crashed"):
            out.append({"error": {"message": run.message}})
        return out

    # ------------------------------------------------------------------------------------ checking

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Verify a proof script (a :class:`CoqTask` in ``parsed``, or the whole ``source`` as the script)."""
        if not isinstance(formalization, Formalization) or formalization.target != self.target:
            target = getattr(formalization, "target", type(formalization).__name__)
            raise ConfigurationError(f"the Coq prover checks formalizations of the coq target, not {target!r}")
        deadline = prover_deadline(timeout_s, deadline)
        task = formalization.parsed if isinstance(formalization.parsed, CoqTask) else CoqTask(formalization.source)
        started = time.perf_counter()
        if deadline.expired():
            return Verdict("timeout", message="the deadline had passed before checking began", prover=self.name)
        verdict = self._check(task, deadline)
        return Verdict(verdict.status, verdict.answer, verdict.certificate, verdict.feedback, verdict.message,
                       time.perf_counter() - started, self.name, verdict.details)  # fmt: skip

    def _invalid(self, problem: str, *, feedback: str | None = None, **details: Any) -> Verdict:
        return Verdict("invalid", feedback=feedback or problem, message=problem, prover=self.name, details=details)

    def _check(self, task: CoqTask, deadline: Deadline) -> Verdict:
        try:
            header = _sentences(task.header, "the header")
            script = _sentences(task.script, "the proof script")
        except ParseError as exc:
            return self._invalid(exc.message, where="parse")
        if not script:
            return self._invalid("the proof script is empty", where="parse")
        refused = refusals(script)
        if refused:
            return self._refused(refused)
        given = parse_theorem(task.statement) if task.statement is not None else None
        if task.statement is not None and given is None:
            raise ConfigurationError(f"the given statement states no theorem: {task.statement!r}")
        found = self._find_theorem(script, given, task.statement)
        if isinstance(found, Verdict):
            return found
        index, head = found
        texts = [s.text for s in header]
        prelude = [f"Definition {STATEMENT} := {given.proposition}."] if given is not None else []
        body = [s.text for s in script]
        first = self.kernel.run([*texts, *prelude, *body], deadline)
        if first.status == "crashed" and not deadline.expired():
            # A kernel broken by what ran before (a full /tmp, a crash) is replaced: try once more on a fresh one.
            first = self.kernel.run([*texts, *prelude, *body], deadline)
        late = self._kernel_failure(first)
        if late is not None:
            return late
        if first.status == "error":
            return self._kernel_error(first, task, script, len(texts), len(prelude))
        if first.goals is not None:
            goals = _render_goals(first, len(first.steps))
            problem = "the proof is not finished: goals remain at the end of the script"
            return self._invalid(problem, feedback=f"{problem}:\n{goals}" if goals else problem, where="unfinished")
        checks = [f"Print Assumptions {head.name}."]
        if given is not None:
            checks = [f"Theorem {CHECK} : {STATEMENT}.", "Proof.", f"exact @{head.name}.", "Qed.",
                      f"Print Assumptions {CHECK}."]  # fmt: skip
        final = self.kernel.run([*texts, *prelude, *body, *checks], deadline)
        late = self._kernel_failure(final)
        if late is not None:
            return late
        if final.status == "error":
            assert final.error is not None
            problem = (f"the theorem {head.name} that the script proves is not the statement given "
                       f"(Coq: {final.error.message})")  # fmt: skip
            return self._invalid(problem, where="statement", kernel_message=final.error.message)
        printed = "\n".join(m.text for m in final.steps[-1].messages)
        assumptions = parse_assumptions(printed)
        declared = self._declared_by_header(header)
        names = [name for names in assumptions.values() for name in names]
        outside = [
            f"{name} ({section})" if section != "Axioms" else name
            for section, listed in assumptions.items()
            for name in listed
            if section != "Axioms" or (name not in self.allowed_axioms and name.rpartition(".")[2] not in declared)
        ]
        if outside:
            problem = f"the proof rests on assumptions outside the allowed ones: {', '.join(outside)}"
            return self._invalid(problem, where="assumptions", assumptions=names)
        statement = task.statement if task.statement is not None else script[index].text
        certificate = CoqProof(head.name, statement, task.script, tuple(names), coq_version() or "", task.header)
        details = {"theorem": head.name, "sentences": len(body), "reused": final.reused,
                   "kernel_s": round(first.seconds + final.seconds, 6)}  # fmt: skip
        return Verdict("proved", answer=ProofAnswer(statement, task.script), certificate=certificate,
                       message=f"Coq accepted {head.name}", prover=self.name, details=details)  # fmt: skip

    def _refused(self, refused: list[Refusal]) -> Verdict:
        feedback = "\n".join(r.render() for r in refused[:5])
        return self._invalid(refused[0].render(), feedback=feedback, where="refused",
                             refused=[r.to_dict() for r in refused])  # fmt: skip

    def _find_theorem(self, script: Sequence[Sentence], given: TheoremHead | None,
                      statement: str | None) -> tuple[int, TheoremHead] | Verdict:  # fmt: skip
        heads = [(i, head) for i, s in enumerate(script) if (head := parse_theorem(s.text)) is not None]
        if given is None:
            if not heads:
                return self._invalid("the script states no theorem (Theorem NAME : statement. Proof. ... Qed.)",
                                     where="statement")  # fmt: skip
            return heads[-1]
        assert statement is not None
        named = [(i, head) for i, head in heads if head.name == given.name]
        if not named:
            problem = f"the script does not state the theorem {given.name}; it must prove it as given:\n{statement}"
            return self._invalid(problem, where="statement")
        index, head = named[0]
        if statement_tokens(script[index].text) != statement_tokens(statement):
            diff = "\n".join(difflib.unified_diff(statement.strip().splitlines(), script[index].text.splitlines(),
                                                  "given", "in the script", lineterm="", n=0))  # fmt: skip
            problem = f"the statement of {given.name} was changed; prove it exactly as given:\n{statement.strip()}"
            return self._invalid(problem, where="statement", diff=diff)
        return index, head

    @staticmethod
    def _declared_by_header(header: Iterable[Sentence]) -> set[str]:
        """Names the trusted header declares as assumptions (the user's own axioms in ``neurosym prove``)."""
        import re

        declared: set[str] = set()
        pattern = re.compile(r"^\s*(?:Local\s+|Global\s+)?(?:Axioms?|Parameters?|Conjectures?|Hypothes[ie]s|"
                             r"Variables?)\s+(.*?)\s*:", re.DOTALL)  # fmt: skip
        for sentence in header:
            match = pattern.match(sentence.code)
            if match:
                declared.update(match.group(1).replace("(", " ").split())
        return declared

    def _kernel_failure(self, run: KernelRun) -> Verdict | None:
        if run.status == "timeout":
            return Verdict("timeout", message=run.message, feedback="the proof took too long to check",
                           prover=self.name, details={"kernel_s": round(run.seconds, 6)})  # fmt: skip
        if run.status == "crashed":
            return Verdict("unknown", message=run.message, prover=self.name,
                           feedback="the proof crashed the kernel; try a different proof")  # fmt: skip
        return None

    def _kernel_error(self, run: KernelRun, task: CoqTask, script: Sequence[Sentence], header_count: int,
                      prelude_count: int) -> Verdict:  # fmt: skip
        error = run.error
        assert error is not None
        if error.sentence < header_count:
            problem = f"the header does not type-check: {error.message}"
            return self._invalid(problem, where="header", kernel_message=error.message)
        if error.sentence < header_count + prelude_count:
            problem = f"the given statement does not type-check: {error.message}"
            return self._invalid(problem, where="given-statement", kernel_message=error.message)
        index = error.sentence - header_count - prelude_count
        sentence = script[index]
        line, column = position(task.script, sentence.start + (error.start or 0))
        shown = " ".join(sentence.text.split())
        shown = shown if len(shown) <= 200 else shown[:199] + "…"
        problem = f"line {line}, column {column}: {error.message}"
        feedback = f"Coq rejected the script at line {line}, column {column}, in `{shown}`:\n{error.message}"
        goals = _render_goals(run, error.sentence)
        if goals:
            feedback += f"\nThe goals before this step were:\n{goals}"
        return self._invalid(problem, feedback=feedback, where="script", line=line, column=column, sentence=shown,
                             kernel_message=error.message)  # fmt: skip
