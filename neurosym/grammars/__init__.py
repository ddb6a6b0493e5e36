r"""Grammars for constrained decoding: Lark grammars compiled into GBNF (llama.cpp, vLLM's xgrammar).

A language's Lark grammar (``neurosym/fol/fol.lark``, ``neurosym/milp/milp.lark``) stays the single
source of its syntax; :func:`lark_to_gbnf` derives the GBNF grammar that limits a model's output to
it, with the options a use needs (the entry rule, canonical spellings, bounded repetition).

- :mod:`neurosym.grammars.lark_gbnf`: the compiler (:func:`compile_lark`, :func:`lark_to_gbnf`);
- :mod:`neurosym.grammars.regex`: terminals' regular expressions as grammar expressions;
- :mod:`neurosym.grammars.ebnf`: the intermediate grammar and its GBNF text.

Example:
    >>> print(lark_to_gbnf('start: "on" | "off"'), end="")
    root ::= start
    start ::= "on" | "off"

"""

from neurosym.grammars.ebnf import Alt, Chars, Expr, Grammar, Lit, Opt, Ref, Repeat, Seq
from neurosym.grammars.lark_gbnf import compile_lark, lark_to_gbnf, left_recursive_rules

__all__ = [
    "Alt",
    "Chars",
    "Expr",
    "Grammar",
    "Lit",
    "Opt",
    "Ref",
    "Repeat",
    "Seq",
    "compile_lark",
    "lark_to_gbnf",
    "left_recursive_rules",
]
