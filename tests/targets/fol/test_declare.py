"""FOL decoders: the signature grammar, the formula grammar compiled from a signature, the layouts, the loop.

The model is a test double (ContinuingScriptedBackend / ScriptedBackend); grammars are checked
with llama.cpp's own grammar engine (LlamaGrammarCheck) and with the project's recognizer and sampler.
"""

from __future__ import annotations

import pytest

from neurosym.fol.parser import parse_formula
from neurosym.fol.signature import check_signature, signature_of
from neurosym.grammars._testing import Recognizer, Sampler, read_gbnf
from neurosym.loop.refine import Strategy, refine
from neurosym.settings import SamplingSettings
from neurosym.targets.fol import FolTarget
from neurosym.targets.fol.declare import (
    VARIABLES,
    FolSignature,
    build_declared_request,
    declare_decoder,
    declared_output_gbnf,
    example_signature,
    interleaved_decoder,
    read_signature,
    signature_formula_gbnf,
    signature_gbnf,
)
from neurosym.targets.fol.report import describe_fol
from neurosym.targets.fol.translator import build_fol_request, fewshot_examples
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import Message
from neurosym.translators.decoding._testing import ContinuingScriptedBackend
from neurosym.types import Problem

PROBLEM = Problem(premises=("Rex is a dog.", "Tom owns Rex."), conclusion="Does Tom own a dog?")
SIGNATURE_TEXT = "Dog(x): x is a dog\nOwns(x, y): x owns y\nConstants: rex, tom\n"
SIGNATURE = read_signature(SIGNATURE_TEXT)


def formula_grammar(signature: FolSignature) -> str:
    return "root ::= s-formula\n" + signature_formula_gbnf(signature, "s-")


def test_every_worked_example_signature_and_formula_fits_its_grammars(llama_grammar):
    for example in fewshot_examples():
        formulas = [*example["premises_fol"], example["conclusion_fol"]]
        signature = example_signature(formulas)
        assert read_signature(signature.render()) == signature
        assert llama_grammar.accepts(signature_gbnf(), [signature.render()]) == [True]
        grammar = formula_grammar(signature)
        assert llama_grammar.compiles(grammar)
        assert all(llama_grammar.accepts(grammar, formulas)), formulas


def test_an_undeclared_name_a_wrong_arity_or_a_swapped_role_is_not_in_the_grammar(llama_grammar):
    grammar = formula_grammar(SIGNATURE)
    texts = {
        "∀x (Dog(x) → ∃y Owns(y, x))": True,
        "Owns(tom, rex) ∧ ¬Dog(tom)": True,
        "tom = rex": True,
        "Cat(rex)": False,  # undeclared predicate
        "Dog(bob)": True,  # a constant left out of the constants line is still a constant
        "Dog(rex, tom)": False,  # another arity
        "Owns(tom)": False,
        "Owns(Dog, rex)": False,  # a predicate as a constant
        "rex(tom)": False,  # a constant as a predicate
        "Dog": False,  # a proposition
    }
    assert llama_grammar.accepts(grammar, list(texts)) == list(texts.values())


def test_a_variable_is_only_in_the_grammar_inside_its_quantifiers_scope(llama_grammar):
    grammar = formula_grammar(SIGNATURE)
    texts = {
        "∀x ∃y Owns(x, y)": True,
        "∀x, y (Owns(x, y) → Dog(y))": True,
        "∃x Dog(x) ∧ Owns(x, rex)": True,  # the scope runs to the end, as the parser reads it
        "Dog(x)": False,  # a free variable standing for an undeclared constant ("the bear is blue")
        "(∀x Dog(x)) → Dog(x)": False,  # x used after its scope closed
        "∀x(Dog(x)) → Dog(x)": False,
        "∀y Dog(y)": False,  # the outermost quantifier binds x
        "∀x ∀x Dog(x)": False,
    }
    assert llama_grammar.accepts(grammar, list(texts)) == list(texts.values())


def test_without_constants_only_quantified_formulas_are_in_the_grammar(llama_grammar):
    grammar = formula_grammar(FolSignature((("Blue", 1, "x is blue"),), ()))
    assert llama_grammar.compiles(grammar)
    assert llama_grammar.accepts(grammar, ["Blue(x)", "∀x Blue(x)", "¬∃x ¬Blue(x)"]) == [False, True, True]


def test_sampled_formulas_parse_and_use_only_the_declared_predicates_and_no_free_variable():
    recognizer_grammar = read_gbnf(formula_grammar(SIGNATURE))
    declared_predicates = {(name, arity) for name, arity, _ in SIGNATURE.predicates}
    sampled = set()
    for seed in range(300):
        text = Sampler(recognizer_grammar, seed).sample()
        formula = parse_formula(text)
        found = signature_of([formula])
        assert found.predicates <= declared_predicates, text
        # Every variable is bound (a free one would read as a constant), and no constant is a variable's name.
        assert not found.constants & set(VARIABLES) and not found.functions, text
        assert all(c[0].islower() for c in found.constants), text
        assert not check_signature([formula, parse_formula("Dog(rex) ∧ Owns(tom, rex)")]), text
        sampled.add(text)
    assert len(sampled) > 150


def test_the_signature_grammar_keeps_keywords_and_variables_out_of_the_constants(llama_grammar):
    texts = {
        SIGNATURE_TEXT: True,
        "Dog(x): x is a dog\nConstants: none\n": True,
        "Dog(x): x is a dog\nConstants: not\n": False,
        "Dog(x): x is a dog\nConstants: x\n": False,
        "Dog(x): x is a dog\nConstants: Rex\n": False,
        "dog(x): x is a dog\nConstants: rex\n": False,
        "Constants: rex\n": False,  # no predicate
    }
    assert llama_grammar.accepts(signature_gbnf(), list(texts)) == list(texts.values())


def test_reading_a_signature_keeps_first_declarations():
    signature = read_signature("Dog(x): a dog\nDog(x, y): again\nOwns(x,y): owns\nConstants: rex, or, rex, y1\n")
    assert signature.arities == {"Dog": 1, "Owns": 2} and signature.constants == ("rex",)
    assert read_signature("Constants: rex\n") is None


def test_the_declared_worked_examples_fit_the_whole_answer_grammar():
    request = build_declared_request(PROBLEM)
    for example, answer in zip(fewshot_examples(), request.messages[2::2], strict=False):
        problem = Problem(premises=tuple(example["premises"]), conclusion=example["conclusion"])
        assert Recognizer(read_gbnf(declared_output_gbnf(problem))).matches(answer.content), answer.content


def test_declared_answers_parse_and_check_with_the_target():
    target = FolTarget(decoding="declare")
    backend = ContinuingScriptedBackend(
        [SIGNATURE_TEXT, " Dog(rex)\n", " Owns(tom, rex)\n", " ∃x (Dog(x) ∧ Owns(tom, x))"]
    )
    result = refine(PROBLEM, target, backend)
    assert result.answer == "True"
    assert result.winner.output.startswith("Predicates:\n" + SIGNATURE_TEXT + "Premises:\n1. Rex is a dog.\nFOL: ")
    formula_calls = [call[0][0] for call in backend.calls[1:]]
    assert all('s-const ::= "rex" | "tom"' in call.constraint.value for call in formula_calls)
    assert formula_calls[0].messages[0].content == target.request(PROBLEM).messages[0].content  # declared prompt


def test_the_declare_decoder_falls_back_to_two_requests():
    backend = ScriptedBackend(
        ["Predicates:\n" + SIGNATURE_TEXT, "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\n2. Tom owns Rex.\nFOL: "
         "Owns(tom, rex)\nConclusion:\nDoes Tom own a dog?\nFOL: Owns(tom, rex)"]
    )  # fmt: skip
    result = declare_decoder(PROBLEM).generate(backend, build_declared_request(PROBLEM))
    text = result.texts[0]
    assert text.startswith("Predicates:\nDog(x)") and "Constants: rex, tom\nPremises:\n1." in text
    second = backend.calls[1][0][0]
    assert second.messages[-2].content == "Predicates:\n" + SIGNATURE_TEXT
    assert second.constraint.value.startswith('root ::= "Premises:\\n"') and '"Owns("' in second.constraint.value
    assert FolTarget(decoding="declare").parse(PROBLEM, text).parsed is not None


def test_the_interleaved_decoder_writes_todays_layout_with_only_the_formulas_generated():
    replies = [" Dog(rex)\n", " Owns(tom, rex)\n", " ∃x (Dog(x) ∧ Owns(tom, x))"]
    backend = ContinuingScriptedBackend(replies)
    request = build_fol_request(PROBLEM)
    result = interleaved_decoder(PROBLEM, request).generate(backend, request, settings=SamplingSettings(seed=3))
    whole = ScriptedBackend([result.texts[0]])
    assert (
        refine(PROBLEM, FolTarget(), whole).answer
        == refine(PROBLEM, FolTarget(decoding="interleaved"), ContinuingScriptedBackend(replies)).answer
        == "True"
    )
    assert result.samples[0].completion_tokens == sum(len(r.split()) for r in replies)
    # The label ends at its colon: the space is the model's first token.
    assert [call[0][0].messages[-1].content.splitlines()[-1] for call in backend.calls] == ["FOL:"] * 3
    assert backend.calls[2][0][0].constraint.value.startswith('root ::= " " fol-formula\n')  # the last: no new line


def test_whole_decoding_is_todays_request_and_fingerprint():
    assert FolTarget().request(PROBLEM) == build_fol_request(PROBLEM)
    assert FolTarget().decoder(PROBLEM) is None
    assert FolTarget(decoding="declare").fingerprint() == FolTarget().fingerprint()  # verdicts do not depend on it
    with pytest.raises(Exception, match="decoding"):
        FolTarget(decoding="sideways")


@pytest.mark.parametrize("on_failure", ["hint", "resample"])
def test_hint_and_resample_go_through_the_decoder(on_failure):
    target = FolTarget(decoding="interleaved")
    replies = iter(
        [
            " Dog(rex)\n",
            " Owns(tom, rex)\n",
            " Dog((",
            " Dog(rex)\n",
            " Owns(tom, rex)\n",
            " ∃x (Dog(x) ∧ Owns(tom, x))",
        ]
    )
    backend = ContinuingScriptedBackend(lambda request, index: next(replies))
    strategy = Strategy(samples=1, repair_rounds=1, on_failure=on_failure)
    result = refine(PROBLEM, target, backend, strategy=strategy)
    assert [a.status for a in result.attempts] == ["unparsed", "proved"] and result.answer == "True"
    retry = backend.calls[3][0][0]
    assert retry.messages[-1] == Message(
        "assistant", "Premises:\n1. Rex is a dog.\nFOL:"
    )  # the decoder's partial answer
    hinted = "An earlier answer to this had a problem" in retry.messages[-2].content
    assert hinted == (on_failure == "hint")
    assert (backend.calls[3][1].temperature > 0) == (on_failure == "resample")  # a greedy resample would repeat itself


def test_solve_and_the_command_line_choose_the_decoder(tmp_path, capsys):
    from neurosym.cli import main
    from neurosym.loop import Strategy
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend

    answer = ("Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\n2. Tom owns Rex.\nFOL: Owns(tom, rex)\nConclusion:\n"
              "Does Tom own a dog?\nFOL: Owns(tom, rex)")  # fmt: skip
    backend = ScriptedBackend(["Predicates:\n" + SIGNATURE_TEXT, answer])
    cassette = tmp_path / "declare.jsonl"
    result = solve(premises=PROBLEM.premises, conclusion=PROBLEM.conclusion, llm=RecordingBackend(backend, cassette),
                   strategy=Strategy.greedy(), target_options={"decoding": "declare"})  # fmt: skip
    assert result.answer is not None and result.raw_output.startswith("Predicates:\nDog(x)")
    assert len(backend.calls) == 2  # the signature, then the formulas
    text = "Rex is a dog. Tom owns Rex. Does Tom own a dog?"
    assert main(["solve", text, "--samples", "1", "--decoding", "declare", "--llm", f"replay:{cassette}"]) == 0
    assert capsys.readouterr().out.startswith("Answer: True")  # the declared requests, replayed


def test_a_predicate_left_out_of_the_signature_is_declared_by_its_first_use(llama_grammar):
    target = FolTarget(decoding="declare")
    problem = Problem(premises=("Gary is rough.", "Rough people are kind."), conclusion="Is Gary kind?")
    replies = ["Kind(x): x is kind\nConstants: gary\n", " Rough(gary)\n", " ∀x (Rough(x) → Kind(x))\n", " Kind(gary)"]
    backend = ContinuingScriptedBackend(replies)
    result = refine(problem, target, backend)
    assert result.answer == "True"
    first, second = (call[0][0].constraint.value for call in backend.calls[1:3])
    assert '"Rough("' not in first and '"Rough("' in second  # declared by its use in premise 1
    assert llama_grammar.accepts(first, [" Rough(gary)\n", " Rough(gary, gary)\n", " rough = gary\n"]) == [True] * 3
    assert llama_grammar.accepts(second, [" Rough(gary)\n", " Rough(gary, gary)\n"]) == [True, False]


def test_a_truth_value_is_no_new_constant(llama_grammar):
    signature = FolSignature((("Furry", 1, "x is furry"),), ("harry",))
    grammar = 'root ::= " " s-formula\n' + signature_formula_gbnf(signature, "s-", new_predicates=True)
    texts = [" Furry(harry)", " furryHarry = true", " harry = bob", " ∀x (Furry(x) → x = harry)"]
    assert llama_grammar.accepts(grammar, texts) == [True, False, True, True]


def test_the_declared_signature_is_shown_in_the_result_its_json_and_the_trace(tmp_path, capsys):
    import json

    from neurosym.cli import main
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend

    backend = ContinuingScriptedBackend(
        [SIGNATURE_TEXT, " Dog(rex)\n", " Owns(tom, rex)\n", " ∃x (Dog(x) ∧ Owns(tom, x))"]
    )
    result = refine(PROBLEM, FolTarget(decoding="declare"), backend)
    assert result.winner.formalization.declared == SIGNATURE_TEXT.rstrip("\n")
    assert "        declared: Dog(x): x is a dog; Owns(x, y): x owns y; Constants: rex, tom" in result.render_trace()
    assert result.to_dict()["winner"]["declared"] == SIGNATURE_TEXT.rstrip("\n")

    cassette = tmp_path / "declare.jsonl"
    answer = ("Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\n2. Tom owns Rex.\nFOL: Owns(tom, rex)\nConclusion:\n"
              "Does Tom own a dog?\nFOL: ∃x (Dog(x) ∧ Owns(tom, x))")  # fmt: skip
    recorder = RecordingBackend(ScriptedBackend(["Predicates:\n" + SIGNATURE_TEXT, answer]), cassette)
    text = "Rex is a dog. Tom owns Rex. Does Tom own a dog?"
    solve(text, llm=recorder, strategy=Strategy.greedy(), target_options={"decoding": "declare"})
    argv = ["solve", text, "--samples", "1", "--decoding", "declare", "--llm", f"replay:{cassette}"]
    assert main(argv) == 0
    shown = capsys.readouterr().out
    assert "Signature (declared before the formulas):\n     Dog(x): x is a dog\n     Owns(x, y): x owns y\n" in shown
    assert shown.index("Signature") < shown.index("Formalization:")
    assert main([*argv, "--json"]) == 0
    described = json.loads(capsys.readouterr().out)["formalization"]
    assert described["signature"] == ["Dog(x): x is a dog", "Owns(x, y): x owns y", "Constants: rex, tom"]


def test_the_whole_layout_declares_nothing():
    answer = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(rex)"
    problem = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
    formalization = FolTarget(constrained=False).parse(problem, answer)
    assert formalization.declared == "" and "signature" not in describe_fol(formalization)
