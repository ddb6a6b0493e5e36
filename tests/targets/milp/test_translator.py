"""The MILP translator: the prompt, reading models out of output, the worked examples and the GBNF grammar."""

from __future__ import annotations

import itertools
import json
import re
from functools import cache
from pathlib import Path

import pytest
from lark.exceptions import LarkError

from benchmarks import nl4opt_loop, opt_data
from neurosym.errors import MissingDependencyError, ParseError
from neurosym.grammars import Grammar, Lit, Ref, Seq, left_recursive_rules
from neurosym.grammars._testing import LlamaGrammarCheck, Recognizer, Sampler, read_gbnf
from neurosym.milp.parser import _parser, parse_model
from neurosym.milp.solve import solve_model
from neurosym.targets.milp.translator import (
    MAX_EXPRESSION_TERMS,
    MAX_MODEL_LINES,
    MAX_TOKEN_CHARS,
    SYSTEM_PROMPT,
    build_milp_request,
    extract_model,
    milp_fewshot_examples,
    model_gbnf,
)

ROOT = Path(__file__).resolve().parents[3]

MODEL = "integer x, y\nmaximize profit: 3 x + 2 y\ncap: x + y <= 4\nx <= 3\n"

# -- the prompt -------------------------------------------------------------------------------


def test_request_shows_the_language_then_the_examples_then_the_problem():
    request = build_milp_request("Maximize  profit\nfrom chairs?")
    examples = milp_fewshot_examples()
    assert len(examples) == 3
    roles = [m.role for m in request.messages]
    assert roles == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert request.messages[0].content == SYSTEM_PROMPT
    for i, example in enumerate(examples):
        assert request.messages[1 + 2 * i].content == f"Problem: {example['problem']}"
        assert request.messages[2 + 2 * i].content == example["model"]
    assert request.messages[-1].content == "Problem: Maximize profit from chairs?"
    assert request.constraint is None


@pytest.mark.parametrize("shots", [0, 1, 2])
def test_fewer_shots(shots):
    request = build_milp_request("p", shots=shots)
    assert len(request.messages) == 2 + 2 * shots
    assert [m.content for m in request.messages[2::2][:shots]] == [e["model"] for e in milp_fewshot_examples()[:shots]]


def test_grammar_constraint_only_when_constrained():
    assert build_milp_request("p").constraint is None
    constrained = build_milp_request("p", constrained=True)
    assert constrained.constraint is not None
    assert (constrained.constraint.kind, constrained.constraint.value) == ("grammar", model_gbnf())
    recorded = build_milp_request("p", constrained=True, grammar="root ::= [a-z]+")
    assert recorded.constraint is not None and recorded.constraint.value == "root ::= [a-z]+"
    assert build_milp_request("p", grammar="root ::= [a-z]+").constraint is None


def test_system_prompt_describes_the_language():
    for phrase in ("integer", "continuous", "binary", "maximize", "if b then", "at most", "30%"):
        assert phrase in SYSTEM_PROMPT


# -- extract_model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        f"```milp\n{MODEL}```",
        f"Here is the model:\n```lp\n{MODEL}```\nIt should give 11.",
        f"```\n{MODEL}```",
        f"```text\nsome notes first\n```\nThen:\n```\n{MODEL}```",  # the first block that declares a variable
        f"```\n{MODEL}",  # an unclosed fence runs to the end
        MODEL,
        f"Let me model this problem.\n\n{MODEL}\nThe solver finds the best plan.",
        f"Sure!\n{MODEL}\n\n\nHope this helps!",
    ],
)
def test_extract_model(output):
    assert extract_model(output) == MODEL


def test_extract_keeps_comments_and_blank_lines_inside_the_model():
    text = "integer x\n# the plan\nmaximize x\n\n// limits\nx <= 3\n"
    assert extract_model(f"Model:\n{text}That is all.") == text


def test_extract_stops_at_prose_after_the_model():
    assert extract_model(f"{MODEL}This is the model.\nx <= 1") == MODEL


@pytest.mark.parametrize(
    "output",
    ["", "The answer is 12.", "```\nmaximize x\nx <= 3\n```", "maximize 3 x\nx <= 4", "```\n\n```"],
)
def test_no_model_is_a_parse_error(output):
    with pytest.raises(ParseError, match="no model in the output"):
        extract_model(output)


def test_extract_evaluates_nothing():
    # a Python-looking payload is just text: it is returned, and parse_model refuses it
    text = extract_model("integer x\nmaximize __import__('os').system('true')\n")
    with pytest.raises(ParseError):
        parse_model(text)


# -- the worked examples ----------------------------------------------------------------------


def test_every_example_parses_and_renders_back():
    for example in milp_fewshot_examples():
        model = parse_model(example["model"])
        assert parse_model(model.render()) == model
        assert example["problem"] and example["model"].endswith("\n")


def test_bakery_example_optimum_by_brute_force():
    bakery = milp_fewshot_examples()[0]
    model = parse_model(bakery["model"])
    # flour 2L + T <= 60, oven L + 2T <= 70, T >= 5, L >= 0.3 (L + T); earnings 4L + 5T
    best = max(
        (4 * loaves + 5 * trays, loaves, trays)
        for loaves in range(31)
        for trays in range(36)
        if 2 * loaves + trays <= 60 and loaves + 2 * trays <= 70 and trays >= 5 and 10 * loaves >= 3 * (loaves + trays)
    )
    result = solve_model(model)
    assert result.status == "optimal" and result.objective == best[0]
    assert 4 * result.values["loaves"] + 5 * result.values["trays"] == best[0]


def test_feed_example_optimum_with_a_dual_certificate():
    feed = milp_fewshot_examples()[1]
    result = solve_model(parse_model(feed["model"]))
    # primal: a = 15, b = 10 is feasible (protein 300 + 300 = 600, fat 75 + 20 = 95 <= 100) and costs 15.5
    a, b = 15.0, 10.0
    assert 20 * a + 30 * b >= 600 and 5 * a + 2 * b <= 100 and a <= 15
    assert 0.5 * a + 0.8 * b == 15.5
    # dual: multipliers y_protein = 0.8/30, y_limit = 20 y_protein - 0.5 on "-a >= -15" prove cost >= 15.5
    y_protein = 0.8 / 30
    y_limit = 20 * y_protein - 0.5
    assert y_protein >= 0 and y_limit >= 0
    assert 600 * y_protein - 15 * y_limit == pytest.approx(15.5)
    assert result.status == "optimal" and result.objective == pytest.approx(15.5)
    assert result.integer_optimum is None  # the optimum is already whole


def test_moving_example_optimum_by_brute_force():
    moving = milp_fewshot_examples()[2]
    model = parse_model(moving["model"])
    best = min(
        40 * vans + 110 * trucks + 50 * use
        for vans, trucks, use in itertools.product(range(21), range(21), (0, 1))
        if 8 * vans + 20 * trucks >= 90 and (use or trucks == 0) and (vans <= 6 or trucks <= 2)
    )
    assert best == 480  # 12 vans, no truck: 96 boxes
    result = solve_model(model)
    assert result.status == "optimal" and result.objective == best
    assert (result.values["vans"], result.values["trucks"]) == (12.0, 0.0)


# -- the GBNF grammar, compiled from milp.lark -------------------------------------------------


@cache
def grammar():
    return read_gbnf(model_gbnf())  # the text itself, read back


def fits(text):
    return Recognizer(grammar()).matches(text)


@cache
def nl4opt_formulations():
    """The official NL4Opt test formulations, converted (as continuous models; the integer ones differ in one word)."""
    return [opt_data.annotation_model(item.annotation) for item in opt_data.load_nl4opt_test()]


def test_the_text_is_a_grammar_llama_cpp_can_take():
    text = model_gbnf()
    assert text.splitlines()[0] == "root ::= start"
    assert left_recursive_rules(grammar()) == set()
    assert grammar().to_gbnf() == text


def test_every_example_fits_the_grammar():
    for example in milp_fewshot_examples():
        assert fits(example["model"]), example["model"]


def test_every_converted_nl4opt_formulation_fits_the_grammar():
    formulations = nl4opt_formulations()
    assert len(formulations) == 289
    rejected = [text for text in formulations if not fits(text)]
    assert not rejected, rejected[:3]
    integer = opt_data.annotation_model(opt_data.load_nl4opt_test()[0].annotation, integer=True)
    assert integer.startswith("integer ") and fits(integer)


@cache
def samples(seed=11):
    """Random texts of the grammar: whole models, and single constraints and either-or statements.

    Whole models alone rarely reach the later forms of a statement: the sampler takes the shortest
    way out once a text is long, and expressions make it long.
    """
    either = ("either", Seq((Ref("relation"), Lit(" "), Ref("constraint-plus-2"))))
    out = []
    for entry, count in (("start", 2000), ("constraint", 300), ("either", 300)):
        sampler = Sampler(Grammar(entry, (*grammar().rules, either)), seed)
        out += [sampler.sample() for _ in range(count)]
    return tuple(out)


def test_every_text_the_grammar_generates_is_read_by_the_parsers_grammar():
    parser = _parser()
    failures = []
    for text in samples():
        try:
            parser.parse(text)
        except LarkError as err:
            failures.append((text, str(err).splitlines()[0]))
    assert not failures, failures[:5]


def test_the_samples_cover_the_language():
    texts = samples()
    joined = "".join(texts)
    for piece in (
        "integer",
        "continuous",
        "binary",
        "maximi",
        "minimi",
        "subject to",
        "if ",
        " then ",
        "not ",
        " or ",
        "at most",
        "at least",
        "exactly",
        " of ",
        " in [",
        "free",
        "inf",
        "%",
        "(",
        "^",
        "/",
        ";",
        "\n",
        "<=",
        ">=",
        ":",
    ):
        assert piece in joined, piece
    assert len(set(texts)) > 1000


def test_many_samples_are_models_once_their_names_are_declared():
    # What parse_model adds to the grammar is declared names, one objective, linearity and whole
    # numbers where they count; with its names declared and an objective, a sample often passes.
    parsed = 0
    for text in samples()[:2000]:
        names = sorted(set(re.findall(r"[A-Za-z_]\w*", text)) - {"integer", "continuous", "binary"})
        header = f"continuous {', '.join(names)}\n" if names else ""
        try:
            parse_model(f"{header}binary zz_b\nminimize zz_b\n{text}")
        except ParseError:
            continue
        parsed += 1
    assert parsed > 200


@pytest.mark.parametrize(
    "text",
    [
        "integer x\nmaximize profit: 3 x\ncap: x <= 4\n",
        "integer x, y <= 40\ncontinuous z in [5, 20]\nbinary b\nminimize cost: 2 x - 3 (y + z)\nc1: x + y >= 10\n"
        "c2: if not b then z = 0\nc3: x <= 2 or y <= 2\nc4: at most 1 of b\nc5: z >= 30% x\n",
        "integer x\nmaximize 3 x\nx <= 4",  # unnamed objective and constraint, no final new line
        "continuous x; integer n; maximize 2 x + 3 (n - 1); subject to; x + n <= 10",
        "integer x free\ncontinuous y in [-inf, 5]\nmaximize x\n2 <= x <= 9",
    ],
)
def test_models_in_the_language_fit_the_grammar(text):
    assert fits(text)
    parse_model(text)


@pytest.mark.parametrize(
    "text",
    [
        "integer x\nmaximize profit: 3 x\ncap: x <= 1,000\n",  # no thousands separator
        "integer x\nmaximize  3 x\n",  # one space between tokens
        " integer x",  # none at the start
        "integer x # the count\nmaximize x",  # comments are read, not written
        "integer x\r\nmaximize x",  # a new line is \n
        "integer if\nmaximize if",  # a keyword is not a name
        "integer At\nmaximize At",  # nor in capitals ("at most")
        "integer x\nmaximize x\n1 <= x <= 2 <= 3",  # a chain has at most two comparisons
        "integer x\nmaximise x\nx <= 3 or",  # incomplete
    ],
)
def test_other_texts_do_not_fit_the_grammar(text):
    assert not fits(text)


def test_repetition_is_bounded():
    lines = "x <= 1\n" * MAX_MODEL_LINES
    assert fits(lines + "x <= 1") and not fits(lines + "x <= 1\n")
    terms = " + ".join(["x"] * MAX_EXPRESSION_TERMS)
    assert fits(f"maximize {terms}") and not fits(f"maximize {terms} + x")
    assert fits("x <= " + "9" * MAX_TOKEN_CHARS) and not fits("x <= " + "9" * (MAX_TOKEN_CHARS + 1))
    assert not fits("x" * (MAX_TOKEN_CHARS + 20) + " <= 1")


@pytest.fixture(scope="module")
def llama():
    try:
        return LlamaGrammarCheck()
    except MissingDependencyError as err:
        pytest.skip(f"llama-cpp-python or the small model is not installed: {err}")


def test_llama_cpp_reads_the_grammar(llama):
    assert llama.compiles(model_gbnf())
    assert not llama.compiles("\n".join(model_gbnf().splitlines()[:-1]))  # no rule for word-tail: the check bites
    assert llama.compiles(nl4opt_loop.recorded_grammar())


@pytest.mark.slow
def test_llama_cpp_accepts_the_examples_and_every_nl4opt_formulation(llama):
    texts = [e["model"] for e in milp_fewshot_examples()] + nl4opt_formulations()
    refused = [text for text, ok in zip(texts, llama.accepts(model_gbnf(), texts), strict=True) if not ok]
    assert not refused, refused[:3]
    others = ["integer x\nmaximize  x", "integer if\nmaximize if", "integer x\nmaximize x <= 1,000"]
    assert llama.accepts(model_gbnf(), others) == [False] * 3


# -- the grammar the NL4Opt cassette was recorded with ---------------------------------------------


@cache
def recorded_requests():
    with (ROOT / "benchmarks" / "cassettes" / "nl4opt_loop.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["request"] for line in handle]


def test_the_recorded_grammar_rebuilds_the_recorded_requests_exactly():
    # The cassette keys hash the whole request, grammar text included: the frozen 0.1 grammar and
    # today's prompt must give the recorded requests byte for byte (and the derived grammar must not).
    from neurosym.bench.suites.nl4opt import RECORDED_GRAMMAR as grammar

    requests = recorded_requests()
    assert {r["constraint"]["value"] for r in requests} == {grammar} and grammar != model_gbnf()
    first_turns = [r for r in requests if len(r["messages"]) == 8]
    assert len(first_turns) > 40
    for recorded in first_turns:
        problem = recorded["messages"][-1]["content"].removeprefix("Problem: ")
        assert build_milp_request(problem, constrained=True, grammar=grammar).to_dict() == recorded
    assert build_milp_request(problem, constrained=True).to_dict() != recorded


def test_the_benchmark_asks_with_the_recorded_grammar():
    from neurosym.bench.suites.nl4opt import RECORDED_GRAMMAR

    target = nl4opt_loop.MilpTarget(constrained=True, grammar=RECORDED_GRAMMAR)
    item = nl4opt_loop.nl4opt_items(1)[0]
    request = target.request(item.problem)
    assert request.constraint.value == RECORDED_GRAMMAR
    assert request.messages == nl4opt_loop.MilpTarget(constrained=True).request(item.problem).messages
    repair = target.repair_request(item.problem, request, "integer x", "no objective")
    assert repair.constraint == request.constraint
    assert target.fingerprint() == nl4opt_loop.MilpTarget(constrained=True).fingerprint()
