r"""Lean 4 as a proof kernel, through the REPL of leanprover-community/repl (JSON on stdin and stdout).

The REPL is a long-lived process (:class:`LeanRepl`, supervised by :mod:`neurosym.processes`:
started on first use, killed with its whole tree on a timeout or a crash, restarted after), run
in the proof kernels' bubblewrap jail (:mod:`neurosym.provers.coq.jail`) with the toolchain, the
project and the REPL bound read-only where bubblewrap is installed. Its
protocol, as its README documents it: a command ``{"cmd": ..., "env": n}`` answers
``{"env": m, "messages": [...], "sorries": [...]}`` (``env`` reuses an earlier environment, so
the imports of a header are elaborated once); a tactic ``{"tactic": ..., "proofState": n}``
answers ``{"proofState": m, "goals": [...]}`` (tactic mode on the proof state of a ``sorry``);
``{"pickleTo": path, "env": n}`` and ``{"unpickleEnvFrom": path}`` save and load environments;
an error is ``{"message": ...}``. Requests and answers are separated by blank lines.

:class:`LeanProver` verifies as the Coq prover does: the model's script may not use ``sorry``,
``admit``, ``axiom``, ``#eval``, ``run_cmd``, custom elaborators, ``unsafe`` or ``native_decide``
(refused before Lean runs: elaboration can run code); the theorem must be stated as given (tokens
compared, and then Lean itself checks ``theorem neurosym_check : neurosym_statement := @NAME``
against the given statement elaborated right after the header); and ``#print axioms`` may list
only ``propext``, ``Classical.choice`` and ``Quot.sound``.

Where the REPL is: ``NEUROSYM_LEAN_REPL`` (the ``repl`` executable, built with ``lake build`` in a
checkout of leanprover-community/repl) run through ``lake env`` in ``NEUROSYM_LEAN_PROJECT`` (a
Lake project that requires Mathlib), or a ``repl`` on ``PATH``. No Lean toolchain ships through
the package indexes neurosym is built from, so here Lean is tested against a test double that
speaks the documented protocol (tests/provers/lean_repl_test_double.py); the tests with real Lean
run where it is installed.

Example:
    >>> find_repl(environ={}) is None or isinstance(find_repl(environ={}), LeanSetup)
    True
    >>> [r.rule for r in lean_refusals("theorem t : 1 = 1 := by\n  sorry")]
    ['sorry']

"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from neurosym.deadlines import Deadline
from neurosym.errors import ConfigurationError, ParseError, SolverCrashedError, SolverUnavailableError
from neurosym.processes import StartFailed, SupervisedProcess
from neurosym.provers.base import prover_deadline
from neurosym.types import Formalization, ProofAnswer, Verdict

__all__ = [
    "ALLOWED_AXIOMS",
    "LEAN_PORTFOLIO",
    "LeanProof",
    "LeanProver",
    "LeanRepl",
    "LeanReplCrashed",
    "LeanReplError",
    "LeanSetup",
    "LeanTask",
    "find_repl",
    "lean_refusals",
    "lean_statement_tokens",
    "parse_lean_theorem",
    "run_lean_portfolio",
]

ALLOWED_AXIOMS = ("propext", "Classical.choice", "Quot.sound")
"""The axioms a verified Lean proof may rest on (Lean's and Mathlib's standard three)."""
STATEMENT = "neurosym_statement"
CHECK = "neurosym_check"
START_TIMEOUT_S = 300.0  # importing Mathlib the first time takes minutes
_AXIOMS = re.compile(r"'(?P<name>[^']+)' depends on axioms: \[(?P<axioms>[^\]]*)\]")
_NO_AXIOMS = re.compile(r"'[^']+' does not depend on any axioms")


# --------------------------------------------------------------------------------------------- text


def _strip_lean_comments(text: str, *, blank_strings: bool = False) -> str:
    """``text`` without ``--`` and (nested) ``/- -/`` comments; with ``blank_strings`` strings are emptied."""
    out, i, n, depth = [], 0, len(text), 0
    while i < n:
        if text.startswith("/-", i):
            depth, i = depth + 1, i + 2
            continue
        if depth:
            if text.startswith("-/", i):
                depth, i = depth - 1, i + 2
                if not depth:
                    out.append(" ")
            else:
                i += 1
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        if text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' if blank_strings else text[i : j + 1])
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    if depth:
        raise ParseError("unterminated comment (/- without -/)")
    return "".join(out)


_LEAN_TOKEN = re.compile(r"\"(?:[^\"\\]|\\.)*\"|[\w'.\u0080-\U0010ffff]+|\S")


def lean_statement_tokens(text: str) -> list[str]:
    r"""The tokens of a Lean statement up to its ``:=`` (comments and blanks dropped; ``lemma`` counts as ``theorem``).

    Example:
        >>> a = lean_statement_tokens("lemma t (x:ℕ) : x = x := by rfl")
        >>> a == lean_statement_tokens("theorem t (x : ℕ) :\n x = x")
        True

    """
    code = _strip_lean_comments(text).strip()
    head = _top_level_split(code, ":=")
    tokens = _LEAN_TOKEN.findall(head if head is not None else code)
    if tokens and tokens[0] == "lemma":
        tokens[0] = "theorem"
    return tokens


def _top_level_split(code: str, marker: str) -> str | None:
    """``code`` up to the first ``marker`` outside brackets, or ``None`` when there is none."""
    depth, i, n = 0, 0, len(code)
    while i < n:
        char = code[i]
        if char in "([{⦃⟨":
            depth += 1
        elif char in ")]}⦄⟩":
            depth -= 1
        elif depth == 0 and code.startswith(marker, i) and not (marker == ":" and code.startswith(":=", i)):
            return code[:i]
        i += 1
    return None


@dataclass(frozen=True, slots=True)
class LeanTheorem:
    """A Lean theorem's statement split up (``theorem name binders : type``).

    Example:
        >>> LeanTheorem("t", "(x : ℕ)", "x = x").proposition
        '∀ (x : ℕ), x = x'

    """

    name: str
    binders: str
    type: str

    @property
    def proposition(self) -> str:
        """The statement as one closed proposition (``∀ binders, type``)."""
        return f"∀ {self.binders}, {self.type}" if self.binders else self.type


_LEAN_HEAD = re.compile(r"^(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+)?(theorem|lemma)\s+([^\s(\[{:⦃]+)(.*)$",
                        re.DOTALL)  # fmt: skip


def parse_lean_theorem(text: str) -> LeanTheorem | None:
    """The name, binders and type of the first theorem in ``text``, or ``None``.

    Example:
        >>> t = parse_lean_theorem("theorem t (x : ℝ) (h : 0 < x) : 0 < x ^ 2 := by positivity")
        >>> t.name, t.binders, t.type
        ('t', '(x : ℝ) (h : 0 < x)', '0 < x ^ 2')

    """
    code = _strip_lean_comments(text).strip()
    for start in [0, *[m.start() for m in re.finditer(r"(?m)^(?=(?:@\[|theorem|lemma))", code)]]:
        match = _LEAN_HEAD.match(code[start:])
        if not match:
            continue
        _, name, rest = match.groups()
        statement = _top_level_split(rest, ":=")
        statement = rest if statement is None else statement
        binders = _top_level_split(statement, ":")
        if binders is None:
            continue
        type_ = statement[len(binders) + 1 :].strip()
        return LeanTheorem(name, " ".join(binders.split()), " ".join(type_.split()))
    return None


@dataclass(frozen=True, slots=True)
class LeanRefusal:
    """A refused piece of a Lean script: the rule and why.

    Example:
        >>> LeanRefusal("sorry", "`sorry` leaves a goal unproved").render()
        '`sorry` leaves a goal unproved; this is not allowed in a proof script'

    """

    rule: str
    message: str

    def render(self) -> str:
        """One line for people and for the model."""
        return f"{self.message}; this is not allowed in a proof script"


_LEAN_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.MULTILINE), rule, why)
    for pattern, rule, why in (
        (r"(?<![\w.'])sorry(?![\w'])", "sorry", "`sorry` leaves a goal unproved"),
        (r"(?<![\w.'])admit(?![\w'])", "sorry", "`admit` leaves a goal unproved"),
        (r"(?<![\w.'])axiom(?![\w'])", "assumption", "`axiom` adds an assumption"),
        (r"(?<![\w.'])(?:opaque|constant)\s", "assumption", "an opaque constant is an assumption"),
        (r"^\s*import\s", "import", "`import` belongs in the header"),
        (r"#(?:eval|exit)\b|(?<![\w.'])(?:run_cmd|run_tac|run_elab|run_meta)(?![\w'])", "runs-code",
         "runs code during elaboration"),
        (r"(?<![\w.'])(?:elab|elab_rules|initialize|builtin_initialize)(?![\w'])", "runs-code",
         "defines an elaborator (code that runs during elaboration)"),
        (r"(?<![\w.'])(?:unsafe|implemented_by|extern)(?![\w'])", "unsafe", "trusts code the kernel does not check"),
        (r"(?<![\w.'])native_decide(?![\w'])", "unsafe", "`native_decide` trusts compiled code"),
        (r"set_option\s+debug\.skipKernelTC", "checks-off", "switches the kernel's type checking off"),
        (r"(?<![\w'])neurosym\w*", "reserved-name", "uses a name starting with 'neurosym' (the checker's own)"),
    )
)  # fmt: skip


def lean_refusals(script: str) -> list[LeanRefusal]:
    r"""What a model-written Lean script may not contain (comments and strings are not read).

    Example:
        >>> [r.rule for r in lean_refusals('theorem t : True := by\n  trivial -- no sorry here')]
        []

    """
    words = _strip_lean_comments(script, blank_strings=True)
    found = []
    for pattern, rule, why in _LEAN_RULES:
        match = pattern.search(words)
        if match:
            found.append(LeanRefusal(rule, f"`{match.group(0).strip()}`: {why}"))
    return found


# --------------------------------------------------------------------------------------------- the REPL


class LeanReplError(SolverUnavailableError):
    """The Lean REPL cannot start here."""


class LeanReplCrashed(SolverCrashedError):
    """The Lean REPL died or broke its protocol while answering (it is restarted on the next request)."""


@dataclass(frozen=True, slots=True)
class LeanSetup:
    """How to start the REPL: its command, the Lake project whose imports (Mathlib) it sees, and its jail.

    Attributes:
        command: the command line, as the jail sees it (host paths are bound at the same place).
        project: the Lake project, if any.
        binds: host folders shown read-only in the jail (the toolchain, the project, the REPL).
        env: variables set in the jail (``ELAN_HOME``, ``PATH``).
        jail: run in the proof kernels' bubblewrap jail (:mod:`neurosym.provers.coq.jail`:
            no network, read-only host view, private ``/tmp``, limits, seccomp); elaboration can
            run code, so this is the default. ``NEUROSYM_LEAN_JAIL=0`` switches it off.

    Example:
        >>> LeanSetup(("repl",)).command
        ('repl',)

    """

    command: tuple[str, ...]
    project: str | None = None
    binds: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    jail: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"command": list(self.command), "project": self.project, "jail": self.jail}


def find_repl(*, environ: Mapping[str, str] | None = None) -> LeanSetup | None:
    """The REPL this machine has, from ``NEUROSYM_LEAN_REPL`` and ``NEUROSYM_LEAN_PROJECT``, else ``repl`` on PATH.

    Looks at files only; nothing is started. The setup is jailed where bubblewrap is installed,
    with the REPL, the project and the Lean toolchain (``ELAN_HOME``, default ``~/.elan``) bound
    read-only at their own paths.

    Example:
        >>> find_repl(environ={"NEUROSYM_LEAN_REPL": "/nonexistent/repl"}) is None
        True

    """
    env = os.environ if environ is None else environ
    repl = env.get("NEUROSYM_LEAN_REPL") or shutil.which("repl")
    if not repl or not os.access(repl, os.X_OK):
        return None
    repl = os.path.realpath(repl)
    project = env.get("NEUROSYM_LEAN_PROJECT")
    lake = shutil.which("lake", path=env.get("PATH"))
    elan = env.get("ELAN_HOME") or os.path.join(env.get("HOME", "/root"), ".elan")
    binds = [(os.path.dirname(repl), os.path.dirname(repl))]
    variables = [("PATH", f"{elan}/bin:/usr/bin:/bin")]
    if os.path.isdir(elan):
        binds.append((elan, elan))
        variables.append(("ELAN_HOME", elan))
    jail = env.get("NEUROSYM_LEAN_JAIL", "1") != "0" and shutil.which("bwrap") is not None
    if project and lake and os.path.isdir(project):
        project = os.path.realpath(project)
        binds.append((project, project))
        return LeanSetup((os.path.realpath(lake), "-d", project, "env", repl), project, tuple(binds),
                         tuple(variables), jail)  # fmt: skip
    return LeanSetup((repl,), None, tuple(binds), tuple(variables), jail)


class LeanRepl:
    """One REPL process spoken to in the documented JSON protocol (one request, one answer, blank lines between).

    Args:
        command: the REPL's command line (``lake -d PROJECT env repl``, or a test double).
        env: its environment variables when not jailed (default: this process's).
        jail: a setup whose ``jail`` is set runs the REPL in the kernels' jail with its binds.
        memory_mb: the jailed REPL's address-space limit (Mathlib needs several GiB).

    Example:
        >>> LeanRepl(["repl"]).restarts  # nothing starts before the first request
        0

    Thread-safe: one request at a time. A request that is not answered by its deadline, or an
    answer that is not JSON, kills the process with its tree; the next request starts another
    (environment and proof-state numbers of the old one are then forgotten: :attr:`generation`
    counts the processes).

    """

    def __init__(self, command: Sequence[str], *, env: Mapping[str, str] | None = None,
                 max_answer_bytes: int = 64 << 20, jail: LeanSetup | None = None,
                 memory_mb: int = 16384) -> None:  # fmt: skip
        self.argv = list(command)
        if jail is not None and jail.jail:
            from neurosym.provers.coq.jail import KernelLimits, kernel_jail_command, launcher_command

            limits = KernelLimits(memory_mb=memory_mb, tmp_mb=1024, file_mb=512)  # pickles go to /tmp
            walls = kernel_jail_command(limits, binds=jail.binds, env=jail.env)
            self._process = SupervisedProcess(launcher_command(limits, self.argv), jail=walls,
                                              max_line_bytes=max_answer_bytes)  # fmt: skip
        else:
            self._process = SupervisedProcess(self.argv, env=env, max_line_bytes=max_answer_bytes)
        self._lock = threading.Lock()
        self.generation = 0
        self._headers: dict[str, int] = {}

    @property
    def restarts(self) -> int:
        """Processes started to replace one that ended (crashed, hung, timed out)."""
        return self._process.restarts

    def _ensure(self) -> None:
        if self._process.alive():
            return
        self._headers.clear()
        try:
            self._process.start()
        except (StartFailed, OSError) as exc:
            raise LeanReplError(f"the Lean REPL did not start: {exc}", solver="lean") from exc
        self.generation += 1

    def request(self, payload: Mapping[str, Any], deadline: Deadline) -> dict[str, Any] | None:
        """Send one request and return its answer; ``None`` if the deadline passed (the REPL is then stopped).

        Raises:
            LeanReplError: the REPL cannot start.
            LeanReplCrashed: it died, or answered something that is not JSON.

        """
        with self._lock:
            self._ensure()
            process = self._process.process
            assert process is not None and process.stdin is not None
            try:
                process.stdin.write(json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")
                process.stdin.flush()
            except OSError:
                self._process.kill()
                raise LeanReplCrashed("the Lean REPL closed its input", solver="lean") from None
            lines: list[bytes] = []
            while True:
                line = self._process.read_line(deadline)
                if line is None:
                    late = deadline.expired()
                    said = self._process.stderr_text(500)
                    self._process.kill()
                    if late:
                        return None
                    raise LeanReplCrashed(f"the Lean REPL ended: {said or 'no message'}", solver="lean")
                if line.strip():
                    lines.append(line)
                elif lines:
                    break
            return self._decode(lines)

    def _decode(self, lines: list[bytes]) -> dict[str, Any]:
        """The JSON answer in ``lines`` (some REPL versions print progress lines before it)."""
        for start in range(len(lines)):
            if not lines[start].lstrip().startswith(b"{"):
                continue
            try:
                answer = json.loads(b"\n".join(lines[start:]))
            except ValueError:
                continue
            if isinstance(answer, dict):
                return answer
        self._process.kill()
        raise LeanReplCrashed(f"the Lean REPL answered something that is not JSON: {lines[:1]!r}", solver="lean")

    def command(self, cmd: str, deadline: Deadline, *, env: int | None = None) -> dict[str, Any] | None:
        """Run Lean commands in environment ``env`` (or a new one); the answer: ``env``, ``messages``, ``sorries``."""
        payload: dict[str, Any] = {"cmd": cmd}
        if env is not None:
            payload["env"] = env
        return self.request(payload, deadline)

    def tactic(self, tactic: str, proof_state: int, deadline: Deadline) -> dict[str, Any] | None:
        """Run one tactic on a proof state (tactic mode); the answer has ``proofState`` and ``goals``."""
        return self.request({"tactic": tactic, "proofState": proof_state}, deadline)

    def pickle_env(self, env: int, path: str | os.PathLike[str], deadline: Deadline) -> dict[str, Any] | None:
        """Save environment ``env`` to an ``.olean`` file."""
        return self.request({"pickleTo": str(path), "env": env}, deadline)

    def unpickle_env(self, path: str | os.PathLike[str], deadline: Deadline) -> dict[str, Any] | None:
        """Load an environment saved by :meth:`pickle_env`; the answer's ``env`` names it."""
        return self.request({"unpickleEnvFrom": str(path)}, deadline)

    def header_env(self, header: str, deadline: Deadline) -> tuple[int | None, dict[str, Any] | None]:
        """The environment after ``header`` (its imports), elaborated once per REPL process."""
        generation = self.generation
        cached = self._headers.get(header)
        if cached is not None and self._process.alive() and generation == self.generation:
            return cached, None
        answer = self.command(header, deadline)
        if answer is None or "env" not in answer or _errors(answer):
            return None, answer
        self._headers[header] = int(answer["env"])
        return int(answer["env"]), answer

    def close(self) -> None:
        """Kill the REPL and start no other."""
        with self._lock:
            self._process.close()

    def __enter__(self) -> LeanRepl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _errors(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [m for m in answer.get("messages", []) if isinstance(m, dict) and m.get("severity") == "error"]


def _position(message: Mapping[str, Any]) -> tuple[int, int]:
    pos = message.get("pos") or {}
    return int(pos.get("line", 0)), int(pos.get("column", 0)) + 1  # Lean's columns count from 0


# --------------------------------------------------------------------------------------------- the prover


@dataclass(frozen=True, slots=True)
class LeanTask:
    r"""What to check: the trusted ``header``, the model's ``script``, maybe the ``statement`` (``theorem t : T``).

    Example:
        >>> LeanTask("theorem t : 1 = 1 := rfl", "import Mathlib").source
        'import Mathlib\n\ntheorem t : 1 = 1 := rfl'

    """

    script: str
    header: str = ""
    statement: str | None = None

    @property
    def source(self) -> str:
        """The file that is checked."""
        return self.header.rstrip("\n") + "\n\n" + self.script if self.header.strip() else self.script


@dataclass(frozen=True)
class LeanProof:
    """The certificate of a verified Lean proof: the theorem, the checked file and its axioms.

    Example:
        >>> LeanProof("t", "theorem t : 1 = 1", "theorem t : 1 = 1 := rfl").render().splitlines()[0]
        'Checked by Lean: t rests on no axiom'

    """

    KIND: ClassVar[str] = "lean_proof"
    theorem: str
    statement: str
    script: str
    axioms: tuple[str, ...] = ()
    header: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": self.KIND, "theorem": self.theorem, "statement": self.statement, "script": self.script,
                "axioms": list(self.axioms), "header": self.header}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeanProof:
        """Read back :meth:`to_dict`."""
        return cls(data["theorem"], data["statement"], data["script"], tuple(data.get("axioms", ())),
                   data.get("header", ""))  # fmt: skip

    def render(self) -> str:
        """The evidence for people."""
        rests = ", ".join(self.axioms) if self.axioms else "no axiom"
        lines = [f"Checked by Lean: {self.theorem} rests on {rests}", "Proof script:"]
        return "\n".join(lines + ["    " + line for line in self.script.rstrip("\n").splitlines()])


def parse_axioms(messages: Sequence[Mapping[str, Any]]) -> tuple[str, ...] | None:
    """The axioms ``#print axioms`` listed in ``messages`` (``()``: none), or ``None`` if it printed nothing.

    Example:
        >>> parse_axioms([{"severity": "info", "data": "'t' depends on axioms: [propext, Quot.sound]"}])
        ('propext', 'Quot.sound')

    """
    for message in messages:
        text = str(message.get("data", ""))
        match = _AXIOMS.search(text)
        if match:
            return tuple(a.strip() for a in match.group("axioms").split(",") if a.strip())
        if _NO_AXIOMS.search(text):
            return ()
    return None


_repls: dict[LeanSetup, LeanRepl] = {}
_repls_lock = threading.Lock()


@dataclass
class LeanProver:
    """Lean 4 as a prover for the ``lean`` target, through the REPL (see the module docstring).

    Args:
        setup: how to start the REPL (default: :func:`find_repl`).
        allowed_axioms: the axioms a verified proof may rest on.

    Example:
        >>> LeanProver().to_dict()["allowed_axioms"]
        ['propext', 'Classical.choice', 'Quot.sound']

    """

    name: ClassVar[str] = "lean"
    target: ClassVar[str] = "lean"
    setup: LeanSetup | None = None
    allowed_axioms: tuple[str, ...] = ALLOWED_AXIOMS
    _repl: LeanRepl | None = field(default=None, repr=False, compare=False)

    def available(self) -> bool:
        """Whether a Lean REPL is configured or on PATH (files only; nothing starts)."""
        return (self.setup or find_repl()) is not None

    def to_dict(self) -> dict[str, Any]:
        """Name and setup, for results files."""
        setup = self.setup or find_repl()
        return {"name": self.name, "setup": setup.to_dict() if setup else None,
                "allowed_axioms": list(self.allowed_axioms)}  # fmt: skip

    @property
    def repl(self) -> LeanRepl:
        """The REPL this prover checks with (one per setup in this process)."""
        if self._repl is not None:
            return self._repl
        setup = self.setup or find_repl()
        if setup is None:
            raise LeanReplError("no Lean REPL here: set NEUROSYM_LEAN_REPL (and NEUROSYM_LEAN_PROJECT for Mathlib)",
                                solver="lean")  # fmt: skip
        with _repls_lock:
            repl = _repls.get(setup)
            if repl is None:
                repl = _repls[setup] = LeanRepl(setup.command, jail=setup)
        return repl

    def check(
        self, formalization: Formalization, *, timeout_s: float = 10.0, deadline: Deadline | None = None
    ) -> Verdict:
        """Verify a Lean proof script (a :class:`LeanTask` in ``parsed``, or the ``source`` as the script)."""
        if not isinstance(formalization, Formalization) or formalization.target != self.target:
            target = getattr(formalization, "target", type(formalization).__name__)
            raise ConfigurationError(f"the Lean prover checks formalizations of the lean target, not {target!r}")
        deadline = prover_deadline(timeout_s, deadline)
        task = formalization.parsed if isinstance(formalization.parsed, LeanTask) else LeanTask(formalization.source)
        started = time.perf_counter()
        if deadline.expired():
            return Verdict("timeout", message="the deadline had passed before checking began", prover=self.name)
        try:
            verdict = self._check(task, deadline)
        except LeanReplCrashed as exc:
            verdict = Verdict("unknown", message=str(exc), feedback="the proof crashed Lean; try a different proof",
                              prover=self.name)  # fmt: skip
        return Verdict(verdict.status, verdict.answer, verdict.certificate, verdict.feedback, verdict.message,
                       time.perf_counter() - started, self.name, verdict.details)  # fmt: skip

    def _invalid(self, problem: str, *, feedback: str | None = None, **details: Any) -> Verdict:
        return Verdict("invalid", feedback=feedback or problem, message=problem, prover=self.name, details=details)

    def _timeout(self) -> Verdict:
        return Verdict("timeout", message="the deadline passed; the Lean REPL was stopped",
                       feedback="the proof took too long to check", prover=self.name)  # fmt: skip

    def _check(self, task: LeanTask, deadline: Deadline) -> Verdict:
        try:
            refused = lean_refusals(task.script)
        except ParseError as exc:
            return self._invalid(exc.message, where="parse")
        if refused:
            return self._invalid(refused[0].render(), feedback="\n".join(r.render() for r in refused),
                                 where="refused", refused=[r.rule for r in refused])  # fmt: skip
        given = parse_lean_theorem(task.statement) if task.statement is not None else None
        if task.statement is not None and given is None:
            raise ConfigurationError(f"the given statement states no theorem: {task.statement!r}")
        head = parse_lean_theorem(task.script) if given is None else self._stated(task.script, given.name)
        if head is None:
            what = f"the theorem {given.name}" if given is not None else "a theorem"
            return self._invalid(f"the script does not state {what}", where="statement")
        if given is not None and task.statement is not None:
            mine = self._statement_text(task.script, given.name)
            if lean_statement_tokens(mine) != lean_statement_tokens(task.statement):
                problem = f"the statement of {given.name} was changed; prove it exactly as given:\n{task.statement}"
                return self._invalid(problem, where="statement")
        repl = self.repl
        base, answer = repl.header_env(task.header or "", deadline)
        if base is None:
            if answer is None:
                return self._timeout()
            return self._invalid(f"the header does not elaborate: {self._first_error(answer)}", where="header")
        if given is not None:
            answer = repl.command(f"def {STATEMENT} : Prop := {given.proposition}", deadline, env=base)
            if answer is None:
                return self._timeout()
            if _errors(answer) or "env" not in answer:
                return self._invalid(f"the given statement does not elaborate: {self._first_error(answer)}",
                                     where="given-statement")  # fmt: skip
            base = int(answer["env"])
        answer = repl.command(task.script, deadline, env=base)
        if answer is None:
            return self._timeout()
        if "env" not in answer:
            return self._invalid(f"Lean refused the script: {answer.get('message', answer)}", where="script")
        errors = _errors(answer)
        if errors:
            line, column = _position(errors[0])
            problem = f"line {line}, column {column}: {errors[0].get('data', '')}"
            return self._invalid(problem, feedback=f"Lean rejected the script at {problem}", where="script",
                                 line=line, column=column)  # fmt: skip
        if answer.get("sorries") or any("sorry" in str(m.get("data", "")) for m in answer.get("messages", [])):
            return self._invalid("the proof uses sorry", where="sorry")
        target = CHECK if given is not None else head.name
        checks = f"theorem {CHECK} : {STATEMENT} := @{head.name}\n" if given is not None else ""
        final = repl.command(checks + f"#print axioms {target}", deadline, env=int(answer["env"]))
        if final is None:
            return self._timeout()
        if _errors(final):
            problem = (f"the theorem {head.name} that the script proves is not the statement given "
                       f"(Lean: {self._first_error(final)})")  # fmt: skip
            return self._invalid(problem, where="statement")
        axioms = parse_axioms(final.get("messages", []))
        if axioms is None:
            return Verdict("unknown", message="#print axioms printed nothing", prover=self.name)
        outside = [a for a in axioms if a not in self.allowed_axioms]
        if outside:
            return self._invalid(f"the proof rests on axioms outside the allowed ones: {', '.join(outside)}",
                                 where="assumptions", axioms=list(axioms))  # fmt: skip
        statement = task.statement or self._statement_text(task.script, head.name)
        certificate = LeanProof(head.name, statement, task.script, axioms, task.header)
        return Verdict("proved", answer=ProofAnswer(statement, task.script), certificate=certificate,
                       message=f"Lean accepted {head.name}", prover=self.name,
                       details={"theorem": head.name, "restarts": repl.restarts})  # fmt: skip

    @staticmethod
    def _stated(script: str, name: str) -> LeanTheorem | None:
        text = LeanProver._statement_text(script, name)
        return parse_lean_theorem(text) if text else None

    @staticmethod
    def _statement_text(script: str, name: str) -> str:
        """The text of theorem ``name`` in ``script``, from its keyword (empty when it is not there)."""
        code = _strip_lean_comments(script)
        match = re.search(rf"(?m)^\s*(?:@\[[^\]]*\]\s*)?(?:theorem|lemma)\s+{re.escape(name)}(?=[\s(\[{{:⦃])", code)
        return code[match.start() :].strip() if match else ""

    @staticmethod
    def _first_error(answer: Mapping[str, Any]) -> str:
        errors = _errors(answer)
        if errors:
            return str(errors[0].get("data", ""))
        return str(answer.get("message", "no message"))


def lean_miniF2F_setup_problem() -> str | None:
    """Why Lean miniF2F cannot run here (no REPL, or no Lake project for Mathlib), or ``None``.

    Example:
        >>> isinstance(lean_miniF2F_setup_problem(), (str, type(None)))
        True

    """
    setup = find_repl()
    if setup is None:
        return "no Lean REPL: set NEUROSYM_LEAN_REPL to a built leanprover-community/repl (lake build)"
    if setup.project is None or (
        not Path(setup.project, "lakefile.lean").exists() and not Path(setup.project, "lakefile.toml").exists()
    ):
        return "no Lake project with Mathlib: set NEUROSYM_LEAN_PROJECT to one (lake new p math; lake build)"
    return None


LEAN_PORTFOLIO: tuple[str, ...] = ("omega", "decide", "simp", "norm_num", "linarith", "nlinarith", "positivity",
                                   "aesop")  # fmt: skip
"""Lean's automation, tried before any model call (all but ``omega`` and ``decide`` need Mathlib)."""


def run_lean_portfolio(prover: LeanProver, header: str, statement: str, *, tactics: Sequence[str] = LEAN_PORTFOLIO,
                       tactic_timeout_s: float = 10.0, stop_at_first: bool = True) -> Any:  # fmt: skip
    """Try each tactic of ``tactics`` as the whole proof of ``statement``; the same record as Coq's portfolio.

    Returns a :class:`~neurosym.provers.coq.portfolio.PortfolioResult`.
    """
    from neurosym.provers.coq.portfolio import PortfolioResult, TacticTry

    started = time.perf_counter()
    head = statement.rstrip().removesuffix(":= by").rstrip()
    tries, winner = [], None
    for tactic in tactics:
        task = LeanTask(f"{head} := by\n  {tactic}", header, head)
        begun = time.perf_counter()
        verdict = prover.check(Formalization("lean", task.source, task), timeout_s=tactic_timeout_s)
        tries.append(TacticTry(tactic, verdict.status, time.perf_counter() - begun, verdict.message[:300]))
        if verdict.status == "proved" and winner is None:
            winner = (tactic, verdict)
            if stop_at_first:
                break
    closed_by, closing = winner if winner else (None, None)
    return PortfolioResult(closed_by, closing, tuple(tries), time.perf_counter() - started)
