"""TransformersBackend: the settings → generate() mapping, sample extraction and failure paths
everywhere; a tiny randomly initialised GPT-2 with a tokenizer trained on the spot (no hub access)
wherever transformers, torch and tokenizers are installed, on CUDA when there is a GPU."""

from __future__ import annotations

import sys

import pytest

from neurosym.errors import ConfigurationError, MissingDependencyError
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.transformers import (
    TransformersBackend,
    _cut_at_stop,
    _generate_kwargs,
    _samples,
    from_transformers,
)
from neurosym.translators.base import Constraint, GenerationRequest, LLMBackend

# --- everywhere ------------------------------------------------------------------------------------


def test_generate_kwargs_for_sampling():
    settings = SamplingSettings(n=4, temperature=0.7, top_p=0.9, max_tokens=20, extra={"top_k": 10}).resolved()
    assert _generate_kwargs(settings) == {
        "max_new_tokens": 20,
        "do_sample": True,
        "num_return_sequences": 4,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 10,
    }


def test_generate_kwargs_for_greedy_decoding():
    kwargs = _generate_kwargs(SamplingSettings(n=3, stop=("\n\n", "END")).resolved())
    assert kwargs["do_sample"] is False
    assert kwargs["num_return_sequences"] == 1  # greedy gives one sequence; the backend repeats it
    assert kwargs["temperature"] is None and kwargs["top_p"] is None and kwargs["top_k"] is None
    assert kwargs["stop_strings"] == ["\n\n", "END"]
    assert "stop_strings" not in _generate_kwargs(SamplingSettings().resolved())


def test_samples_cut_at_end_tokens_and_stop_strings():
    def decode(ids):
        return "".join(chr(ord("a") + i) for i in ids)

    rows = [[0, 1, 9, 9], [4, 3, 2], [0, 1, 2, 3]]
    samples = _samples(rows, end_ids={9}, decode=decode, stop=["cd"])
    assert [(s.text, s.finish_reason, s.completion_tokens) for s in samples] == [
        ("ab", "stop", 2),
        ("edc", "length", 3),
        ("ab", "stop", 4),
    ]
    assert _cut_at_stop("x;y.z", [".", ";"]) == ("x", True)
    assert _cut_at_stop("xyz", ["", "q"]) == ("xyz", False)


def test_wrapping_a_model():
    class Model:
        name_or_path = "tiny-gpt2"

    backend = from_transformers(Model(), object())
    assert backend.model == "tiny-gpt2"
    assert backend.name == "transformers"
    assert isinstance(backend, LLMBackend)
    with pytest.raises(ConfigurationError):
        from_transformers(Model(), object(), batch_size=0)


def test_constraints_are_refused(allow_live_requests):
    request = GenerationRequest.from_prompt("P?", constraint=Constraint("grammar", 'root ::= "P"'))
    with pytest.raises(ConfigurationError, match=r"vLLM or llama\.cpp"):
        from_transformers(object(), object()).generate([request])


def test_live_requests_are_refused_in_tests():
    with pytest.raises(ConfigurationError, match="switched off"):
        from_transformers(object(), object()).generate([GenerationRequest.from_prompt("hi")])


@pytest.mark.parametrize("missing", ["torch", "transformers"])
def test_missing_libraries_name_the_extra(monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(MissingDependencyError) as info:
        TransformersBackend.from_pretrained("sshleifer/tiny-gpt2")
    assert str(info.value).endswith('pip install "neurosym-toolkit[transformers]"')
    assert isinstance(info.value.__cause__, ImportError)


# --- a tiny model, built offline ---------------------------------------------------------------------

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@pytest.fixture(scope="module")
def tiny():
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'neurosym-toolkit[transformers]')")
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed")
    bpe = tokenizers.ByteLevelBPETokenizer()
    corpus = ["user: name an animal", "assistant: a cat", "system: be brief", "dogs and cats are animals"] * 20
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1, special_tokens=["<|pad|>", "<|end|>"])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, pad_token="<|pad|>", eos_token="<|end|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = transformers.GPT2LMHeadModel(config).to(device).eval()
    return from_transformers(model, tokenizer, model_name="tiny-gpt2", batch_size=2)


live = [
    pytest.mark.llm,
    pytest.mark.filterwarnings("ignore::UserWarning:transformers"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.mark.usefixtures("allow_live_requests")
class TestTinyModel:
    pytestmark = live

    def test_n_samples_are_seeded(self, tiny):
        requests = [GenerationRequest.from_prompt("name an animal"), GenerationRequest.from_prompt("cats")]
        settings = SamplingSettings(n=3, temperature=1.0, max_tokens=8, seed=4)
        first = tiny.generate(requests, settings=settings)
        second = tiny.generate(requests, settings=settings)
        assert [len(r.samples) for r in first] == [3, 3]
        assert [r.texts for r in first] == [r.texts for r in second]
        for result in first:
            assert (result.backend, result.model) == ("transformers", "tiny-gpt2")
            assert result.usage.prompt_tokens > 0
            assert all(0 <= s.completion_tokens <= 8 for s in result.samples)
            assert all(s.finish_reason in ("stop", "length") for s in result.samples)

    def test_batches_and_padding(self, tiny):
        short = GenerationRequest.from_prompt("cat")
        long = GenerationRequest.from_prompt("dogs and cats are animals, name an animal", system="be brief")
        results = tiny.generate([short, long, short], settings=SamplingSettings(max_tokens=6, n=2))
        assert len(results) == 3  # two batches of at most two
        assert results[0].usage.prompt_tokens < results[1].usage.prompt_tokens
        assert results[0].texts[0] == results[0].texts[1]  # greedy: n copies
        assert tiny.tokenizer.padding_side == "right"  # restored
