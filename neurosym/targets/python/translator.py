r"""Word problems to Python programs (program-aided reasoning): the prompt and reading the program back.

The model is shown a few worked examples (questions from GSM8K *train*, never test; programs
written for neurosym, in ``neurosym/targets/python/fewshot.json``) and asked for a function
``solution()`` that computes and returns the answer. :func:`extract_program` reads the program
out of chatty output (a fenced block, or the code between prose) and checks its syntax with
:mod:`ast`, which parses without running anything; the program itself only ever runs in
:mod:`neurosym.sandbox`.

Example:
    >>> extract_program("Here you go:\n```python\ndef solution():\n    return 2 + 2\n```\nHope it helps!")
    'def solution():\n    return 2 + 2\n'

"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from neurosym.errors import ParseError
from neurosym.translators.base import GenerationRequest, Message

__all__ = ["ENTRY_POINT", "MAX_PROGRAM_CHARS", "build_python_request", "extract_program", "python_fewshot_examples"]

ENTRY_POINT = "solution"
MAX_PROGRAM_CHARS = 20_000
SYSTEM_PROMPT = (
    "You solve math word problems by writing a Python program. Write one function, solution(), that "
    "computes the answer step by step with one variable per quantity in the problem and returns the final "
    "answer as a number. Use only the standard library (math, fractions) or sympy. Do not print; return. "
    "Answer with the program in one ```python block and nothing else."
)

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_CODE_START = re.compile(r"^(?:def |import |from |async def |@)")


@cache
def python_fewshot_examples() -> tuple[dict[str, Any], ...]:
    """The worked examples (GSM8K train questions with neurosym's programs) shown to the model.

    Example:
        >>> all(e["program"].startswith("def solution():") for e in python_fewshot_examples())
        True

    """
    text = resources.files("neurosym.targets.python").joinpath("fewshot.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["examples"])


def build_python_request(question: str, *, shots: int | None = None) -> GenerationRequest:
    """The chat prompt: the instructions, the worked examples as earlier turns, then ``question``.

    Example:
        >>> r = build_python_request("Tom has 3 apples and eats one. How many are left?")
        >>> r.messages[0].role, r.messages[-1].content.startswith("Question: Tom")
        ('system', True)

    """
    examples = python_fewshot_examples()[:shots]
    messages = [Message("system", SYSTEM_PROMPT)]
    for example in examples:
        messages.append(Message("user", f"Question: {example['question']}"))
        messages.append(Message("assistant", f"```python\n{example['program']}```"))
    messages.append(Message("user", f"Question: {' '.join(question.split())}"))
    return GenerationRequest(tuple(messages))


def extract_program(output: str, *, entry_point: str = ENTRY_POINT) -> str:
    r"""The program in a model's output, syntax-checked; raises :class:`ParseError` with the reason.

    Takes the first fenced block that defines ``entry_point`` (or else the first fenced block),
    or, without fences, the lines from the first ``def``/``import`` to the last line of code.

    Example:
        >>> extract_program("def solution():\n    return 1\n\nThe answer is 1.")
        'def solution():\n    return 1\n'
        >>> extract_program("The answer is 4.")
        Traceback (most recent call last):
        ...
        neurosym.errors.ParseError: no Python program in the output (expected a ```python block with def solution())

    """
    blocks = [m.group(1) for m in _FENCE.finditer(output)]
    if blocks:
        code = next((b for b in blocks if f"def {entry_point}" in b), blocks[0])
    else:
        code = _unfenced_code(output)
    code = code.strip("\n") + "\n"
    if not code.strip():
        raise ParseError(f"no Python program in the output (expected a ```python block with def {entry_point}())")
    if len(code) > MAX_PROGRAM_CHARS:
        raise ParseError(f"the program is too long: {len(code):,} characters (limit {MAX_PROGRAM_CHARS:,})")
    try:
        tree = ast.parse(code)  # parses only; nothing runs
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        shown = (exc.text or "").rstrip()
        shown = shown if len(shown) <= 120 else shown[:119] + "…"
        raise ParseError(f"syntax error at {where}: {exc.msg}" + (f"\n    {shown}" if shown else "")) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ParseError(f"the program cannot be parsed: {type(exc).__name__}: {exc}") from None
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if entry_point not in defined:
        raise ParseError(f"the program defines no function {entry_point}() at the top level")
    return code


def _unfenced_code(output: str) -> str:
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return ""
    kept: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line[0].isspace() and not _CODE_START.match(line) and not _looks_like_code(line):
            break  # prose after the program
        kept.append(line)
    return "\n".join(kept)


def _looks_like_code(line: str) -> bool:
    if line.startswith(("#", "return", "print(", "if ", "for ", "while ", "class ")):
        return True
    try:
        ast.parse(line)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return bool(re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*(=|\()", line))
