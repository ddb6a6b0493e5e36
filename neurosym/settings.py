"""Sampling settings for LLM backends, merged in layers: defaults ← backend ← call.

Example:
    >>> base = SamplingSettings(temperature=0.0, max_tokens=256)
    >>> merge(base, SamplingSettings(n=5, temperature=0.8)).to_dict()["temperature"]
    0.8

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from neurosym.errors import ConfigurationError

__all__ = ["SamplingSettings", "merge"]


@dataclass(frozen=True, slots=True)
class SamplingSettings:
    """How to sample from a model. ``None`` means "not set here" so that layers can be merged."""

    n: int | None = None
    """Samples per prompt (vLLM's ``n``); backends that cannot batch them loop with distinct seeds."""
    temperature: float | None = None
    """Softmax temperature; 0 is greedy."""
    top_p: float | None = None
    """Nucleus sampling mass."""
    max_tokens: int | None = None
    """Most tokens to generate per sample."""
    stop: tuple[str, ...] | None = None
    """Strings that end a sample (not included in the text)."""
    seed: int | None = None
    """Random seed; sample ``i`` of a request uses ``seed + i`` where a backend loops."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Backend-specific parameters passed through unchanged (e.g. ``repeat_penalty``)."""

    def __post_init__(self) -> None:
        if self.n is not None and self.n < 1:
            raise ConfigurationError(f"n must be at least 1, got {self.n}")
        if self.temperature is not None and self.temperature < 0:
            raise ConfigurationError(f"temperature must be non-negative, got {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigurationError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))

    def resolved(self) -> SamplingSettings:
        """These settings with every unset field given its default (n=1, greedy, 512 tokens)."""
        return merge(DEFAULT_SETTINGS, self)

    def to_dict(self) -> dict[str, Any]:
        r"""The fields that are set, for results files and cache keys.

        Example:
            >>> SamplingSettings(n=2, stop=("\n\n",)).to_dict()
            {'n': 2, 'stop': ['\n\n']}

        """
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "extra" and not value):
                continue
            out[f.name] = (
                list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value
            )
        return out


DEFAULT_SETTINGS = SamplingSettings(n=1, temperature=0.0, top_p=1.0, max_tokens=512, stop=(), seed=0)


def merge(base: SamplingSettings, override: SamplingSettings | None) -> SamplingSettings:
    """Layer ``override`` on ``base``: every field ``override`` sets wins; ``extra`` dicts are merged.

    Example:
        >>> merge(SamplingSettings(seed=1, max_tokens=64), SamplingSettings(seed=7)).to_dict()
        {'max_tokens': 64, 'seed': 7}

    """
    if override is None:
        return base
    values: dict[str, Any] = {}
    for f in fields(base):
        mine, theirs = getattr(base, f.name), getattr(override, f.name)
        if f.name == "extra":
            values["extra"] = {**mine, **theirs}
        else:
            values[f.name] = theirs if theirs is not None else mine
    return SamplingSettings(**values)
