import json

import pytest

from neurosym.errors import BackendConnectionError, ConfigurationError
from neurosym.loop import Strategy
from neurosym.settings import SamplingSettings
from neurosym.solving import solve
from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import EntailmentLabel

TEXT = "All dogs are animals. Rex is a dog. Tom is a cat. Is Rex an animal?"
GOOD = (
    "Premises:\n1. All dogs are animals.\nFOL: ∀x (Dog(x) → Animal(x))\n2. Rex is a dog.\nFOL: Dog(rex)\n"
    "3. Tom is a cat.\nFOL: Cat(tom)\nConclusion:\nIs Rex an animal?\nFOL: Animal(rex)"
)


def greedy(*args, **kwargs):
    """``solve`` with one greedy translation (these tests script one model answer)."""
    return solve(*args, strategy=Strategy.greedy(), **kwargs)


def test_the_fol_default_is_adaptive_sampling_with_selection_by_evidence():
    backend = ScriptedBackend([GOOD] * 5)
    result = solve(TEXT, llm=backend)
    assert result.answer == EntailmentLabel.TRUE
    assert len(result.loop.attempts) == 2  # two proofs that agree settle it: adaptive, rounds of 2
    assert result.loop.strategy["selection"] == "evidence" and backend.calls[0][1].temperature == 0.7


def test_samples_are_drawn_at_the_strategys_temperature_not_the_targets_greedy_default():
    backend = ScriptedBackend([GOOD] * 3)
    result = solve(TEXT, llm=backend, strategy=Strategy.vote(3))
    assert backend.calls[0][1].temperature == 0.7 and result.settings["temperature"] == 0.7
    backend = ScriptedBackend([GOOD] * 3)
    solve(TEXT, llm=backend, strategy=Strategy.vote(3), settings=SamplingSettings(temperature=0.3))
    assert backend.calls[0][1].temperature == 0.3  # an explicit setting wins


def test_solve_maps_the_proof_back_to_english_premises():
    result = greedy(TEXT, llm=ScriptedBackend([GOOD]))
    assert result.answer == EntailmentLabel.TRUE
    assert result.verdict.status == "proved"
    assert result.premises_used == [(1, "All dogs are animals."), (2, "Rex is a dog.")]
    assert result.formalization is not None and result.formalization.source.endswith("⊢ Animal(rex)")
    with pytest.deprecated_call():  # the 0.1 field, kept for one release
        assert result.translation.conclusion == "Animal(rex)"
    text = result.render()
    assert "Answer: True" in text and "Premises used: 1, 2" in text and "Dog(rex)" in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["answer"] == "True" and data["settings"]["temperature"] == 0.0


def test_solve_with_structured_premises_and_settings_reach_the_backend():
    backend = ScriptedBackend([GOOD])
    greedy(
        premises=["All dogs are animals.", "Rex is a dog.", "Tom is a cat."],
        conclusion="Rex is an animal.",
        llm=backend,
        settings=SamplingSettings(max_tokens=77),
    )
    [(requests, settings)] = backend.calls
    assert settings.max_tokens == 77 and settings.temperature == 0.0
    assert requests[0].messages[-1].content.endswith("Conclusion: Rex is an animal.")


def test_garbage_from_the_model_is_an_invalid_verdict_not_an_exception():
    result = greedy(TEXT, llm=ScriptedBackend(["I'm sorry, I can't do logic."]))
    assert result.answer is None
    assert result.verdict.status == "invalid"
    assert "could not read" in result.verdict.message
    assert "I'm sorry, I can't do logic." in result.raw_output  # after the layout's "Predicates:" label


def test_malformed_formula_and_signature_clash_from_the_model():
    bad = GOOD.replace("Dog(rex)\n", "Dog(rex\n")
    assert greedy(TEXT, llm=ScriptedBackend([bad])).verdict.status == "invalid"
    clash = GOOD.replace("Cat(tom)", "Owns(tom, Dog)")
    result = greedy(TEXT, llm=ScriptedBackend([clash]))
    assert result.verdict.status == "invalid" and "'Dog'" in result.verdict.message
    repaired = greedy(TEXT, llm=ScriptedBackend([clash]), repair_signature_clashes=True)
    assert repaired.answer == EntailmentLabel.TRUE


def test_inconsistent_translation_answers_nothing():
    inconsistent = GOOD.replace("Cat(tom)", "¬Dog(rex)")
    result = greedy(TEXT, llm=ScriptedBackend([inconsistent]))
    assert result.answer is None and result.verdict.status == "inconsistent"
    assert "contradict" in result.render()


def test_backend_failure_propagates_as_a_backend_error():
    with pytest.raises(BackendConnectionError):
        solve(TEXT, llm=ScriptedBackend([BackendConnectionError("server down", backend="openai")]))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text": ""},
        {"text": "x" * 30_000},
        {"text": TEXT, "target": "klingon"},
        {"premises": ["A."], "conclusion": None},
        {"text": TEXT, "llm": 42},
        {"text": TEXT, "llm": "nonsense"},
    ],
)
def test_bad_arguments_are_configuration_errors(kwargs):
    with pytest.raises(ConfigurationError):
        solve(**kwargs)


def test_record_and_replay_reproduce_a_solve(tmp_path):
    cassette = tmp_path / "solve.jsonl"
    first = greedy(TEXT, llm=RecordingBackend(ScriptedBackend([GOOD]), cassette))
    again = greedy(TEXT, llm=ReplayBackend(cassette))
    assert again.raw_output == first.raw_output
    assert again.verdict.status == first.verdict.status == "proved"


def test_solve_votes_and_abstains_through_the_loop():
    from neurosym.loop.refine import Strategy

    false = GOOD.replace("FOL: Animal(rex)", "FOL: ¬Animal(rex)")
    result = solve(TEXT, llm=ScriptedBackend([GOOD, false, GOOD]), strategy=Strategy.vote(3))
    assert result.answer == EntailmentLabel.TRUE and dict(result.loop.votes) == {"True": 2, "False": 1}
    assert "Votes: {'True': 2, 'False': 1} over 3 attempts" in result.render()
    tied = solve(TEXT, llm=ScriptedBackend([GOOD, false]), strategy=Strategy.vote(2))
    assert tied.answer is None and tied.loop.abstained and tied.verdict.status == "unknown"
    assert "abstained" in tied.verdict.message
    strict = solve(TEXT, llm=ScriptedBackend([GOOD, false, GOOD]), strategy=Strategy.vote(3), agreement=0.9)
    assert strict.answer is None and strict.loop.confidence == pytest.approx(2 / 3)


def test_solve_repairs_a_broken_translation():
    from neurosym.loop.refine import Strategy

    broken = GOOD.replace("FOL: Dog(rex)", "FOL: Dog(rex")
    backend = ScriptedBackend([broken, GOOD])
    result = solve(TEXT, llm=backend, strategy=Strategy(samples=1, repair_rounds=1))
    assert result.answer == EntailmentLabel.TRUE and len(result.loop.attempts) == 2
    assert "could not be read" in backend.calls[1][0][0].messages[-1].content
