"""The decoders of the translator layer: plans of fixed text and spans, declare-then-use, name grammars.

The model is a test double (ContinuingScriptedBackend, ScriptedBackend: canned replies, the
requests recorded); grammars are checked with llama.cpp's own grammar engine (LlamaGrammarCheck,
on the small embedded model's vocabulary) where it is installed. One test runs the small model.
"""

from __future__ import annotations

import json
import random

import httpx
import openai
import pytest

from neurosym.errors import ConfigurationError
from neurosym.grammars._testing import LlamaGrammarCheck, Recognizer, read_gbnf
from neurosym.settings import SamplingSettings
from neurosym.translators.backends.openai_compat import OpenAICompatBackend
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import Constraint, GenerationRequest, Message
from neurosym.translators.decoding import (
    DeclareThenUse,
    Fixed,
    Interleaved,
    Span,
    UseRequest,
    continues_partial_answer,
    run_plan,
)
from neurosym.translators.decoding._testing import ContinuingScriptedBackend
from neurosym.translators.decoding.declare import prefixed_constraint
from neurosym.translators.decoding.names import one_of, word_except
from neurosym.translators.store.backend import MemoryStore, StoredBackend

PROMPT = GenerationRequest.from_prompt("Translate the sentences.", system="You write logic.")


@pytest.fixture(scope="module")
def llama_grammar():
    try:
        return LlamaGrammarCheck()
    except Exception as err:  # MissingDependencyError, or the small model's slices absent
        pytest.skip(f"llama.cpp's grammar engine is not available: {err}")


SEEN_BY_PLAN: list[str] = []


def two_line_plan():
    yield Fixed("1. Rex is a dog.\nFOL: ")
    first = yield Span(Constraint("grammar", 'root ::= "Dog(rex)" "\\n"'), max_tokens=8)
    SEEN_BY_PLAN.append(first)
    yield Fixed("2. Tom owns him.\nFOL: ")
    yield Span(None, stop=("\n",))


# --- plans -------------------------------------------------------------------------------------------


def test_fixed_text_is_prompt_and_each_span_continues_the_answer_so_far():
    backend = ContinuingScriptedBackend(["Dog(rex)\n", "Owns(tom, rex)"])
    SEEN_BY_PLAN.clear()
    [result] = run_plan(backend, [PROMPT], two_line_plan, settings=SamplingSettings(seed=7, temperature=0.0))
    assert SEEN_BY_PLAN == ["Dog(rex)\n"]  # the plan is sent what each span wrote
    assert result.texts == ["1. Rex is a dog.\nFOL: Dog(rex)\n2. Tom owns him.\nFOL: Owns(tom, rex)"]
    first, second = (call[0][0] for call in backend.calls)
    assert first.messages[:-1] == PROMPT.messages and second.messages[:-1] == PROMPT.messages
    assert first.messages[-1] == Message("assistant", "1. Rex is a dog.\nFOL: ")
    assert second.messages[-1] == Message("assistant", "1. Rex is a dog.\nFOL: Dog(rex)\n2. Tom owns him.\nFOL: ")
    assert first.constraint is not None and second.constraint is None
    first_settings, second_settings = (call[1] for call in backend.calls)
    assert (first_settings.n, first_settings.seed, first_settings.max_tokens) == (1, 7, 8)
    assert second_settings.stop == ("\n",)
    # Only the spans are generated: the scripted double counts one token per word of its replies.
    assert result.samples[0].completion_tokens == 1 + 2


def test_sample_i_walks_a_fresh_plan_at_seed_plus_i():
    backend = ContinuingScriptedBackend(lambda request, index: "Dog(rex)\n")
    [result] = run_plan(backend, [PROMPT], two_line_plan, settings=SamplingSettings(n=3, seed=10))
    assert len(result.samples) == 3
    assert [call[1].seed for call in backend.calls] == [10, 10, 11, 11, 12, 12]


def test_the_token_budget_covers_all_spans_and_a_spent_budget_ends_the_sample():
    backend = ContinuingScriptedBackend(lambda request, index: "a b c d e")  # 5 tokens a span
    [result] = run_plan(backend, [PROMPT], two_line_plan, settings=SamplingSettings(max_tokens=6))
    assert [call[1].max_tokens for call in backend.calls] == [6, 1]  # the second span gets what is left
    backend = ContinuingScriptedBackend(lambda request, index: "a b c d e")
    [result] = run_plan(backend, [PROMPT], two_line_plan, settings=SamplingSettings(max_tokens=5))
    assert len(backend.calls) == 1 and result.samples[0].finish_reason == "length"
    assert result.texts == ["1. Rex is a dog.\nFOL: a b c d e2. Tom owns him.\nFOL: "]


def test_a_backend_that_cannot_continue_is_refused_by_run_plan_and_gets_the_whole_request_from_interleaved():
    with pytest.raises(ConfigurationError, match="cannot continue a partial answer"):
        run_plan(ScriptedBackend(["x"]), [PROMPT], two_line_plan)
    whole = ScriptedBackend(["1. Rex is a dog.\nFOL: Dog(rex)\n2. Tom owns him.\nFOL: Owns(tom, rex)"])
    result = Interleaved(two_line_plan).generate(whole, PROMPT)
    assert result.texts[0].endswith("Owns(tom, rex)")
    assert [call[0][0] for call in whole.calls] == [PROMPT]


def test_progress_sees_fixed_text_and_spans_in_order_then_done_once():
    events = []
    backend = ContinuingScriptedBackend(["Dog(rex)\n", "Owns(tom, rex)"])
    run_plan(backend, [PROMPT], two_line_plan, progress=events.append)
    assert "".join(e.text for e in events) == "1. Rex is a dog.\nFOL: Dog(rex)\n2. Tom owns him.\nFOL: Owns(tom, rex)"
    assert [e.done for e in events].count(True) == 1 and events[-1].done


def test_stored_backend_says_what_its_inner_backend_or_the_replay_says():
    assert continues_partial_answer(StoredBackend(ContinuingScriptedBackend(["x"]), MemoryStore()))
    assert not continues_partial_answer(StoredBackend(ScriptedBackend(["x"]), MemoryStore()))
    identity = {"kind": "scripted", "model": "m"}
    replay = StoredBackend(None, MemoryStore(), mode="replay", identity=identity, continues_partial_answer=True)
    assert continues_partial_answer(replay)


def test_a_plan_recorded_through_a_store_replays_without_the_model():
    store = MemoryStore()
    recording = StoredBackend(ContinuingScriptedBackend(["Dog(rex)\n", "Owns(tom, rex)"]), store)
    [recorded] = run_plan(recording, [PROMPT], two_line_plan)
    identity = recording.identity
    replay = StoredBackend(None, store, mode="replay", identity=identity, continues_partial_answer=True)
    [replayed] = run_plan(replay, [PROMPT], two_line_plan)
    assert replayed.texts == recorded.texts


# --- declare-then-use ----------------------------------------------------------------------------------


NAMES = Constraint("grammar", 'root ::= [a-z]+ (", " [a-z]+)* "\\n"')


def declare(seen):
    def use_plan(names):
        seen.append(names)
        yield Fixed("Use: ")
        yield Span(Constraint("grammar", one_of("root", names)))

    return DeclareThenUse(
        header="Names: ",
        signature=Span(NAMES, max_tokens=20, stop=("Use:",)),
        read=lambda text: [n for n in text.strip().split(", ") if n] or None,
        use_plan=use_plan,
        use_request=lambda names: UseRequest("Now use one.", Constraint("grammar", one_of("root", names)), "Use: "),
    )


def test_phase_two_is_constrained_by_what_phase_one_declared():
    seen = []
    backend = ContinuingScriptedBackend(["ann, bob\n", "bob"])
    result = declare(seen).generate(backend, PROMPT)
    assert result.texts == ["Names: ann, bob\nUse: bob"]
    assert seen == [["ann", "bob"]]
    use_call = backend.calls[1][0][0]
    assert use_call.constraint.value == 'root ::= "ann" | "bob"'
    assert use_call.messages[-1] == Message("assistant", "Names: ann, bob\nUse: ")


def test_without_continuation_the_phases_are_two_requests_and_the_second_shows_the_signature():
    seen = []
    backend = ScriptedBackend(["Names: ann, bob\n", "Names: cy\n", "ann", "cy"])
    result = declare(seen).generate(backend, PROMPT, settings=SamplingSettings(n=2, seed=5, max_tokens=50))
    assert result.texts == ["Names: ann, bob\nUse: ann", "Names: cy\nUse: cy"]
    first, *seconds = backend.calls
    assert first[1].n == 2 and first[1].stop == ("Use:",) and first[1].max_tokens == 20
    assert first[0][0].constraint.value.startswith('root ::= "Names: " (')  # the header is required
    assert [s[1].seed for s in seconds] == [5, 6]
    request = seconds[0][0][0]
    assert [m.role for m in request.messages[-2:]] == ["assistant", "user"]
    assert request.messages[-2].content == "Names: ann, bob\n" and request.messages[-1].content == "Now use one."
    assert request.constraint.value == 'root ::= "ann" | "bob"'
    assert seen == []  # use_plan is the continuation's; the second request came from use_request


def test_two_requests_report_progress_through_both_phases_and_each_sample_is_done_once():
    events = []
    backend = ScriptedBackend(["Names: ann, bob\n", "Names: \n", "ann"])
    declare([]).generate(backend, PROMPT, settings=SamplingSettings(n=2, seed=5), progress=events.append)
    done = [e.sample_index for e in events if e.done]
    assert sorted(done) == [0, 1]  # the unreadable signature (sample 1) ends its sample too
    first = [e for e in events if e.sample_index == 0]
    assert [e.text for e in first if e.text] == ["Names: ann, bob\n", "ann"] and first[-1].done
    assert first[-1].completion_tokens > first[0].completion_tokens  # the second phase counts on from the first
    assert {e.request_index for e in events} == {0}


def test_an_unreadable_signature_ends_the_sample_after_phase_one():
    backend = ScriptedBackend(["Names: \n"])
    result = declare([]).generate(backend, PROMPT)
    assert result.texts == ["Names: \n"] and len(backend.calls) == 1


def test_prefixed_constraints():
    assert prefixed_constraint(None, "x") is None
    assert prefixed_constraint(Constraint("regex", "a+"), "1.").value == r"1\.(?:a+)"
    with pytest.raises(ConfigurationError):
        prefixed_constraint(Constraint("json_schema", {"type": "object"}), "x")
    with pytest.raises(ConfigurationError, match="root"):
        prefixed_constraint(Constraint("grammar", "start ::= 'a'"), "x")


# --- name grammars -------------------------------------------------------------------------------------


def test_word_except_leaves_out_exactly_the_taken_words():
    taken = ["x", "x1", "cap", "capacity", "or", "a_b"]
    grammar = read_gbnf("root ::= w\n" + word_except("w", taken, first="a-z", rest="a-z0-9_", max_rest=9))
    recognizer = Recognizer(grammar)
    rng = random.Random(3)
    words = {*taken, "ca", "caps", "capacit", "x2", "xx", "o", "ora", "a_", "a_bc"}
    words |= {"".join(rng.choice("abcox1_") for _ in range(rng.randint(1, 4))) for _ in range(300)}
    for word in words:
        expected = word not in taken and word[0].isalpha()
        assert recognizer.matches(word) == expected, word
    assert not recognizer.matches("a" * 11)  # 1 + max_rest characters at most


def test_llama_cpp_reads_name_grammars_and_rejects_taken_names(llama_grammar):
    grammar = "root ::= w\n" + word_except("w", ["cap", "if", "x"], first="a-z", rest="a-z0-9_")
    assert llama_grammar.compiles(grammar)
    assert llama_grammar.accepts(grammar, ["cap", "caps", "if", "iff", "x", "x_1", "y"]) == [
        False, True, False, True, False, True, True,
    ]  # fmt: skip
    declared = one_of("root", ["loaves", "trays"])
    assert llama_grammar.accepts(declared, ["loaves", "trays", "cakes", "loave"]) == [True, True, False, False]


# --- OpenAI-compatible servers ------------------------------------------------------------------------------


def _server(bodies):
    def respond(request):
        body = json.loads(request.content)
        bodies.append(body)
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Dog(rex)"}}
        usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
        return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                                         "choices": [choice], "usage": usage})  # fmt: skip

    return httpx.MockTransport(respond)


@pytest.mark.parametrize(("mode", "continues"), [("vllm", True), ("vllm-legacy", True), ("llamacpp", False)])
def test_vllm_servers_are_asked_to_continue_the_final_assistant_message(mode, continues, allow_live_requests):
    bodies: list[dict] = []
    client = openai.AsyncOpenAI(
        base_url="http://vllm.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=_server(bodies)),
    )
    with OpenAICompatBackend(client, model="m", structured_output=mode) as backend:
        assert backend.continues_partial_answer is continues
        partial = GenerationRequest((*PROMPT.messages, Message("assistant", "1. Rex is a dog.\nFOL: ")))
        backend.generate([PROMPT, partial])
    plain, continued = sorted(bodies, key=lambda b: len(b["messages"]))
    assert "continue_final_message" not in plain
    if continues:
        assert continued["continue_final_message"] is True and continued["add_generation_prompt"] is False
    else:
        assert "continue_final_message" not in continued


# --- the small model -----------------------------------------------------------------------------------


@pytest.mark.llm
def test_the_small_model_continues_a_partial_answer_under_a_signature_grammar(allow_live_requests):
    from neurosym.translators.backends.llamacpp import LlamaCppBackend

    try:
        backend = LlamaCppBackend.from_path("small", n_ctx=2048)
    except Exception as err:
        pytest.skip(f"the small model is not installed: {err}")
    assert continues_partial_answer(backend)
    request = GenerationRequest.from_prompt("Rex is a dog. Tom owns Rex. Write each as first-order logic.")
    seen = []
    result = declare(seen).generate(backend, request, settings=SamplingSettings(temperature=0.0, max_tokens=40))
    text = result.texts[0]
    assert text.startswith("Names: ")
    [names] = seen
    used = text.split("Use: ", 1)[1]
    assert used in names  # phase 2 could only write a declared name
