"""neurosym: language models translate, solvers decide.

The public surface is listed in ``__all__``; everything else is reachable through the subpackages
(``neurosym.fol``, ``neurosym.milp``, ``neurosym.provers``, ``neurosym.translators``).

Example:
    >>> import neurosym
    >>> neurosym.check_fol(["∀x (Bird(x) → Flies(x))", "Bird(tweety)"], "Flies(tweety)").answer.value
    'True'

"""

from neurosym._version import __version__
from neurosym.errors import (
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    ConfigurationError,
    InputError,
    MissingDependencyError,
    NeurosymError,
    ParseError,
    PoolBrokenError,
    RateLimitError,
    SolverCrashedError,
    SolverError,
    SolverUnavailableError,
    VerificationFailed,
)
from neurosym.fol import parse_formula, parse_formulas
from neurosym.loop import Budget, Strategy, refine, run_many
from neurosym.provers import get_prover, list_provers
from neurosym.settings import SamplingSettings
from neurosym.solving import SolveResult, solve
from neurosym.targets.fol.check import check_fol, combine_verdicts
from neurosym.translators.backends import get_backend
from neurosym.types import (
    Answer,
    AnswerKind,
    Assignment,
    Certificate,
    EntailmentLabel,
    Formalization,
    NumberAnswer,
    Problem,
    ProofAnswer,
    Status,
    Verdict,
)

__all__ = [
    "Answer",
    "AnswerKind",
    "Assignment",
    "BackendConnectionError",
    "BackendError",
    "BackendTimeoutError",
    "Budget",
    "Certificate",
    "ConfigurationError",
    "EntailmentLabel",
    "Formalization",
    "InputError",
    "MissingDependencyError",
    "NeurosymError",
    "NumberAnswer",
    "ParseError",
    "PoolBrokenError",
    "Problem",
    "ProofAnswer",
    "RateLimitError",
    "SamplingSettings",
    "SolveResult",
    "SolverCrashedError",
    "SolverError",
    "SolverUnavailableError",
    "Status",
    "Strategy",
    "Verdict",
    "VerificationFailed",
    "__version__",
    "check_fol",
    "combine_verdicts",
    "get_backend",
    "get_prover",
    "list_provers",
    "parse_formula",
    "parse_formulas",
    "refine",
    "run_many",
    "solve",
]
