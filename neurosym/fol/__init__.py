"""First-order logic: the grammar, the AST, its printers (text, TPTP, SMT-LIB) and the signature check."""

from neurosym.fol.parser import grammar_text, parse_formula, parse_formulas
from neurosym.fol.syntax import to_text

__all__ = ["grammar_text", "parse_formula", "parse_formulas", "to_text"]
