import pytest

from neurosym.errors import BackendConnectionError, ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import GenerationRequest


def req(text: str) -> GenerationRequest:
    return GenerationRequest.from_prompt(text)


def test_list_script_hands_out_replies_in_order_per_sample():
    backend = ScriptedBackend(["a", "b", "c"])
    results = backend.generate([req("x"), req("y")], settings=SamplingSettings(n=1))
    assert [r.texts for r in results] == [["a"], ["b"]]
    assert backend.generate([req("z")])[0].texts == ["c"]
    with pytest.raises(ConfigurationError, match="ran out"):
        backend.generate([req("w")])


def test_function_script_sees_sample_index_and_n():
    backend = ScriptedBackend(lambda request, i: f"{request.messages[-1].content}-{i}")
    [result] = backend.generate([req("q")], settings=SamplingSettings(n=3))
    assert result.texts == ["q-0", "q-1", "q-2"]
    assert backend.calls[0][1].n == 3


def test_dict_script_and_scripted_failures():
    backend = ScriptedBackend({"dog": "Dog(rex)", "boom": BackendConnectionError("down")})
    assert backend.generate([req("a dog")])[0].texts == ["Dog(rex)"]
    with pytest.raises(BackendConnectionError):
        backend.generate([req("boom now")])
    with pytest.raises(ConfigurationError, match="no reply"):
        backend.generate([req("cat")])
