"""LlamaCppBackend: option mapping and failure paths everywhere, then the small embedded model
(Qwen2.5-Coder-0.5B-Instruct) in process, where llama-cpp-python and the model slices are installed."""

from __future__ import annotations

import pickle
import sys

import pytest

from neurosym.errors import BackendError, ConfigurationError, MissingDependencyError
from neurosym.fol import parse_formula
from neurosym.fol.gbnf import formula_root_gbnf
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.llamacpp import LlamaCppBackend, _sampling_kwargs, from_llamacpp
from neurosym.translators.base import Constraint, GenerationRequest, LLMBackend

FOL_PROMPT = (
    "Translate the sentence into one first-order logic formula. Use ∀ ∃ ¬ ∧ ∨ → and predicates like Dog(x). "
    "Write only the formula.\nSentence: All dogs are mammals."
)


class NoModel:
    """Stands in for a ``llama_cpp.Llama`` in tests that must fail before the model is used."""

    model_path = "/models/fake.gguf"

    def create_chat_completion(self, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("the model was called")


# --- everywhere ------------------------------------------------------------------------------------


def test_sampling_kwargs():
    resolved = SamplingSettings(n=3, seed=5, temperature=0.8, top_p=0.9, max_tokens=24, stop=("\n",)).resolved()
    assert _sampling_kwargs(resolved) == {"temperature": 0.8, "top_p": 0.9, "max_tokens": 24, "stop": ["\n"]}
    defaults = _sampling_kwargs(SamplingSettings().resolved())
    assert defaults == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 512}  # no empty stop list
    assert _sampling_kwargs(SamplingSettings(extra={"repeat_penalty": 1.1}))["repeat_penalty"] == 1.1


def test_wrapping_a_model():
    backend = from_llamacpp(NoModel())
    assert backend.model == "fake.gguf"
    assert backend.name == "llamacpp"
    assert isinstance(backend, LLMBackend)
    assert from_llamacpp(NoModel(), model_name="mine").model == "mine"


def test_live_requests_are_refused_in_tests():
    with pytest.raises(ConfigurationError, match="switched off"):
        LlamaCppBackend(NoModel()).generate([GenerationRequest.from_prompt("hi")])


def test_regex_constraints_are_refused(allow_live_requests):
    request = GenerationRequest.from_prompt("yes or no?", constraint=Constraint("regex", "yes|no"))
    with pytest.raises(ConfigurationError, match="does not support regex") as info:
        LlamaCppBackend(NoModel()).generate([request])
    assert info.value.backend == "llamacpp"


def test_missing_llama_cpp_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingDependencyError) as info:
        LlamaCppBackend.from_path("small")
    assert str(info.value).endswith('pip install "neurosym-toolkit[embedded]"')
    assert isinstance(info.value.__cause__, ImportError)
    assert isinstance(info.value, ImportError)
    with pytest.raises(MissingDependencyError):
        LlamaCppBackend(NoModel(), prompt_cache=True)


# --- the small model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is not installed (pip install 'neurosym-toolkit[embedded]')"
    )
    try:
        return LlamaCppBackend.from_path("small", n_ctx=2048)
    except MissingDependencyError as err:
        pytest.skip(f"the small model is not installed: {err}")


@pytest.mark.llm
def test_completion_has_text_and_usage(small, allow_live_requests):
    [result] = small.generate(
        [GenerationRequest.from_prompt("Name one colour.", system="Answer in one word.")],
        settings=SamplingSettings(max_tokens=16),
    )
    [sample] = result.samples
    assert sample.text.strip()
    assert sample.finish_reason in ("stop", "length")
    assert 0 < sample.completion_tokens <= 16
    assert result.usage.prompt_tokens > 5
    assert result.usage.completion_tokens == sample.completion_tokens
    assert result.usage.latency_s > 0
    assert (result.backend, result.model) == ("llamacpp", "qwen2.5-coder-0.5b-instruct")


@pytest.mark.llm
def test_progress_sees_every_token_and_changes_nothing(small, allow_live_requests):
    request = GenerationRequest.from_prompt("Write a formula.", constraint=Constraint("grammar", formula_root_gbnf()))
    settings = SamplingSettings(n=2, temperature=0.7, max_tokens=24, seed=3)
    [plain] = small.generate([request], settings=settings)
    events = []
    [watched] = small.generate([request], settings=settings, progress=events.append)
    assert watched.texts == plain.texts
    for index, sample in enumerate(watched.samples):
        mine = [e for e in events if e.sample_index == index]
        assert [e.done for e in mine].count(True) == 1 and mine[-1].done
        assert mine[-1].completion_tokens == sample.completion_tokens
        # one event per sampled token; the end-of-sequence token is sampled too, but not counted
        assert mine[-2].completion_tokens - sample.completion_tokens in (0, 1)
        assert "".join(e.text for e in mine).strip() == sample.text.strip()
    assert not hasattr(small.llm, "__dict__") or "sample" not in vars(small.llm)  # the hook is gone


@pytest.mark.llm
def test_n_samples_are_seeded_and_reproducible(small, allow_live_requests):
    request = GenerationRequest.from_prompt("Invent a name for a pet dragon. Reply with the name only.")
    settings = SamplingSettings(n=2, temperature=0.8, max_tokens=12, seed=11)
    [first] = small.generate([request], settings=settings)
    [second] = small.generate([request], settings=settings)
    assert len(first.samples) == 2
    assert first.texts == second.texts  # same seeds, same samples
    assert first.usage.completion_tokens == sum(s.completion_tokens for s in first.samples)
    # Sample i uses seed + i: asking for seed 12 alone reproduces the second sample.
    [shifted] = small.generate([request], settings=SamplingSettings(n=1, temperature=0.8, max_tokens=12, seed=12))
    assert shifted.texts == first.texts[1:]


@pytest.mark.llm
def test_a_batch_gives_one_result_per_request(small, allow_live_requests):
    requests = [GenerationRequest.from_prompt(f"What is {k} plus {k}? Answer with a number.") for k in (2, 3)]
    results = small.generate(requests, settings=SamplingSettings(max_tokens=8))
    assert len(results) == 2
    assert all(len(r.samples) == 1 for r in results)


@pytest.mark.llm
def test_grammar_constraint_gives_a_formula(small, allow_live_requests):
    request = GenerationRequest.from_prompt(FOL_PROMPT, constraint=Constraint("grammar", formula_root_gbnf()))
    [result] = small.generate([request], settings=SamplingSettings(max_tokens=24, n=2, temperature=0.7, seed=3))
    for sample in result.samples:
        assert sample.finish_reason == "stop", sample
        parse_formula(sample.text)


@pytest.mark.llm
def test_fast_grammar_sampling_gives_the_greedy_output_of_the_full_grammar(small, allow_live_requests):
    from neurosym.translators.backends import _llama_grammar

    assert small.fast_grammar is True  # installed by default
    request = GenerationRequest.from_prompt(FOL_PROMPT, constraint=Constraint("grammar", formula_root_gbnf()))
    greedy = SamplingSettings(max_tokens=32, temperature=0.0)
    [fast] = small.generate([request], settings=greedy)
    plain = LlamaCppBackend(small.llm, small.model, fast_grammar=False)  # the same Llama, already patched
    saved = small.llm._init_sampler
    try:
        del small.llm._init_sampler  # back to llama-cpp-python's own method for this call
        assert plain.fast_grammar is False
        [full] = plain.generate([request], settings=greedy)
    finally:
        small.llm._init_sampler = saved
    assert fast.texts == full.texts and fast.texts[0].strip()
    assert _llama_grammar.install(object()) is False  # anything that is not a Llama is left alone


@pytest.mark.llm
def test_json_schema_constraint(small, allow_live_requests):
    schema = {"type": "object", "properties": {"answer": {"type": "boolean"}}, "required": ["answer"]}
    request = GenerationRequest.from_prompt("Is 7 prime? Reply in JSON.", constraint=Constraint("json_schema", schema))
    [result] = small.generate([request], settings=SamplingSettings(max_tokens=16))
    assert result.texts[0].replace(" ", "") in ('{"answer":true}', '{"answer":false}')


@pytest.mark.llm
def test_a_broken_grammar_is_a_configuration_error(small, allow_live_requests):
    request = GenerationRequest.from_prompt("hi", constraint=Constraint("grammar", 'root ::= ("a"'))
    with pytest.raises(ConfigurationError, match="could not parse the GBNF grammar"):
        small.generate([request], settings=SamplingSettings(max_tokens=4))


@pytest.mark.llm
def test_a_prompt_longer_than_the_context_is_a_backend_error(small, allow_live_requests):
    request = GenerationRequest.from_prompt("cat " * 3000)
    with pytest.raises(BackendError, match="context window") as info:
        small.generate([request], settings=SamplingSettings(max_tokens=4))
    err = info.value
    assert (err.backend, err.model) == ("llamacpp", "qwen2.5-coder-0.5b-instruct")
    assert isinstance(err.__cause__, ValueError)
    assert not err.retryable
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


@pytest.mark.llm
def test_prompt_cache_keeps_one_state_per_request_and_changes_no_output(small, allow_live_requests):
    requests = [GenerationRequest.from_prompt(f"Spell the word {w}.", system="Be terse.") for w in ("cat", "dog")]
    settings = SamplingSettings(n=3, max_tokens=6)
    plain = [small.generate([r], settings=settings)[0].texts for r in (*requests, requests[0])]
    cached = LlamaCppBackend(small.llm, small.model, prompt_cache=64 << 20)
    try:
        states = []
        texts = []
        for r in (*requests, requests[0]):
            texts.append(cached.generate([r], settings=settings)[0].texts)
            states.append(len(small.llm.cache.cache_state))
        assert texts == plain
        assert states[:2] == [1, 2]  # one saved state per request, not one per sample
        assert small.llm.cache is not None
    finally:
        small.llm.set_cache(None)
