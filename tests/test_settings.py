import pytest

from neurosym.errors import ConfigurationError
from neurosym.settings import DEFAULT_SETTINGS, SamplingSettings, merge


def test_merge_keeps_base_fields_and_override_wins():
    merged = merge(
        SamplingSettings(temperature=0.0, max_tokens=64, extra={"a": 1}),
        SamplingSettings(temperature=0.7, extra={"b": 2}),
    )
    assert merged.temperature == 0.7
    assert merged.max_tokens == 64
    assert dict(merged.extra) == {"a": 1, "b": 2}


def test_resolved_fills_defaults():
    resolved = SamplingSettings(n=3).resolved()
    assert resolved.n == 3
    assert resolved.temperature == DEFAULT_SETTINGS.temperature
    assert resolved.max_tokens == DEFAULT_SETTINGS.max_tokens


def test_stop_string_becomes_tuple_and_to_dict_is_plain():
    settings = SamplingSettings(stop="\n\n")
    assert settings.stop == ("\n\n",)
    assert settings.to_dict() == {"stop": ["\n\n"]}


@pytest.mark.parametrize(
    "kwargs",
    [{"n": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"top_p": 1.5}, {"max_tokens": 0}],
)
def test_bad_values_are_configuration_errors(kwargs):
    with pytest.raises(ConfigurationError):
        SamplingSettings(**kwargs)
