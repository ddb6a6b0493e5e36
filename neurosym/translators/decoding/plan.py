r"""Template-interleaved decoding: neurosym writes the text the layout fixes, the model only the spans between.

A *plan* is a generator of steps: :class:`Fixed` text that neurosym inserts (a premise sentence,
``"FOL: "``, a line label), which the backend evaluates as prompt and never samples, and
:class:`Span` steps the model generates, each under its own constraint. The generator receives
each span's text (``text = yield Span(...)``), so later steps can depend on what the model
wrote (a grammar compiled from the signature it declared, the names it has used).

:func:`run_plan` walks a plan once per sample. Each span is one request whose last message is
the answer so far as a *partial assistant message*, which the backend continues. Backends say
that they can with ``continues_partial_answer = True``: the embedded llama.cpp backend (which
then re-evaluates only the new tokens: the KV cache of the prefix is kept between spans) and
OpenAI-compatible vLLM servers (``continue_final_message``). For the others,
:func:`continues_partial_answer` is False and a decoder falls back to whole-answer requests
(see :class:`Interleaved`).

Example:
    >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
    >>> def plan():
    ...     yield Fixed("1. Rex is a dog.\nFOL: ")
    ...     formula = yield Span(stop=("\n",))
    ...     yield Fixed("\n" if not formula.endswith("\n") else "")
    >>> backend = ContinuingScriptedBackend(["Dog(rex)"])
    >>> [result] = run_plan(backend, [GenerationRequest.from_prompt("Translate.")], plan)
    >>> result.texts
    ['1. Rex is a dog.\nFOL: Dog(rex)\n']
    >>> backend.calls[0][0][0].messages[-1]
    Message(role='assistant', content='1. Rex is a dog.\nFOL: ')

"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings, merge
from neurosym.translators.base import (
    Constraint,
    GenerationRequest,
    GenerationResult,
    LLMBackend,
    Message,
    Progress,
    ProgressCallback,
    Sample,
    Usage,
)

__all__ = [
    "Decoder",
    "Fixed",
    "Interleaved",
    "Plan",
    "PlanFactory",
    "Span",
    "Step",
    "continues_partial_answer",
    "run_plan",
]


@dataclass(frozen=True, slots=True)
class Fixed:
    """Text the layout fixes: appended to the answer by neurosym, evaluated as prompt, never sampled."""

    text: str


@dataclass(frozen=True, slots=True)
class Span:
    """A piece the model writes, under ``constraint`` (GBNF, regex or JSON schema), at most ``max_tokens`` tokens.

    ``stop`` ends the span where a backend applies no grammar (the text is cut before the stop string).
    """

    constraint: Constraint | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()


Step = Fixed | Span
Plan = Generator[Step, str, None]
"""Yields steps; receives each :class:`Span`'s generated text (and ``""`` after each :class:`Fixed`)."""
PlanFactory = Callable[[], Plan]
"""A fresh plan for each sample."""


def continues_partial_answer(backend: object) -> bool:
    """Whether ``backend`` continues a request's final assistant message instead of answering after it.

    Example:
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
        >>> continues_partial_answer(ScriptedBackend(["x"])), continues_partial_answer(ContinuingScriptedBackend(["x"]))
        (False, True)

    """
    return getattr(backend, "continues_partial_answer", False) is True


@runtime_checkable
class Decoder(Protocol):
    """How a target's answer is drawn from a backend when it is more than one plain request.

    ``generate`` returns one result with ``settings.n`` samples (sample ``i`` drawn with seed
    ``seed + i``), each the whole answer as the target reads it, with the usage of every call it took.
    """

    def generate(
        self,
        backend: LLMBackend,
        request: GenerationRequest,
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """The samples of ``request``'s messages (its constraint is the fallback's, where there is one)."""
        ...


def _sample_progress(progress: ProgressCallback | None, request_index: int, sample_index: int, tokens_before: int):  # type: ignore[no-untyped-def]
    if progress is None:
        return None
    outer = progress

    def renumbered(event: Progress) -> None:
        if event.done:  # one sample is done only when its plan is
            return
        outer(Progress(request_index, sample_index, tokens_before + event.completion_tokens, event.text))

    return renumbered


def _one_sample(
    backend: LLMBackend,
    messages: tuple[Message, ...],
    plan: Plan,
    settings: SamplingSettings,
    seed: int,
    progress: ProgressCallback | None,
    position: int,
    index: int,
) -> tuple[Sample, Usage, int]:
    """Walk one plan: the sample, its usage, and the number of model calls."""
    answer, tokens, calls = "", 0, 0
    usage = Usage()
    finish: str | None = "stop"
    budget = settings.max_tokens
    try:
        step = next(plan)
        while True:
            if isinstance(step, Fixed):
                answer += step.text
                if progress is not None and step.text:
                    progress(Progress(position, index, tokens, step.text))
                step = plan.send("")
                continue
            if not isinstance(step, Span):
                raise ConfigurationError(f"a decoding plan yields Fixed or Span steps, not {type(step).__name__}")
            left = None if budget is None else budget - tokens
            if left is not None and left <= 0:
                finish = "length"
                break
            cap = step.max_tokens if left is None else min(left, step.max_tokens or left)
            wanted = tuple(messages) + ((Message("assistant", answer),) if answer else ())
            span_settings = merge(settings, SamplingSettings(n=1, seed=seed, max_tokens=cap, stop=step.stop or None))
            [result] = backend.generate(
                [GenerationRequest(wanted, step.constraint)],
                settings=span_settings,
                progress=_sample_progress(progress, position, index, tokens),
            )
            calls += 1
            usage = usage + result.usage
            sample = result.samples[0] if result.samples else Sample("", "stop", 0)
            answer += sample.text
            tokens += sample.completion_tokens
            if sample.finish_reason == "length":  # cut off: the plan cannot go on from half a span
                finish = "length"
                break
            step = plan.send(sample.text)
    except StopIteration:
        pass
    finally:
        plan.close()
    if progress is not None:
        progress(Progress(position, index, tokens, "", done=True))
    return Sample(answer, finish, tokens), usage, calls


def run_plan(
    backend: LLMBackend,
    requests: Sequence[GenerationRequest],
    plan: PlanFactory,
    *,
    settings: SamplingSettings | None = None,
    progress: ProgressCallback | None = None,
) -> list[GenerationResult]:
    """Each request's ``n`` samples, each drawn by walking a fresh ``plan()`` (sample ``i`` at seed ``seed + i``).

    ``settings.max_tokens`` bounds the tokens the model writes in one sample, all spans together;
    a span cut off by it ends the sample (``finish_reason="length"``). The result's usage adds up
    every call (a backend counts the whole prompt of each call, including the prefix it kept in
    its cache); its latency is the wall time of the sample's calls.

    Raises:
        ConfigurationError: ``backend`` cannot continue a partial answer.

    """
    if not continues_partial_answer(backend):
        raise ConfigurationError(
            f"the {getattr(backend, 'name', type(backend).__name__)!r} backend cannot continue a partial answer; "
            "use a decoder's whole-answer fallback"
        )
    resolved = merge(SamplingSettings(n=1, seed=0), settings)
    n, seed = resolved.n or 1, resolved.seed or 0
    results = []
    for position, request in enumerate(requests):
        samples, usage = [], Usage()
        started = time.perf_counter()
        for index in range(n):
            sample, used, _calls = _one_sample(
                backend, request.messages, plan(), resolved, seed + index, progress, position, index
            )
            samples.append(sample)
            usage = usage + replace(used, latency_s=0.0)
        usage = replace(usage, latency_s=time.perf_counter() - started)
        results.append(
            GenerationResult(tuple(samples), usage, getattr(backend, "name", ""), getattr(backend, "model", ""))
        )
    return results


@dataclass(frozen=True)
class Interleaved:
    r"""A decoder that walks ``plan`` where the backend continues partial answers, else sends ``request`` whole.

    The whole request's constraint (for instance a grammar with the fixed text as literals) is
    then the fallback's; both give answers in the same layout.

    Example:
        >>> from neurosym.translators.backends.scripted import ScriptedBackend
        >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
        >>> def plan():
        ...     yield Fixed("Answer: ")
        ...     yield Span()
        >>> decoder = Interleaved(plan)
        >>> request = GenerationRequest.from_prompt("Say yes.")
        >>> decoder.generate(ContinuingScriptedBackend(["yes"]), request).texts
        ['Answer: yes']
        >>> decoder.generate(ScriptedBackend(["Answer: yes"]), request).texts
        ['Answer: yes']

    """

    plan: PlanFactory

    def generate(
        self,
        backend: LLMBackend,
        request: GenerationRequest,
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """``n`` samples of ``request``: interleaved where the backend continues partial answers, whole otherwise."""
        if continues_partial_answer(backend):
            [result] = run_plan(backend, [request], self.plan, settings=settings, progress=progress)
        else:
            [result] = backend.generate([request], settings=settings, progress=progress)
        return result
