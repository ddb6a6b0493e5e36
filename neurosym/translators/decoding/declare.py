r"""Declare-then-use decoding: the model writes the signature it will use, then the rest under a grammar built from it.

Phase 1 is a :class:`~neurosym.translators.decoding.plan.Span` that writes only the signature
(FOL: the predicates with their arity and a gloss, and the constants; MILP: the variable
declarations) under its own grammar. ``read`` turns that text into a signature object, and
phase 2 writes the rest under constraints compiled from it, so that an undeclared name, a
predicate with another arity or a constraint label used as a variable is simply not in the
grammar. The signature stays in the answer, where the result and the trace show it.

On a backend that continues a partial answer (see
:func:`~neurosym.translators.decoding.plan.continues_partial_answer`) both phases are one plan
(``use_plan``: phase 2 may itself interleave fixed text). Elsewhere they are two requests: the
first writes the header and the signature; the second shows it as the assistant's turn, asks
``use_request(signature).follow_up`` and constrains the answer with its grammar.

Example:
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
    >>> def use(names):
    ...     yield Fixed("Use: ")
    ...     yield Span(Constraint("grammar", "root ::= " + " | ".join(f'"{n}"' for n in names)))
    >>> decoder = DeclareThenUse(
    ...     header="Names: ",
    ...     signature=Span(Constraint("grammar", 'root ::= [a-z]+ (", " [a-z]+)* "\\n"')),
    ...     read=lambda text: text.strip().split(", "),
    ...     use_plan=use,
    ...     use_request=lambda names: UseRequest("Now use them.", None, separator="Use: "),
    ... )
    >>> request = GenerationRequest.from_prompt("Pick two names and use one.")
    >>> decoder.generate(ContinuingScriptedBackend(["ann, bob\n", "bob"]), request).texts
    ['Names: ann, bob\nUse: bob']
    >>> two = ScriptedBackend(["Names: ann, bob\n", "bob"])
    >>> decoder.generate(two, request).texts, two.calls[1][0][0].messages[-1].content
    (['Names: ann, bob\nUse: bob'], 'Now use them.')

"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

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
from neurosym.translators.decoding.names import gbnf_literal
from neurosym.translators.decoding.plan import Fixed, Plan, Span, Step, continues_partial_answer, run_plan

__all__ = ["DeclareThenUse", "UseRequest", "prefixed_constraint"]

S = TypeVar("S")

_ROOT = re.compile(r"^root ::= (.*)$", re.MULTILINE)


def _phase_progress(
    progress: ProgressCallback | None, sample: int | None, tokens_before: int
) -> ProgressCallback | None:
    """Events of one phase as events of the whole answer: sample ``sample`` (``None``: the inner one), tokens so far.

    The first phase (``sample=None``) never reports ``done``: its samples are whole only after the second.
    """
    if progress is None:
        return None
    outer = progress

    def renumbered(event: Progress) -> None:
        if event.done and sample is None:
            return
        index = event.sample_index if sample is None else sample
        outer(Progress(0, index, tokens_before + event.completion_tokens, event.text, event.done))

    return renumbered


@dataclass(frozen=True, slots=True)
class UseRequest:
    """Phase 2 as a second request: the user's follow-up, the constraint of the answer, and what joins the two.

    ``separator`` goes between the signature and phase 2's text in the combined answer (the text
    phase 2's plan would have begun with as fixed text, which a second request does not write).
    """

    follow_up: str
    constraint: Constraint | None
    separator: str = ""


def prefixed_constraint(constraint: Constraint | None, text: str) -> Constraint | None:
    r"""``constraint`` with ``text`` required before it (a GBNF ``root`` rule or a regex), or ``None``.

    Raises:
        ConfigurationError: a JSON-schema constraint (a prefix cannot be added), or GBNF without a
            one-line ``root`` rule.

    Example:
        >>> prefixed_constraint(Constraint("grammar", 'root ::= "a" | "b"'), "x: ").value
        'root ::= "x: " ("a" | "b")'

    """
    if constraint is None or not text:
        return constraint
    if constraint.kind == "regex":
        return Constraint("regex", re.escape(text) + f"(?:{constraint.value})")
    if constraint.kind == "grammar":
        grammar = str(constraint.value)
        if not _ROOT.search(grammar):
            raise ConfigurationError("a signature grammar needs a one-line 'root ::= ...' rule")
        return Constraint("grammar", _ROOT.sub(lambda m: f"root ::= {gbnf_literal(text)} ({m.group(1)})", grammar, 1))
    raise ConfigurationError(f"a {constraint.kind} constraint cannot be given a fixed beginning")


@dataclass(frozen=True)
class DeclareThenUse(Generic[S]):
    r"""Phase 1 writes a signature, phase 2 the rest under constraints compiled from it (see the module docstring).

    Args:
        header: fixed text before the signature (``"Predicates:\n"``); the signature span's
            constraint is for the text after it.
        signature: the phase-1 span (its grammar, token cap and stop strings).
        read: the signature from phase 1's text (the header excluded); ``None`` when it cannot be
            read, which ends the sample after phase 1 (the target's parser then says what is wrong).
        use_plan: phase 2 as a plan, where the backend continues partial answers.
        use_request: phase 2 as a second request, elsewhere.
        signature_plan: phase 1 as a plan of its own where the backend continues partial answers
            (one declaration line at a time, say, each leaving out the names already declared);
            the generator returns the signature text. Without it, phase 1 is the ``signature`` span.

    """

    header: str
    signature: Span
    read: Callable[[str], S | None]
    use_plan: Callable[[S], Plan]
    use_request: Callable[[S], UseRequest]
    signature_plan: Callable[[], Generator[Step, str, str]] | None = None

    def plan(self) -> Plan:
        """Both phases as one plan: the header, the signature (span or plan), then ``use_plan`` of what was read."""
        if self.header:
            yield Fixed(self.header)
        if self.signature_plan is not None:
            text = yield from self.signature_plan()
        else:
            text = yield self.signature
        signature = self.read(text)
        if signature is None:
            return
        yield from self.use_plan(signature)

    def generate(
        self,
        backend: LLMBackend,
        request: GenerationRequest,
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """``n`` samples of ``request``'s messages: header, signature, phase 2 (sample ``i`` at seed ``seed + i``)."""
        if continues_partial_answer(backend):
            [result] = run_plan(backend, [request], self.plan, settings=settings, progress=progress)
            return result
        return self._two_requests(backend, request, merge(SamplingSettings(n=1, seed=0), settings), progress)

    def _two_requests(
        self,
        backend: LLMBackend,
        request: GenerationRequest,
        settings: SamplingSettings,
        progress: ProgressCallback | None,
    ) -> GenerationResult:
        started = time.perf_counter()
        n, seed = settings.n or 1, settings.seed or 0
        cap = self.signature.max_tokens
        if settings.max_tokens is not None:
            cap = min(cap or settings.max_tokens, settings.max_tokens)
        first = GenerationRequest(request.messages, prefixed_constraint(self.signature.constraint, self.header))
        phase1_settings = merge(settings, SamplingSettings(max_tokens=cap, stop=self.signature.stop or None))
        # a sample is done only after its second phase: the first phase's events come without ``done``
        [declared] = backend.generate([first], settings=phase1_settings, progress=_phase_progress(progress, None, 0))
        usage = replace(declared.usage, latency_s=0.0)
        samples = []
        for index, sample in enumerate(declared.samples):
            text = sample.text[len(self.header) :] if sample.text.startswith(self.header) else sample.text
            signature = self.read(text) if sample.finish_reason != "length" else None
            if signature is None:
                samples.append(Sample(self.header + text, sample.finish_reason, sample.completion_tokens))
                if progress is not None:
                    progress(Progress(0, index, sample.completion_tokens, "", done=True))
                continue
            use = self.use_request(signature)
            messages = (
                *request.messages,
                Message("assistant", self.header + text),
                Message("user", use.follow_up),
            )
            left = None if settings.max_tokens is None else max(1, settings.max_tokens - sample.completion_tokens)
            [rest] = backend.generate(
                [GenerationRequest(messages, use.constraint)],
                settings=merge(settings, SamplingSettings(n=1, seed=seed + index, max_tokens=left)),
                progress=_phase_progress(progress, index, sample.completion_tokens),
            )
            usage = usage + replace(rest.usage, latency_s=0.0)
            second = rest.samples[0] if rest.samples else Sample("", "stop", 0)
            samples.append(
                Sample(
                    self.header + text + use.separator + second.text,
                    second.finish_reason,
                    sample.completion_tokens + second.completion_tokens,
                )
            )
        del n  # the first call drew all n signatures
        usage = Usage(usage.prompt_tokens, usage.completion_tokens, time.perf_counter() - started)
        return GenerationResult(tuple(samples), usage, declared.backend, declared.model)
