"""Reading programs out of model output (parsing only: nothing runs in this process)."""

import pytest

from neurosym.errors import ParseError
from neurosym.targets.python.translator import build_python_request, extract_program, python_fewshot_examples


def test_fenced_block_with_solution_is_preferred():
    output = "First:\n```python\nx = 1\n```\nThen:\n```python\ndef solution():\n    return 2\n```"
    assert extract_program(output) == "def solution():\n    return 2\n"


def test_unfenced_program_stops_at_trailing_prose():
    output = "Sure.\nimport math\n\ndef solution():\n    return math.floor(2.5)\n\nThis returns 2."
    assert extract_program(output) == "import math\n\ndef solution():\n    return math.floor(2.5)\n"


def test_unclosed_fence_is_read_to_the_end():
    assert extract_program("```python\ndef solution():\n    return 3\n") == "def solution():\n    return 3\n"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("The answer is 12.", "no Python program"),
        ("```python\ndef solution(:\n    return 1\n```", "syntax error at line 1"),
        ("```python\ndef answer():\n    return 1\n```", "defines no function solution()"),
        ("```python\n" + "x = 1\n" * 5000 + "```", "too long"),
        ("```python\ndef solution():\n    return " + "(" * 500 + "1" + ")" * 500 + "\n```", "too many nested"),
    ],
)
def test_unreadable_output_gets_a_reason(output, message):
    with pytest.raises(ParseError, match=message):
        extract_program(output)


def test_nothing_in_the_output_is_executed(tmp_path):
    marker = tmp_path / "ran"
    output = f"```python\nopen({str(marker)!r}, 'w')\ndef solution():\n    return 1\n```"
    extract_program(output)
    assert not marker.exists()


def test_prompt_shows_train_examples_then_the_question():
    request = build_python_request("A  question\nwith lines?", shots=2)
    roles = [m.role for m in request.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert request.messages[-1].content == "Question: A question with lines?"
    assert all(e["source"].startswith("gsm8k train") for e in python_fewshot_examples())


def test_fewshot_programs_compute_their_train_answers(sandbox_available):
    from neurosym.provers.sandbox import Sandbox

    answers = [72, 10, 5, 42]  # GSM8K train, lines 1-4
    with Sandbox() as box:
        got = [box.run(e["program"]).number for e in python_fewshot_examples()]
    assert got == answers
