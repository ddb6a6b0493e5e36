r"""A MILP model as MathML, built from the parsed model (no LaTeX step, no JavaScript).

Browsers draw MathML Core themselves, so the page needs nothing fetched or bundled to show the
model as mathematics. Every name and number is escaped here; the result is safe to put in a page.
(``latex2mathml`` over :func:`~neurosym.milp.report.model_latex` was tried: it does not know the
``aligned`` environment and writes its ``&`` column marks as raw text.)

Example:
    >>> from neurosym.milp.parser import parse_model
    >>> markup = model_mathml(parse_model("integer x\nmaximize 2 x\ncap: x <= 4"))
    >>> markup.startswith('<math display="block"'), "<mi>x</mi>" in markup, "<mo>≤</mo>" in markup
    (True, True, True)

"""

from __future__ import annotations

from markupsafe import Markup, escape

from neurosym.milp.syntax import Cardinality, Comparison, Disjunction, Indicator, LinearExpr, Model, Variable

__all__ = ["expression_mathml", "model_mathml"]

_SENSE = {"<=": "≤", ">=": "≥", "==": "="}
_TIMES = "<mo lspace='0.15em' rspace='0'>\u2062</mo>"  # invisible times, with a thin space before a long name


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def _mn(value: float) -> str:
    return f"<mn>{escape(_number(value))}</mn>"


def _mi(name: str) -> str:
    return f"<mi>{escape(name)}</mi>"


def _mo(symbol: str) -> str:
    return f"<mo>{escape(symbol)}</mo>"


def expression_mathml(expr: LinearExpr) -> Markup:
    """A linear expression as a MathML ``mrow`` (coefficients, invisible times, variables).

    Example:
        >>> markup = expression_mathml(LinearExpr((("x", 2.0), ("y", -1.0)), 3.0))
        >>> markup.startswith("<mrow><mn>2</mn>"), markup.endswith("<mi>y</mi><mo>+</mo><mn>3</mn></mrow>")
        (True, True)

    """
    parts: list[str] = []
    for index, (name, coef) in enumerate(expr.terms):
        if coef < 0:
            parts.append(_mo("−"))
        elif index:
            parts.append(_mo("+"))
        if abs(coef) != 1:
            parts += [_mn(abs(coef)), _TIMES]
        parts.append(_mi(name))
    if expr.constant or not parts:
        if expr.constant < 0:
            parts.append(_mo("−"))
        elif parts:
            parts.append(_mo("+"))
        parts.append(_mn(abs(expr.constant)))
    return Markup("<mrow>" + "".join(parts) + "</mrow>")


def _comparison(c: Comparison) -> str:
    return f"<mrow>{expression_mathml(c.expr)}{_mo(_SENSE[c.sense])}{_mn(c.rhs)}</mrow>"


def _constraint(c: object) -> str:
    if isinstance(c, Comparison):
        return _comparison(c)
    if isinstance(c, Cardinality):
        return _comparison(c.as_comparison())
    if isinstance(c, Indicator):
        then = _mo("∧").join(_comparison(p) for p in c.then)
        return f"<mrow>{_mi(c.binary)}{_mo('=')}{_mn(c.value)}{_mo('⇒')}{then}</mrow>"
    assert isinstance(c, Disjunction)
    return "<mrow>" + _mo("∨").join(_comparison(p) for p in c.options) + "</mrow>"


def _domain(v: Variable) -> str:
    if v.kind == "binary":
        return f"<mrow>{_mi(v.name)}{_mo('∈')}<mo>{{</mo><mn>0</mn><mo>,</mo><mn>1</mn><mo>}}</mo></mrow>"
    integers = "<mi mathvariant='normal'>ℤ</mi>"
    if v.lower == 0 and v.upper is None:
        if v.kind == "integer":
            return f"<mrow>{_mi(v.name)}{_mo('∈')}<msub>{integers}<mrow>{_mo('≥')}<mn>0</mn></mrow></msub></mrow>"
        return f"<mrow>{_mi(v.name)}{_mo('≥')}<mn>0</mn></mrow>"
    if v.lower is None and v.upper is None:
        bounds = f"{_mi(v.name)}{_mo('∈')}<mi mathvariant='normal'>ℝ</mi>"
    else:
        low = _mo("−∞") if v.lower is None else _mn(v.lower)
        high = _mo("∞") if v.upper is None else _mn(v.upper)
        bounds = f"{low}{_mo('≤')}{_mi(v.name)}{_mo('≤')}{high}"
    whole = f"<mo>,</mo><mspace width='0.3em'/>{_mi(v.name)}{_mo('∈')}{integers}" if v.kind == "integer" else ""
    return f"<mrow>{bounds}{whole}</mrow>"


def _row(lead: str, body: str, label: str = "") -> str:
    label_cell = f"<mtext>({escape(label)})</mtext>" if label else ""
    return f"<mtr><mtd>{lead}</mtd><mtd>{body}</mtd><mtd>{label_cell}</mtd></mtr>"


def model_mathml(model: Model) -> Markup:
    r"""The model as a MathML table: the objective, one row per named constraint, the variables' domains.

    Example:
        >>> from neurosym.milp.parser import parse_model
        >>> model_mathml(parse_model("binary b\nmaximize b\npick: at most 1 of b")).count("<mtr>")
        3

    """
    sense = "max" if model.sense == "maximize" else "min"
    rows = [_row(f"<mi>{sense}</mi>", str(expression_mathml(model.objective)), model.objective_name)]
    for index, c in enumerate(model.constraints):
        lead = "<mtext>subject to</mtext>" if index == 0 else ""
        rows.append(_row(lead, _constraint(c), c.name))
    if model.variables:
        domains = "<mo>,</mo><mspace width='0.5em'/>".join(_domain(v) for v in model.variables)
        rows.append(_row("", f"<mrow>{domains}</mrow>"))
    table = "<mtable columnalign='right left left' columnspacing='1em' rowspacing='0.4em'>" + "".join(rows)
    return Markup(f'<math display="block" class="model">{table}</mtable></math>')
