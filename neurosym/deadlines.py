"""Time limits: one check for every timeout the API accepts, and a deadline that several steps share.

Every public function that takes a time limit (``timeout``, ``timeout_s``, ``wall_s``...) checks
it with :func:`check_seconds`, so ``nan``, ``inf``, zero, negative numbers and non-numbers are
refused with a :class:`~neurosym.errors.ConfigurationError` that names the argument, instead of
failing later inside a solver (``ValueError``, ``OverflowError``) or never ending.

A :class:`Deadline` is a point in monotonic time that a chain of steps shares (the provers of
one check, the retries of one HTTP request): each step asks how long is ``left()``.

Example:
    >>> check_seconds(2, "timeout")
    2.0
    >>> check_seconds(float("nan"), "timeout")
    Traceback (most recent call last):
    ...
    neurosym.errors.ConfigurationError: timeout must be a finite number of seconds greater than 0, got nan
    >>> Deadline.after(5.0).left() <= 5.0
    True

"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

from neurosym.errors import ConfigurationError

__all__ = ["MAX_SECONDS", "Deadline", "check_seconds"]

MAX_SECONDS = 7 * 24 * 3600.0
"""The longest time limit accepted (a week): longer ones overflow some solvers' millisecond counters."""


def check_seconds(value: object, name: str = "timeout", *, allow_zero: bool = False) -> float:
    """``value`` as a float number of seconds, or a ConfigurationError that names ``name``.

    Accepts ints and floats (not bools) that are finite, greater than 0 (or equal, with
    ``allow_zero``) and at most :data:`MAX_SECONDS`.

    Example:
        >>> check_seconds(0.5, "wall_s"), check_seconds(0, "grace_s", allow_zero=True)
        (0.5, 0.0)
        >>> check_seconds("10", "timeout")
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: timeout must be a number of seconds, got '10' (str)

    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r} ({type(value).__name__})")
    seconds = float(value)
    low = "at least 0" if allow_zero else "greater than 0"
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigurationError(f"{name} must be a finite number of seconds {low}, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ConfigurationError(f"{name} must be at most {MAX_SECONDS:.0f} seconds (a week), got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment in :func:`time.monotonic` time.

    Example:
        >>> d = Deadline.after(0.0001)
        >>> time.sleep(0.001); d.expired(), d.left()
        (True, 0.0)

    """

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds until the deadline, never below 0."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self.at
