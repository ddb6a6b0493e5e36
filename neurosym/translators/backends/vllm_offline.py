"""In-process vLLM: wrap a ``vllm.LLM`` you built (GPU memory and lifetime stay yours).

One :meth:`VLLMOfflineBackend.generate` call is one batched ``LLM.chat(conversations,
sampling_params=[...])`` call; vLLM draws the ``n`` samples of a request itself
(``SamplingParams(n=...)``), seeded per request.

Settings are merged onto your own ``SamplingParams`` when you pass one: fields our settings set
win, everything else (``top_k``, ``repetition_penalty``, ``logprobs`` …) is kept. Without one, the
settings are resolved with neurosym's defaults (greedy, 512 tokens).

Constraints use vLLM's structured outputs: ``SamplingParams(structured_outputs=
StructuredOutputsParams(grammar=... | regex=... | json=...))`` on current vLLM, and
``SamplingParams(guided_decoding=GuidedDecodingParams(...))`` (same field names) on releases
before ``StructuredOutputsParams`` existed. A ``grammar`` constraint is GBNF-style EBNF as xgrammar
reads it (for example :func:`neurosym.fol.gbnf.formula_root_gbnf`).

Example:
    >>> _sampling_kwargs(SamplingSettings(n=4, temperature=0.7, seed=1))
    {'n': 4, 'temperature': 0.7, 'seed': 1}
    >>> _structured_fields(Constraint("regex", "yes|no"))
    {'regex': 'yes|no'}

"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from neurosym.errors import BackendError, ConfigurationError, MissingDependencyError, NeurosymError
from neurosym.settings import SamplingSettings, merge
from neurosym.translators.base import (
    Constraint,
    GenerationRequest,
    GenerationResult,
    ProgressCallback,
    Sample,
    Usage,
    check_allow_live_requests,
    report_finished,
)

if TYPE_CHECKING:
    from vllm import LLM, SamplingParams

__all__ = ["VLLMOfflineBackend", "from_vllm_offline"]

_INSTALL = 'pip install "neurosym-toolkit[vllm]"'
_STRUCTURED_FIELD = {"grammar": "grammar", "regex": "regex", "json_schema": "json"}
_CONSTRAINT_PARAMS = ("structured_outputs", "guided_decoding")
_DERIVED_PARAMS = frozenset({"output_text_buffer_length"})  # recomputed by SamplingParams itself
_CONTEXT_MARKERS = ("maximum model length", "max_model_len", "context length", "longer than the maximum")


def _import_vllm() -> Any:
    """``import vllm``, or a MissingDependencyError that names the extra."""
    try:
        import vllm
    except ImportError as exc:
        raise MissingDependencyError(f"the vllm-offline backend needs vLLM and a CUDA GPU: {_INSTALL}") from exc
    return vllm


def _sampling_kwargs(settings: SamplingSettings) -> dict[str, Any]:
    r"""``SamplingParams`` keyword arguments for the fields ``settings`` sets (``extra`` passed through).

    Example:
        >>> _sampling_kwargs(SamplingSettings(max_tokens=64, stop=("\n\n",), extra={"top_k": 20}))
        {'max_tokens': 64, 'stop': ['\n\n'], 'top_k': 20}

    """
    kwargs: dict[str, Any] = {}
    for name in ("n", "temperature", "top_p", "max_tokens", "seed"):
        value = getattr(settings, name)
        if value is not None:
            kwargs[name] = value
    if settings.stop is not None:
        kwargs["stop"] = list(settings.stop)
    kwargs.update(settings.extra)
    return kwargs


def _structured_fields(constraint: Constraint | None) -> dict[str, Any] | None:
    """The ``StructuredOutputsParams`` / ``GuidedDecodingParams`` fields for a constraint, or None."""
    if constraint is None:
        return None
    return {_STRUCTURED_FIELD[constraint.kind]: constraint.value}


def _merged_kwargs(
    base: Mapping[str, Any], settings: SamplingSettings, constraint: Constraint | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Our settings over the caller's ``SamplingParams`` fields; the constraint replaces theirs.

    Returns the keyword arguments and the structured-output fields (None without a constraint).

    Example:
        >>> kwargs, structured = _merged_kwargs({"top_k": 5, "temperature": 1.0}, SamplingSettings(temperature=0.2),
        ...                                     Constraint("grammar", 'root ::= "a"'))
        >>> kwargs, structured
        ({'top_k': 5, 'temperature': 0.2}, {'grammar': 'root ::= "a"'})

    """
    kwargs = {**base, **_sampling_kwargs(settings)}
    structured = _structured_fields(constraint)
    if structured is not None:
        for name in _CONSTRAINT_PARAMS:
            kwargs.pop(name, None)
    return kwargs, structured


def _params_fields(params: Any) -> dict[str, Any]:
    """The constructor fields of a ``SamplingParams`` (a msgspec struct), leaving out derived ones."""
    names = getattr(type(params), "__struct_fields__", None)
    if names is None:  # older vLLM: a plain class
        import inspect

        names = tuple(inspect.signature(type(params)).parameters)
    return {
        name: getattr(params, name)
        for name in names
        if not name.startswith("_") and name not in _DERIVED_PARAMS and hasattr(params, name)
    }


def _build_sampling_params(
    base: SamplingParams | None, settings: SamplingSettings, constraint: Constraint | None
) -> SamplingParams:
    vllm = _import_vllm()
    kwargs, structured = _merged_kwargs(_params_fields(base) if base is not None else {}, settings, constraint)
    if structured is not None:
        try:
            from vllm.sampling_params import StructuredOutputsParams
        except ImportError:  # vLLM before structured_outputs: the same fields under the old names
            from vllm.sampling_params import GuidedDecodingParams

            kwargs["guided_decoding"] = GuidedDecodingParams(**structured)
        else:
            kwargs["structured_outputs"] = StructuredOutputsParams(**structured)
    try:
        return vllm.SamplingParams(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"vLLM rejected the sampling parameters: {exc}", backend="vllm-offline") from exc


class VLLMOfflineBackend:
    """Generate with a ``vllm.LLM`` in this process.

    Args:
        llm: the engine; it stays yours.
        model_name: the name to report (default: the engine's model).
        sampling_params: your ``vllm.SamplingParams``; our settings are merged onto a copy per call.
        settings: this backend's sampling defaults, merged under each call's settings.

    """

    name: ClassVar[str] = "vllm-offline"
    supports_grammar: ClassVar[bool] = True

    def __init__(
        self,
        llm: LLM,
        model_name: str | None = None,
        *,
        sampling_params: SamplingParams | None = None,
        settings: SamplingSettings | None = None,
    ) -> None:
        self.llm = llm
        self.model = model_name or _engine_model_name(llm)
        self.sampling_params = sampling_params
        self.settings = settings or SamplingSettings()

    @classmethod
    def from_model(
        cls, model: str, *, settings: SamplingSettings | None = None, **llm_kwargs: Any
    ) -> VLLMOfflineBackend:
        """Build a ``vllm.LLM(model, **llm_kwargs)`` (a GPU and ``neurosym-toolkit[vllm]`` are needed) and wrap it.

        Raises:
            MissingDependencyError: vLLM is not installed.
            BackendError: vLLM could not load the model.

        """
        vllm = _import_vllm()
        try:
            llm = vllm.LLM(model=model, **llm_kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"vLLM could not load {model}: {exc}", backend=cls.name, model=model) from exc
        return cls(llm, model, settings=settings)

    @property
    def identity(self) -> dict[str, Any]:
        """The model identity in cassette and cache keys: the model and, where the engine knows it, its revision.

        Example:
            >>> from_vllm_offline(object(), model_name="Qwen/Qwen2.5-0.5B-Instruct").identity
            {'kind': 'vllm-offline', 'model': 'Qwen/Qwen2.5-0.5B-Instruct'}

        """
        identity: dict[str, Any] = {"kind": self.name, "model": self.model}
        revision = getattr(getattr(getattr(self.llm, "llm_engine", None), "model_config", None), "revision", None)
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
        """Complete all requests in one batched ``LLM.chat`` call, ``n`` samples each.

        Usage's ``latency_s`` is the batch's wall time shared evenly among its requests.

        Raises:
            ConfigurationError: live requests are switched off, or vLLM refused the parameters.
            BackendError: vLLM failed (for example a prompt longer than the model's context).

        """
        check_allow_live_requests(self.name)
        if not requests:
            return []
        merged = merge(self.settings, settings)
        effective = merged if self.sampling_params is not None else merged.resolved()
        params = [_build_sampling_params(self.sampling_params, effective, r.constraint) for r in requests]
        conversations = [[m.to_dict() for m in r.messages] for r in requests]
        started = time.perf_counter()
        with self._normalize_errors():
            outputs = self.llm.chat(conversations, sampling_params=params, use_tqdm=False)
        share = (time.perf_counter() - started) / len(requests)
        results = [self._result(output, share) for output in outputs]
        for position, result in enumerate(results):  # vLLM's offline API gives whole samples only
            report_finished(progress, position, result.samples)
        return results

    def _result(self, output: Any, latency_s: float) -> GenerationResult:
        completions = sorted(output.outputs, key=lambda c: c.index)
        samples = tuple(Sample(c.text, c.finish_reason, len(c.token_ids or ())) for c in completions)
        prompt_tokens = len(output.prompt_token_ids or ())
        usage = Usage(prompt_tokens, sum(s.completion_tokens for s in samples), latency_s)
        return GenerationResult(samples, usage, self.name, self.model)

    @contextmanager
    def _normalize_errors(self) -> Iterator[None]:
        """Turn vLLM's exceptions into BackendError (ValueError for bad input, RuntimeError for the engine)."""
        try:
            yield
        except NeurosymError:
            raise
        except (ValueError, TypeError) as exc:
            message = str(exc)
            if any(marker in message for marker in _CONTEXT_MARKERS):
                raise BackendError(
                    f"the prompt does not fit the model's context: {message}; shorten the prompt or lower "
                    "max_tokens, or build the LLM with a larger max_model_len",
                    backend=self.name,
                    model=self.model,
                ) from exc
            raise BackendError(f"vLLM rejected the request: {message}", backend=self.name, model=self.model) from exc
        except RuntimeError as exc:  # includes torch.cuda.OutOfMemoryError
            raise BackendError(
                f"vLLM failed: {type(exc).__name__}: {exc}", backend=self.name, model=self.model
            ) from exc


def _engine_model_name(llm: Any) -> str:
    try:
        return str(llm.llm_engine.model_config.model)
    except AttributeError:
        return "vllm"


def from_vllm_offline(llm: LLM, model_name: str | None = None, **options: Any) -> VLLMOfflineBackend:
    """Wrap a ``vllm.LLM`` you built; ``options`` (``sampling_params``, ``settings``) go to the backend.

    Example:
        >>> from_vllm_offline(object(), model_name="Qwen/Qwen2.5-0.5B-Instruct").model
        'Qwen/Qwen2.5-0.5B-Instruct'

    """
    return VLLMOfflineBackend(llm, model_name, **options)
