"""The exceptions neurosym raises.

A verdict about a formalization is a value (:class:`neurosym.types.Verdict`), never an exception:
a malformed formula or a prover timeout is a *result*. Exceptions are kept for mistakes by the
caller and for broken infrastructure::

    NeurosymError
    ├── ConfigurationError        usage mistake: bad argument, unknown prover or backend name
    ├── MissingDependencyError    also ImportError; the message names the extra to install
    ├── InputError                user input that cannot be read (file, JSON, empty input)
    ├── ParseError                text that is not a well-formed formula; .line .column .excerpt
    ├── BackendError              an LLM backend failed; class attrs: retryable, hint
    │   ├── BackendConnectionError   (retryable)
    │   ├── BackendTimeoutError      (retryable)
    │   └── RateLimitError           (retryable)
    ├── SolverError               a prover could not run; .solver
    │   ├── SolverUnavailableError   the prover is not installed on this machine
    │   └── SolverCrashedError       the prover process died
    │       └── PoolBrokenError      the prover pool cannot start workers: the whole run stops
    └── VerificationFailed        only from ``LoopResult.raise_for_status()``

Every error pickles (keyword-only context travels through ``__reduce__``) because benchmark
runners and prover pools pass them between processes.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BackendConnectionError",
    "BackendError",
    "BackendTimeoutError",
    "ConfigurationError",
    "InputError",
    "MissingDependencyError",
    "NeurosymError",
    "ParseError",
    "PoolBrokenError",
    "RateLimitError",
    "SolverCrashedError",
    "SolverError",
    "SolverUnavailableError",
    "VerificationFailed",
]


class NeurosymError(Exception):
    """Base class of every neurosym exception.

    Keyword-only context given to the constructor is kept as attributes and appended to ``str()``.

    Example:
        >>> err = NeurosymError("boom", solver="z3")
        >>> err.context["solver"], str(err)
        ('z3', 'boom (solver=z3)')

    """

    retryable: ClassVar[bool] = False
    hint: ClassVar[str | None] = None

    def __init__(self, message: str = "", **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = context
        for key, value in context.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        shown = {k: v for k, v in self.context.items() if v is not None and k not in self._quiet_context}
        if not shown:
            return self.message
        extra = ", ".join(f"{k}={v}" for k, v in shown.items())
        return f"{self.message} ({extra})"

    # Context that is already spelled out in the message.
    _quiet_context: ClassVar[frozenset[str]] = frozenset()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (type(self), self.message, self.context))


def _rebuild_error(cls: type[NeurosymError], message: str, context: dict[str, Any]) -> NeurosymError:
    return cls(message, **context)


class ConfigurationError(NeurosymError, ValueError):
    """The caller used the API wrongly: an unknown name, a bad option value."""


class MissingDependencyError(NeurosymError, ImportError):
    """An optional dependency is missing; the message says which extra installs it."""


class InputError(NeurosymError, ValueError):
    """Input that cannot be read at all: a missing file, broken JSON, an empty problem."""


class ParseError(NeurosymError, ValueError):
    """Text that is not well formed in the expected language.

    Attributes (all optional): ``line`` and ``column`` (1-based), ``excerpt`` (the offending line
    with a caret under the column), ``reason`` (the message without the position),
    ``formula_index`` (which formula of a list), ``text``.

    Example:
        >>> from neurosym.fol import parse_formula
        >>> try:
        ...     parse_formula("P(x) ∧")
        ... except ParseError as err:
        ...     print(err.line, err.column)
        1 7

    """

    _quiet_context: ClassVar[frozenset[str]] = frozenset(
        {"excerpt", "text", "line", "column", "formula_index", "reason"}
    )


class BackendError(NeurosymError):
    """An LLM backend failed (server error, bad response)."""


class BackendConnectionError(BackendError):
    """The backend could not be reached."""

    retryable = True


class BackendTimeoutError(BackendError):
    """The backend did not answer in time."""

    retryable = True


class RateLimitError(BackendError):
    """The backend asked us to slow down (HTTP 429)."""

    retryable = True


class SolverError(NeurosymError):
    """A prover could not run at all (as opposed to a verdict such as ``timeout``)."""


class SolverUnavailableError(SolverError):
    """The prover is not installed on this machine."""


class SolverCrashedError(SolverError):
    """The prover process died or produced output we cannot read."""


class PoolBrokenError(SolverCrashedError):
    """The prover pool cannot run any call because its worker processes cannot start.

    Unlike a prover that crashes on one problem (an ``unknown`` verdict), this fails every
    problem the same way, so :func:`neurosym.run_many` raises it instead of returning results.
    """


class VerificationFailed(NeurosymError):
    """Raised only by ``LoopResult.raise_for_status()`` when no answer was verified."""
