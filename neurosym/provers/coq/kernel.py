r"""A long-lived Coq kernel (``coqidetop`` in its jail) that runs scripts sentence by sentence.

:class:`CoqKernel` keeps one ``coqidetop`` process (started on first use, restarted after a
crash, a hang or a timeout, killed with its whole process tree) and talks to it in the XML
protocol of CoqIDE (:mod:`neurosym.provers.coq._xml`). :meth:`CoqKernel.run` feeds sentences
one at a time and returns, for each, the goals after it and its messages, and for the first that
fails, the error with its place. The kernel keeps the document it last ran: a script that starts
with the same sentences (the same header, the same statement, the same first tactics) goes back
to the last shared state (``Edit_at``) instead of running them again, which is what makes a
portfolio of tactics or a tactic search cheap.

Example:
    >>> from neurosym.deadlines import Deadline
    >>> with CoqKernel() as kernel:
    ...     run = kernel.run(["Goal 1 + 1 = 2.", "Proof.", "reflexivity.", "Qed."], Deadline.after(30))
    ...     bad = kernel.run(["Goal 1 + 1 = 3.", "Proof.", "reflexivity."], Deadline.after(30))
    >>> run.status, run.steps[1].goals[0].conclusion, run.steps[-1].goals
    ('ok', '1 + 1 = 2', None)
    >>> bad.status, bad.error.sentence, bad.error.message
    ('error', 2, 'Unable to unify "3" with "1 + 1".')

"""

from __future__ import annotations

import functools
import os
import select
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from neurosym.deadlines import Deadline
from neurosym.errors import SolverUnavailableError
from neurosym.processes import StartFailed, SupervisedProcess
from neurosym.provers.coq import _xml as xml
from neurosym.provers.coq._xml import Goal, Message
from neurosym.provers.coq.jail import KernelLimits, kernel_jail_command, launcher_command

__all__ = ["COQIDETOP", "CoqKernel", "Goal", "KernelError", "KernelRun", "Message", "Step", "coq_version"]

COQIDETOP = "coqidetop.opt"
"""The program of the kernel: Coq's IDE server, installed with Coq (Debian package ``coq``)."""
START_TIMEOUT_S = 60.0
RECYCLE_AFTER_RUNS = 400
"""Runs after which the kernel is replaced by a fresh one (and a fresh jail), so that its memory and its ``/tmp``
stay bounded: CoqHammer and psatz leave files there, about half a megabyte per theorem."""

_EXHAUSTED = ("Out of memory", "Stack overflow")
_BROKEN_ENVIRONMENT = ("System error", "Sys_error", "Too many open files", "No space left on device")
"""Words of an error that is the kernel's environment's fault (a full ``/tmp``, no file descriptors left), not the
sentence's: the kernel is replaced and the run counts as crashed (the prover then retries once on a fresh one)."""

RunStatus = Literal["ok", "error", "timeout", "crashed"]


@dataclass(frozen=True, slots=True)
class Step:
    """One sentence the kernel accepted: the goals after it (``None``: no proof is open) and its messages.

    Example:
        >>> Step("exact I.", ()).goals
        ()

    """

    sentence: str
    goals: tuple[Goal, ...] | None
    messages: tuple[Message, ...] = ()
    reused: bool = False


@dataclass(frozen=True, slots=True)
class KernelError:
    """The sentence the kernel refused: its index in the run, the message, and where in the sentence (characters).

    Example:
        >>> KernelError(2, "The reference foo was not found", 6, 9).message
        'The reference foo was not found'

    """

    sentence: int
    message: str
    start: int | None = None
    stop: int | None = None


@dataclass(frozen=True)
class KernelRun:
    """What one :meth:`CoqKernel.run` gave.

    Attributes:
        status: ``ok`` (every sentence accepted), ``error`` (see ``error``), ``timeout`` (the
            deadline passed: the kernel was killed and will restart), ``crashed`` (it died or
            broke the protocol: ``message`` says what it printed).
        steps: the accepted sentences, in order (a prefix of those given).
        error: the first refused sentence.
        seconds: wall time of the run.
        reused: how many leading sentences came from the previous run's document.

    Example:
        >>> KernelRun("ok", (Step("Goal True.", (Goal((), "True"),)),)).goals[0].conclusion
        'True'

    """

    status: RunStatus
    steps: tuple[Step, ...] = ()
    error: KernelError | None = None
    message: str = ""
    seconds: float = 0.0
    reused: int = 0
    restarted: bool = False

    @property
    def goals(self) -> tuple[Goal, ...] | None:
        """The goals after the last accepted sentence (``None``: no proof open, or nothing accepted)."""
        return self.steps[-1].goals if self.steps else None

    def messages(self, level: str | None = None) -> list[Message]:
        """Every message of the accepted sentences (only those of ``level`` when given)."""
        return [m for step in self.steps for m in step.messages if level is None or m.level == level]


@dataclass
class _Entry:
    sentence: str
    state: int
    goals: tuple[Goal, ...] | None
    messages: tuple[Message, ...] = field(default_factory=tuple)


class _Broken(Exception):
    """The kernel ended, flooded, or wrote something that is not the protocol."""


class _Late(Exception):
    """The deadline passed while the kernel was working."""


def _characters(sentence: str, byte_offset: int | None) -> int | None:
    """A byte offset into the UTF-8 form of ``sentence`` (Coq's locations) as a character offset."""
    if byte_offset is None:
        return None
    return len(sentence.encode("utf-8")[: max(0, byte_offset)].decode("utf-8", "ignore"))


@functools.lru_cache(maxsize=1)
def coq_version() -> str | None:
    """The installed Coq's version (``8.16.1``), or ``None`` where there is no Coq (asked once, then remembered).

    Example:
        >>> coq_version() is None or coq_version()[0].isdigit()
        True

    """
    coqtop = shutil.which("coqtop")
    if coqtop is None or shutil.which(COQIDETOP) is None:
        return None
    try:
        shown = subprocess.run([coqtop, "-print-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    words = shown.stdout.split()
    return words[0] if words else None


class CoqKernel:
    """One ``coqidetop`` process, jailed, fed sentence by sentence (see the module docstring).

    Args:
        limits: its memory and ``/tmp`` limits.
        jail: run it in its bubblewrap jail (:mod:`neurosym.provers.coq.jail`); ``False`` runs it
            as a plain child (for machines without bubblewrap; model output is then not contained).
        program: the ``coqidetop`` executable (default: found on ``PATH``).

    Thread-safe: one run at a time.

    """

    def __init__(self, *, limits: KernelLimits | None = None, jail: bool = True, program: str | None = None) -> None:
        self.limits = limits or KernelLimits()
        self.jail = jail
        self.program = program or shutil.which(COQIDETOP) or COQIDETOP
        command = [self.program, "-main-channel", "stdfds", "-async-proofs", "off", "-q"]
        if jail:
            self._process = SupervisedProcess(launcher_command(self.limits, command),
                                              jail=kernel_jail_command(self.limits))  # fmt: skip
        else:
            self._process = SupervisedProcess(command, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        self._lock = threading.Lock()
        self._reader = xml.XmlReader()
        self._root: int | None = None
        self._doc: list[_Entry] = []
        self._runs_since_start = 0
        self._restart_pending = False
        self.runs = 0

    # ------------------------------------------------------------------------------------ process

    @property
    def restarts(self) -> int:
        """How many kernels were started to replace one that ended (crashed, hung, timed out, recycled)."""
        return self._process.restarts

    @property
    def pid(self) -> int | None:
        """The process id of the running kernel's jail (``None`` when none runs)."""
        process = self._process.process
        return process.pid if process is not None and process.poll() is None else None

    def alive(self) -> bool:
        """Whether a kernel process is running now."""
        return self._process.alive()

    def _start(self, deadline: Deadline) -> None:
        if self._process.alive() and self._root is not None:
            return
        self._stop()
        try:
            self._process.start()
        except (StartFailed, OSError) as exc:
            raise SolverUnavailableError(f"the Coq kernel did not start: {exc}", solver="coq") from exc
        self._reader = xml.XmlReader()
        self._runs_since_start = 0
        start_by = Deadline(min(deadline.at, time.monotonic() + START_TIMEOUT_S))
        try:
            answer, _ = self._call(xml.init_call(), start_by)
        except (_Broken, _Late) as exc:
            message = self._process.stderr_text() or str(exc) or "no answer to Init"
            self._stop()
            if isinstance(exc, _Late) and deadline.expired():
                raise
            raise SolverUnavailableError(f"the Coq kernel did not start: {message}", solver="coq") from None
        if answer.get("val") != "good":
            self._stop()
            raise SolverUnavailableError(f"the Coq kernel refused to start: {xml.richpp_text(answer)}", solver="coq")
        self._root = xml.state_id_of(answer)

    def _stop(self) -> None:
        self._process.kill()
        self._root = None
        self._doc = []

    def close(self) -> None:
        """Kill the kernel and its tree, and start no other (idempotent)."""
        with self._lock:
            self._stop()
            self._process.close()

    def __enter__(self) -> CoqKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._process.kill()
        except Exception:  # interpreter shutdown: nothing left to clean
            pass

    # ------------------------------------------------------------------------------------ protocol

    def _call(self, call: bytes, deadline: Deadline) -> tuple[ET.Element, list[ET.Element]]:
        """Send one call; return its ``<value>`` answer and the feedback that came before it."""
        process = self._process.process
        if process is None or process.stdin is None or process.stdout is None:
            raise _Broken("the kernel is not running")
        try:
            process.stdin.write(call)
            process.stdin.flush()
        except OSError as exc:
            raise _Broken(f"the kernel closed its input: {exc}") from None
        feedback: list[ET.Element] = []
        received = 0
        limit = self.limits.answer_mb << 20
        fd = process.stdout.fileno()
        while True:
            left = deadline.left()
            if left <= 0:
                raise _Late()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise _Late()
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise _Broken("the kernel ended")
            received += len(chunk)
            if received > limit:
                raise _Broken(f"the kernel wrote more than {self.limits.answer_mb} MiB for one call")
            try:
                elements = self._reader.feed(chunk)
            except ET.ParseError as exc:
                raise _Broken(f"the kernel wrote something that is not its protocol: {exc}") from None
            for element in elements:
                if element.tag == "value":
                    return element, feedback
                feedback.append(element)

    def _edit_at(self, keep: int, deadline: Deadline) -> None:
        """Drop the document after its first ``keep`` entries (``Edit_at`` their last state)."""
        if keep >= len(self._doc):
            return
        state = self._doc[keep - 1].state if keep else self._root
        assert state is not None
        answer, _ = self._call(xml.edit_at_call(state), deadline)
        union = answer.find("union")
        if answer.get("val") != "good" or union is None or union.get("val") != "in_l":
            # A jump into a closed proof (in_r) keeps what follows it: start afresh instead.
            raise _Broken("the kernel could not go back in its document")
        del self._doc[keep:]

    def _reusable(self, sentences: Sequence[str]) -> int:
        """How many leading sentences the document already ran, cut so that going back never enters a closed proof."""
        shared = 0
        for entry, sentence in zip(self._doc, sentences, strict=False):
            if entry.sentence != sentence:
                break
            shared += 1
        if shared == len(self._doc):
            return shared
        # Going back to a state inside a proof that the dropped part closes would keep that part
        # (coqidetop keeps what follows a closed proof): go back to before the proof instead.
        inside = shared and self._doc[shared - 1].goals is not None
        if inside and any(entry.goals is None for entry in self._doc[shared:]):
            while shared and self._doc[shared - 1].goals is not None:
                shared -= 1
        return shared

    # ------------------------------------------------------------------------------------ running

    def run(self, sentences: Sequence[str], deadline: Deadline) -> KernelRun:
        """Run ``sentences`` (each one complete sentence) from a fresh document, stopping at the first error.

        Leading sentences already run by the previous call are reused. Never raises for anything
        about the sentences: a timeout kills the kernel (the next run starts another) and a crash
        is a ``crashed`` run.

        Raises:
            SolverUnavailableError: the kernel cannot start on this machine.

        """
        started = time.perf_counter()
        with self._lock:
            self.runs += 1
            restarted = False
            if self._restart_pending or self._runs_since_start >= RECYCLE_AFTER_RUNS:
                self._stop()
                self._restart_pending = False
            if not (self._process.alive() and self._root is not None):
                restarted = self._process.starts > 0
                try:
                    self._start(deadline)
                except _Late:
                    return KernelRun("timeout", message="the deadline passed while the kernel started",
                                     seconds=time.perf_counter() - started, restarted=True)  # fmt: skip
            self._runs_since_start += 1
            steps: list[Step] = []
            try:
                keep = self._reusable(sentences)
                self._edit_at(keep, deadline)
                steps = [Step(e.sentence, e.goals, e.messages, reused=True) for e in self._doc]
                reused = len(steps)
                for index in range(keep, len(sentences)):
                    error = self._step(sentences[index], index, deadline)
                    if error is not None:
                        return KernelRun("error", tuple(steps), error, error.message,
                                         time.perf_counter() - started, reused, restarted)  # fmt: skip
                    entry = self._doc[-1]
                    steps.append(Step(entry.sentence, entry.goals, entry.messages))
            except _Late:
                self._stop()
                return KernelRun("timeout", tuple(steps), message="the deadline passed; the kernel was stopped",
                                 seconds=time.perf_counter() - started, restarted=restarted)  # fmt: skip
            except _Broken as exc:
                said = self._process.stderr_text(600)
                self._stop()
                message = f"the kernel crashed: {exc}" + (f" ({said})" if said else "")
                return KernelRun("crashed", tuple(steps), message=message,
                                 seconds=time.perf_counter() - started, restarted=restarted)  # fmt: skip
            return KernelRun("ok", tuple(steps), seconds=time.perf_counter() - started, reused=reused,
                             restarted=restarted)  # fmt: skip

    def _step(self, sentence: str, index: int, deadline: Deadline) -> KernelError | None:
        """Add and run one sentence on the document's tip; on an error go back to the tip and return it."""
        tip = self._doc[-1].state if self._doc else self._root
        assert tip is not None
        answer, feedback = self._call(xml.add_call(sentence, tip), deadline)
        if answer.get("val") != "good":
            self._recover(tip, deadline)
            return self._unless_broken(self._error(sentence, index, answer, feedback))
        state = xml.state_id_of(answer)
        if state is None:
            raise _Broken("the kernel gave no state for a sentence")
        answer, more = self._call(xml.goal_call(), deadline)
        feedback += more
        if answer.get("val") != "good":
            self._recover(tip, deadline)
            error = self._error(sentence, index, answer, feedback)
            if error.message.startswith(_EXHAUSTED):
                # The heap or the stack stays as large as the failed step left it: the next run starts afresh.
                self._restart_pending = True
            return self._unless_broken(error)
        messages = []
        for element in feedback:
            found = xml.message_of(element)
            if found is not None and found[1].level != "error" and not found[1].text.startswith("Fetching opaque"):
                messages.append(found[1])
        self._doc.append(_Entry(sentence, state, xml.goals_of(answer), tuple(messages)))
        return None

    def _unless_broken(self, error: KernelError) -> KernelError:
        """``error``, unless it says the kernel's environment is broken: then the kernel is replaced (``_Broken``)."""
        if any(words in error.message for words in _BROKEN_ENVIRONMENT):
            # Not the sentence's fault (the jail's /tmp is full, no file descriptors left): replaced next run.
            self._restart_pending = True
            raise _Broken(error.message.strip().splitlines()[0] if error.message.strip() else "system error")
        return error

    def _recover(self, tip: int, deadline: Deadline) -> None:
        answer, _ = self._call(xml.edit_at_call(tip), deadline)
        if answer.get("val") != "good":
            self._restart_pending = True  # the document is in an unknown state: the next run starts afresh

    @staticmethod
    def _error(sentence: str, index: int, answer: ET.Element, feedback: list[ET.Element]) -> KernelError:
        text = xml.richpp_text(answer.find("richpp")).strip()
        start, stop = answer.get("loc_s"), answer.get("loc_e")
        if not text:  # the message came as feedback only
            for element in feedback:
                found = xml.message_of(element)
                if found is not None and found[1].level == "error":
                    text = found[1].text.strip()
                    start = start or (str(found[1].start) if found[1].start is not None else None)
                    stop = stop or (str(found[1].stop) if found[1].stop is not None else None)
        return KernelError(
            index,
            text or "the kernel refused this sentence",
            _characters(sentence, int(start) if start is not None else None),
            _characters(sentence, int(stop) if stop is not None else None),
        )

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"CoqKernel({state}, jail={self.jail}, runs={self.runs}, restarts={self.restarts})"
