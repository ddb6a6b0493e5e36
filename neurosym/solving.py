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
    >>> llm = ScriptedBackend(["Premises:\n1. ∀x (Dog(x) → Animal(x))\n2. Dog(rex)\nConclusion:\nAnimal(rex)"] * 2)
    >>> result = solve("All dogs are animals. Rex is a dog. Is Rex an animal?", llm=llm)
    >>> result.answer.value, result.premises_used
    ('True', [(1, 'All dogs are animals.'), (2, 'Rex is a dog.')])
    >>> llm = ScriptedBackend(["```python\ndef solution():\n    return 3 * 12 - 5\n```"])
    >>> solve("Tom has 3 boxes of 12 pens and gives 5 away. How many are left?", target="python", llm=llm).answer
    NumberAnswer(value=31.0, exact='31')
    >>> llm = ScriptedBackend(["integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\n"
    ...                        "wood: 2 chairs + 4 tables <= 40\nhours: 3 chairs + 2 tables <= 36"] * 2)
    >>> solve("Chairs earn $30 and tables $50 ...", target="milp", llm=llm).answer.objective
    540.0

"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from neurosym.deadlines import check_seconds
from neurosym.errors import ConfigurationError
from neurosym.fol.certificates import PremisesUsed
from neurosym.loop.cache import Cache
from neurosym.loop.refine import Budget, Strategy, refine
from neurosym.loop.result import Attempt, LoopResult
from neurosym.settings import SamplingSettings, merge
from neurosym.targets.base import Target
from neurosym.targets.registry import MAX_PROBLEM_TEXT, SolveOptions, TargetSpec, spec_of, target_spec, word_problem
from neurosym.translators.base import LLMBackend, ProgressCallback, Usage
from neurosym.types import Answer, Assignment, Formalization, NumberAnswer, Problem, Verdict

__all__ = ["MAX_PROBLEM_TEXT", "SolveResult", "solve"]


@dataclass(frozen=True)
class SolveResult:
    """What :func:`solve` found, and what it cost, for any target.

    Attributes:
        problem: the problem as the target read it (FOL: split into premises and a conclusion).
        answer: the verified answer, or ``None`` when the verdict settles nothing.
        verdict: the provers' verdict on the formalization shown (``invalid`` if it did not parse).
        formalization: the winning attempt's formalization (or the last attempt's), if it parsed.
        raw_output: the model's text for that attempt.
        usage: tokens and model latency.
        elapsed_s, model_s, prover_s: wall time in all, in the model, in the provers.
        backend, model: which model translated.
        settings: the sampling settings used.
        loop: the feedback loop's record: every attempt, the vote, the cost.
        target: the target's name.

    """

    problem: Problem
    answer: Answer | None
    verdict: Verdict
    formalization: Formalization | None
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

    @property
    def premises_used(self) -> list[tuple[int, str]]:
        """The English premises (numbered from 1) that the proof used (entailment targets; else empty)."""
        certificate = self.verdict.certificate
        if not isinstance(certificate, PremisesUsed):
            return []
        return [(i + 1, self.problem.premises[i]) for i in certificate.indices if i < len(self.problem.premises)]

    @property
    def spec(self) -> TargetSpec | None:
        """The registry entry of this result's target (None for an unregistered Target object)."""
        try:
            return target_spec(self.target)
        except ConfigurationError:
            return None

    # -- deprecated: the fields of the FOL-, Python- and MILP-specific result of 0.1 -------------

    @property
    def translation(self) -> Any:
        """Deprecated (removed in 0.3): the FOL formulas; use :attr:`formalization`."""
        _deprecated("SolveResult.translation", "SolveResult.formalization")
        from neurosym.targets.fol.report import formulas_of
        from neurosym.targets.fol.translator import FolTranslation

        found = formulas_of(self.formalization) if self.target == "fol" else None
        return None if found is None else FolTranslation(tuple(found[0]), found[1])

    @property
    def program(self) -> str | None:
        """Deprecated (removed in 0.3): the Python program; use ``formalization.source``."""
        _deprecated("SolveResult.program", "SolveResult.formalization.source")
        return self.formalization.source if self.target == "python" and self.formalization else None

    @property
    def milp_model(self) -> str | None:
        """Deprecated (removed in 0.3): the MILP model text; use ``formalization.source``."""
        _deprecated("SolveResult.milp_model", "SolveResult.formalization.source")
        if self.target != "milp":
            return None
        from neurosym.targets.milp.report import model_text

        return model_text(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form; ``formalization`` is described by the target (FOL: premises and conclusion)."""
        spec = self.spec
        formalization = None
        if self.formalization is not None:
            formalization = spec.describe(self.formalization) if spec else {"source": self.formalization.source}
        return {
            "target": self.target,
            "premises": list(self.problem.premises),
            "conclusion": self.problem.conclusion,
            "answer": self.verdict.to_dict()["answer"] if self.answer is not None else None,
            "verdict": self.verdict.to_dict(),
            "formalization": formalization,
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
        """A report for people: the answer, the target's own report, the vote, the cost."""
        v = self.verdict
        lines = [f"Answer: {_answer_text(v)}  ({v.status}, {v.prover or 'no prover'})"]
        spec = self.spec
        if spec is not None and spec.render is not None:
            lines += spec.render(self)
        elif self.formalization is not None:
            lines += ["Formalization:", *("    " + line for line in self.formalization.source.splitlines())]
        if self.loop is not None and (len(self.loop.attempts) > 1 or self.loop.abstained):
            lines.append(
                f"Votes: {dict(self.loop.votes)} over {len(self.loop.attempts)} attempts; "
                f"confidence {self.loop.confidence:.2f}" + ("; abstained" if self.loop.abstained else "")
            )
        lines.append(
            f"Time: {self.elapsed_s:.1f} s (model {self.model_s:.1f} s, provers {self.prover_s:.2f} s); "
            f"tokens: {self.usage.prompt_tokens} prompt + {self.usage.completion_tokens} completion; "
            f"model: {self.model}"
        )
        return "\n".join(lines)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated and goes in neurosym 0.3; use {new}", DeprecationWarning, stacklevel=3)


def _answer_text(verdict: Verdict) -> str:
    answer = verdict.answer
    if not verdict.decided or answer is None:
        return verdict.status.upper()
    if isinstance(answer, NumberAnswer):
        return answer.exact or f"{answer.value:g}"
    if isinstance(answer, Assignment) and answer.objective is not None:
        return f"{answer.objective:.10g} (optimal objective)"
    return str(getattr(answer, "value", answer))


def solve(
    text: str | None = None,
    *,
    premises: Sequence[str] | None = None,
    conclusion: str | None = None,
    target: str | Target = "fol",
    llm: LLMBackend | str | None = None,
    settings: SamplingSettings | None = None,
    constrained: bool | None = None,
    timeout: float = 10.0,
    provers: Sequence[str] = ("z3",),
    repair_signature_clashes: bool = False,
    target_options: Mapping[str, Any] | None = None,
    strategy: Strategy | None = None,
    budget: Budget | None = None,
    agreement: float | None = None,
    verdict_cache: Cache | None = None,
    progress: ProgressCallback | None = None,
) -> SolveResult:
    """Translate a problem with an LLM and decide it with provers, through the feedback loop.

    Args:
        text: the problem in English (FOL: premises, then a question or a conclusion to check).
        premises: the premises already split into sentences (with ``conclusion``, instead of
            ``text``; entailment targets).
        conclusion: the sentence or question to decide.
        target: a registered target's name (``"fol"``, ``"python"``, ``"milp"``, or one a
            plug-in added: :func:`neurosym.targets.target_names`) or a
            :class:`~neurosym.targets.base.Target` object.
        llm: a backend, a backend spec such as ``"embedded"`` or ``"openai:MODEL"`` (see
            :func:`neurosym.translators.backends.get_backend`), or ``None`` for the spec in
            ``$NEUROSYM_LLM``, else the embedded default model.
        settings: sampling settings layered over the target's defaults (greedy, its token budget).
        constrained: grammar-constrained decoding; by default on where the backend supports it.
        timeout: seconds for each check (a prover call, a program run in the sandbox, both MILP
            solvers together).
        provers: the FOL target's provers (several are cross-checked).
        repair_signature_clashes: the FOL target renames a name used in two roles instead of
            returning ``invalid``.
        target_options: the target's own options (what its command-line options set).
        strategy: how to sample, repair, vote and stop (:class:`neurosym.loop.Strategy`; default the
            target's own, :attr:`~neurosym.targets.TargetSpec.strategy`: adaptive sampling with selection
            by evidence for FOL, one greedy translation elsewhere; ``Strategy.greedy()`` is the fastest).
        budget: per-problem limits on samples, tokens and time (:class:`neurosym.loop.Budget`).
        agreement: abstain unless the winning answer has at least this share of the decided
            votes (overrides the strategy's).
        verdict_cache: look verdicts up in this :class:`~neurosym.loop.Cache` before running the
            provers or the sandbox, and store the new ones.
        progress: called with a :class:`~neurosym.translators.base.Progress` as the model writes
            (see :func:`neurosym.loop.refine.refine`).

    Raises:
        ConfigurationError: bad arguments (empty text, a bad timeout, an unknown backend or target).
        SandboxUnavailable: the python target on a machine without bubblewrap or libseccomp.
        BackendError: the model could not be reached or failed before any answer.

    """
    timeout = check_seconds(timeout, "timeout")
    started = time.perf_counter()
    spec: TargetSpec | None
    if isinstance(target, str):
        spec, given = target_spec(target), None
    elif isinstance(target, Target):
        spec, given = spec_of(target), target
    else:
        raise ConfigurationError(f"target must be a target's name or a Target, not {type(target).__name__}")
    if spec is not None:
        problem = spec.make_problem(text, premises, conclusion)
        if spec.ready is not None:  # before the model is asked: what it writes could not be checked
            spec.ready()
    else:
        problem = word_problem(text, premises, conclusion, name=getattr(given, "name", ""))
    backend = _backend(llm)
    use_grammar = getattr(backend, "supports_grammar", False) if constrained is None else constrained
    if given is None:
        assert spec is not None
        extra = {"provers": tuple(provers), "repair_signature_clashes": repair_signature_clashes,
                 **(target_options or {})}  # fmt: skip
        chosen = spec.build(SolveOptions(constrained=use_grammar, timeout_s=timeout, extra=extra))
    else:
        chosen = given
    defaults = spec.settings if spec is not None else SamplingSettings(temperature=0.0, max_tokens=512, seed=0)
    strategy = strategy or (spec.strategy if spec is not None and spec.strategy is not None else Strategy.greedy())
    if agreement is not None:
        strategy = replace(strategy, agreement=agreement)
    strategy = replace(strategy, timeout_s=timeout)
    if strategy.samples > 1:  # the target's default is greedy for one translation; samples are drawn at the strategy's
        defaults = replace(defaults, temperature=strategy.temperature)
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
        formalization=shown.formalization if shown else None,
        raw_output=shown.output if shown else "",
        usage=Usage(cost.prompt_tokens, cost.completion_tokens, cost.model_s),
        elapsed_s=time.perf_counter() - started,
        model_s=cost.model_s,
        prover_s=cost.prover_s,
        backend=backend.name,
        model=backend.model,
        settings=resolved.to_dict(),
        loop=loop,
        target=chosen.name,
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


def _backend(llm: LLMBackend | str | None) -> LLMBackend:
    from neurosym.translators.backends import default_llm_spec, get_backend

    if llm is None:
        return get_backend(default_llm_spec())
    if isinstance(llm, str):
        return get_backend(llm)
    if not hasattr(llm, "generate"):
        raise ConfigurationError(f"llm must be a backend or a backend spec string, not {type(llm).__name__}")
    return llm
