r"""FOL decoders: the answer's fixed text written by neurosym, and the signature declared before the formulas.

Two decoders for the FOL target (:class:`~neurosym.targets.fol.target.FolTarget` ``decoding=``):

* ``"interleaved"`` (:func:`interleaved_decoder`): today's layout (see
  :mod:`neurosym.targets.fol.translator`), but the premise sentences, ``"FOL: "`` and the headers
  are inserted by neurosym and only evaluated as prompt; the model writes only the formulas.
* ``"declare"`` (:func:`declare_decoder`): the model first writes the signature it will use,
  each predicate with its arguments and a gloss, then the constants::

      Predicates:
      Dog(x): x is a dog
      Owns(x, y): x owns y
      Constants: rex, tom
      Premises:
      1. Rex is a dog.
      FOL: Dog(rex)
      ...

  and then the formulas, each under a grammar compiled from that signature
  (:func:`signature_formula_gbnf`): a predicate only with its declared arity, a constant only as
  an argument (a lower-case name left out of the constants line still reads as a constant), a
  variable only inside its quantifier's scope (bound in the order ``x``, ``y``, ``z``, ``w``). A
  predicate left out of the signature may still be written, and its first use declares it: the
  formulas after it must keep that arity. A name used with two roles or arities, the top failure
  of small translators, cannot be written, and neither can a free variable standing for an
  undeclared constant. Each ``FOL:`` label ends at its colon and the formula's grammar begins
  with the space, so that the model starts the formula with the tokens it would write itself.
  Predicates start with a capital and constants with a small letter, so the two never share a
  name.

On backends that cannot continue a partial answer the interleaved decoder sends today's single
request, and the declaring one two requests (the signature, then the premises and formulas).

Example:
    >>> sig = read_signature("Dog(x): x is a dog\nOwns(x, y): x owns y\nConstants: rex\n")
    >>> sig.arities, sig.constants
    ({'Dog': 1, 'Owns': 2}, ('rex',))
    >>> from neurosym.grammars._testing import Recognizer, read_gbnf
    >>> formula = Recognizer(read_gbnf("root ::= s-formula\n" + signature_formula_gbnf(sig, "s-")))
    >>> [formula.matches(t) for t in ("∀x (Dog(x) → Owns(rex, x))", "Dog(rex, x)", "Cat(rex)", "Dog(Owns)")]
    [True, False, False, False]

"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from neurosym.errors import ConfigurationError, ParseError
from neurosym.fol.gbnf import formula_gbnf
from neurosym.fol.parser import parse_formula
from neurosym.fol.signature import signature_of
from neurosym.targets.fol.translator import _one_line, _problem_text, fewshot_examples, output_gbnf
from neurosym.translators.base import Constraint, GenerationRequest, Message
from neurosym.translators.decoding import DeclareThenUse, Fixed, Interleaved, Plan, Span, UseRequest
from neurosym.translators.decoding.names import gbnf_literal, word_except
from neurosym.types import Problem

__all__ = [
    "DECLARED_SYSTEM_PROMPT",
    "FolSignature",
    "build_declared_request",
    "declare_decoder",
    "declared_output_gbnf",
    "declared_signature",
    "interleaved_decoder",
    "read_signature",
    "signature_formula_gbnf",
    "signature_gbnf",
]

HEADER = "Predicates:\n"
MAX_PREDICATES = 24
MAX_CONSTANTS = 30
MAX_ARITY = 4
FORMULA_TOKENS = 160
"""Most tokens one formula may take (FOLIO's longest gold formulas take about 90)."""
SIGNATURE_TOKENS = 400
KEYWORDS = ("all", "and", "exists", "forall", "iff", "implies", "not", "or", "xor")
"""Words the FOL lexer reads as connectives or quantifiers: never a constant."""
TRUTH_VALUES = ("true", "false")
"""Never a new constant of a declared formula (a declared one stays usable)."""
VARIABLES = tuple(f"{c}{d}" for c in "uvwxyz" for d in ("", *"0123456789"))
"""The variables the signature grammar allows (and no constant may be called)."""

DECLARED_SYSTEM_PROMPT = (
    "You translate English into first-order logic. First list every predicate you will use, one per line, "
    "in CamelCase with its arguments and what it means, such as 'Owns(x, y): x owns y'; then the constants on "
    "one line in lowerCamelCase, such as 'Constants: rex, newYork' (or 'Constants: none'). Give each predicate "
    "one number of arguments. Then repeat each premise, in order, and write its formula on the next line after "
    "'FOL:', using only the predicates and constants you listed and the symbols ∀ ∃ ¬ ∧ ∨ → ↔ ⊕ = ≠ and brackets; "
    "then do the same for the conclusion. Turn a question into the statement it asks about, without negating it: "
    "'Is Ann a doctor?' becomes Doctor(ann). Answer in exactly the layout of the examples and write nothing else."
)

_PRED_LINE = re.compile(r"^\s*([A-Z][A-Za-z0-9]*)\s*\(\s*([a-z](?:\s*,\s*[a-z])*)\s*\)\s*:\s*(.+?)\s*$")
_CONST_LINE = re.compile(r"^\s*Constants\s*:\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class FolSignature:
    """The predicates (name, arity, gloss) and constants a model declared, in its order."""

    predicates: tuple[tuple[str, int, str], ...]
    constants: tuple[str, ...]

    @property
    def arities(self) -> dict[str, int]:
        """Each predicate's arity."""
        return {name: arity for name, arity, _ in self.predicates}

    def render(self) -> str:
        r"""The signature as the model writes it, after the ``Predicates:`` header.

        Example:
            >>> print(FolSignature((("Dog", 1, "x is a dog"),), ()).render(), end="")
            Dog(x): x is a dog
            Constants: none

        """
        lines = [f"{name}({', '.join('xyzwvu'[:arity])}): {gloss}" for name, arity, gloss in self.predicates]
        lines.append("Constants: " + (", ".join(self.constants) if self.constants else "none"))
        return "\n".join(lines) + "\n"


def read_signature(text: str) -> FolSignature | None:
    r"""The signature in the text after ``Predicates:``; ``None`` without a predicate.

    A predicate declared twice keeps its first arity; a constant that is a keyword or a variable
    name, and a repeated one, is dropped (the grammar allows neither; this reads unconstrained output).

    Example:
        >>> read_signature("Dog(x): x is a dog\nDog(x, y): again\nConstants: rex, rex, x").render()
        'Dog(x): x is a dog\nConstants: rex\n'

    """
    predicates: list[tuple[str, int, str]] = []
    constants: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        if m := _PRED_LINE.match(line):
            name = m.group(1)
            if name not in seen:
                seen.add(name)
                predicates.append((name, len(m.group(2).split(",")), m.group(3)))
        elif m := _CONST_LINE.match(line):
            for name in (c.strip() for c in m.group(1).split(",")):
                if re.fullmatch(r"[a-z][A-Za-z0-9]*", name) and name not in (*KEYWORDS, *VARIABLES, "none"):
                    if name not in constants:
                        constants.append(name)
            break
    if not predicates:
        return None
    return FolSignature(tuple(predicates), tuple(constants))


def declared_signature(output: str) -> FolSignature | None:
    r"""The signature at the head of a declared-layout answer (``Predicates:`` ...); ``None`` in another layout.

    Example:
        >>> declared_signature("Predicates:\nDog(x): x is a dog\nConstants: rex\nPremises:\n1. ...").arities
        {'Dog': 1}
        >>> declared_signature("Premises:\n1. Rex is a dog.") is None
        True

    """
    text = output.lstrip()
    if not text.startswith(HEADER.rstrip("\n")):
        return None
    return read_signature(text[len(HEADER.rstrip("\n")) :].split("\nPremises:", 1)[0])


def signature_gbnf(prefix: str = "sig-") -> str:
    r"""GBNF for the signature text after the header: predicate lines, then one ``Constants:`` line.

    The rules' entry is ``{prefix}signature`` (and ``root ::=`` it, first).

    Example:
        >>> from neurosym.grammars._testing import Recognizer, read_gbnf
        >>> g = Recognizer(read_gbnf(signature_gbnf()))
        >>> g.matches("Dog(x): x is a dog\nConstants: rex, tom\n"), g.matches("Dog(x): a dog\nConstants: not\n")
        (True, False)

    """
    p = prefix
    args = f'[a-z] (", " [a-z]){{0,{MAX_ARITY - 1}}}'
    lines = [
        f"root ::= {p}signature",
        f'{p}signature ::= {p}pred-line{{1,{MAX_PREDICATES}}} "Constants: " {p}constants "\\n"',
        f'{p}pred-line ::= [A-Z] [A-Za-z0-9]{{0,39}} "(" {args} "): " [ -~]{{1,120}} "\\n"',
        f'{p}constants ::= "none" | {p}const (", " {p}const){{0,{MAX_CONSTANTS - 1}}}',
        word_except(f"{p}const", (*KEYWORDS, *VARIABLES, "none"), first="a-z", rest="A-Za-z0-9", max_rest=39),
    ]
    return "\n".join(lines) + "\n"


SCOPED_VARIABLES = ("x", "y", "z", "w")
"""The variables of declared formulas, bound in this order: the first quantifier on a path binds ``x``."""


def signature_formula_gbnf(signature: FolSignature, prefix: str = "sfol-", *, new_predicates: bool = False) -> str:
    """GBNF rules for one closed formula over ``signature`` (entry ``{prefix}formula``, no ``root`` rule).

    The connectives are those of :func:`neurosym.fol.gbnf.formula_gbnf`; an atom is a declared
    predicate with exactly its arity, or an equation of two terms; a term is a constant or a bound
    variable. Variables are bound in the order of :data:`SCOPED_VARIABLES` (the outermost
    quantifier on a path binds ``x``, the next ``y``, ...; ``∀x, y`` binds two), and each nesting
    depth has rules of its own, so a variable outside its quantifier's scope (the free ``x`` of
    ``Blue(x)`` for "the bear is blue") is not in the grammar: with the binding depth bounded, scope
    is context-free. Constants are the declared ones or any other lower-case name that is not a
    variable or a keyword: a model that left "Rock" out of its constants can still write
    ``Still(rock)`` (without it the grammar left only ever deeper formulas, and the model wrote
    ``¬(¬(¬(...`` to the token cap). A constant never clashes with a predicate, whose names start
    with a capital; ``true`` and ``false`` are not constants. Functions and propositions
    (predicates without arguments) are not in it.
    With ``new_predicates`` an atom may also be a predicate the signature lacks (a capitalised
    name that is none of its predicates), with 1 to 4 arguments: the plan then adds it, with the
    arity it was first used with, to the signature of the formulas after it.

    Example:
        >>> rules = signature_formula_gbnf(FolSignature((("Dog", 1, "x is a dog"),), ("rex",)), "s-")
        >>> [line for line in rules.splitlines() if line.startswith("s-term1 ::=")]
        ['s-term1 ::= s-const | s-newconst | "x"']

    """
    p = prefix
    if not signature.predicates:
        raise ConfigurationError("a signature needs at least one predicate")
    depth = len(SCOPED_VARIABLES)
    rules = [f"{p}formula ::= {p}f0", f'{p}ws ::= " "?']
    if signature.constants:
        rules.append(f"{p}const ::= " + " | ".join(gbnf_literal(c) for c in signature.constants))
    # "true" and "false" are truth values, not entities: as constants they let a model write a
    # proposition as "furryHarry = true" (40 of 988 formulas on the development items did).
    taken = (*KEYWORDS, *VARIABLES, "none", *TRUTH_VALUES, *signature.constants)
    rules.append(word_except(f"{p}newconst", taken, first="a-z", rest="A-Za-z0-9", max_rest=39))
    if new_predicates:
        names = [name for name, _arity, _gloss in signature.predicates]
        rules.append(word_except(f"{p}newpred", names, first="A-Z", rest="A-Za-z0-9", max_rest=39))
    for k in range(depth + 1):
        terms = [f"{p}const"] if signature.constants else []
        terms += [f"{p}newconst", *(gbnf_literal(v) for v in SCOPED_VARIABLES[:k])]
        unary = [f'"¬" {p}ws {p}un{k}', f'"(" {p}ws {p}f{k} {p}ws ")"', f'"[" {p}ws {p}f{k} {p}ws "]"']
        if k < depth:
            unary.append(f"{p}quant{k}")
            binds = [
                f' "," {p}ws '.join(gbnf_literal(v) for v in SCOPED_VARIABLES[k:j]) + f" {p}body{j}"
                for j in range(k + 1, depth + 1)
            ]
            rules.append(f'{p}quant{k} ::= ("∀" | "∃") ' + "(" + " | ".join(binds) + ")")
        if k > 0:
            rules.append(f'{p}body{k} ::= " " {p}f{k} | {p}ws "." {p}ws {p}f{k} | "(" {p}ws {p}f{k} {p}ws ")"')
        rules.append(f"{p}term{k} ::= " + " | ".join(terms))
        preds = []
        for name, arity, _gloss in signature.predicates:
            args = f' {p}ws "," {p}ws '.join([f"{p}term{k}"] * arity)
            preds.append(f'{gbnf_literal(name + "(")} {p}ws {args} {p}ws ")"')
        if new_predicates:
            more = f' ({p}ws "," {p}ws {p}term{k}){{0,{MAX_ARITY - 1}}}'
            preds.append(f'{p}newpred "(" {p}ws {p}term{k}{more} {p}ws ")"')
        rules.append(f"{p}atom{k} ::= " + " | ".join(preds) + f' | {p}term{k} {p}ws ("=" | "≠") {p}ws {p}term{k}')
        unary.append(f"{p}atom{k}")
        rules += [
            f'{p}f{k} ::= {p}imp{k} ({p}ws "↔" {p}ws {p}f{k})?',
            f'{p}imp{k} ::= {p}xor{k} ({p}ws "→" {p}ws {p}imp{k})?',
            f'{p}xor{k} ::= {p}or{k} ({p}ws "⊕" {p}ws {p}or{k})*',
            f'{p}or{k} ::= {p}and{k} ({p}ws "∨" {p}ws {p}and{k})*',
            f'{p}and{k} ::= {p}un{k} ({p}ws "∧" {p}ws {p}un{k})*',
            f"{p}un{k} ::= " + " | ".join(unary),
        ]
    return "\n".join(rules)


# --- the worked examples in the declared layout ----------------------------------------------------


@cache
def _glosses() -> dict[str, str]:
    text = resources.files("neurosym.targets.fol").joinpath("fewshot_glosses.json").read_text(encoding="utf-8")
    return dict(json.loads(text)["glosses"])


def _first_use(name: str, text: str) -> int:
    m = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text)
    return m.start() if m else len(text)


def example_signature(formulas: Sequence[str]) -> FolSignature:
    """The signature of a worked example's gold formulas, in order of first use, glossed by ``fewshot_glosses.json``.

    Example:
        >>> example_signature(["Dog(rex)", "∀x (Dog(x) → Animal(x))"]).constants
        ('rex',)

    """
    joined = "\n".join(formulas)
    signature = signature_of([parse_formula(f) for f in formulas])
    glosses = _glosses()
    predicates = sorted(signature.predicates, key=lambda p: _first_use(p[0], joined))
    return FolSignature(
        tuple((name, arity, glosses.get(name, f"x is {name}")) for name, arity in predicates),
        tuple(sorted(signature.constants, key=lambda c: _first_use(c, joined))),
    )


def _layout_text(premises: Sequence[str], formulas: Sequence[str], conclusion: str, conclusion_formula: str) -> str:
    lines = ["Premises:"]
    for i, (sentence, formula) in enumerate(zip(premises, formulas, strict=True), start=1):
        lines += [f"{i}. {_one_line(sentence)}", f"FOL: {formula}"]
    lines += ["Conclusion:", _one_line(conclusion), f"FOL: {conclusion_formula}"]
    return "\n".join(lines)


def _structured(problem: Problem) -> Problem:
    if problem.conclusion is None or not problem.premises:
        from neurosym.targets.fol.translator import problem_from_text

        return problem_from_text(problem.text)
    return problem


def declared_output_gbnf(problem: Problem) -> str:
    r"""GBNF for the whole declared answer in one request: header, signature, then today's layout.

    The formulas here are any formulas (one request cannot compile a grammar from its own
    signature): it is the grammar of conversation repairs and of backends that need one request.

    Example:
        >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is he?")
        >>> declared_output_gbnf(p).splitlines()[0]
        'root ::= "Predicates:\\n" sig-signature layout'

    """
    signature = [line for line in signature_gbnf("sig-").splitlines() if not line.startswith("root ::=")]
    layout = output_gbnf(problem).replace("root ::= ", "layout ::= ", 1)
    return f"root ::= {gbnf_literal(HEADER)} sig-signature layout\n" + "\n".join(signature) + "\n" + layout


def build_declared_request(problem: Problem, *, constrained: bool = True) -> GenerationRequest:
    r"""The chat request for the declared layout: its system prompt, the worked examples with their signatures.

    Example:
        >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
        >>> r = build_declared_request(p, constrained=False)
        >>> r.messages[2].content.splitlines()[:3]
        ['Predicates:', 'OpenSource(x): x is open-source', 'ModifyFree(x): x is free to modify']

    """
    problem = _structured(problem)
    assert problem.conclusion is not None
    messages = [Message("system", DECLARED_SYSTEM_PROMPT)]
    for example in fewshot_examples():
        formulas = [*example["premises_fol"], example["conclusion_fol"]]
        answer = (
            HEADER
            + example_signature(formulas).render()
            + _layout_text(
                example["premises"], example["premises_fol"], example["conclusion"], example["conclusion_fol"]
            )
        )
        messages.append(Message("user", _problem_text(example["premises"], example["conclusion"])))
        messages.append(Message("assistant", answer))
    messages.append(Message("user", _problem_text(problem.premises, problem.conclusion)))
    constraint = Constraint("grammar", declared_output_gbnf(problem)) if constrained else None
    return GenerationRequest(tuple(messages), constraint)


# --- the plans ------------------------------------------------------------------------------------


def _formula_plan(problem: Problem, rules: Callable[[], str | None], prefix: str, *,
                  used: Callable[[str], None] | None = None) -> Plan:  # fmt: skip
    """Premises, ``FOL:`` and the conclusion as fixed text; each formula one span (under ``rules()`` when given).

    A label ends at its colon: the model's tokens carry a word's leading space, and a prompt that
    ends in the space leaves it to start the formula with a token it rarely sees there (on the
    logic development items a quarter of the formulas after ``"FOL: "`` began with a word piece,
    as ``ouchy = rough`` for "Gary is rough"). ``rules`` is asked again before each formula (the
    signature may have grown), and ``used`` hears each formula written.
    """
    assert problem.conclusion is not None

    def span(final: bool) -> Span:
        constraint = None
        grammar = rules()
        if grammar is not None:
            tail = "" if final else ' "\\n"'
            constraint = Constraint("grammar", f'root ::= " " {prefix}formula{tail}\n{grammar}')
        return Span(constraint, max_tokens=FORMULA_TOKENS, stop=("\n",))

    yield Fixed("Premises:\n")
    for i, sentence in enumerate(problem.premises, start=1):
        yield Fixed(f"{i}. {_one_line(sentence)}\nFOL:")
        text = yield span(final=False)
        if used is not None:
            used(text)
        if not text.endswith("\n"):
            yield Fixed("\n")
    yield Fixed(f"Conclusion:\n{_one_line(problem.conclusion)}\nFOL:")
    yield span(final=True)


def _with_used_predicates(signature: FolSignature, formula: str) -> FolSignature:
    """``signature`` and the predicates ``formula`` uses that it lacks (with the arity used); as is if unreadable."""
    try:
        found = signature_of([parse_formula(formula.strip())])
    except (ParseError, ValueError):
        return signature
    known = signature.arities
    added = tuple((name, arity, "") for name, arity in sorted(found.predicates) if name not in known)
    return FolSignature(signature.predicates + added, signature.constants) if added else signature


def interleaved_decoder(problem: Problem, request: GenerationRequest, *, constrained: bool = True) -> Interleaved:
    r"""Today's layout with the sentences written by neurosym and the formulas by the model (see the module docstring).

    ``request`` is :func:`~neurosym.targets.fol.translator.build_fol_request`'s, whose grammar is the
    whole-answer fallback.

    Example:
        >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
        >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is Rex an animal?")
        >>> from neurosym.targets.fol.translator import build_fol_request
        >>> r = build_fol_request(p)
        >>> backend = ContinuingScriptedBackend([" Dog(rex)\n", " Animal(rex)"])
        >>> print(interleaved_decoder(p, r).generate(backend, r).texts[0])
        Premises:
        1. Rex is a dog.
        FOL: Dog(rex)
        Conclusion:
        Is Rex an animal?
        FOL: Animal(rex)

    """
    problem = _structured(problem)
    rules = formula_gbnf("fol-") if constrained else None
    del request
    return Interleaved(lambda: _formula_plan(problem, lambda: rules, "fol-"))


def declare_decoder(problem: Problem, *, constrained: bool = True) -> DeclareThenUse[FolSignature]:
    r"""The signature first, then the formulas under a grammar compiled from it (see the module docstring).

    Example:
        >>> from neurosym.translators.decoding._testing import ContinuingScriptedBackend
        >>> p = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
        >>> backend = ContinuingScriptedBackend(["Dog(x): x is a dog\nConstants: rex\n", " Dog(rex)\n", " Dog(rex)"])
        >>> text = declare_decoder(p).generate(backend, build_declared_request(p)).texts[0]
        >>> text.splitlines()[:4]
        ['Predicates:', 'Dog(x): x is a dog', 'Constants: rex', 'Premises:']
        >>> "s-const ::= \"rex\"" in backend.calls[1][0][0].constraint.value
        True

    """
    problem = _structured(problem)
    signature_constraint = Constraint("grammar", signature_gbnf("sig-")) if constrained else None

    def use_plan(signature: FolSignature) -> Plan:
        current = [signature]  # grows as formulas use predicates the model did not declare

        def rules() -> str | None:
            return signature_formula_gbnf(current[0], "s-", new_predicates=True) if constrained else None

        def used(formula: str) -> None:
            current[0] = _with_used_predicates(current[0], formula)

        return _formula_plan(problem, rules, "s-", used=used)

    def use_request(signature: FolSignature) -> UseRequest:
        constraint = None
        if constrained:
            layout = output_gbnf(problem)
            rules = signature_formula_gbnf(signature, "s-")
            generic = layout.index("\nfol-formula ::=")  # the layout rules, then today's formula rules
            body = layout[:generic].replace("fol-formula", "s-formula")
            constraint = Constraint("grammar", body + "\n" + rules)
        follow_up = (
            "Now write the premises and the conclusion with their formulas, in the layout of the examples, "
            "using only these predicates and constants."
        )
        return UseRequest(follow_up, constraint)

    return DeclareThenUse(
        header=HEADER,
        signature=Span(signature_constraint, max_tokens=SIGNATURE_TOKENS, stop=("Premises:",)),
        read=read_signature,
        use_plan=use_plan,
        use_request=use_request,
    )
