"""In-process Hugging Face transformers: a model and tokenizer you loaded, or ``from_pretrained``.

Requests are rendered with the tokenizer's chat template and generated in batches with left
padding; ``n`` samples come from ``num_return_sequences``, seeded with ``torch.manual_seed`` once
per call (so a call with the same requests and settings repeats itself). Greedy decoding
(temperature 0) gives ``n`` copies of the one greedy completion.

transformers has no grammar-constrained decoding of its own, so any
:class:`~neurosym.translators.base.Constraint` raises :class:`~neurosym.errors.ConfigurationError`;
use the vLLM or llama.cpp backends for constrained output.

Example:
    >>> _generate_kwargs(SamplingSettings(n=3, temperature=0.8, top_p=0.9, max_tokens=32).resolved())
    {'max_new_tokens': 32, 'do_sample': True, 'num_return_sequences': 3, 'temperature': 0.8, 'top_p': 0.9}

"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from neurosym.errors import BackendError, ConfigurationError, MissingDependencyError, NeurosymError
from neurosym.settings import SamplingSettings, merge
from neurosym.translators.base import (
    GenerationRequest,
    GenerationResult,
    ProgressCallback,
    Sample,
    Usage,
    check_allow_live_requests,
    report_finished,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["TransformersBackend", "from_transformers"]

_INSTALL = 'pip install "neurosym-toolkit[transformers]"'


def _import_torch_transformers() -> tuple[Any, Any]:
    """``(torch, transformers)``, or a MissingDependencyError that names the extra."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(f"the transformers backend needs transformers and torch: {_INSTALL}") from exc
    return torch, transformers


def _generate_kwargs(settings: SamplingSettings) -> dict[str, Any]:
    r"""``model.generate`` keyword arguments for resolved settings (``seed`` is applied separately).

    Greedy decoding cannot return several sequences, so it asks for one (the caller repeats it)
    and clears the sampling knobs a model's ``generation_config`` may carry.

    Example:
        >>> kwargs = _generate_kwargs(SamplingSettings(n=2, stop=("\n",)).resolved())
        >>> kwargs["do_sample"], kwargs["num_return_sequences"], kwargs["temperature"], kwargs["stop_strings"]
        (False, 1, None, ['\n'])

    """
    temperature = settings.temperature or 0.0
    sampling = temperature > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_tokens,
        "do_sample": sampling,
        "num_return_sequences": (settings.n or 1) if sampling else 1,
    }
    if sampling:
        kwargs["temperature"] = temperature
        kwargs["top_p"] = settings.top_p if settings.top_p is not None else 1.0
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    if settings.stop:
        kwargs["stop_strings"] = list(settings.stop)
    kwargs.update(settings.extra)
    return kwargs


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    r"""``text`` up to the earliest stop string, and whether one was found.

    Example:
        >>> _cut_at_stop("P(a)\n\nmore", ["\n\n"])
        ('P(a)', True)

    """
    positions = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(positions)], True) if positions else (text, False)


def _samples(
    rows: Sequence[Sequence[int]], *, end_ids: Collection[int], decode: Callable[[list[int]], str], stop: Sequence[str]
) -> list[Sample]:
    """Samples from generated token ids: cut at the first end token, decode, cut at a stop string.

    Example:
        >>> for s in _samples([[5, 6, 0, 0], [7, 7, 7]], end_ids={0}, decode=str, stop=[]):
        ...     print(s.text, s.finish_reason, s.completion_tokens)
        [5, 6] stop 2
        [7, 7, 7] length 3

    """
    samples = []
    for row in rows:
        ids, finish = list(row), "length"
        for index, token in enumerate(ids):
            if token in end_ids:
                ids, finish = ids[:index], "stop"
                break
        text, stopped = _cut_at_stop(decode(ids), stop)
        samples.append(Sample(text, "stop" if stopped else finish, len(ids)))
    return samples


def _end_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(getattr(model, "generation_config", None), "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif source is not None:
            ids.update(int(i) for i in source)
    return ids


class TransformersBackend:
    """Generate with a transformers causal LM and its tokenizer.

    Args:
        model: a ``PreTrainedModel`` (already on its device).
        tokenizer: its tokenizer; it needs a chat template. Its ``padding_side`` and pad token are
            set for each call and restored afterwards.
        model_name: the name to report (default: ``model.name_or_path``).
        settings: this backend's sampling defaults, merged under each call's settings.
        batch_size: most prompts per ``model.generate`` call.

    """

    name: ClassVar[str] = "transformers"
    supports_grammar: ClassVar[bool] = False

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        model_name: str | None = None,
        settings: SamplingSettings | None = None,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.hf_model = model
        self.tokenizer = tokenizer
        self.model = model_name or str(getattr(model, "name_or_path", "") or type(model).__name__)
        self.settings = settings or SamplingSettings()
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(
        cls,
        name: str,
        device: str | None = None,
        *,
        settings: SamplingSettings | None = None,
        batch_size: int = 8,
        **model_kwargs: Any,
    ) -> TransformersBackend:
        """Load a model and tokenizer by hub name or local path, on ``device`` (default: CUDA when available).

        ``model_kwargs`` go to ``AutoModelForCausalLM.from_pretrained`` (for example ``dtype``).

        Raises:
            MissingDependencyError: transformers or torch is not installed.
            BackendError: the model could not be loaded.

        """
        torch, transformers = _import_torch_transformers()
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(name)
            model = transformers.AutoModelForCausalLM.from_pretrained(name, **model_kwargs).to(device)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(f"transformers could not load {name!r}: {exc}", backend=cls.name, model=name) from exc
        model.eval()
        return cls(model, tokenizer, model_name=name, settings=settings, batch_size=batch_size)

    @property
    def identity(self) -> dict[str, Any]:
        """The model identity in cassette and cache keys: the model and the hub commit it was loaded from, if known.

        Example:
            >>> TransformersBackend(object(), object(), model_name="Qwen/Qwen2.5-0.5B-Instruct").identity
            {'kind': 'transformers', 'model': 'Qwen/Qwen2.5-0.5B-Instruct'}

        """
        identity: dict[str, Any] = {"kind": self.name, "model": self.model}
        revision = getattr(getattr(self.hf_model, "config", None), "_commit_hash", None)
        if isinstance(revision, str) and revision:
            identity["revision"] = revision
        return identity

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """Complete the requests in batches of ``batch_size``, ``n`` samples each.

        Usage's ``latency_s`` is each batch's wall time shared evenly among its requests.

        Raises:
            ConfigurationError: live requests are switched off, or a request has a constraint.
            BackendError: generation failed (for example out of GPU memory).

        """
        check_allow_live_requests(self.name)
        for request in requests:
            if request.constraint is not None:
                raise ConfigurationError(
                    f"the transformers backend cannot apply a {request.constraint.kind} constraint; "
                    "constrained decoding needs the vLLM or llama.cpp backends",
                    backend=self.name,
                )
        torch, _ = _import_torch_transformers()
        resolved = merge(self.settings, settings).resolved()
        kwargs = _generate_kwargs(resolved)
        n = resolved.n or 1
        end_ids = _end_ids(self.hf_model, self.tokenizer)
        stop = list(resolved.stop or ())
        results: list[GenerationResult] = []
        torch.manual_seed(resolved.seed or 0)  # seeds CUDA too
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            prompts = [
                self.tokenizer.apply_chat_template(
                    [m.to_dict() for m in r.messages], tokenize=False, add_generation_prompt=True
                )
                for r in batch
            ]
            started = time.perf_counter()
            with self._left_padding() as pad_id, self._normalize_errors():
                encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
                encoded = encoded.to(self.hf_model.device)
                extra = {"tokenizer": self.tokenizer} if "stop_strings" in kwargs else {}
                with torch.inference_mode():
                    output = self.hf_model.generate(**encoded, **kwargs, **extra, pad_token_id=pad_id)
            share = (time.perf_counter() - started) / len(batch)
            width = encoded["input_ids"].shape[1]
            rows = output[:, width:].tolist()
            per_prompt = kwargs["num_return_sequences"]
            prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
            for i in range(len(batch)):
                samples = _samples(
                    rows[i * per_prompt : (i + 1) * per_prompt],
                    end_ids=end_ids,
                    decode=lambda ids: self.tokenizer.decode(ids, skip_special_tokens=True),
                    stop=stop,
                )
                if len(samples) < n:  # greedy: every sample is the same
                    samples = samples * n
                usage = Usage(int(prompt_lengths[i]), sum(s.completion_tokens for s in samples), share)
                report_finished(progress, len(results), samples)
                results.append(GenerationResult(tuple(samples), usage, self.name, self.model))
        return results

    @contextmanager
    def _left_padding(self) -> Iterator[int]:
        """Pad on the left (decoder-only generation) with a pad token, restoring the tokenizer after."""
        tokenizer = self.tokenizer
        side, pad = tokenizer.padding_side, tokenizer.pad_token
        tokenizer.padding_side = "left"
        if pad is None:
            tokenizer.pad_token = tokenizer.eos_token
        try:
            yield tokenizer.pad_token_id
        finally:
            tokenizer.padding_side = side
            if pad is None:
                tokenizer.pad_token = None

    @contextmanager
    def _normalize_errors(self) -> Iterator[None]:
        try:
            yield
        except NeurosymError:
            raise
        except (RuntimeError, ValueError, IndexError) as exc:  # CUDA OOM is a RuntimeError
            raise BackendError(
                f"transformers generation failed: {type(exc).__name__}: {exc}", backend=self.name, model=self.model
            ) from exc


def from_transformers(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, **options: Any
) -> TransformersBackend:
    """Wrap a transformers model and tokenizer you loaded; ``options`` go to :class:`TransformersBackend`.

    Example:
        >>> from_transformers(object(), object(), model_name="tiny").model
        'tiny'

    """
    return TransformersBackend(model, tokenizer, **options)
