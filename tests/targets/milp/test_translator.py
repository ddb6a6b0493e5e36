"""The MILP translator: the prompt, reading models out of output, the worked examples and the GBNF grammar."""

from __future__ import annotations

import itertools
import re
from functools import cache

import pytest

from neurosym.errors import ParseError
from neurosym.milp.model import parse_model
from neurosym.milp.solve import solve_model
from neurosym.targets.milp.translator import (
    SYSTEM_PROMPT,
    build_milp_request,
    extract_model,
    milp_fewshot_examples,
    model_gbnf,
)

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


# -- the GBNF grammar -------------------------------------------------------------------------


class Gbnf:
    """A small GBNF recogniser (enough for model_gbnf: literals, classes, groups, ? * + {m,n})."""

    TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(\[(?:[^\]\\]|\\.)*\])|([a-z][a-z0-9-]*)|(\{\d+,\d+\})|(.))')

    def __init__(self, text: str):
        self.rules = {}
        for line in text.strip().splitlines():
            name, body = line.split("::=", 1)
            self.rules[name.strip()] = self._alternatives(self._tokens(body), 0)[0]

    def _tokens(self, body):
        return [m for m in self.TOKEN.findall(body) if any(m)]

    def _alternatives(self, tokens, i):
        options, sequence = [], []
        while i < len(tokens) and tokens[i][4] != ")":
            literal, charclass, name, _, other = tokens[i]
            if other == "|":
                options.append(("seq", sequence))
                sequence = []
                i += 1
                continue
            if other == "(":
                item, i = self._alternatives(tokens, i + 1)
                i += 1  # ")"
            elif literal:
                item, i = ("lit", literal[1:-1].encode().decode("unicode_escape")), i + 1
            elif charclass:
                item, i = ("class", re.compile(charclass)), i + 1
            else:
                item, i = ("ref", name), i + 1
            if i < len(tokens) and (tokens[i][3] or tokens[i][4] in ("?", "*", "+")):
                low, high = {"?": (0, 1), "*": (0, None), "+": (1, None)}.get(tokens[i][4], (None, None))
                if tokens[i][3]:
                    low, high = map(int, tokens[i][3][1:-1].split(","))
                item, i = ("rep", item, low, high), i + 1
            sequence.append(item)
        options.append(("seq", sequence))
        return ("alt", options), i

    def ends(self, node, text, start):
        """Every position where ``node`` can stop matching ``text`` from ``start``."""
        kind = node[0]
        if kind == "lit":
            return {start + len(node[1])} if text.startswith(node[1], start) else set()
        if kind == "class":
            return {start + 1} if start < len(text) and node[1].fullmatch(text[start]) else set()
        if kind == "ref":
            return self._rule(node[1], text, start)
        if kind == "alt":
            return set().union(*(self.ends(option, text, start) for option in node[1]))
        if kind == "seq":
            positions = {start}
            for item in node[1]:
                positions = set().union(*(self.ends(item, text, p) for p in positions)) if positions else set()
            return positions
        _, item, low, high = node
        reached, frontier, count = ({start} if low == 0 else set()), {start}, 0
        while frontier and (high is None or count < high):
            frontier = set().union(*(self.ends(item, text, p) for p in frontier)) - {p for p in frontier}
            count += 1
            if count >= low:
                reached |= frontier
        return reached

    def _rule(self, name, text, start):
        return _memo(self, name, text, start)

    def matches(self, text):
        return len(text) in self._rule("root", text, 0)


@cache
def _memo(grammar, name, text, start):
    return frozenset(grammar.ends(grammar.rules[name], text, start))


@pytest.fixture(scope="module")
def gbnf():
    return Gbnf(model_gbnf())


def test_the_recogniser_works(gbnf):
    assert gbnf.matches(MODEL.replace("x <= 3\n", "limit: x <= 3\n"))
    assert not gbnf.matches("")


def test_every_example_fits_the_grammar(gbnf):
    for example in milp_fewshot_examples():
        assert gbnf.matches(example["model"]), example["model"]


@pytest.mark.parametrize(
    "text",
    [
        "integer x\nmaximize profit: 3 x\ncap: x <= 4\n",
        "integer x, y <= 40\ncontinuous z in [5, 20]\nbinary b\nminimize cost: 2 x - 3 (y + z)\nc1: x + y >= 10\n"
        "c2: if not b then z = 0\nc3: x <= 2 or y <= 2\nc4: at most 1 of b\nc5: z >= 30% x\n",
    ],
)
def test_models_in_the_layout_fit_the_grammar(gbnf, text):
    assert gbnf.matches(text)
    parse_model(text)


@pytest.mark.parametrize(
    "text",
    [
        "maximize profit: 3 x\ncap: x <= 4\n",  # no declaration
        "integer x\ncap: x <= 4\n",  # no objective
        "integer x\nmaximize profit: 3 x\n",  # no constraint
        "integer x\nmaximize 3 x\ncap: x <= 4\n",  # unnamed objective
        "integer x\nmaximize profit: 3 x\nx <= 4\n",  # unnamed constraint
        "integer x\nmaximize profit: x * x\ncap: x <= 4\n",  # no *
        "integer x\nmaximize profit: 3 x\ncap: x <= 1,000\n",  # no thousands separator
        "integer x\nmaximize profit: 3 x\ncap: x <= 4",  # every line ends with a new line
    ],
)
def test_other_layouts_do_not_fit_the_grammar(gbnf, text):
    assert not gbnf.matches(text)


def test_llama_cpp_accepts_the_grammar():
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    grammar = llama_cpp.LlamaGrammar.from_string(model_gbnf(), verbose=False)
    assert grammar._grammar == model_gbnf()
    # from_string only keeps the text; llama.cpp parses it when a sampler is built from a vocabulary
    from neurosym.errors import MissingDependencyError
    from neurosym.translators.models import ensure_model

    try:
        path = ensure_model("small", progress=False)
    except MissingDependencyError as err:
        pytest.skip(f"the small model's slices are not installed: {err}")
    vocab = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)._model.vocab

    def compiles(text):
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    assert compiles(model_gbnf())
    assert not compiles("\n".join(model_gbnf().splitlines()[:-1]))  # no rule for name: the check bites
