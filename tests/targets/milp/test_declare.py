"""MILP declare-then-use: the declaration and body grammars, the line-by-line plan, the target in the loop.

The model is a test double (ContinuingScriptedBackend / ScriptedBackend); grammars are checked
with llama.cpp's own grammar engine (LlamaGrammarCheck), the project's recognizer and sampler, and
the language's own Lark parser. The solvers are real.
"""

from __future__ import annotations

import re

import pytest

from neurosym.errors import ParseError
from neurosym.grammars._testing import Recognizer, Sampler, read_gbnf
from neurosym.loop.refine import Strategy, refine
from neurosym.milp.parser import _parser, parse_model
from neurosym.targets.milp import MilpTarget
from neurosym.targets.milp.declare import (
    body_gbnf,
    declaration_line_gbnf,
    declarations_gbnf,
    declare_decoder,
    line_gbnf,
    read_declarations,
)
from neurosym.targets.milp.translator import milp_fewshot_examples
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import GenerationRequest
from neurosym.translators.decoding._testing import ContinuingScriptedBackend
from neurosym.types import Problem

PROMPT = GenerationRequest.from_prompt("A bakery makes loaves and trays ...")


def split(model: str) -> tuple[str, str]:
    lines = model.splitlines(keepends=True)
    n = sum(1 for line in lines if re.match(r"(integer|continuous|binary) ", line))
    return "".join(lines[:n]), "".join(lines[n:])


def test_the_worked_examples_fit_the_declaration_and_body_grammars(llama_grammar):
    for example in milp_fewshot_examples():
        declarations, body = split(example["model"])
        variables = read_declarations(declarations)
        assert llama_grammar.accepts(declarations_gbnf(), [declarations]) == [True], declarations
        binaries = read_declarations(declarations, kind="binary") or ()
        assert llama_grammar.accepts(body_gbnf(variables, binaries=binaries), [body]) == [True], body


def test_sampled_models_are_in_the_language_and_never_use_an_undeclared_name_or_a_label_as_a_variable():
    problems = []
    for seed in range(300):
        declarations = Sampler(read_gbnf(declarations_gbnf()), seed).sample()
        variables = read_declarations(declarations)
        binaries = read_declarations(declarations, kind="binary") or ()
        text = declarations + Sampler(read_gbnf(body_gbnf(variables, binaries=binaries)), seed + 1000).sample()
        _parser().parse(text)  # the language's own grammar reads every sample
        try:
            parse_model(text)
        except ParseError as err:  # what a context-free grammar cannot say: bounds, names twice, constant sides
            problems.append(err.message)
    formal = ("not declared", "undeclared", "unknown variable", "multiplies variables", "divides by a variable",
              "must be a binary", "not binary")  # fmt: skip
    assert not [p for p in problems if any(word in p.split(" at line")[0] for word in formal)], problems[:3]
    assert len(problems) < 300  # most samples are models


def test_a_line_leaves_out_used_labels_variables_as_labels_and_undeclared_variables(llama_grammar):
    grammar = line_gbnf(["loaves", "trays"], used=["flour"])
    texts = {
        "": True,  # nothing: the model is done
        "oven: loaves + 2 trays <= 70\n": True,
        "mix: loaves <= 6 or trays <= 2\n": True,
        "share: loaves >= 0.3 (loaves + trays)\n": True,
        "flour: loaves <= 3\n": False,  # the label is used
        "trays: trays <= 3\n": False,  # a variable as a label
        "cap: cakes <= 3\n": False,  # undeclared
        "cap: flour + loaves <= 3\n": False,  # a label as a variable
        "if: loaves <= 3\n": False,  # a keyword
        "demand: 40 * 5 + 30 * 2 >= 600\n": False,  # constants compared: no variable on either side
        "demand: 600 <= 40 loaves\n": True,
        "demand: (2 + 3) <= (loaves - 1)\n": True,
        "demand: (2 + 3) <= (4 - 1)\n": False,
    }
    assert llama_grammar.accepts(grammar, list(texts)) == list(texts.values())
    objective = line_gbnf(["x"], objective=True)
    assert llama_grammar.accepts(objective, ["maximize profit: 3 x\n", "", "maximize x: 3 x\n", "maximize p: 3\n"]) == [
        True, False, False, False,
    ]  # fmt: skip


def test_a_declaration_line_leaves_out_names_declared_before(llama_grammar):
    grammar = declaration_line_gbnf(["x", "y"])
    texts = ["binary b\n", "integer x\n", "continuous z, y\n", "maximize", "minimize", "", "max"]
    assert llama_grammar.accepts(grammar, texts) == [True, False, False, True, True, False, False]
    assert Recognizer(read_gbnf(declaration_line_gbnf(first=True))).matches("") is False


def test_the_plan_writes_line_by_line_and_a_repeated_constraint_ends_the_model():
    replies = [
        "integer loaves, trays\n",
        "maximize",
        " earnings: 4 loaves + 5 trays\n",
        "flour: 2 loaves + trays <= 60\n",
        "again: 2 loaves + trays <= 60\n",
        "never: loaves <= 1\n",
    ]
    backend = ContinuingScriptedBackend(replies)
    result = declare_decoder().generate(backend, PROMPT)
    assert len(backend.calls) == 5
    model = parse_model(result.texts[0])
    assert model.variables and [c.name for c in model.constraints] == ["flour", "again"]
    constraints = [call[0][0].constraint.value for call in backend.calls]
    assert '"earnings"' not in constraints[3] and "ml-label-e" in constraints[4]  # earnings is used now
    assert '| "maximize" | "minimize"' in constraints[1]  # the objective's sense ends the declarations
    assert constraints[2].startswith('root ::= " " ml-label')  # and the objective goes on from it


def test_without_continuation_phase_two_is_one_request_over_the_declared_variables():
    backend = ScriptedBackend(["integer x, y\n", "maximize total: x + y\ncap: x + y <= 4\n"])
    result = declare_decoder().generate(backend, PROMPT)
    assert result.texts == ["integer x, y\nmaximize total: x + y\ncap: x + y <= 4\n"]
    second = backend.calls[1][0][0]
    assert (
        second.messages[-2].content == "integer x, y\n" and "using only these variables" in second.messages[-1].content
    )
    assert 'mb-var ::= "x" | "y"' in second.constraint.value


def test_the_target_in_the_loop_with_declare_decoding():
    target = MilpTarget(constrained=True, decoding="declare")
    replies = ["integer x, y\n", "maximize", " total: 3 x + 2 y\n", "cap: x + y <= 4\n", "lim: x <= 3\n", ""]
    result = refine(Problem("Maximize 3x + 2y with x + y <= 4, x <= 3."), target, ContinuingScriptedBackend(replies))
    assert result.answer == 11
    assert MilpTarget(constrained=True, decoding="declare").fingerprint() == MilpTarget(constrained=True).fingerprint()
    assert MilpTarget(decoding="declare").decoder(Problem("...")) is None  # needs a grammar
    with pytest.raises(Exception, match="decoding"):
        MilpTarget(decoding="lines")


def test_a_failed_model_is_resampled_through_the_decoder():
    target = MilpTarget(constrained=True, decoding="declare")
    replies = iter(["integer x\n", "maximize", " total: x\n", "",  # unbounded
                    "integer x\n", "maximize", " total: x\n", "cap: x <= 3\n", ""])  # fmt: skip
    backend = ContinuingScriptedBackend(lambda request, index: next(replies))
    strategy = Strategy(samples=1, repair_rounds=1, on_failure="resample")
    result = refine(Problem("Maximize x up to 3."), target, backend, strategy=strategy)
    assert [a.status for a in result.attempts] == ["invalid", "optimal"] and result.answer == 3
