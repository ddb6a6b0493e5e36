"""Declare-then-use decoding of choice programs: each line's grammar, what it rules out, the plan, the target.

The grammars are checked with llama.cpp's own grammar engine (LlamaGrammarCheck) where it is
installed, and with the project's recognizer and sampler; the plan with a scripted backend
that continues partial answers (a test double at the model boundary).
"""

from __future__ import annotations

from neurosym.errors import ParseError
from neurosym.grammars._testing import Recognizer, Sampler, read_gbnf
from neurosym.loop.refine import Strategy, refine
from neurosym.targets.choice import ChoiceTarget
from neurosym.targets.choice.declare import (
    MAX_LINES,
    Declared,
    _formula_gbnf,
    declare_decoder,
    expression_gbnf,
    line_gbnf,
)
from neurosym.targets.choice.language import _parser, parse_program
from neurosym.targets.choice.translator import choice_fewshot_examples
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import GenerationRequest
from neurosym.translators.decoding._testing import ContinuingScriptedBackend
from neurosym.types import Problem

PROBLEM = Problem(
    "Ann, Bob and Cy sit in seats 1 to 3. Ann sits left of Bob. Cy is in seat 3.",
    question="Which one of the following must be true?",
    options=("A) Ann is in seat 1.", "B) Bob is in seat 1.", "C) Cy is in seat 1."),
)
STATE = Declared(sorts=("person",), elements=("ann", "bob", "cy"), functions={"seat": 1, "near": 2})


def test_every_line_of_the_worked_examples_fits_its_grammar(llama_grammar):
    for example in choice_fewshot_examples():
        lines = example["program"].splitlines()
        letters = [line.split()[1].rstrip(":") for line in lines if line.startswith("option ")]
        state, first_option = Declared(), True
        for line in lines:
            if line.startswith("option ") and not first_option:
                formula = line.split(":", 1)[1]  # after the fixed "option X:", from its space on
                assert llama_grammar.accepts(_formula_gbnf(state, final=False), [formula + "\n"]) == [True], line
                continue
            assert llama_grammar.accepts(line_gbnf(state, first_option=letters[0]), [line + "\n"]) == [True], line
            first_option = first_option and not line.startswith("option ")
            state = state.after(line)


def test_a_line_uses_only_declared_names_with_their_arities(llama_grammar):
    grammar = line_gbnf(STATE, first_option="A")
    texts = {
        "assert seat(ann) < seat(bob)\n": True,
        "assert forall(p in person: seat(p) <= 3)\n": True,
        "assert near(ann, bob) -> seat(ann) + 1 == seat(bob)\n": True,
        "assert distinct(seat)\n": True,
        "assert [c1] seat(cy) == 3\n": True,
        "given seat(ann) in {1, 2}\n": True,
        "how_many(p in person: seat(p) == 2)\n": True,
        "option A: seat(ann) == 1\n": True,
        "# Cy is in seat 3.\n": True,
        "fun rank(person, 1..3): bool\n": True,
        "assert seat(dave) == 1\n": False,  # an undeclared name
        "assert seat(ann, bob) == 1\n": False,  # the wrong number of arguments
        "assert near(ann) == 1\n": False,
        "assert size(ann) == 1\n": False,  # an undeclared function
        "assert forall(ann in person: seat(ann) == 1)\n": False,  # a bound variable hiding a name
        "sort person = {dan}\n": False,  # declared twice
        "var bob: bool\n": False,
        "option B: seat(ann) == 1\n": False,  # options come in order
        "replace c1\n": False,  # no label yet
        "": False,  # the options are still to come
    }
    assert llama_grammar.accepts(grammar, list(texts)) == list(texts.values())
    labelled = line_gbnf(STATE.after("assert [c1] seat(cy) == 3"), first_option="A")
    assert llama_grammar.accepts(labelled, ["replace c1\n", "replace c2\n", "assert [c1] true\n"]) == [
        True, False, False,
    ]  # fmt: skip


def test_an_argument_of_a_sort_is_something_of_that_sort(llama_grammar):
    state = Declared()
    for line in (
        "sort seat = {one, two, three}",
        "sort person = {ann, bob}",
        "fun at(person): seat",
        "fun near(person, person): bool",
        "fun rank(person, 1..3): bool",
        "var k: 1..3",
        "var who: person",
    ):
        state = state.after(line)  # fmt: skip
    grammar = "root ::= ce-expr\n" + expression_gbnf(state)
    texts = {
        "at(ann) == one": True,
        "near(who, bob) and rank(ann, k + 1)": True,
        "forall(p in person: at(p) != three)": True,
        "at(1) == one": False,  # a number where a person goes
        "near(ann, one)": False,  # a seat where a person goes
        "at(at(ann)) == one": False,
        "rank(one, 2)": False,
    }
    assert llama_grammar.accepts(grammar, list(texts)) == list(texts.values())


def test_sampled_programs_are_in_the_language_and_never_use_an_undeclared_name_or_a_wrong_arity():
    problems = []
    for seed in range(150):
        state, text = Declared(), ""
        for line_index in range(6):
            line = Sampler(read_gbnf(line_gbnf(state, first_option="A")), seed * 10 + line_index).sample()
            if line.startswith("option "):
                break
            text += line
            state = state.after(line.strip())
        text += "option A: " + Sampler(read_gbnf(_formula_gbnf(state, final=True)), seed).sample()
        _parser().parse(text)  # the language's own grammar reads every sample
        try:
            parse_program(text)
        except ParseError as err:  # what a context-free grammar cannot say: types, names twice in one line, sizes
            problems.append(err.message.split(" at line")[0])
    arity = [p for p in problems if "argument(s), not" in p]
    unknown = [p for p in problems if p.startswith("unknown name") and len(p.split("'")[1]) > 2]  # bound ones are short
    assert not arity and not unknown and not [p for p in problems if "is a keyword" in p], (arity + unknown)[:3]
    assert len(problems) < 150  # most samples are programs


def test_the_plan_writes_line_by_line_then_each_option_after_its_fixed_label():
    replies = ["sort person = {ann, bob, cy}\n", "fun seat(person): 1..3\n", "assert distinct(seat)\n",
               "assert seat(ann) < seat(bob)\n", "assert seat(cy) == 3\n", "option A: seat(ann) == 1\n",
               " seat(bob) == 1\n", " seat(cy) == 1"]  # fmt: skip
    backend = ContinuingScriptedBackend(replies)
    text = declare_decoder("ABC").generate(backend, GenerationRequest.from_prompt("...")).texts[0]
    assert text.splitlines()[-3:] == ["option A: seat(ann) == 1", "option B: seat(bob) == 1", "option C: seat(cy) == 1"]
    assert len(backend.calls) == len(replies)  # the program ended after the last letter
    assert backend.calls[-1][0][0].messages[-1].content.endswith("option C:")  # the space is the model's
    task = ChoiceTarget().parse(PROBLEM, text).parsed
    assert [o.letter for o in task.program.options] == ["A", "B", "C"]


def test_a_repeated_statement_moves_on_to_the_options():
    replies = ["var x: 1..3\n", "assert x != 1\n", "assert x != 1\n", " x == 2\n", " x == 1\n", " x == 3"]
    backend = ContinuingScriptedBackend(replies)
    text = declare_decoder("ABC").generate(backend, GenerationRequest.from_prompt("...")).texts[0]
    assert text.splitlines()[3:] == ["option A: x == 2", "option B: x == 1", "option C: x == 3"]
    assert 'root ::= " " ce-expr "\\n"' in backend.calls[3][0][0].constraint.value  # a formula after "option A:"


def test_the_line_cap_moves_on_to_the_options():
    backend = ContinuingScriptedBackend(["var x: bool\n"] + ["# still thinking\n"] * (MAX_LINES - 1) + [" x", " not x"])
    text = declare_decoder("AB").generate(backend, GenerationRequest.from_prompt("...")).texts[0]
    assert text.splitlines()[-2:] == ["option A: x", "option B: not x"]


def test_the_target_decodes_line_by_line_only_when_constrained_and_the_backend_continues():
    assert ChoiceTarget(constrained=False).decoder(PROBLEM) is None
    assert ChoiceTarget(decoding="whole").decoder(PROBLEM) is None
    program = ("sort person = {ann, bob, cy}\nfun seat(person): 1..3\nassert distinct(seat)\n"
               "assert seat(ann) < seat(bob)\nassert seat(cy) == 3\noption A: seat(ann) == 1\n"
               "option B: seat(bob) == 1\noption C: seat(cy) == 1")  # fmt: skip
    # A backend that cannot continue an answer gets the whole request, under the language's grammar.
    whole = ScriptedBackend([program])
    result = refine(PROBLEM, ChoiceTarget(), whole, strategy=Strategy.greedy())
    assert result.answer == "A" and len(whole.calls) == 1
    lines = [line + "\n" for line in program.splitlines()[:6]] + [" seat(bob) == 1\n", " seat(cy) == 1"]
    continuing = ContinuingScriptedBackend(lines)
    result = refine(PROBLEM, ChoiceTarget(), continuing, strategy=Strategy.greedy())
    assert result.answer == "A" and len(continuing.calls) == len(lines)


def test_expression_rules_compile_without_any_declaration(llama_grammar):
    grammar = "root ::= ce-expr\n" + expression_gbnf(Declared())
    assert llama_grammar.compiles(grammar)
    assert Recognizer(read_gbnf(grammar)).matches("1 + 2 == 3") and not Recognizer(read_gbnf(grammar)).matches("ann")
