r"""Natural language in, a verified answer out: :func:`solve` translates with an LLM and decides with provers.

For the FOL target: the problem's premises and question go to the model (few-shot prompt, and
grammar-constrained decoding where the backend supports it), the model's formulas are read back,
and :func:`neurosym.check_fol` decides them. The result keeps the formalization, the verdict and
its certificate (mapped back to the English premises), and the time and tokens spent.

For the Python target (``target="python"``): the model writes a ``solution()`` program, which
runs in :mod:`neurosym.sandbox`; the result keeps the program, what it returned and printed.

For the MILP target (``target="milp"``): the model writes a model in neurosym's MILP language,
HiGHS and CBC solve it and the solution is checked; the result keeps the model and the checked
solution (:class:`~neurosym.milp.report.CheckedSolution`).

Example:
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> llm = ScriptedBackend(["Premises:\n1. ∀x (Dog(x) → Animal(x))\n2. Dog(rex)\nConclusion:\nAnimal(rex)"])
    >>> result = solve("All dogs are animals. Rex is a dog. Is Rex an animal?", llm=llm)
    >>> result.answer.value, result.premises_used
    ('True', [(1, 'All dogs are animals.'), (2, 'Rex is a dog.')])
    >>> llm = ScriptedBackend(["```python\ndef solution():\n    return 3 * 12 - 5\n```"])
    >>> solve("Tom has 3 boxes of 12 pens and gives 5 away. How many are left?", target="python", llm=llm).answer
    NumberAnswer(value=31.0, exact='31')
    >>> llm = ScriptedBackend(["integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\n"
    ...                        "wood: 2 chairs + 4 tables <= 40\nhours: 3 chairs + 2 tables <= 36"])
    >>> solve("Chairs earn $30 and tables $50 ...", target="milp", llm=llm).answer.objective
    540.0

"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.fol.certificates import PremisesUsed
from neurosym.loop.cache import Cache
from neurosym.loop.refine import Budget, Strategy, refine
from neurosym.loop.result import Attempt, LoopResult
from neurosym.milp.report import CheckedSolution, model_markdown
from neurosym.settings import SamplingSettings, merge
from neurosym.targets.fol import FolTarget
from neurosym.targets.milp import MilpTarget
from neurosym.targets.python import ProgramRun, PythonTarget
from neurosym.translators.base import LLMBackend, ProgressCallback, Usage
from neurosym.translators.fol import FolTranslation, problem_from_text
from neurosym.types import Answer, AnswerKind, Assignment, NumberAnswer, Problem, Verdict

__all__ = ["MAX_PROBLEM_TEXT", "SolveResult", "solve"]

MAX_PROBLEM_TEXT = 20_000
"""Longest problem text :func:`solve` accepts (characters)."""

FOL_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=512, seed=0)
"""Defaults for FOL translation: greedy, enough tokens for a dozen formulas."""
PYTHON_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=512, seed=0)
"""Defaults for the Python target: greedy, enough tokens for a program of forty lines."""
MILP_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=768, seed=0)
"""Defaults for the MILP target: greedy, enough tokens for a model with a few dozen constraints."""
TARGETS = ("fol", "python", "milp")


@dataclass(frozen=True)
class SolveResult:
    """What :func:`solve` found, and what it cost.

    Attributes:
        problem: the problem as split into premises and a conclusion.
        answer: the verified answer, or ``None`` when the verdict settles nothing.
        verdict: the provers' verdict on the translation (``invalid`` if it did not parse).
        translation: the formulas the model wrote, if they could be read.
        raw_output: the model's text.
        usage: tokens and model latency.
        elapsed_s, model_s, prover_s: wall time in all, in the model, in the provers.
        backend, model: which model translated.
        loop: the feedback loop's record: every attempt, the vote, the cost.
        target: ``fol``, ``python`` or ``milp``.
        program: the program the model wrote (python target).
        milp_model: the model the model wrote, as text (milp target).

    """

    problem: Problem
    answer: Answer | None
    verdict: Verdict
    translation: FolTranslation | None
    raw_output: str
    usage: Usage
    elapsed_s: float
    model_s: float
    prover_s: float
    backend: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    loop: LoopResult | None = None
    target: str = "fol"
    program: str | None = None
    milp_model: str | None = None

    @property
    def premises_used(self) -> list[tuple[int, str]]:
        """The English premises (numbered from 1) that the proof used."""
        certificate = self.verdict.certificate
        if not isinstance(certificate, PremisesUsed):
            return []
        return [(i + 1, self.problem.premises[i]) for i in certificate.indices if i < len(self.problem.premises)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "target": self.target,
            "premises": list(self.problem.premises),
            "conclusion": self.problem.conclusion,
            "answer": self.verdict.to_dict()["answer"] if self.answer is not None else None,
            "verdict": self.verdict.to_dict(),
            "formalization": None
            if self.translation is None
            else {"premises": list(self.translation.premises), "conclusion": self.translation.conclusion},
            "program": self.program,
            "milp_model": self.milp_model,
            "premises_used": [{"index": i, "text": t} for i, t in self.premises_used],
            "raw_output": self.raw_output,
            "usage": self.usage.to_dict(),
            "elapsed_s": round(self.elapsed_s, 3),
            "model_s": round(self.model_s, 3),
            "prover_s": round(self.prover_s, 3),
            "backend": self.backend,
            "model": self.model,
            "settings": self.settings,
            "loop": self.loop.to_dict() if self.loop else None,
        }

    def render(self) -> str:
        """A report for people: the answer, the formalization side by side, the evidence, the cost."""
        v = self.verdict
        lines = [f"Answer: {_answer_text(v)}  ({v.status}, {v.prover or 'no prover'})"]
        if self.target == "python":
            if isinstance(v.certificate, ProgramRun):
                lines.append(v.certificate.render())
            elif self.program is not None:
                lines += ["Program:", *("    " + line for line in self.program.rstrip("\n").splitlines())]
                lines.append(v.feedback or v.message)
        if self.target == "milp":
            lines += self._render_milp()
        if self.translation is not None:
            lines.append("Formalization:")
            width = min(48, max(len(p) for p in [*self.problem.premises, self.problem.conclusion or ""]))
            for i, (text, formula) in enumerate(
                zip(self.problem.premises, self.translation.premises, strict=False), start=1
            ):
                lines.append(f"  {i:>2}. {_clip(text, width):<{width}}  {formula}")
            lines.append(f"   ⊢  {_clip(self.problem.conclusion or '', width):<{width}}  {self.translation.conclusion}")
        if self.loop is not None and (len(self.loop.attempts) > 1 or self.loop.abstained):
            lines.append(
                f"Votes: {dict(self.loop.votes)} over {len(self.loop.attempts)} attempts; "
                f"confidence {self.loop.confidence:.2f}" + ("; abstained" if self.loop.abstained else "")
            )
        if self.premises_used:
            lines.append("Premises used: " + ", ".join(str(i) for i, _ in self.premises_used))
        elif v.certificate is not None and v.status != "inconsistent" and self.target == "fol":
            lines.append(v.certificate.render())
        if v.status == "inconsistent" and v.certificate is not None:
            lines.append("The premises as translated contradict each other: " + v.certificate.render())
        if not v.decided and v.message and self.target == "fol":
            lines.append(v.message)
        lines.append(
            f"Time: {self.elapsed_s:.1f} s (model {self.model_s:.1f} s, provers {self.prover_s:.2f} s); "
            f"tokens: {self.usage.prompt_tokens} prompt + {self.usage.completion_tokens} completion; "
            f"model: {self.model}"
        )
        return "\n".join(lines)

    def _render_milp(self) -> list[str]:
        v = self.verdict
        lines: list[str] = []
        if self.milp_model is not None:
            from neurosym.errors import ParseError
            from neurosym.milp.model import parse_model

            try:
                shown = model_markdown(parse_model(self.milp_model))
            except ParseError:
                shown = self.milp_model.rstrip("\n")
            lines += ["Model:", *(("    " + line).rstrip() for line in shown.splitlines())]
        if isinstance(v.certificate, CheckedSolution):
            lines += ["Solution:", *(("    " + line).rstrip() for line in v.certificate.render().splitlines())]
        elif v.feedback or v.message:
            lines.append(v.feedback or v.message)
        return lines


def _answer_text(verdict: Verdict) -> str:
    answer = verdict.answer
    if not verdict.decided or answer is None:
        return verdict.status.upper()
    if isinstance(answer, NumberAnswer):
        return answer.exact or f"{answer.value:g}"
    if isinstance(answer, Assignment) and answer.objective is not None:
        return f"{answer.objective:.10g} (optimal objective)"
    return str(getattr(answer, "value", answer))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _problem(text: str | None, premises: Sequence[str] | None, conclusion: str | None) -> Problem:
    if premises is not None or conclusion is not None:
        if not premises or not conclusion or not conclusion.strip():
            raise ConfigurationError("give both premises and a conclusion, or the problem text")
        if isinstance(premises, str):
            raise ConfigurationError("premises must be a list of sentences, not one string")
        return Problem(text=text or "", premises=tuple(premises), conclusion=conclusion)
    if text is None:
        raise ConfigurationError("give the problem text, or premises and a conclusion")
    if len(text) > MAX_PROBLEM_TEXT:
        raise ConfigurationError(f"the problem text is too long: {len(text):,} characters (limit {MAX_PROBLEM_TEXT:,})")
    return problem_from_text(text)


def _word_problem(
    text: str | None, premises: Sequence[str] | None, conclusion: str | None, *, target: str, kind: AnswerKind
) -> Problem:
    if premises is not None or conclusion is not None:
        raise ConfigurationError(f"the {target} target takes the problem text, not premises and a conclusion")
    if text is None or not text.strip():
        raise ConfigurationError("the problem text is empty")
    if len(text) > MAX_PROBLEM_TEXT:
        raise ConfigurationError(f"the problem text is too long: {len(text):,} characters (limit {MAX_PROBLEM_TEXT:,})")
    return Problem(text=text.strip(), answer_kind=kind)


def solve(
    text: str | None = None,
    *,
    premises: Sequence[str] | None = None,
    conclusion: str | None = None,
    target: str = "fol",
    llm: LLMBackend | str | None = None,
    settings: SamplingSettings | None = None,
    constrained: bool | None = None,
    timeout: float = 10.0,
    provers: Sequence[str] = ("z3",),
    repair_signature_clashes: bool = False,
    strategy: Strategy | None = None,
    budget: Budget | None = None,
    agreement: float | None = None,
    verdict_cache: Cache | None = None,
    progress: ProgressCallback | None = None,
) -> SolveResult:
    """Translate a problem with an LLM and decide it with provers, through the feedback loop.

    Args:
        text: the problem in English: premises, then a question (or a conclusion to check).
        premises: the premises already split into sentences (with ``conclusion``, instead of ``text``).
        conclusion: the sentence or question to decide.
        target: the formal language: ``"fol"`` (entailment questions, decided by provers),
            ``"python"`` (word problems with a numeric answer: the model writes ``solution()``,
            which runs in :mod:`neurosym.sandbox`) or ``"milp"`` (optimization problems: the model
            writes a MILP model, solved by HiGHS and CBC and checked).
        llm: a backend, a backend spec such as ``"embedded"`` or ``"openai:MODEL"`` (see
            :func:`neurosym.translators.backends.get_backend`), or ``None`` for the spec in
            ``$NEUROSYM_LLM``, else the embedded default model.
        settings: sampling settings layered over the target's defaults (greedy, 512 tokens).
        constrained: grammar-constrained decoding; by default on where the backend supports it.
        timeout: seconds for each prover call (python: each program run, wall and CPU time;
            milp: both solvers together).
        provers: provers to run (several are cross-checked).
        repair_signature_clashes: rename a name the model used in two roles instead of
            returning ``invalid``.
        strategy: how to sample, repair, vote and stop (:class:`neurosym.loop.Strategy`;
            default one greedy translation).
        budget: per-problem limits on samples, tokens and time (:class:`neurosym.loop.Budget`).
        agreement: abstain unless the winning answer has at least this share of the decided
            votes (overrides the strategy's).
        verdict_cache: look verdicts up in this :class:`~neurosym.loop.Cache` before running the
            provers or the sandbox, and store the new ones.
        progress: called with a :class:`~neurosym.translators.base.Progress` as the model writes
            (see :func:`neurosym.loop.refine.refine`).

    Raises:
        ConfigurationError: bad arguments (empty text, unknown backend or target).
        SandboxUnavailable: the python target on a machine without bubblewrap or libseccomp.
        BackendError: the model could not be reached or failed before any answer.

    """
    if target not in TARGETS:
        raise ConfigurationError(f"unknown target {target!r}; available: {', '.join(TARGETS)}")
    started = time.perf_counter()
    chosen: FolTarget | PythonTarget | MilpTarget
    if target == "python":
        problem = _word_problem(text, premises, conclusion, target=target, kind=AnswerKind.NUMBER)
        from neurosym.sandbox import SandboxUnavailable, sandbox_problem

        reason = sandbox_problem()
        if reason is not None:  # before the model is asked: its program could not run anyway
            raise SandboxUnavailable(reason)
        backend = _backend(llm)
        chosen = PythonTarget(limits=replace(PythonTarget().limits, wall_s=timeout, cpu_s=timeout))
        defaults = PYTHON_SETTINGS
    elif target == "milp":
        problem = _word_problem(text, premises, conclusion, target=target, kind=AnswerKind.ASSIGNMENT)
        backend = _backend(llm)
        use_grammar = getattr(backend, "supports_grammar", False) if constrained is None else constrained
        chosen = MilpTarget(constrained=use_grammar)
        defaults = MILP_SETTINGS
    else:
        problem = _problem(text, premises, conclusion)
        backend = _backend(llm)
        use_grammar = getattr(backend, "supports_grammar", False) if constrained is None else constrained
        chosen = FolTarget(
            constrained=use_grammar, provers=tuple(provers), repair_signature_clashes=repair_signature_clashes
        )
        defaults = FOL_SETTINGS
    strategy = strategy or Strategy.greedy()
    if agreement is not None:
        strategy = replace(strategy, agreement=agreement)
    strategy = replace(strategy, timeout_s=timeout)
    resolved = merge(defaults, settings)
    loop = refine(
        problem,
        chosen,
        backend,
        strategy=strategy,
        budget=budget,
        settings=resolved,
        verdict_cache=verdict_cache,
        progress=progress,
    )
    if loop.exception is not None and not loop.attempts:
        raise loop.exception
    shown = loop.winner or (loop.attempts[-1] if loop.attempts else None)
    verdict = _verdict_of(shown, loop)
    cost = loop.cost
    return SolveResult(
        problem=problem,
        answer=verdict.answer if loop.winner is not None else None,
        verdict=verdict,
        translation=_translation_of(shown) if target == "fol" else None,
        raw_output=shown.output if shown else "",
        usage=Usage(cost.prompt_tokens, cost.completion_tokens, cost.model_s),
        elapsed_s=time.perf_counter() - started,
        model_s=cost.model_s,
        prover_s=cost.prover_s,
        backend=backend.name,
        model=backend.model,
        settings=resolved.to_dict(),
        loop=loop,
        target=target,
        program=shown.formalization.source if target == "python" and shown and shown.formalization else None,
        milp_model=_milp_model_of(shown) if target == "milp" else None,
    )


def _verdict_of(attempt: Attempt | None, loop: LoopResult) -> Verdict:
    if attempt is None:
        return Verdict("unknown", message=f"no attempt finished ({loop.stop_reason})")
    if attempt.verdict is None:
        return Verdict(
            "invalid",
            message=f"could not read the model's formalization: {attempt.parse_error}",
            feedback=f"{attempt.parse_error}. Answer in the layout of the examples.",
        )
    if loop.winner is None and attempt.verdict.decided:  # decided, but outvoted or tied: no answer
        return Verdict(
            "unknown",
            message=f"abstained: no answer reached the agreement threshold (votes {dict(loop.votes)})",
            prover=attempt.verdict.prover,
        )
    return attempt.verdict


def _milp_model_of(attempt: Attempt | None) -> str | None:
    if attempt is None:
        return None
    if attempt.formalization is not None:
        return attempt.formalization.source
    from neurosym.errors import ParseError
    from neurosym.translators.milp import extract_model

    try:  # unreadable: show what the model wrote, so the parse error can be read against it
        return extract_model(attempt.output)
    except ParseError:
        return None


def _translation_of(attempt: Attempt | None) -> FolTranslation | None:
    if attempt is None or attempt.formalization is None:
        return None
    *premises, conclusion = attempt.formalization.source.splitlines()
    return FolTranslation(tuple(premises), conclusion.removeprefix("⊢ "))


def _backend(llm: LLMBackend | str | None) -> LLMBackend:
    from neurosym.translators.backends import default_llm_spec, get_backend

    if llm is None:
        return get_backend(default_llm_spec())
    if isinstance(llm, str):
        return get_backend(llm)
    if not hasattr(llm, "generate"):
        raise ConfigurationError(f"llm must be a backend or a backend spec string, not {type(llm).__name__}")
    return llm
