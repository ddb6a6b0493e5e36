"""Decoders: answers drawn in more than one request, with text neurosym writes itself between the model's spans.

- :mod:`neurosym.translators.decoding.plan`: plans of fixed text and generated spans, walked on
  backends that continue a partial answer (:func:`run_plan`, :class:`Interleaved`);
- :mod:`neurosym.translators.decoding.declare`: declare-then-use decoding: the model writes the
  signature it will use, then the rest under a grammar compiled from it (:class:`DeclareThenUse`);
- :mod:`neurosym.translators.decoding.names`: GBNF rules for declared names and for names outside a set.

Targets use them from their translators (FOL: :mod:`neurosym.targets.fol.declare`; MILP:
:mod:`neurosym.targets.milp.declare`); any target can, by giving the loop a decoder
(``target.decoder(problem)``).
"""

from neurosym.translators.decoding.declare import DeclareThenUse, UseRequest
from neurosym.translators.decoding.plan import (
    Decoder,
    Fixed,
    Interleaved,
    Plan,
    PlanFactory,
    Span,
    continues_partial_answer,
    run_plan,
)

__all__ = [
    "DeclareThenUse",
    "Decoder",
    "Fixed",
    "Interleaved",
    "Plan",
    "PlanFactory",
    "Span",
    "UseRequest",
    "continues_partial_answer",
    "run_plan",
]
