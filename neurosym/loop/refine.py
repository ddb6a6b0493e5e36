r"""The feedback loop: sample translations, repair them from prover feedback, vote, or abstain.

One :class:`Strategy` describes all four behaviours, which combine:

- **vote** (``samples=K``): K samples; the answer is the majority over samples whose
  formalization parsed and was decided.
- **first-verified** (``first_verified=True``): stop at the first decided verdict, for sound
  verifiers (a kernel-checked proof).
- **failed samples** (``repair_rounds=R``): an unreadable or undecided sample gets up to R more
  tries, as ``on_failure`` says: ``"repair"`` (the conversation: the failed answer as the
  assistant's turn and the parser's or prover's message as the next user turn), ``"resample"`` (a
  fresh sample at a new seed, at the strategy's temperature even after a greedy one) or
  ``"hint"`` (a fresh sample whose user turn ends with the message; no assistant turn to copy).
- **cut answers**: an answer the token cap ended that cannot be read is read again through the
  target's ``salvage`` (its complete part), where the target has one; the attempt says so.
- **adaptive** (``round_size=m``): sample m at a time and stop as soon as the leader cannot be
  overtaken by the samples left, or its share of the votes reaches ``confidence``.

When no answer reaches ``agreement`` (a share of the decided votes; ties never win), the result
abstains and keeps the vote counts.

Which votes count (``selection``): ``"majority"`` counts every decided sample alike;
``"evidence"`` counts only the samples whose verdict carries the strongest evidence among them, as
the target's ``evidence(verdict)`` ranks it (FOL: a proof of the conclusion or of its negation
ranks above "neither follows", which is what a translation that fails to connect its premises to
its conclusion gets), then takes the majority among those. A target without ``evidence`` ranks
all verdicts alike, so both selections agree there; with one, adaptive stopping under
``"evidence"`` waits for votes of rank 1 or more. Running out of a :class:`Budget` is an outcome in the result.

Example:
    >>> from neurosym.targets.fol import FolTarget
    >>> from neurosym.translators.backends.scripted import ScriptedBackend
    >>> from neurosym.types import Problem
    >>> out = ("Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)")
    >>> problem = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
    >>> result = refine(problem, FolTarget(constrained=False), ScriptedBackend(lambda r, i: out),
    ...                 strategy=Strategy(samples=3))
    >>> result.answer, result.confidence, dict(result.votes)
    ('True', 1.0, {'True': 3})

"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from neurosym.errors import ConfigurationError, NeurosymError, ParseError, PoolBrokenError
from neurosym.loop.cache import Cache, CachedChecker
from neurosym.loop.result import Attempt, Cost, LoopResult
from neurosym.settings import SamplingSettings, merge
from neurosym.targets.base import Target
from neurosym.translators.base import (
    GenerationRequest,
    GenerationResult,
    LLMBackend,
    Message,
    Progress,
    ProgressCallback,
    split_evenly,
)
from neurosym.types import Formalization, Problem, Verdict

if TYPE_CHECKING:
    from neurosym.translators.decoding import Decoder

__all__ = ["ON_FAILURE", "SELECTIONS", "Budget", "Checker", "Strategy", "check_inline", "hint_request", "refine"]

Checker = Callable[[Target, Formalization, float], Verdict]
ON_FAILURE = ("repair", "resample", "hint")
"""What a failed sample's further tries are (:attr:`Strategy.on_failure`)."""
SELECTIONS = ("majority", "evidence")
"""Which decided samples the answer is chosen among (:attr:`Strategy.selection`)."""


def hint_request(request: GenerationRequest, feedback: str) -> GenerationRequest:
    """``request`` with ``feedback`` appended to its last user turn (the ``hint`` strategy's request).

    Example:
        >>> r = hint_request(GenerationRequest.from_prompt("Translate: Rex is a dog."), "Dog is used with two arities")
        >>> print(r.messages[-1].content)
        Translate: Rex is a dog.
        <BLANKLINE>
        An earlier answer to this had a problem: Dog is used with two arities
        Avoid it.

    """
    last = max(i for i, m in enumerate(request.messages) if m.role == "user")
    note = f"\n\nAn earlier answer to this had a problem: {feedback.strip()}\nAvoid it."
    messages = list(request.messages)
    messages[last] = Message("user", messages[last].content + note)
    return GenerationRequest(tuple(messages), request.constraint)


@dataclass(frozen=True)
class Strategy:
    """How to spend samples on one problem (see the module docstring).

    Example:
        >>> Strategy.vote(5, repair_rounds=1).to_dict()["repair_rounds"]
        1

    """

    samples: int = 1
    """Most fresh samples per problem (K)."""
    repair_rounds: int = 0
    """Repairs per sample after an unreadable or undecided attempt (R)."""
    first_verified: bool = False
    """Stop at the first decided verdict."""
    round_size: int | None = None
    """Samples per round for adaptive sampling; ``None`` samples all K in one round."""
    confidence: float = 1.0
    """Adaptive: stop once the leader's share of decided votes reaches this (with >= 2 votes)."""
    agreement: float = 0.5
    """Abstain unless the winner's share of decided votes is at least this."""
    temperature: float = 0.7
    """Sampling temperature when more than one sample is drawn (one sample is greedy)."""
    timeout_s: float = 10.0
    """Prover time limit per attempt."""
    on_failure: str = "repair"
    """What a failed sample's R tries are: ``"repair"``, ``"resample"`` or ``"hint"`` (see the module docstring)."""
    selection: str = "majority"
    """Which decided samples vote: all (``"majority"``) or those with the strongest evidence (``"evidence"``)."""

    def __post_init__(self) -> None:
        if self.on_failure not in ON_FAILURE:
            raise ConfigurationError(f"on_failure must be one of {', '.join(ON_FAILURE)}, got {self.on_failure!r}")
        if self.selection not in SELECTIONS:
            raise ConfigurationError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        if self.samples < 1:
            raise ConfigurationError(f"samples must be at least 1, got {self.samples}")
        if self.repair_rounds < 0:
            raise ConfigurationError(f"repair_rounds must be non-negative, got {self.repair_rounds}")
        if self.round_size is not None and self.round_size < 1:
            raise ConfigurationError(f"round_size must be at least 1, got {self.round_size}")
        if not 0 < self.agreement <= 1 or not 0 < self.confidence <= 1:
            raise ConfigurationError("agreement and confidence are shares in (0, 1]")

    @classmethod
    def greedy(cls) -> Strategy:
        """One greedy translation."""
        return cls(samples=1, temperature=0.0)

    @classmethod
    def vote(
        cls, k: int = 5, *, repair_rounds: int = 0, agreement: float = 0.5, on_failure: str = "repair"
    ) -> Strategy:
        """Majority vote over ``k`` samples, optionally giving failed ones ``repair_rounds`` more tries."""
        return cls(samples=k, repair_rounds=repair_rounds, agreement=agreement, on_failure=on_failure)

    @classmethod
    def adaptive(cls, max_samples: int = 10, *, round_size: int = 2, confidence: float = 0.8) -> Strategy:
        """Sample in rounds; stop when the leader is safe or confident enough."""
        return cls(samples=max_samples, round_size=round_size, confidence=confidence)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for results files)."""
        return asdict(self)


@dataclass(frozen=True)
class Budget:
    """Limits per problem; ``None`` means no limit. Running out stops the loop and is recorded."""

    samples: int | None = None
    """Model samples, fresh and repairs together."""
    tokens: int | None = None
    """Prompt plus completion tokens."""
    wall_s: float | None = None
    """Wall time."""
    prover_s: float | None = None
    """Time in provers."""

    def exceeded(self, cost: Cost) -> str | None:
        """The first limit ``cost`` has reached, as ``budget:<name>``, or ``None``."""
        if self.samples is not None and cost.samples >= self.samples:
            return "budget:samples"
        if self.tokens is not None and cost.prompt_tokens + cost.completion_tokens >= self.tokens:
            return "budget:tokens"
        if self.wall_s is not None and cost.wall_s >= self.wall_s:
            return "budget:wall"
        if self.prover_s is not None and cost.prover_s >= self.prover_s:
            return "budget:prover"
        return None


def check_inline(target: Target, formalization: Formalization, timeout_s: float) -> Verdict:
    r"""The default checker of :func:`refine`: the target's provers in this process.

    Example:
        >>> from neurosym.targets.fol import FolTarget
        >>> from neurosym.types import Problem
        >>> t = FolTarget(constrained=False)
        >>> out = "Premises:\n1. A dog.\nFOL: Dog(rex)\nConclusion:\nA dog?\nFOL: Dog(rex)"
        >>> check_inline(t, t.parse(Problem(premises=("A dog.",), conclusion="A dog?"), out), 5.0).status
        'proved'

    """
    return target.check(formalization, timeout_s=timeout_s)


class _Run:
    """The mutable state of one problem's loop."""

    def __init__(self, problem: Problem, target: Target, backend: LLMBackend, strategy: Strategy, budget: Budget,
                 settings: SamplingSettings | None, checker: Checker,
                 progress: ProgressCallback | None = None) -> None:  # fmt: skip
        self.problem, self.target, self.backend, self.progress = problem, target, backend, progress
        self.strategy, self.budget, self.checker = strategy, budget, checker
        temperature = 0.0 if strategy.samples == 1 else strategy.temperature
        self.settings = merge(SamplingSettings(temperature=temperature, seed=0), settings)
        self.started = time.perf_counter()
        self.attempts: list[Attempt] = []
        self.votes: Counter[Hashable] = Counter()
        self.winners: dict[Hashable, Attempt] = {}
        self.ranked_votes: dict[int, Counter[Hashable]] = {}  # evidence rank -> the votes of that rank
        self.ranked_winners: dict[tuple[int, Hashable], Attempt] = {}
        self.samples_drawn = 0
        self.model_calls = 0
        self.model_s = 0.0
        self.prompt_s = 0.0  # building prompts and repair prompts (target code)
        make_decoder = getattr(target, "decoder", None)  # a target that draws answers in several requests
        self.decoder: Decoder | None = make_decoder(problem) if callable(make_decoder) else None

    def cost(self) -> Cost:
        return Cost(
            samples=len(self.attempts),
            model_calls=self.model_calls,
            prompt_tokens=sum(a.prompt_tokens for a in self.attempts),
            completion_tokens=sum(a.completion_tokens for a in self.attempts),
            model_s=self.model_s,
            prover_s=sum(a.prover_s for a in self.attempts),
            wall_s=time.perf_counter() - self.started,
            target_s=self.prompt_s + sum(a.parse_s for a in self.attempts),
        )

    def generate(
        self,
        request: GenerationRequest,
        n: int,
        seed: int,
        temperature: float,
        *,
        first_sample: int,
        decoded: bool = True,
    ) -> GenerationResult:
        """``n`` samples of ``request``: through the target's decoder if it has one (repair conversations never)."""
        settings = merge(self.settings, SamplingSettings(n=n, seed=seed, temperature=temperature))
        started = time.perf_counter()
        renumbered: ProgressCallback | None = None
        if self.progress is not None:
            report = self.progress

            def renumbered(event: Progress) -> None:  # the backend counts samples per call; say which of the problem's
                report(replace(event, sample_index=first_sample + event.sample_index))

        if decoded and self.decoder is not None:
            result = self.decoder.generate(self.backend, request, settings=settings, progress=renumbered)
        elif renumbered is None:
            [result] = self.backend.generate([request], settings=settings)
        else:
            [result] = self.backend.generate([request], settings=settings, progress=renumbered)
        self.model_s += time.perf_counter() - started
        self.model_calls += 1
        return result

    def attempt(
        self, output: str, *, sample: int, round_: int, repair: int, share: tuple[int, int, float], cut: bool = False
    ) -> Attempt:
        """Parse and check one output; ``cut``: the token cap ended it, so the target may salvage its complete part."""
        prompt_tokens, completion_tokens, latency = share
        started = time.perf_counter()
        salvaged = False
        try:
            formalization = self.target.parse(self.problem, output)
        except ParseError as err:
            salvaged_part = self.salvage(output) if cut else None
            if salvaged_part is None:
                return Attempt(
                    sample, round_, repair, output, parse_error=err.message,
                    prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_s=latency,
                    parse_s=time.perf_counter() - started,
                )  # fmt: skip
            formalization, salvaged = salvaged_part, True
        parse_s = time.perf_counter() - started
        started = time.perf_counter()
        verdict = self.checker(self.target, formalization, self.strategy.timeout_s)
        prover_s = time.perf_counter() - started
        return Attempt(
            sample, round_, repair, output,
            formalization=formalization,
            verdict=verdict,
            answer=self.target.answer_key(verdict),
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_s=latency,
            prover_s=prover_s, parse_s=parse_s, salvaged=salvaged,
        )  # fmt: skip

    def salvage(self, output: str) -> Formalization | None:
        """The target's reading of the complete part of a cut-off output, or ``None`` (no hook, nothing readable)."""
        salvage = getattr(self.target, "salvage", None)
        text = salvage(self.problem, output) if callable(salvage) else None
        if not text or text == output:
            return None
        try:
            return self.target.parse(self.problem, text)
        except ParseError:
            return None

    def feedback(self, attempt: Attempt) -> str:
        if attempt.parse_error:
            return f"it could not be read: {attempt.parse_error}"
        verdict = attempt.verdict
        if verdict is None:
            return f"the provers answered {attempt.status}"
        return verdict.feedback or verdict.message or f"the provers answered {attempt.status}"

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        if attempt.answer is not None:
            self.votes[attempt.answer] += 1
            self.winners.setdefault(attempt.answer, attempt)
            rank = self.rank(attempt)
            self.ranked_votes.setdefault(rank, Counter())[attempt.answer] += 1
            self.ranked_winners.setdefault((rank, attempt.answer), attempt)

    def rank(self, attempt: Attempt) -> int:
        """The evidence rank of a decided attempt's verdict (the target's ``evidence``; 0 without one)."""
        rank_of = getattr(self.target, "evidence", None)
        return int(rank_of(attempt.verdict)) if callable(rank_of) and attempt.verdict is not None else 0

    def winner(self, answer: Hashable) -> Attempt:
        """The first attempt that gave ``answer`` among those the selection counts."""
        if self.strategy.selection == "majority":
            return self.winners[answer]
        return self.ranked_winners[(max(self.ranked_votes), answer)]

    def counted_votes(self) -> Counter[Hashable]:
        """The votes the strategy's selection counts: all, or those of the strongest evidence present."""
        if self.strategy.selection == "majority" or not self.ranked_votes:
            return self.votes
        return self.ranked_votes[max(self.ranked_votes)]

    def settled_rank(self) -> bool:
        """Whether the counted votes may end adaptive sampling: by majority always, by evidence from rank 1 on.

        A target without ``evidence`` ranks every verdict alike, so its votes may end sampling as by majority.
        """
        if self.strategy.selection == "majority" or not callable(getattr(self.target, "evidence", None)):
            return True
        return max(self.ranked_votes, default=0) >= 1


def _shares(result: GenerationResult) -> list[tuple[int, int, float]]:
    """Each sample's share of a call's usage: its own completion tokens, the prompt and latency split evenly.

    The prompt shares add up to the call's prompt tokens.
    """
    n = max(1, len(result.samples))
    prompt_shares = split_evenly(result.usage.prompt_tokens, n)
    shares = []
    for i, sample in enumerate(result.samples):
        prompt_share = prompt_shares[i]
        completion = sample.completion_tokens or result.usage.completion_tokens // n
        shares.append((prompt_share, completion, result.usage.latency_s / n))
    return shares


def refine(
    problem: Problem,
    target: Target,
    backend: LLMBackend,
    *,
    strategy: Strategy | None = None,
    budget: Budget | None = None,
    settings: SamplingSettings | None = None,
    checker: Checker | None = None,
    verdict_cache: Cache | None = None,
    progress: ProgressCallback | None = None,
) -> LoopResult:
    """Run the feedback loop on one problem and return what it found (never raises for verdicts).

    Args:
        problem: the problem to solve.
        target: the formal language (e.g. :class:`neurosym.targets.fol.FolTarget`).
        backend: the LLM.
        strategy: how to sample, repair, vote and stop (default: one greedy sample; ``solve`` passes the target's).
        budget: per-problem limits.
        settings: sampling settings layered over the strategy's (temperature, seed 0).
        checker: how verdicts are computed, ``(target, formalization, timeout_s) -> Verdict``;
            default: in this process. Pass a process pool's checker to isolate provers.
        verdict_cache: look verdicts up in this cache before running the provers, and store the
            new ones (:class:`~neurosym.loop.cache.CachedChecker`).
        progress: passed to the backend to watch the model write; its ``sample_index`` counts
            the problem's samples (a repair carries the index of the sample it repairs).

    A backend that fails (an infrastructure error) ends the problem: the result records the
    error and keeps every attempt finished before it. Usage mistakes
    (:class:`~neurosym.errors.ConfigurationError`) and a prover pool that cannot start workers
    (:class:`~neurosym.errors.PoolBrokenError`) raise, since every problem would fail alike.

    """
    strategy = strategy or Strategy.greedy()
    checker = checker or check_inline
    if verdict_cache is not None:
        checker = CachedChecker(checker, verdict_cache)
    run = _Run(problem, target, backend, strategy, budget or Budget(), settings, checker, progress)
    started = time.perf_counter()
    request = target.request(problem)
    run.prompt_s += time.perf_counter() - started
    round_size = strategy.round_size or strategy.samples
    stop_reason, error, exception = "exhausted", None, None
    round_ = 0
    try:
        while run.samples_drawn < strategy.samples:
            n = min(round_size, strategy.samples - run.samples_drawn)
            if reason := run.budget.exceeded(run.cost()):
                stop_reason = reason
                break
            if run.budget.samples is not None:
                n = min(n, run.budget.samples - len(run.attempts))
            temperature = run.settings.temperature if run.settings.temperature is not None else 0.0
            seed = (run.settings.seed or 0) + run.samples_drawn
            result = run.generate(request, n, seed, temperature, first_sample=run.samples_drawn)
            first_sample = run.samples_drawn
            run.samples_drawn += n
            stop = None
            for offset, (sample, share) in enumerate(zip(result.samples, _shares(result), strict=False)):
                index = first_sample + offset
                cut = sample.finish_reason == "length"
                attempt = run.attempt(sample.text, sample=index, round_=round_, repair=0, share=share, cut=cut)
                run.record(attempt)
                previous_request, previous = request, attempt
                for k in range(1, strategy.repair_rounds + 1):
                    if previous.answer is not None or (reason := run.budget.exceeded(run.cost())):
                        break
                    started = time.perf_counter()
                    seed = (run.settings.seed or 0) + 1000 * k + index
                    retry_temperature, decoded = temperature, True
                    if strategy.on_failure == "resample":
                        repair = request
                        retry_temperature = temperature or strategy.temperature  # a greedy retry would repeat itself
                    elif strategy.on_failure == "hint":
                        repair = _hint(target, problem, request, run.feedback(previous))
                    else:
                        repair = target.repair_request(
                            problem, previous_request, previous.output, run.feedback(previous)
                        )
                        decoded = False  # the conversation continues the whole answer in one request
                    run.prompt_s += time.perf_counter() - started
                    fixed = run.generate(repair, 1, seed, retry_temperature, first_sample=index, decoded=decoded)
                    [share_k] = _shares(fixed) or [(0, 0, 0.0)]
                    text = fixed.samples[0].text if fixed.samples else ""
                    cut = bool(fixed.samples) and fixed.samples[0].finish_reason == "length"
                    previous = run.attempt(text, sample=index, round_=round_, repair=k, share=share_k, cut=cut)
                    previous_request = repair
                    run.record(previous)
                if strategy.first_verified and run.votes:
                    stop = "first-verified"
                    break
            round_ += 1
            if stop:
                stop_reason = stop
                break
            remaining = strategy.samples - run.samples_drawn
            adaptive = strategy.round_size is not None and run.settled_rank()
            if adaptive and _settled(run.counted_votes(), strategy, remaining):
                stop_reason = "agreement"
                break
        else:
            if reason := run.budget.exceeded(run.cost()):
                stop_reason = reason if len(run.attempts) < strategy.samples else "exhausted"
    except NeurosymError as err:
        if isinstance(err, (ConfigurationError, PoolBrokenError)):  # every problem would fail the same way
            raise
        stop_reason, error, exception = "error", f"{type(err).__name__}: {err}", err
    return replace(_decide(problem, run, strategy, stop_reason, error), exception=exception)


def _hint(target: Target, problem: Problem, request: GenerationRequest, feedback: str) -> GenerationRequest:
    """The target's own ``hint_request(problem, request, feedback)`` where it has one, else :func:`hint_request`."""
    own = getattr(target, "hint_request", None)
    return own(problem, request, feedback) if callable(own) else hint_request(request, feedback)


def _settled(votes: Counter[Hashable], strategy: Strategy, remaining: int) -> bool:
    """Adaptive stop: the leader cannot be overtaken, or is confident enough."""
    if not votes:
        return False
    ranked = votes.most_common(2)
    lead = ranked[0][1]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    total = sum(votes.values())
    if lead - runner_up > remaining:
        return True
    return total >= 2 and lead / total >= strategy.confidence and lead > runner_up


def _decide(problem: Problem, run: _Run, strategy: Strategy, stop_reason: str, error: str | None) -> LoopResult:
    votes = {str(k): v for k, v in run.votes.most_common()}
    counted = run.counted_votes()
    total = sum(counted.values())
    answer, confidence, winner = None, 0.0, None
    if total:
        ranked = counted.most_common(2)
        lead_answer, lead = ranked[0]
        tie = len(ranked) > 1 and ranked[1][1] == lead
        confidence = lead / total
        if not tie and confidence >= strategy.agreement:
            answer, winner = lead_answer, run.winner(lead_answer)
    return LoopResult(
        problem_id=problem.id,
        answer=answer,
        verified=answer is not None,
        confidence=confidence,
        abstained=answer is None,
        votes=votes,
        stop_reason=stop_reason,
        winner=winner,
        attempts=tuple(run.attempts),
        cost=run.cost(),
        error=error,
        strategy=strategy.to_dict(),
    )
