"""The feedback loop: translate, check with the provers, feed the verdict back, try again.

Example:
    >>> from neurosym.loop import Strategy
    >>> Strategy.vote(5, repair_rounds=1).samples
    5

"""

from neurosym.loop.batch import RunBudget, run_many
from neurosym.loop.cache import Cache, CachedBackend, CachedChecker
from neurosym.loop.pool import ProverPool
from neurosym.loop.refine import Budget, Strategy, check_inline, refine
from neurosym.loop.result import Attempt, Cost, LoopResult

__all__ = [
    "Attempt",
    "Budget",
    "Cache",
    "CachedBackend",
    "CachedChecker",
    "Cost",
    "LoopResult",
    "ProverPool",
    "RunBudget",
    "Strategy",
    "check_inline",
    "refine",
    "run_many",
]
