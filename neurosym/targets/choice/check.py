r"""Decide a choice program: each option entailed, contingent or contradicted, then the question's pick.

For each option ``O`` the solver is asked whether the conditions allow ``O`` (if not, ``O`` is
*contradicted*, with the conflict) and whether they allow ``not O`` (if not, ``O`` is
*entailed*, with the conditions the proof uses); otherwise ``O`` is *contingent*, with a model
where it holds and one where it fails. The question's kind (:mod:`~neurosym.targets.choice.question`)
says which options qualify:

==================  =========================================  ==================================
kind                an option qualifies when it is              EXCEPT: the one that
==================  =========================================  ==================================
must be true        entailed                                    is not entailed
could be true       entailed or contingent                      is contradicted
cannot be true      contradicted                                is not contradicted
could be false      contingent or contradicted                  is entailed
is true             entailed (the world must settle it)         is not entailed
how many could/must the count of values for which the           (no EXCEPT form)
                    ``how_many`` formula could / must hold
substitution        the conditions with it in place of the      (no EXCEPT form)
                    ``replace``-d one have the same models
==================  =========================================  ==================================

A conditional question adds the program's ``given`` lines to the conditions (they always are).
Exactly one option must qualify. Otherwise the verdict says what is wrong, as repair feedback and
never a guess: ``inconsistent`` (the conditions contradict each other, with the conflict),
``unknown`` with ``details["problem"]`` one of ``no_option``, ``several_options``,
``under_determined`` (a must/is-true question where no option is forced but some are possible),
``unhandled_kind`` (an abstention), ``solvers_disagree``; ``invalid`` for a program that does not
fit the question (an option missing, a letter the question lacks, no ``how_many`` for a counting
question...); ``timeout`` when a solver ran out of time.

With several solvers (Z3, then cvc5, under one deadline) each decides on its own; when both finish
and their per-option findings differ, the verdict is ``unknown`` and names both (as Z3 and E for
FOL); when one runs out of time, the other's verdict stands with ``details["agree"] = None``.

Example:
    >>> task = choice_task("sort p = {ann, bob}\nfun seat(p): 1..2\nassert distinct(seat)\nassert seat(ann) == 1\n"
    ...                    "option A: seat(bob) == 1\noption B: seat(bob) == 2", "Which must be true?", "AB")
    >>> verdict = check_choice(task, timeout=10)
    >>> verdict.status, verdict.answer.exact, verdict.prover
    ('proved', 'B', 'z3+cvc5')

"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neurosym.deadlines import Deadline, check_seconds
from neurosym.errors import ConfigurationError, ParseError
from neurosym.targets.choice.certificate import ChoiceEvidence, OptionEvidence
from neurosym.targets.choice.engine import Engine, Outcome, Z3Engine
from neurosym.targets.choice.language import Node, Program, parse_program
from neurosym.targets.choice.question import QuestionKind, question_kind
from neurosym.types import NumberAnswer, Verdict

__all__ = ["SOLVERS", "ChoiceTask", "check_choice", "choice_task", "decide", "read_task"]


def _cvc5_engine(program: Program) -> Engine:
    from neurosym.provers.cvc5 import Cvc5Engine

    return Cvc5Engine(program)


SOLVERS: dict[str, Callable[[Program], Engine]] = {"z3": Z3Engine, "cvc5": _cvc5_engine}
"""The solvers a choice program can be decided with, by name."""


@dataclass(frozen=True)
class ChoiceTask:
    """A program with the question it answers: its kind, the option letters it has, its text."""

    program: Program
    kind: QuestionKind
    letters: tuple[str, ...]
    question: str = ""
    texts: tuple[str, ...] = ()
    """The options in English (``A) ...``), where known."""

    @property
    def source(self) -> str:
        """The program with two header comments (the kind and the letters), so that :func:`read_task` reads it back."""
        header = f"# question: {self.kind.to_text()}\n# options: {' '.join(self.letters)}\n"
        return header + self.program.source


def choice_task(program: str | Program, question: str, letters: Iterable[str], texts: Sequence[str] = ()) -> ChoiceTask:
    r"""The task for a program (text or parsed) and a question with these option letters.

    Raises:
        ParseError: the program text does not parse or check (see :func:`parse_program`).

    Example:
        >>> choice_task("var x: bool\noption A: x", "Which could be true?", "A").kind.modality
        'could_be_true'

    """
    parsed = parse_program(program) if isinstance(program, str) else program
    return ChoiceTask(parsed, question_kind(question), tuple(letters), question, tuple(texts))


def read_task(source: str) -> ChoiceTask:
    r"""The task a :attr:`ChoiceTask.source` describes (its header comments, then the program).

    Raises:
        ParseError: the header is missing or the program does not parse.

    Example:
        >>> read_task("# question: must_be_true\n# options: A\nvar x: bool\noption A: x or not x").letters
        ('A',)

    """
    lines = source.splitlines()
    header = {}
    for line in lines[:2]:
        key, _, value = line.removeprefix("#").partition(":")
        header[key.strip()] = value.strip()
    if "question" not in header or "options" not in header:
        raise ParseError(
            "a choice formalization starts with '# question: KIND' and '# options: A B ...' lines",
            reason="no header",
        )
    kind = QuestionKind.from_text(header["question"])
    program = "\n".join(lines[2:])  # without the header, so that line numbers are the program's own
    return ChoiceTask(parse_program(program), kind, tuple(header["options"].split()))


# ------------------------------------------------------------------------------------------ deciding

_QUALIFIES: dict[str, Callable[[str], bool]] = {
    "must_be_true": lambda s: s == "entailed",
    "is_true": lambda s: s == "entailed",
    "could_be_true": lambda s: s in ("entailed", "contingent"),
    "cannot_be_true": lambda s: s == "contradicted",
    "could_be_false": lambda s: s in ("contingent", "contradicted"),
}


def _label(program: Program, indices: Iterable[int]) -> tuple[str, ...]:
    return tuple(f"{program.conditions[i].label}: {program.conditions[i].text}" for i in indices)


def _negate(node: Node) -> Node:
    return ("not", node)


@dataclass
class _Run:
    """One solver's pass over a task: its outcomes, the first that settled nothing, the evidence."""

    task: ChoiceTask
    engine: Engine
    deadline: Deadline
    unsettled: list[tuple[str, Outcome]] = field(default_factory=list)

    def ask(self, what: str, assume: Sequence[Node], drop: Iterable[int] = ()) -> Outcome:
        outcome = self.engine.solve(assume, drop=drop, deadline=self.deadline)
        if outcome.status not in ("sat", "unsat"):
            self.unsettled.append((what, outcome))
        return outcome

    def standard(self, letter: str, text: str, formula: Node) -> OptionEvidence:
        program = self.task.program
        holds = self.ask(f"option {letter}", [formula])
        if holds.status == "unsat":
            return OptionEvidence(letter, text, "contradicted", False, core=_label(program, holds.core))
        if holds.status != "sat":
            return OptionEvidence(letter, text, holds.status, False, note=holds.reason)
        fails = self.ask(f"not option {letter}", [_negate(formula)])
        if fails.status == "unsat":
            return OptionEvidence(letter, text, "entailed", False, core=_label(program, fails.core),
                                  holds_in=tuple(holds.values.items()), hidden=holds.hidden)  # fmt: skip
        if fails.status != "sat":
            return OptionEvidence(letter, text, fails.status, False, note=fails.reason)
        return OptionEvidence(letter, text, "contingent", False, holds_in=tuple(holds.values.items()),
                              fails_in=tuple(fails.values.items()), hidden=holds.hidden)  # fmt: skip

    def substitution(self, letter: str, text: str, formula: Node, replaced: int) -> OptionEvidence:
        program = self.task.program
        old = program.conditions[replaced].formula
        # Same models: the others with the option imply the old condition, and all of them imply the option.
        weaker = self.ask(f"option {letter} without the replaced condition", [formula, _negate(old)], drop=[replaced])
        stronger = self.ask(f"the conditions without option {letter}", [_negate(formula)])
        statuses = {weaker.status, stronger.status}
        if not statuses <= {"sat", "unsat"}:
            bad = weaker if weaker.status not in ("sat", "unsat") else stronger
            return OptionEvidence(letter, text, bad.status, False, note=bad.reason)
        if statuses == {"unsat"}:
            core = _label(program, sorted(set(weaker.core) | set(stronger.core)))
            return OptionEvidence(letter, text, "equivalent", False, core=core)
        witness = weaker if weaker.status == "sat" else stronger
        note = ("allows a world the replaced condition excludes" if witness is weaker
                else "excludes a world the replaced condition allows")  # fmt: skip
        return OptionEvidence(letter, text, "not equivalent", False, fails_in=tuple(witness.values.items()),
                              hidden=witness.hidden, note=note)  # fmt: skip


def _invalid(message: str, feedback: str, started: float, problem: str) -> Verdict:
    return Verdict("invalid", message=message, feedback=feedback, elapsed_s=time.perf_counter() - started,
                   details={"problem": problem})  # fmt: skip


def _fits(task: ChoiceTask, started: float) -> Verdict | None:
    """An ``invalid`` or abstaining verdict when the program cannot answer the question as asked."""
    kind, program = task.kind, task.program
    if not kind.handled:
        return Verdict(
            "unknown",
            message=f"abstained: the question kind is not one this target handles: {task.question!r}",
            feedback="",
            elapsed_s=time.perf_counter() - started,
            details={"problem": "unhandled_kind", "abstained": True},
        )
    given = [o.letter for o in program.options]
    missing = [letter for letter in task.letters if letter not in given]
    extra = [letter for letter in given if letter not in task.letters]
    if extra:
        return _invalid(
            f"the program has option(s) {', '.join(extra)}, but the question's options are {', '.join(task.letters)}",
            f"Write exactly one option line for each of {', '.join(task.letters)}.",
            started,
            "unknown_option",
        )
    if missing:
        return _invalid(
            f"the program gives no formula for option(s) {', '.join(missing)}",
            f"Write an 'option X: FORMULA' line for each of {', '.join(task.letters)}; missing: {', '.join(missing)}.",
            started,
            "missing_option",
        )
    if kind.counting and program.counting is None:
        return _invalid(
            "a 'how many' question needs a how_many(x in T: FORMULA) line",
            "This question asks how many: write how_many(x in SORT: FORMULA) and give each option as a number.",
            started,
            "no_how_many",
        )
    if not kind.counting and program.counting is not None:
        return _invalid(
            "the program has a how_many line, but the question does not ask how many",
            "Remove the how_many line and give each option as a formula.",
            started,
            "unexpected_how_many",
        )
    if kind.modality == "substitution" and program.replaced is None:
        return _invalid(
            "a substitution question needs a 'replace LABEL' line naming the condition it replaces",
            "Label the condition the question replaces (assert [c1] ...) and add 'replace c1'.",
            started,
            "no_replace",
        )
    if kind.conditional and not any(c.given for c in program.conditions):
        return _invalid(
            "the question is conditional ('If ..., ...') but the program has no 'given' line",
            "Write the question's hypothesis as a 'given FORMULA' line.",
            started,
            "no_given",
        )
    return None


def decide(task: ChoiceTask, solver: str = "z3", *, deadline: Deadline) -> Verdict:
    r"""One solver's verdict on ``task`` (see the module docstring), by ``deadline``.

    Example:
        >>> task = choice_task("var x: 1..3\nassert x >= 2\noption A: x == 1\noption B: x == 2",
        ...                    "Which one of the following could be true?", "AB")
        >>> decide(task, "z3", deadline=Deadline.after(10)).answer.exact
        'B'

    """
    started = time.perf_counter()
    not_fitting = _fits(task, started)
    if not_fitting is not None:
        return not_fitting
    if solver not in SOLVERS:
        raise ConfigurationError(f"unknown solver {solver!r} for the choice target; known: {', '.join(SOLVERS)}")
    if deadline.expired():
        return _timeout(solver, "before the solver started", started)
    program, kind = task.program, task.kind
    run = _Run(task, SOLVERS[solver](program), deadline)
    base = run.ask("the conditions", [])
    if base.status == "unsat":
        conflict = _label(program, base.core)
        evidence = ChoiceEvidence(kind.describe(), None, (), conflict, solver)
        return Verdict(
            "inconsistent",
            certificate=evidence,
            message="the conditions contradict each other: " + "; ".join(conflict),
            feedback="The conditions as written contradict each other ("
            + "; ".join(conflict)
            + "), so every option would follow. One of them is mistranslated: fix it.",
            elapsed_s=time.perf_counter() - started,
            prover=solver,
            details={"problem": "inconsistent", "complete": True, "signature": "inconsistent"},
        )
    if base.status != "sat":
        return _unsettled(solver, run, started)
    evidence_list = _options(run, task)
    if run.unsettled:
        return _unsettled(solver, run, started)
    return _conclude(task, evidence_list, solver, started)


def _options(run: _Run, task: ChoiceTask) -> list[OptionEvidence]:
    program, kind = task.program, task.kind
    by_letter = {o.letter: o for o in program.options}
    out: list[OptionEvidence] = []
    if kind.counting:
        counting = program.counting
        assert counting is not None  # _fits checked it
        count = 0
        possible = []
        for value, formula in zip(counting.values, counting.formulas, strict=True):
            if kind.modality == "count_could":
                counted = run.ask(f"how_many value {value}", [formula]).status == "sat"
            else:
                counted = run.ask(f"how_many value {value}", [_negate(formula)]).status == "unsat"
            if run.unsettled:
                return out
            if counted:
                count += 1
                possible.append(value)
        note = f"{count} value(s) {'could' if kind.modality == 'count_could' else 'must'}: {', '.join(possible)}"
        for letter in task.letters:
            option = by_letter[letter]
            qualifies = option.number == count
            out.append(OptionEvidence(letter, option.text, "the count" if qualifies else "not the count",
                                      qualifies, note=note))  # fmt: skip
        return out
    replaced = None
    if kind.modality == "substitution":
        replaced = next(i for i, c in enumerate(program.conditions) if c.label == program.replaced)
    for letter in task.letters:
        option = by_letter[letter]
        assert option.formula is not None  # only how_many options are numbers
        if replaced is not None:
            found = run.substitution(letter, option.text, option.formula, replaced)
            qualifies = found.status == "equivalent"
        else:
            found = run.standard(letter, option.text, option.formula)
            qualifies = _QUALIFIES[kind.modality](found.status) != kind.negated
        if run.unsettled:
            return out
        out.append(_with_qualifies(found, qualifies))
    return out


def _with_qualifies(evidence: OptionEvidence, qualifies: bool) -> OptionEvidence:
    return OptionEvidence(evidence.letter, evidence.formula, evidence.status, qualifies, evidence.core,
                          evidence.holds_in, evidence.fails_in, evidence.hidden, evidence.note)  # fmt: skip


def _conclude(task: ChoiceTask, options: list[OptionEvidence], solver: str, started: float) -> Verdict:
    kind = task.kind
    chosen = [o.letter for o in options if o.qualifies]
    signature = " ".join(f"{o.letter}:{o.status}" for o in options)
    details: dict[str, Any] = {"kind": kind.to_text(), "options": {o.letter: o.status for o in options},
                               "complete": True, "signature": signature}  # fmt: skip
    elapsed = time.perf_counter() - started
    if len(chosen) == 1:
        letter = chosen[0]
        evidence = ChoiceEvidence(kind.describe(), letter, tuple(options), (), solver)
        message = f"option {letter} {kind.describe()}"
        return Verdict("proved", answer=_answer(letter), certificate=evidence, message=message, elapsed_s=elapsed,
                       prover=solver, details=details)  # fmt: skip
    evidence = ChoiceEvidence(kind.describe(), None, tuple(options), (), solver)
    possible = [o.letter for o in options if o.status == "contingent"]
    statuses = ", ".join(f"{o.letter} {o.status}" for o in options)
    if not chosen and kind.modality in ("must_be_true", "is_true") and not kind.negated and possible:
        problem = "under_determined"
        message = (f"the conditions leave the world under-determined: no option is forced, and {', '.join(possible)} "
                   f"are each possible ({statuses})")  # fmt: skip
        feedback = ("No option follows from the conditions as written; the puzzle settles the answer, so a condition "
                    "is missing or too weak. Check each sentence of the puzzle has its condition.")  # fmt: skip
    elif not chosen:
        problem = "no_option"
        message = f"no option qualifies as '{kind.describe()}' ({statuses})"
        feedback = (f"No option qualifies ({statuses}): a condition or an option is mistranslated. "
                    "Check each condition against its sentence.")  # fmt: skip
    else:
        problem = "several_options"
        message = f"several options qualify as '{kind.describe()}': {', '.join(chosen)} ({statuses})"
        feedback = (f"Options {', '.join(chosen)} all qualify, so the conditions are too weak or an option is "
                    "mistranslated. Check each condition against its sentence.")  # fmt: skip
    return Verdict("unknown", certificate=evidence, message=message, feedback=feedback, elapsed_s=elapsed,
                   prover=solver, details={**details, "problem": problem})  # fmt: skip


def _answer(letter: str) -> NumberAnswer:
    """The chosen option as an answer: its position (A = 1) and, as the exact form, its letter."""
    return NumberAnswer(float(ord(letter) - ord("A") + 1), exact=letter)


def _timeout(solver: str, stage: str, started: float) -> Verdict:
    return Verdict("timeout", message=f"{solver} ran out of time {stage}",
                   feedback="The program is too hard to decide in time; write a smaller, simpler program.",
                   elapsed_s=time.perf_counter() - started, prover=solver,
                   details={"problem": "timeout", "complete": False})  # fmt: skip


def _unsettled(solver: str, run: _Run, started: float) -> Verdict:
    what, outcome = run.unsettled[0]
    if outcome.status == "timeout":
        return _timeout(solver, f"while checking {what}", started)
    return Verdict("unknown", message=f"{solver} could not decide {what}: {outcome.reason or 'unknown'}",
                   feedback="The solver gave up on this program; avoid multiplying unknowns together.",
                   elapsed_s=time.perf_counter() - started, prover=solver,
                   details={"problem": "solver_unknown", "complete": False})  # fmt: skip


# ------------------------------------------------------------------------------------------ several solvers


def check_choice(task: ChoiceTask, *, timeout: float = 10.0, solvers: Sequence[str] = ("z3", "cvc5")) -> Verdict:
    r"""Decide ``task`` with each of ``solvers`` in turn under one deadline, and compare them.

    Raises:
        ConfigurationError: a bad ``timeout``, no solver or an unknown one.

    Example:
        >>> task = choice_task("var x: 1..3\nassert x >= 2\noption A: x == 1\noption B: x >= 2",
        ...                    "Which one of the following must be true?", "AB")
        >>> v = check_choice(task)
        >>> v.answer.exact, v.details["agree"], v.certificate.options[0].status
        ('B', True, 'contradicted')

    """
    seconds = check_seconds(timeout, "timeout")
    deadline = Deadline.after(seconds)
    if not solvers:
        raise ConfigurationError("name at least one solver")
    for name in solvers:
        if name not in SOLVERS:
            raise ConfigurationError(f"unknown solver {name!r} for the choice target; known: {', '.join(SOLVERS)}")
    started = time.perf_counter()
    verdicts = [decide(task, name, deadline=deadline) for name in solvers]
    return _with(combine_choice_verdicts(verdicts), elapsed_s=time.perf_counter() - started)


def combine_choice_verdicts(verdicts: Sequence[Verdict]) -> Verdict:
    """Merge solvers' verdicts on one task: the first complete one, or ``unknown`` when complete ones differ.

    Example:
        >>> a = Verdict("proved", prover="z3", details={"complete": True, "signature": "A:entailed"})
        >>> b = Verdict("unknown", prover="cvc5", details={"complete": True, "signature": "A:contingent"})
        >>> combine_choice_verdicts([a, b]).message
        'solvers disagree: z3 says proved (A:entailed), cvc5 says unknown (A:contingent)'

    """
    if len(verdicts) == 1:
        return verdicts[0]
    names = "+".join(v.prover for v in verdicts if v.prover) or "+".join("?" for _ in verdicts)
    complete = [v for v in verdicts if v.details.get("complete")]
    statuses = {v.prover: v.status for v in verdicts}
    if not complete:
        first = verdicts[0]
        return _with(first, prover=names if first.prover else first.prover,
                     details={**first.details, "solvers": statuses, "agree": None})  # fmt: skip
    if len({v.details.get("signature") for v in complete}) > 1:
        said = ", ".join(f"{v.prover} says {v.status} ({v.details.get('signature')})" for v in complete)
        return Verdict(
            "unknown",
            message=f"solvers disagree: {said}",
            feedback="The solvers disagree on this program, so no answer is trusted.",
            elapsed_s=max(v.elapsed_s for v in verdicts),
            prover=names,
            details={
                "problem": "solvers_disagree",
                "solvers": statuses,
                "agree": False,
                "verdicts": {v.prover: v.to_dict() for v in verdicts},
            },
        )
    chosen = complete[0]
    agree = len(complete) == len(verdicts)
    return _with(
        chosen, prover=names, details={**chosen.details, "solvers": statuses, "agree": True if agree else None}
    )


def _with(verdict: Verdict, **changes: Any) -> Verdict:
    fields: dict[str, Any] = {
        "status": verdict.status,
        "answer": verdict.answer,
        "certificate": verdict.certificate,
        "feedback": verdict.feedback,
        "message": verdict.message,
        "elapsed_s": verdict.elapsed_s,
        "prover": verdict.prover,
        "details": verdict.details,
    }
    fields.update(changes)
    return Verdict(**fields)


def describe_statuses(details: Mapping[str, Any]) -> str:
    """The per-option statuses of a verdict's details, as one line (``A entailed, B contradicted``)."""
    return ", ".join(f"{k} {v}" for k, v in (details.get("options") or {}).items())
