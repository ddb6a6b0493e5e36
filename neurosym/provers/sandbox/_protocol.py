"""What may cross the sandbox's pipes: strict readers for the child's result and the server's response.

Standard library only: the fork server imports this file inside the jail (as
``/opt/neurosym/_protocol.py``) to read what a child wrote on its result channel, and the host
imports it to read what the server answered. Neither side trusts the other's bytes: every field
is checked for its type, finite numbers and size, unknown fields are dropped, and anything that
does not fit raises :class:`Malformed` (the callers turn that into a ``crashed`` execution).

The child's result may only say how the program ended and what it returned (``status`` ``ok`` or
``error``, ``value``, the exception); what is *measured* (wall and CPU time, stdout, stderr, the
truncation flags, a timeout or a signal) is added by the server afterwards and never read from
the child.

Example:
    >>> clean_result(loads(b'{"status": "ok", "value": {"type": "int", "text": "7", "float": 7}, "wall_s": 0}'))
    {'status': 'ok', 'value': {'type': 'int', 'text': '7', 'float': 7.0}}
    >>> loads(b'{"float": NaN}')
    Traceback (most recent call last):
    ...
    neurosym.provers.sandbox._protocol.Malformed: not JSON: NaN is not allowed

"""

from __future__ import annotations

import ast
import json
import math
from typing import Any

STATUSES = ("ok", "error", "timeout", "memory", "output_limit", "crashed")
CHILD_STATUSES = ("ok", "error")
PHASES = ("compile", "call", "run", "sympy")
MAX_JSON_BYTES = 4 << 20
"""The longest JSON document read from either side (a response holds two capped outputs and a value)."""
MAX_TEXT = 2000
"""Characters kept of a value's text or an exception message."""
MAX_SREPR = 8000
MAX_TRACEBACK = 4000
MAX_NAME = 100
MAX_ITEMS = 50
MAX_OUTPUT_CHARS = 1 << 20
"""The most characters of stdout or stderr a response may carry (the server caps them far lower)."""


class Malformed(ValueError):
    """Bytes or a JSON value that break the sandbox protocol."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is not a finite number")
    return number


def loads(data: bytes | str, limit: int = MAX_JSON_BYTES) -> object:
    """Parse one JSON document; NaN, infinities, overlong numbers and deep nesting raise :class:`Malformed`.

    Example:
        >>> loads(b'[1, 2.5, "x"]')
        [1, 2.5, 'x']

    """
    if len(data) > limit:
        raise Malformed(f"the document is longer than {limit} bytes")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError, MemoryError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Malformed(f"not JSON: {exc}") from None


def dumps(document: dict[str, Any]) -> bytes:
    r"""One JSON line (no NaN: every number written is finite).

    Example:
        >>> dumps({"status": "ok"})
        b'{"status": "ok"}\n'

    """
    return json.dumps(document, allow_nan=False).encode() + b"\n"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(document: dict, key: str, limit: int, *, optional: bool = True) -> str | None:
    value = document.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{key} must be a string, got {type(value).__name__}")
    return _clip(value, limit)


def _number(document: dict, key: str, *, low: float = -math.inf) -> float | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Malformed(f"{key} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise Malformed(f"{key} is too large") from None
    if not math.isfinite(number) or number < low:
        raise Malformed(f"{key} must be a finite number of at least {low}, got {number}")
    return number


def _flag(document: dict, key: str) -> bool:
    value = document.get(key, False)
    if not isinstance(value, bool):
        raise Malformed(f"{key} must be true or false, got {type(value).__name__}")
    return value


def clean_value(value: object, *, nested: bool = False) -> dict[str, Any] | None:
    """A returned value's description (``type``, ``text``, ``float``...) with checked types, or ``None``.

    Example:
        >>> clean_value({"type": "rational", "text": "1/3", "float": 0.3333333333333333, "colour": "red"})
        {'type': 'rational', 'text': '1/3', 'float': 0.3333333333333333}
        >>> clean_value(["not", "a", "dict"])
        Traceback (most recent call last):
        ...
        neurosym.provers.sandbox._protocol.Malformed: value must be an object, got list

    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed(f"value must be an object, got {type(value).__name__}")
    kind = _text(value, "type", MAX_NAME, optional=False)
    clean: dict[str, Any] = {"type": kind, "text": _text(value, "text", MAX_TEXT)}
    if "float" in value:
        clean["float"] = _number(value, "float")
    if "digits" in value:
        digits = value["digits"]
        if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits < 10**12:
            raise Malformed("digits must be a whole number of digits")
        clean["digits"] = digits
    if "srepr" in value:
        clean["srepr"] = _text(value, "srepr", MAX_SREPR)
    if "items" in value:
        items = value["items"]
        if nested or not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise Malformed(f"items must be a list of at most {MAX_ITEMS} values, not nested")
        clean["items"] = [clean_value(item, nested=True) for item in items]
    return clean


def clean_result(result: object) -> dict[str, Any]:
    """What a child may report about its own program: how it ended and what it returned.

    Measured fields a program might try to set (``wall_s``, ``stdout``, ``status: "timeout"``...)
    are not kept or are refused.

    Example:
        >>> clean_result({"status": "error", "exception": "ZeroDivisionError", "message": "boom", "stdout": "x"})
        {'status': 'error', 'exception': 'ZeroDivisionError', 'message': 'boom'}

    """
    if not isinstance(result, dict):
        raise Malformed(f"the result must be an object, got {type(result).__name__}")
    status = result.get("status")
    if status not in CHILD_STATUSES:
        raise Malformed(f"a program's status must be ok or error, got {_clip(repr(status), 40)}")
    clean: dict[str, Any] = {"status": status}
    if "value" in result:
        clean["value"] = clean_value(result["value"])
    for key, limit in (("exception", MAX_NAME), ("message", MAX_TEXT), ("traceback", MAX_TRACEBACK)):
        text = _text(result, key, limit)
        if text is not None:
            clean[key] = text
    if result.get("phase") is not None:
        if result["phase"] not in PHASES:
            raise Malformed("unknown phase")
        clean["phase"] = result["phase"]
    return clean


def clean_response(response: object, *, output_chars: int = MAX_OUTPUT_CHARS) -> dict[str, Any]:
    """A server's response as keyword arguments of ``Execution`` (``details`` included) plus ``restart``.

    ``restart`` is the server's own word that it cannot serve again (its wipe of ``/tmp`` failed);
    ``output_chars`` is the most characters stdout and stderr may hold.

    Example:
        >>> clean_response({"status": "timeout", "wall_s": 1.01, "cpu_s": 0.0, "details": {"swept": 0}})["status"]
        'timeout'

    """
    if not isinstance(response, dict):
        raise Malformed(f"the response must be an object, got {type(response).__name__}")
    status = response.get("status")
    if status not in STATUSES:
        raise Malformed(f"unknown status {_clip(repr(status), 40)}")
    clean: dict[str, Any] = {"status": status, "value": clean_value(response.get("value"))}
    for key in ("stdout", "stderr"):
        text = _text(response, key, MAX_OUTPUT_CHARS) or ""
        if len(text) > output_chars:
            raise Malformed(f"{key} is longer than the {output_chars} characters allowed")
        clean[key] = text
    for key in ("stdout_truncated", "stderr_truncated"):
        clean[key] = _flag(response, key)
    clean["exception"] = _text(response, "exception", MAX_NAME)
    clean["message"] = _text(response, "message", MAX_TEXT + 200) or ""
    clean["traceback"] = _text(response, "traceback", MAX_TRACEBACK) or ""
    for key in ("wall_s", "cpu_s"):
        clean[key] = _number(response, key, low=0.0) or 0.0
    details = response.get("details", {})
    if not isinstance(details, dict):
        raise Malformed("details must be an object")
    clean["details"] = {}
    for key in ("signal", "phase"):
        detail = _text(details, key, MAX_NAME)
        if detail is not None:
            clean["details"][key] = detail
    swept = details.get("swept")
    if swept is not None:
        if isinstance(swept, bool) or not isinstance(swept, int) or not 0 <= swept < 1 << 31:
            raise Malformed("swept must be a count")
        clean["details"]["swept"] = swept
    restart = _text(response, "restart", MAX_TEXT)
    if restart is not None:
        clean["details"]["restart"] = restart
    return clean


# Names an expression given to ``sympy_equal`` may call, and constants it may name; any other name
# is a plain symbol. Nothing else is allowed: no attributes, subscripts, strings, keywords, lambdas.
EXPRESSION_FUNCTIONS = frozenset({
    "sqrt", "cbrt", "root", "exp", "log", "ln", "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos",
    "atan", "acot", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "Abs", "abs", "floor",
    "ceiling", "ceil", "factorial", "binomial", "gamma", "Min", "Max", "min", "max", "re", "im", "sign",
    "gcd", "lcm", "Mod", "mod", "conjugate", "erf", "Rational", "Integer", "pow",
})  # fmt: skip
EXPRESSION_CONSTANTS = frozenset({"pi", "E", "I", "oo", "zoo", "nan", "EulerGamma", "GoldenRatio", "Catalan"})
MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_NODES = 400


def expression_source(text: str) -> str:
    """The text that :func:`expression_tree` parses: ``^`` is a power, as in SymPy (no string can hold one).

    Example:
        >>> expression_source(" x^2 + 1 ")
        'x**2 + 1'

    """
    return text.strip().replace("^", "**")


def expression_tree(text: object) -> ast.Expression:
    """The syntax tree of a SymPy expression in the closed arithmetic grammar (``ast.Expression``); raises Malformed.

    Only numbers, names, ``+ - * / ** ^``, parentheses and calls of :data:`EXPRESSION_FUNCTIONS`
    with positional arguments are allowed, so building the expression runs no code of the text's
    author (SymPy's own ``sympify`` would ``eval`` it).

    Example:
        >>> type(expression_tree("sqrt(2)/2 + x**2")).__name__
        'Expression'
        >>> expression_tree("__import__('os').system('true')")
        Traceback (most recent call last):
        ...
        neurosym.provers.sandbox._protocol.Malformed: only the known functions may be called, with positional arguments
        >>> expression_tree("x.__class__")
        Traceback (most recent call last):
        ...
        neurosym.provers.sandbox._protocol.Malformed: Attribute is not allowed in an expression

    """
    if not isinstance(text, str) or not text.strip():
        raise Malformed("the expression must be a non-empty string")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise Malformed(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression_source(text), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise Malformed(f"not an expression: {type(exc).__name__}") from None
    allowed_ops = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.UAdd, ast.USub, ast.Load)
    nodes = 0
    for node in ast.walk(tree):
        nodes += 1
        if nodes > MAX_EXPRESSION_NODES:
            raise Malformed(f"the expression has more than {MAX_EXPRESSION_NODES} parts")
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise Malformed(f"names may not start with an underscore: {node.id}")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise Malformed(f"only numbers may appear literally, not {type(node.value).__name__}")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in EXPRESSION_FUNCTIONS or node.keywords:
                raise Malformed("only the known functions may be called, with positional arguments")
            if any(isinstance(arg, ast.Starred) for arg in node.args):
                raise Malformed("no starred arguments")
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, *allowed_ops)):
            raise Malformed(f"{type(node).__name__} is not allowed in an expression")
    return tree
