"""VLLMOfflineBackend: the settings → SamplingParams mapping and the missing-vLLM path everywhere;
a real ``vllm.LLM`` only where vLLM and a CUDA GPU exist (model: ``NEUROSYM_TEST_VLLM_MODEL``)."""

from __future__ import annotations

import os
import sys

import pytest

from neurosym.errors import ConfigurationError, MissingDependencyError
from neurosym.fol import parse_formula
from neurosym.fol.gbnf import formula_root_gbnf
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.vllm_offline import (
    VLLMOfflineBackend,
    _merged_kwargs,
    _params_fields,
    _sampling_kwargs,
    _structured_fields,
    from_vllm_offline,
)
from neurosym.translators.base import Constraint, GenerationRequest, LLMBackend

# --- everywhere ------------------------------------------------------------------------------------


def test_sampling_kwargs_only_carry_what_is_set():
    assert _sampling_kwargs(SamplingSettings()) == {}
    settings = SamplingSettings(n=5, temperature=0.8, top_p=0.95, max_tokens=64, stop=("\n\n",), seed=3)
    assert _sampling_kwargs(settings) == {
        "n": 5,
        "temperature": 0.8,
        "top_p": 0.95,
        "max_tokens": 64,
        "seed": 3,
        "stop": ["\n\n"],
    }
    resolved = _sampling_kwargs(SamplingSettings(n=2).resolved())
    assert resolved == {"n": 2, "temperature": 0.0, "top_p": 1.0, "max_tokens": 512, "seed": 0, "stop": []}
    assert _sampling_kwargs(SamplingSettings(extra={"top_k": 20, "repetition_penalty": 1.1}))["top_k"] == 20


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [("grammar", 'root ::= "a"', "grammar"), ("regex", "yes|no", "regex"), ("json_schema", {"type": "object"}, "json")],
)
def test_structured_fields(kind, value, field):
    assert _structured_fields(Constraint(kind, value)) == {field: value}
    assert _structured_fields(None) is None


def test_settings_are_merged_onto_the_callers_params():
    theirs = {"temperature": 1.0, "top_k": 40, "max_tokens": 16, "structured_outputs": "old", "guided_decoding": "old"}
    kwargs, structured = _merged_kwargs(theirs, SamplingSettings(temperature=0.3, n=4), None)
    assert kwargs == {**theirs, "temperature": 0.3, "n": 4}  # theirs kept where we set nothing
    assert structured is None
    kwargs, structured = _merged_kwargs(theirs, SamplingSettings(), Constraint("regex", "a+"))
    assert "structured_outputs" not in kwargs and "guided_decoding" not in kwargs  # our constraint replaces theirs
    assert structured == {"regex": "a+"}


def test_params_fields_reads_a_struct_and_skips_derived_fields():
    class FakeParams:
        __struct_fields__ = ("n", "temperature", "output_text_buffer_length", "_all_stop_token_ids")

        def __init__(self):
            self.n, self.temperature, self.output_text_buffer_length, self._all_stop_token_ids = 2, 0.5, 3, {1}

    assert _params_fields(FakeParams()) == {"n": 2, "temperature": 0.5}


def test_wrapping_an_engine():
    class Engine:
        class llm_engine:  # mimics vllm.LLM.llm_engine.model_config.model
            class model_config:
                model = "Qwen/Qwen2.5-0.5B-Instruct"

    backend = from_vllm_offline(Engine())
    assert backend.model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert backend.name == "vllm-offline"
    assert isinstance(backend, LLMBackend)
    assert from_vllm_offline(object()).model == "vllm"


def test_live_requests_are_refused_in_tests():
    with pytest.raises(ConfigurationError, match="switched off"):
        VLLMOfflineBackend(object(), "m").generate([GenerationRequest.from_prompt("hi")])


def test_missing_vllm_names_the_extra(monkeypatch, allow_live_requests):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(MissingDependencyError) as info:
        VLLMOfflineBackend(object(), "m").generate([GenerationRequest.from_prompt("hi")])
    assert str(info.value).endswith('pip install "neurosym-toolkit[vllm]"')
    assert isinstance(info.value.__cause__, ImportError)


# --- a real engine (vLLM and a CUDA GPU) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    vllm = pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'neurosym-toolkit[vllm]')")
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU and none is available")
    model = os.environ.get("NEUROSYM_TEST_VLLM_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    try:
        return vllm.LLM(model, max_model_len=2048, gpu_memory_utilization=0.4, seed=0)
    except OSError as err:  # no local copy and no hub access
        pytest.skip(f"cannot load {model} (set NEUROSYM_TEST_VLLM_MODEL to a local model): {err}")


@pytest.mark.llm
def test_vllm_generates_n_seeded_samples(engine, allow_live_requests):
    backend = from_vllm_offline(engine)
    requests = [GenerationRequest.from_prompt("Name an animal."), GenerationRequest.from_prompt("Name a colour.")]
    settings = SamplingSettings(n=3, temperature=0.8, max_tokens=16, seed=5)
    first = backend.generate(requests, settings=settings)
    second = backend.generate(requests, settings=settings)
    assert [len(r.samples) for r in first] == [3, 3]
    assert [r.texts for r in first] == [r.texts for r in second]
    assert all(r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0 for r in first)


@pytest.mark.llm
def test_vllm_grammar_constraint(engine, allow_live_requests):
    backend = from_vllm_offline(engine, sampling_params=_user_params(), settings=SamplingSettings(max_tokens=48))
    request = GenerationRequest.from_prompt(
        "Write one first-order logic formula for: all dogs are mammals.",
        constraint=Constraint("grammar", formula_root_gbnf()),
    )
    [result] = backend.generate([request], settings=SamplingSettings(n=2, temperature=0.7, seed=1))
    for sample in result.samples:
        if sample.finish_reason == "stop":
            parse_formula(sample.text)


def _user_params():
    from vllm import SamplingParams

    return SamplingParams(top_k=20, max_tokens=8)
