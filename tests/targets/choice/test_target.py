"""The choice target end to end: reading problems and options, solve() and `neurosym solve`, the grammar, the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurosym.cli import main
from neurosym.errors import ConfigurationError, MissingDependencyError, ParseError
from neurosym.grammars._testing import LlamaGrammarCheck, Recognizer, Sampler, read_gbnf
from neurosym.loop.refine import Strategy
from neurosym.solving import solve
from neurosym.targets import get_target
from neurosym.targets.choice import ChoiceTarget, choice_problem
from neurosym.targets.choice.language import MAX_SYMBOL_CELLS, parse_program
from neurosym.targets.choice.translator import (
    choice_fewshot_examples,
    extract_program,
    parse_options,
    program_gbnf,
    split_problem,
)
from neurosym.translators.backends.replay import RecordingBackend
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem

LOGIC = Path(__file__).resolve().parents[4] / "shared" / "data" / "logic"

PUZZLE = ("On a shelf, there are three books: a red book, a blue book and a green book. The red book is to the left "
          "of the blue book. The green book is the leftmost. Which of the following is true?")  # fmt: skip
OPTIONS = ("A) The red book is the second from the left. B) The blue book is the second from the left. "
           "C) The green book is the second from the left.")  # fmt: skip
PROGRAM = """sort book = {red, blue, green}
fun pos(book): 1..3
assert distinct(pos)
# The red book is to the left of the blue book.
assert pos(red) < pos(blue)
assert pos(green) == 1
option A: pos(red) == 2
option B: pos(blue) == 2
option C: pos(green) == 2"""


# ------------------------------------------------------------------------------ the problem and its options


def test_options_are_read_from_the_text_in_common_layouts():
    for layout in ("{p}\nA) x is 1\nB) x is 2", "{p} (A) x is 1 (B) x is 2", "{p}\nA. x is 1\nB. x is 2"):
        problem = split_problem(layout.format(p="X is 1 or 2. Which must be true?"))
        assert problem.options == ("A) x is 1", "B) x is 2") and problem.question == "Which must be true?"
        assert problem.text == "X is 1 or 2."


def test_a_stray_capital_in_the_puzzle_is_not_an_option():
    text = "O is delivered later than G. M is delivered before G. Each of the following could be true EXCEPT:"
    problem = split_problem(text + "\nA) M is first.\nB) O is first.")
    assert problem.text.endswith("M is delivered before G.") and problem.options == ("A) M is first.", "B) O is first.")


def test_unreadable_or_lonely_options_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="could not be read"):
        split_problem("X is 1. Which?", ["x is 1", "x is 2"])
    with pytest.raises(ConfigurationError, match="only one answer option"):
        parse_options("A) only this one")
    with pytest.raises(ConfigurationError, match="has no text"):
        parse_options("A) fine B)   ")
    with pytest.raises(ConfigurationError, match="not premises"):
        choice_problem(None, ["X is 1."], "Which?")


def test_missing_options_stop_before_any_model_call():
    llm = ScriptedBackend([PROGRAM])
    with pytest.raises(ConfigurationError, match="no answer options"):
        solve(PUZZLE, target="choice", llm=llm)
    assert llm.calls == []


def test_options_given_apart_win_over_those_in_the_text():
    target = get_target("choice", options="A) one B) two", constrained=False)
    problem = target.structured(Problem("X is 1. Which must be true? A) a B) b C) c"))
    assert problem.options == ("A) one", "B) two")


def test_extract_program_keeps_statements_and_refuses_prose():
    assert extract_program("Sure:\n```\n" + PROGRAM + "\n```\nThe answer is A.") == PROGRAM
    assert extract_program("Here you go.\n" + PROGRAM + "\nHope this helps!") == PROGRAM
    with pytest.raises(ParseError, match="no program found"):
        extract_program("The answer is (A) because the red book is in the middle.")


# ------------------------------------------------------------------------------ solve(), from Python


def test_solve_answers_the_readme_example_with_evidence():
    result = solve(PUZZLE, target="choice", target_options={"options": OPTIONS}, llm=ScriptedBackend([PROGRAM]))
    assert result.answer.exact == "A" and result.verdict.status == "proved"
    assert result.verdict.details["options"] == {"A": "entailed", "B": "contradicted", "C": "contradicted"}
    report = result.render()
    assert report.startswith("Answer: A  (proved, z3+cvc5)")
    assert "A) The red book is the second from the left.  [entailed]  <- chosen" in report
    assert "ruled out by: line 6: pos(green) == 1" in report and "z3 and cvc5 agree" in report
    data = json.loads(json.dumps(result.to_dict()))
    assert data["formalization"]["question_kind"] == "is true" and data["answer"]["exact"] == "A"


@pytest.mark.parametrize(
    ("output", "status", "message"),
    [
        ("I think it is A.", "invalid", "no program found"),
        (PROGRAM.replace("pos(red) < pos(blue)", "pos(red) < pos(purple)"), "invalid", "unknown name 'purple'"),
        (PROGRAM.replace("sort book = {red, blue, green}", "sort book = {}"), "invalid", "the sort 'book' is empty"),
        (PROGRAM.replace("option C: pos(green) == 2", ""), "invalid", "no formula for option(s) C"),
        (
            "var "
            + ", ".join(f"x{i}" for i in range(MAX_SYMBOL_CELLS + 1000))
            + ": bool\n"
            + "\n".join(f"option {c}: x0" for c in "ABC"),
            "invalid",
            "more than 2,000 unknowns",
        ),
        (PROGRAM + "\nassert pos(blue) == 1", "inconsistent", ""),
    ],
)
def test_bad_model_output_is_a_verdict_that_says_what_is_wrong(output, status, message):
    result = solve(PUZZLE, target="choice", target_options={"options": OPTIONS}, llm=ScriptedBackend([output]))
    assert result.answer is None and result.verdict.status == status
    assert message in result.verdict.message and (result.verdict.feedback or status == "invalid")


def test_a_repair_round_fixes_an_unknown_name():
    broken = PROGRAM.replace("pos(red) < pos(blue)", "pos(red) < pos(purple)")
    llm = ScriptedBackend([broken, PROGRAM])
    result = solve(PUZZLE, target="choice", target_options={"options": OPTIONS}, llm=llm,
                   strategy=Strategy(samples=1, repair_rounds=1))  # fmt: skip
    assert result.answer.exact == "A" and len(llm.calls) == 2
    repair_prompt = llm.calls[1][0][0].messages[-1].content
    assert "unknown name 'purple'" in repair_prompt


def test_a_solver_timeout_through_solve_is_a_timeout_verdict():
    factoring = ("var p: int\nvar q: int\nassert p > 1 and q > 1\nassert p * q == 1000000016000000063\n"
                 "option A: p < q\noption B: p > q\noption C: p == q")  # fmt: skip
    result = solve(PUZZLE, target="choice", target_options={"options": OPTIONS}, llm=ScriptedBackend([factoring]),
                   timeout=1.0)  # fmt: skip
    assert result.verdict.status == "timeout" and result.answer is None


def test_the_target_refuses_unknown_solvers_and_example_sets():
    with pytest.raises(ConfigurationError, match="unknown solver"):
        ChoiceTarget(solvers=("yices",))
    with pytest.raises(ConfigurationError, match="unknown example set"):
        ChoiceTarget(examples="folio")
    assert len(ChoiceTarget(examples="ar_lsat").request(split_problem(PUZZLE, OPTIONS)).messages) == 1 + 2 * 2 + 1


# ------------------------------------------------------------------------------ the command line


def cassette_for(tmp_path: Path, reply: str, options: str = OPTIONS) -> str:
    path = tmp_path / "choice.jsonl"
    solve(PUZZLE, target="choice", target_options={"options": options},
          llm=RecordingBackend(ScriptedBackend([reply]), path))  # fmt: skip
    return str(path)


def test_cli_solve_prints_the_program_statuses_and_evidence(tmp_path, capsys):
    cassette = cassette_for(tmp_path, PROGRAM)
    code = main(["solve", PUZZLE, "--target", "choice", "--options", OPTIONS, "--llm", f"replay:{cassette}"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("Answer: A  (proved, z3+cvc5)")
    assert "    assert pos(red) < pos(blue)" in out and "[contradicted]" in out and "proof uses:" in out


def test_cli_reads_options_from_the_text_and_takes_one_solver(tmp_path, capsys):
    path = tmp_path / "choice.jsonl"
    text = PUZZLE + " " + OPTIONS
    solve(text, target="choice", target_options={"solvers": ("z3",)},
          llm=RecordingBackend(ScriptedBackend([PROGRAM]), path))  # fmt: skip
    assert main(["solve", text, "--target", "choice", "--solvers", "z3", "--llm", f"replay:{path}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"]["prover"] == "z3" and data["answer"]["exact"] == "A"


def test_cli_without_options_exits_2_with_a_message(tmp_path, capsys):
    cassette = cassette_for(tmp_path, PROGRAM)
    assert main(["solve", PUZZLE, "--target", "choice", "--llm", f"replay:{cassette}"]) == 2
    err = capsys.readouterr().err
    assert "no answer options" in err and "Traceback" not in err


def test_cli_refuses_choice_options_for_another_target(capsys):
    assert main(["solve", "Rex is a dog. Is Rex a dog?", "--options", "A) x B) y", "--llm", "replay:none.jsonl"]) == 2
    assert "--options is an option of --target choice" in capsys.readouterr().err


def test_decoding_is_an_option_fol_and_choice_share(tmp_path, capsys):
    from neurosym.targets.choice import SPEC
    from neurosym.targets.registry import SolveOptions

    assert SPEC.build(SolveOptions(constrained=True, extra={"decoding": "whole"})).decoding == "whole"
    assert SPEC.build(SolveOptions(constrained=True)).decoding == "declare"
    cassette = cassette_for(tmp_path, PROGRAM)
    argv = ["solve", PUZZLE, "--target", "choice", "--options", OPTIONS, "--llm", f"replay:{cassette}"]
    assert main([*argv, "--decoding", "bogus"]) == 2
    assert "decoding must be one of declare, whole, got 'bogus'" in capsys.readouterr().err
    assert main(["solve", "What is 2 + 2?", "--target", "python", "--decoding", "whole", "--llm", "replay:x"]) == 2
    assert "--decoding is an option of --target fol, choice, not of --target python" in capsys.readouterr().err
    assert main(["solve", "Rex is a dog. Is Rex a dog?", "--decoding", "bogus", "--llm", f"replay:{cassette}"]) == 2
    assert "decoding must be one of whole, interleaved, declare, got 'bogus'" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the grammar


def test_the_grammar_allows_the_worked_examples_and_only_programs_that_parse():
    grammar = read_gbnf(program_gbnf())
    recognizer = Recognizer(grammar)
    for example in choice_fewshot_examples():
        assert recognizer.matches(example["program"])
    assert not recognizer.matches("option A: pos(red) = 2")
    assert not recognizer.matches("The answer is A")
    from neurosym.targets.choice.language import _parser

    sampler = Sampler(grammar, seed=11)
    for _ in range(300):
        _parser().parse(sampler.sample() + "\n")  # raises if the grammar allowed a text the language refuses


def test_llama_cpp_reads_the_grammar_and_accepts_a_program():
    try:
        llama = LlamaGrammarCheck()
    except MissingDependencyError as err:
        pytest.skip(f"llama-cpp-python or the small model is not installed: {err}")
    assert llama.compiles(program_gbnf())
    assert llama.accepts(program_gbnf(), [PROGRAM, "option A pos(red)"]) == [True, False]


# ------------------------------------------------------------------------------ the worked examples and the data


def test_worked_examples_answer_their_own_question():
    target = ChoiceTarget(constrained=False)
    for example in choice_fewshot_examples():
        problem = Problem(example["context"], question=example["question"], options=tuple(example["options"]))
        verdict = target.check(target.parse(problem, example["program"]), timeout_s=20)
        assert target.answer_key(verdict) == example["answer"], example["id"]
        assert verdict.details["agree"] is True


def test_no_worked_example_shares_a_puzzle_with_a_dev_item():
    if not LOGIC.exists():
        pytest.skip(f"the shared logic data is not at {LOGIC}")
    dev = json.loads((LOGIC / "LogicalDeduction" / "logic-lm" / "dev.json").read_text(encoding="utf-8"))
    dev_paragraphs = {item["context"].split("\n\n", 1)[1].strip() for item in dev}
    ar_dev = json.loads((LOGIC / "AR-LSAT" / "logic-lm" / "dev.json").read_text(encoding="utf-8"))
    ar_contexts = {item["context"].strip() for item in ar_dev}
    for example in choice_fewshot_examples():
        assert example["context"].strip() not in dev_paragraphs | ar_contexts, example["id"]
        assert "train" in example["source"]
    # The check bites: most dev items do reuse a train paragraph.
    train = json.loads((LOGIC / "LogicalDeduction" / "logic-lm" / "train.json").read_text(encoding="utf-8"))
    train_paragraphs = {item["context"].split("\n\n", 1)[1].strip() for item in train}
    assert sum(item["context"].split("\n\n", 1)[1].strip() in train_paragraphs for item in dev) == 294
    assert parse_program(choice_fewshot_examples()[0]["program"]).cells == 3
