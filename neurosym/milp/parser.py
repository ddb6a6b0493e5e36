r"""Read the MILP modeling language the translator writes into a :class:`~neurosym.milp.syntax.Model`.

A model is a few lines of text, one statement per line (or separated by ``;``)::

    integer sled, truck            # variables are >= 0 unless bounds say otherwise
    continuous x in [0, 10]        # or: x >= 2 <= 8, x <= 8, x free
    binary open_a, open_b

    maximize fish: 100 sled + 300 truck
    subject to                     # optional header
    budget: 50 sled + 100 truck <= 1000
    fewer: sled < truck            # strict only between integer expressions (becomes <= truck - 1)
    share: x >= 20% (x + sled)     # a percentage is a number
    range: 2 <= sled - x <= 9      # a chained comparison is two constraints
    if open_a then x >= 3          # if-then on a binary: also "if not b", "if b = 0"
    if open_a then open_b = 1      # implication between binaries
    either: sled <= 2 or truck >= 4   # either-or: at least one comparison holds
    at most 1 of open_a, open_b    # also "at least k of", "exactly k of" (binaries)

Expressions are linear: sums of numbers times variables, with ``+ - * /``, brackets and ``^``
on numbers. A product of two variables, a variable in a divisor or under a power is refused,
and the error names the term. Names are letters, digits and ``_``; ``#`` and ``//`` start
comments. Variables default to ``>= 0``, as in the LP file format; write ``free`` for no bound.

:func:`parse_model` never evaluates text: the lark parser (the grammar is ``milp.lark`` beside
this file) reads it into a :class:`~neurosym.milp.syntax.Model`, whose constraints are
:class:`~neurosym.milp.syntax.Comparison`, :class:`~neurosym.milp.syntax.Indicator`,
:class:`~neurosym.milp.syntax.Disjunction` or :class:`~neurosym.milp.syntax.Cardinality`.
Every failure is a :class:`~neurosym.errors.ParseError` with the line, the column and the reason.

Example:
    >>> m = parse_model("integer x, y\nmaximize 3x + 2y\nx + y <= 4\nx <= 3")
    >>> m.sense, m.objective.render(), [c.render() for c in m.constraints]
    ('maximize', '3 x + 2 y', ['x + y <= 4', 'x <= 3'])

"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Literal

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from neurosym._lark_errors import error_at, translate
from neurosym.errors import ParseError
from neurosym.milp.syntax import (
    Cardinality,
    Comparison,
    Constraint,
    Disjunction,
    Indicator,
    LinearExpr,
    Model,
    Sense,
    Variable,
    VarKind,
)

__all__ = ["MAX_ABS_COEFFICIENT", "MAX_MODEL_CHARS", "grammar_text", "parse_model"]

MAX_MODEL_CHARS = 50_000
"""Longest model text accepted."""
MAX_ABS_COEFFICIENT = 1e12
"""Largest magnitude of a number in a model; beyond it double-precision solvers lose the answer."""
_SENSES: dict[str, Sense | Literal["<", ">"]] = {  # "<" and ">" live until _Reader.finish tightens them
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
    "=": "==",
    "==": "==",
    "<": "<",
    ">": ">",
}
_VAR_KINDS: dict[str, VarKind] = {"integer": "integer", "continuous": "continuous", "binary": "binary"}
_OBJECTIVE_SENSES: dict[str, Literal["maximize", "minimize"]] = {
    "maximize": "maximize",
    "maximise": "maximize",
    "minimize": "minimize",
    "minimise": "minimize",
}
_CARDINALITY_KINDS: dict[str, Literal["at most", "at least", "exactly"]] = {
    "at most": "at most",
    "at least": "at least",
    "exactly": "exactly",
}
_TOKEN_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "REL": "<=, >= or =",
    "LE": "<=",
    "GE": ">=",
    "EQ": "=",
    "PLUS": "+",
    "MINUS": "-",
    "STAR": "*",
    "SLASH": "/",
    "POW": "^",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "COLON": ":",
    "_NL": "a new line",
    "SEMICOLON": ";",
    "VAR_KIND": "integer/continuous/binary",
    "SENSE": "maximize/minimize",
    "OR": "or",
    "IF": "if",
    "THEN": "then",
    "OF": "of",
    "NOT": "not",
    "CARDINALITY": "at most/at least/exactly",
    "SUBJECT_TO": "subject to",
    "FREE": "free",
    "INF": "inf",
    "SIGN": "a sign",
    "LSQB": "[",
    "RSQB": "]",
    "IN": "in",
    "PERCENT": "%",
}


def grammar_text() -> str:
    """The lark grammar of the modeling language.

    Example:
        >>> "relation" in grammar_text()
        True

    """
    return resources.files("neurosym.milp").joinpath("milp.lark").read_text(encoding="utf-8")


@cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=False)


class _NonLinear(Exception):
    def __init__(self, message: str, node: Tree | Token):
        super().__init__(message)
        self.node = node


def _position(node: Tree | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.line or 1, node.column or 1
    meta = node.meta
    return (getattr(meta, "line", 1) or 1), (getattr(meta, "column", 1) or 1)


def _span(node: Tree | Token, text: str) -> str:
    if isinstance(node, Token):
        return str(node)
    meta = node.meta
    if getattr(meta, "empty", True):
        return ""
    return " ".join(text[meta.start_pos : meta.end_pos].split())


class _Reader:
    """Walks the parse tree into a :class:`Model`, checking everything the grammar cannot."""

    def __init__(self, text: str):
        self.text = text
        self.variables: dict[str, Variable] = {}
        self.declared_at: dict[str, int] = {}
        self.objective: tuple[Literal["maximize", "minimize"], str, LinearExpr, int] | None = None
        self.constraints: list[Constraint] = []
        self.constraint_lines: dict[str, int] = {}
        self.mentions: list[tuple[str, Tree | Token]] = []
        self.strict: list[tuple[Comparison, Tree]] = []
        self.explicit_names: set[str] = set()

    def fail(self, message: str, node: Tree | Token) -> ParseError:
        return error_at(message, self.text, *_position(node))

    # -- numbers and expressions ------------------------------------------------------------
    def number(self, token: Token | Tree) -> float:
        if not isinstance(token, Token):  # pragma: no cover - the grammar puts a number token here
            raise self.fail(f"expected a number, got {_span(token, self.text)!r}", token)
        value = float(str(token))
        if not math.isfinite(value) or abs(value) > MAX_ABS_COEFFICIENT:
            raise self.fail(
                f"the number {token} is too large (the limit is {MAX_ABS_COEFFICIENT:g}); change the units", token
            )
        return value

    def expr(self, node: Tree | Token) -> LinearExpr:
        try:
            result = self._expr(node)
        except _NonLinear as err:
            raise self.fail(str(err), err.node) from None
        for _, coef in result.terms:
            if not math.isfinite(coef) or abs(coef) > MAX_ABS_COEFFICIENT:
                raise self.fail(f"a coefficient of {_span(node, self.text)!r} is too large ({coef:g})", node)
        if not math.isfinite(result.constant) or abs(result.constant) > MAX_ABS_COEFFICIENT:
            raise self.fail(f"the constant of {_span(node, self.text)!r} is too large ({result.constant:g})", node)
        return result

    def _expr(self, node: Tree | Token) -> LinearExpr:
        if isinstance(node, Token):  # pragma: no cover - every token is wrapped by a rule
            raise _NonLinear(f"unexpected {node!s}", node)
        rule = node.data
        kids = node.children
        if rule == "number":
            return LinearExpr((), self.number(kids[0]))
        if rule == "percent":
            return LinearExpr((), self.number(kids[0]) / 100.0)
        if rule == "name":
            self.mentions.append((str(kids[0]), kids[0]))
            return LinearExpr(((str(kids[0]), 1.0),))
        if rule == "group":
            return self._expr(kids[1])
        if rule == "neg":
            return LinearExpr.combine([(self._expr(kids[1]), -1.0)])
        if rule == "factor":  # unary plus
            return self._expr(kids[-1])
        if rule in ("add", "sub"):
            left, right = self._expr(kids[0]), self._expr(kids[2])
            return LinearExpr.combine([(left, 1.0), (right, 1.0 if rule == "add" else -1.0)])
        if rule == "mul":
            left, right = self._expr(kids[0]), self._expr(kids[-1])
            if left.terms and right.terms:
                raise _NonLinear(
                    f"the term {_span(node, self.text)!r} multiplies variables together; the model must be linear "
                    "(introduce a variable for the product, or use a binary with an if-then constraint)",
                    node,
                )
            scale, expr = (left.constant, right) if not left.terms else (right.constant, left)
            return LinearExpr.combine([(expr, scale)])
        if rule == "div":
            left, right = self._expr(kids[0]), self._expr(kids[2])
            if right.terms:
                raise _NonLinear(
                    f"the term {_span(node, self.text)!r} divides by a variable; the model must be linear "
                    "(multiply both sides of the constraint by the divisor instead)",
                    node,
                )
            if right.constant == 0:
                raise _NonLinear(f"the term {_span(node, self.text)!r} divides by zero", node)
            return LinearExpr.combine([(left, 1.0 / right.constant)])
        if rule == "pow":
            base, exponent = self._expr(kids[0]), self._expr(kids[2])
            if exponent.terms:
                raise _NonLinear(f"the term {_span(node, self.text)!r} has a variable in an exponent", node)
            if base.terms:
                if exponent.constant == 1:
                    return base
                raise _NonLinear(
                    f"the term {_span(node, self.text)!r} raises a variable to a power; the model must be linear",
                    node,
                )
            try:
                value = float(base.constant**exponent.constant)
            except (OverflowError, ZeroDivisionError, TypeError):
                value = math.inf
            if isinstance(value, complex) or not math.isfinite(value):
                raise _NonLinear(f"the term {_span(node, self.text)!r} is not a finite real number", node)
            return LinearExpr((), value)
        raise _NonLinear(f"cannot read {_span(node, self.text)!r}", node)  # pragma: no cover

    # -- statements ---------------------------------------------------------------------------
    def statement(self, node: Tree) -> None:
        handler = getattr(self, f"on_{node.data}", None)
        if handler is None:  # pragma: no cover - the grammar has no other statements
            raise self.fail(f"unknown statement {node.data}", node)
        handler(node)

    def on_header(self, node: Tree) -> None:
        return None

    def on_var_decl(self, node: Tree) -> None:
        kind = _VAR_KINDS[str(node.children[0]).lower()]
        names = [tok for tok in node.children[1].children if isinstance(tok, Token)]  # the grammar: NAME tokens
        lower: float | None = 0.0
        upper: float | None = None
        if len(node.children) > 2:
            lower, upper = self.bounds(node.children[2])
        if kind == "binary":
            lower, upper = 0.0, 1.0
        if lower is not None and upper is not None and lower > upper:
            raise self.fail(f"the bounds of {', '.join(map(str, names))} are empty: {lower:g} > {upper:g}", node)
        for tok in names:
            name = str(tok)
            if name in self.variables:
                raise self.fail(f"variable {name!r} is declared twice (first on line {self.declared_at[name]})", tok)
            self.variables[name] = Variable(name, kind, lower, upper)
            self.declared_at[name] = tok.line or 0

    def bound(self, node: Tree) -> float | None:
        sign = -1.0 if any(str(t) in ("-",) for t in node.children[:-1]) else 1.0
        last = node.children[-1]
        if isinstance(last, Token) and last.type == "INF":
            return None
        return sign * self.number(last)

    def bounds(self, node: Tree) -> tuple[float | None, float | None]:
        rule = node.data
        if rule == "free":
            return None, None
        values = [self.bound(kid) for kid in node.children if isinstance(kid, Tree)]
        if rule == "upper_bound":
            return 0.0, values[0]
        if rule == "lower_bound":
            return values[0], values[1] if len(values) > 1 else None
        return values[0], values[1]  # box

    def on_objective(self, node: Tree) -> None:
        if self.objective is not None:
            raise self.fail(f"a second objective (the first is on line {self.objective[3]}); keep one", node)
        kids = [k for k in node.children if not (isinstance(k, Token) and k.type == "COLON")]
        sense = _OBJECTIVE_SENSES[str(kids[0]).lower()]
        name = str(kids[1]) if len(kids) == 3 else ""
        self.objective = (sense, name, self.expr(kids[-1]), _position(node)[0])

    def free_name(self, base: str) -> str:
        """``base``, or ``base`` with ``b``, ``c``... appended, avoiding every name already used.

        It also avoids the names the model writes on later lines, so that a name neurosym makes up
        never takes one the model chose.
        """
        name, k = base, 0
        while name in self.constraint_lines or name in self.explicit_names:
            k += 1
            name = f"{base}{chr(ord('a') + k)}" if k < 26 else f"{base}n{k}"
        return name

    def auto_name(self, line: int) -> str:
        """``c<line>``, or ``c<line>b``, ``c<line>c``... where the model writes that name itself."""
        return self.free_name(f"c{line}")

    def on_constraint_decl(self, node: Tree) -> None:
        kids = [k for k in node.children if not (isinstance(k, Token) and k.type == "COLON")]
        line = _position(node)[0]
        name = str(kids[0]) if len(kids) == 2 else self.auto_name(line)
        if name in self.constraint_lines:
            # A name is only a label and constraints are a conjunction, so a repeated one (models
            # write "demand" for two products) keeps both constraints; the later is renamed.
            name = self.free_name(f"{name}_{line}")
        self.constraint_lines[name] = line
        body = kids[-1]
        if body.data == "relation":
            parts = self.relation(body, name, line)
            self.constraints.append(parts[0])
            if len(parts) > 1:
                second = self.free_name(f"{name}_2")
                self.constraint_lines[second] = line
                self.constraints.append(Comparison(parts[1].expr, parts[1].sense, parts[1].rhs, second, line))
        elif body.data == "either":
            options = []
            for kid in (k for k in body.children if isinstance(k, Tree)):
                parts = self.relation(kid, name, line)
                if len(parts) > 1:
                    raise self.fail(
                        "an option of either-or must be a single comparison, not a chained one (both halves "
                        "would have to hold); use a binary with if-then constraints instead",
                        kid,
                    )
                options += parts
            self.constraints.append(Disjunction(tuple(options), name, line))
        elif body.data == "if_then":
            condition = body.children[1]
            binary = condition.children[-1] if condition.data == "negated_literal" else condition.children[0]
            value = 0 if condition.data == "negated_literal" else 1
            if condition.data == "literal" and len(condition.children) == 3:
                written = self.number(condition.children[2])
                if written not in (0.0, 1.0):
                    raise self.fail(f"a binary is 0 or 1, not {written:g}", condition.children[2])
                value = int(written)
            self.mentions.append((str(binary), binary))
            then = tuple(self.relation(body.children[3], name, line))
            self.constraints.append(Indicator(str(binary), value, then, name, line))
        else:  # cardinality
            kind = _CARDINALITY_KINDS[" ".join(str(body.children[0]).lower().split())]
            k = self.number(body.children[1])
            if k != int(k) or k < 0:
                raise self.fail(f"{kind} needs a whole number, not {body.children[1]}", body.children[1])
            binaries = tuple(str(t) for t in body.children[3].children)
            for tok in body.children[3].children:
                self.mentions.append((str(tok), tok))
            self.constraints.append(Cardinality(kind, int(k), binaries, name, line))

    def relation(self, node: Tree, name: str, line: int) -> list[Comparison]:
        kids = node.children
        exprs = [self.expr(kid) for kid in kids[0::2]]
        senses = [_SENSES[str(tok)] for tok in kids[1::2]]
        if len(senses) == 2 and (senses[0] != senses[1] or senses[0] not in ("<=", ">=")):
            raise self.fail("a chained comparison must run one way with <= or >= (as in 0 <= x + y <= 10)", kids[1])
        out = []
        for i, sense in enumerate(senses):
            diff = LinearExpr.combine([(exprs[i], 1.0), (exprs[i + 1], -1.0)])
            if not diff.terms:
                raise self.fail(f"the comparison {_span(node, self.text)!r} has no variables on either side", node)
            # A strict sense ("<", ">") outside Sense stays only until finish() tightens it (self.strict).
            out.append(Comparison(LinearExpr(diff.terms), sense, -diff.constant, name, line))  # type: ignore[arg-type]
            if sense in ("<", ">"):
                self.strict.append((out[-1], node))
        return out

    def tighten(self, c: Comparison) -> Comparison:
        """A strict comparison as a non-strict one: exact only where both sides take whole values."""
        if c.sense not in ("<", ">"):
            return c
        node = next(n for s, n in self.strict if s is c)
        whole = all(self.variables[n].integral and float(coef).is_integer() for n, coef in c.expr.terms)
        if not whole:
            raise self.fail(
                f"the strict comparison {_span(node, self.text)!r} involves continuous quantities, which a solver "
                "cannot keep strictly apart; use <= or >=",
                node,
            )
        if c.sense == "<":
            return Comparison(c.expr, "<=", float(math.ceil(c.rhs) - 1), c.name, c.line)
        return Comparison(c.expr, ">=", float(math.floor(c.rhs) + 1), c.name, c.line)

    # -- the whole model ----------------------------------------------------------------------
    def finish(self) -> Model:
        if not self.variables:
            raise ParseError(
                "the model declares no variables; declare them first, e.g. 'integer x, y' or 'continuous z'",
                line=1,
                column=1,
                excerpt="",
                reason="no variables",
                text=self.text[:2000],
            )
        unknown = [(name, tok) for name, tok in self.mentions if name not in self.variables]
        if unknown:
            names = sorted({name for name, _ in unknown})
            raise self.fail(
                f"unknown variable{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))}: declare "
                f"{'them' if len(names) > 1 else 'it'} with integer, continuous or binary",
                unknown[0][1],
            )
        self.constraints = [self._tightened(c) for c in self.constraints]
        for c in self.constraints:
            if isinstance(c, Indicator) and self.variables[c.binary].kind != "binary":
                raise self.fail(
                    f"constraint {c.name!r}: the condition of 'if' must be a binary variable, and "
                    f"{c.binary!r} is {self.variables[c.binary].kind}",
                    self._line_token(c.line),
                )
            if isinstance(c, Cardinality):
                not_binary = [b for b in c.binaries if self.variables[b].kind != "binary"]
                if not_binary:
                    raise self.fail(
                        f"constraint {c.name!r}: {c.kind} counts binary variables, and "
                        f"{', '.join(map(repr, not_binary))} {'is' if len(not_binary) == 1 else 'are'} not binary",
                        self._line_token(c.line),
                    )
        if self.objective is None:
            raise ParseError(
                "the model has no objective; add a line such as 'maximize profit: 3 x + 2 y'",
                line=1,
                column=1,
                excerpt="",
                reason="no objective",
                text=self.text[:2000],
            )
        sense, name, expr, _ = self.objective
        return Model(
            tuple(self.variables.values()),
            sense,
            expr,
            tuple(self.constraints),
            name,
            self.text,
        )

    def _tightened(self, c: Constraint) -> Constraint:
        if isinstance(c, Comparison):
            return self.tighten(c)
        if isinstance(c, Indicator):
            return Indicator(c.binary, c.value, tuple(map(self.tighten, c.then)), c.name, c.line)
        if isinstance(c, Disjunction):
            return Disjunction(tuple(map(self.tighten, c.options)), c.name, c.line)
        return c

    def _line_token(self, line: int) -> Token:
        return Token("NAME", "", line=line, column=1)


def parse_model(text: str) -> Model:
    r"""Read a model written in the modeling language.

    Raises:
        ParseError: malformed text, an unknown or twice-declared variable, a repeated constraint
            name, a nonlinear term (named), a number out of range, a missing objective; the error
            carries ``line``, ``column`` and an ``excerpt``.

    Example:
        >>> parse_model("integer x\nmaximize x * x")
        Traceback (most recent call last):
        ...
        neurosym.errors.ParseError: the term 'x * x' multiplies variables together; ...

    """
    if not isinstance(text, str):
        raise ParseError(f"a model must be a string, not {type(text).__name__}")
    if not text.strip():
        raise ParseError("empty model: nothing to read", line=1, column=1, excerpt="", reason="empty", text="")
    if len(text) > MAX_MODEL_CHARS:
        raise ParseError(
            f"model too long: {len(text):,} characters (the limit is {MAX_MODEL_CHARS:,})",
            line=1,
            column=1,
            excerpt="",
            reason="too long",
            text=text[:200] + "…",
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        raise translate(err, text, _TOKEN_NAMES, what="model") from None
    except RecursionError:
        raise ParseError("the model is nested too deeply", line=1, column=1, excerpt="", text=text[:200]) from None
    reader = _Reader(text)
    reader.explicit_names = {  # so that an automatic name never takes one the model writes later
        str(node.children[0])
        for node in tree.children
        if isinstance(node, Tree)
        and node.data == "constraint_decl"
        and isinstance(node.children[0], Token)
        and node.children[0].type == "NAME"
    }
    try:
        for statement in tree.children:
            if isinstance(statement, Tree):
                reader.statement(statement)
    except RecursionError:
        raise ParseError("an expression is nested too deeply", line=1, column=1, excerpt="", text=text[:200]) from None
    return reader.finish()
