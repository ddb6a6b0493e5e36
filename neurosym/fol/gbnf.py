"""A GBNF grammar for one FOL formula, derived from ``fol.lark`` by :mod:`neurosym.grammars`.

llama.cpp's grammar-constrained sampling reads GBNF, and vLLM's xgrammar backend reads the same
EBNF, so one grammar text constrains both. It is compiled from the Lark grammar that
:func:`neurosym.fol.parse_formula` uses (the single source of the syntax) by the general
Lark-to-GBNF compiler (:func:`neurosym.grammars.compile_lark`); this module holds what is FOL's own:

* the entry rule is ``formula`` (Lark's ``start`` also allows a final ``.``);
* every connective and quantifier gets one canonical spelling, its Unicode symbol
  (``∀ ∃ ¬ ∧ ∨ ⊕ → ↔ = ≠``), never the ASCII keywords;
* names and variables are the compiler's keyword-free word rule, ``[A-Za-z][A-Za-z0-9_]*`` minus
  the keywords that the lexer would read as connectives (``all``, ``not``, ``or`` …), which is a
  subset of what the Lark regexes accept;
* the ignored whitespace becomes at most one space between two tokens, and no newlines. A
  space is required where two word tokens would otherwise run together (``∀x P(x)``).

Every string the grammar generates parses with :func:`neurosym.fol.parse_formula`, up to the
parser's :data:`~neurosym.fol.parser.MAX_DEPTH` and length limits, which a context-free grammar
cannot express (bound the length with ``max_tokens``). The text is part of the cassette keys of
recorded runs, so a change to the compiler must leave it byte for byte the same.

Example:
    >>> text = formula_root_gbnf()
    >>> text.splitlines()[0]
    'root ::= fol-formula'
    >>> print(formula_gbnf().splitlines()[0])
    fol-formula ::= fol-iff
    >>> 'fol-ws ::= " "?' in text
    True

"""

from __future__ import annotations

import re
from functools import cache

from neurosym.errors import ConfigurationError
from neurosym.fol.parser import grammar_text
from neurosym.grammars import Grammar, compile_lark

__all__ = ["formula_gbnf", "formula_root_gbnf"]

_SPELLINGS = {
    "FORALL": "∀",
    "EXISTS": "∃",
    "NOT": "¬",
    "AND": "∧",
    "OR": "∨",
    "XOR": "⊕",
    "IMP": "→",
    "IFF": "↔",
    "EQ": "=",
    "NEQ": "≠",
}
"""The one spelling of each connective and quantifier: the Unicode symbol (checked against ``fol.lark``)."""
_WORDS = {"VAR": "var", "IDENT": "name"}
"""The terminals spelled by the keyword-free word rule, and their GBNF rule names (without the prefix)."""
_ENTRY = "formula"


@cache
def _formula_grammar(prefix: str = "fol-") -> Grammar:
    """The intermediate grammar for one formula from ``fol.lark``."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", prefix):
        raise ConfigurationError(f"a GBNF rule prefix must be lowercase letters, digits and '-', got {prefix!r}")
    return compile_lark(grammar_text(), start=_ENTRY, prefix=prefix, spellings=_SPELLINGS, words=_WORDS)


def formula_gbnf(prefix: str = "fol-") -> str:
    """GBNF rules for one FOL formula, entry rule ``{prefix}formula``, with no ``root`` rule.

    Embed the rules in a larger grammar (a list of premises, a JSON field) by referring to
    ``{prefix}formula``; every rule name starts with ``prefix``.

    Raises:
        ConfigurationError: ``prefix`` is not lowercase letters, digits and ``-``.

    Example:
        >>> rules = formula_gbnf("p-")
        >>> rules.splitlines()[0]
        'p-formula ::= p-iff'
        >>> all(line.startswith("p-") for line in rules.splitlines())
        True
        >>> "root" in rules
        False

    """
    return _formula_grammar(prefix).to_gbnf(root=False)


def formula_root_gbnf() -> str:
    """A complete GBNF grammar: ``root ::= fol-formula`` followed by :func:`formula_gbnf`.

    Pass it to ``llama_cpp.LlamaGrammar.from_string`` or to vLLM's grammar-guided decoding.

    Example:
        >>> print(formula_root_gbnf().splitlines()[1])
        fol-formula ::= fol-iff

    """
    return _formula_grammar("fol-").to_gbnf()
