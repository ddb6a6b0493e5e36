"""A scripted backend for tests: replies come from a list, a dict or a function, never from a model.

Example:
    >>> from neurosym.translators.base import GenerationRequest
    >>> backend = ScriptedBackend({"dog": "Dog(rex)", "cat": "Cat(tom)"})
    >>> [r.texts for r in backend.generate([GenerationRequest.from_prompt("a cat")])]
    [['Cat(tom)']]
    >>> len(backend.calls)
    1

"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from neurosym.errors import ConfigurationError, NeurosymError
from neurosym.settings import SamplingSettings, merge
from neurosym.translators.base import (
    GenerationRequest,
    GenerationResult,
    ProgressCallback,
    Sample,
    Usage,
    report_finished,
)

__all__ = ["ScriptedBackend"]

Reply = str | BaseException
Script = Sequence[Reply] | Mapping[str, Reply] | Callable[[GenerationRequest, int], Reply]


class ScriptedBackend:
    """Serve canned replies.

    Args:
        script: a list (replies handed out in order, one per sample), a dict (the first key found
            in the request's last message picks the reply) or a function ``(request, sample_index)
            -> reply``. A reply that is an exception is raised instead, to simulate failures.
        model: the model name to report (and the model in its :attr:`identity`).

    ``calls`` records every ``(requests, settings)`` pair received.

    """

    name: ClassVar[str] = "scripted"
    supports_grammar: ClassVar[bool] = False  # replies are canned; a constraint is recorded, not applied

    def __init__(self, script: Script, *, model: str = "scripted") -> None:
        self.script = script
        self.model = model
        self.calls: list[tuple[list[GenerationRequest], SamplingSettings]] = []
        self._position = 0
        self._lock = threading.Lock()

    @property
    def identity(self) -> dict[str, str]:
        """The model identity in cassette and cache keys (see :mod:`neurosym.translators.identity`).

        Example:
            >>> ScriptedBackend(["x"], model="fake-qwen").identity
            {'kind': 'scripted', 'model': 'fake-qwen'}

        """
        return {"kind": self.name, "model": self.model}

    def _reply(self, request: GenerationRequest, index: int) -> Reply:
        script = self.script
        if callable(script):
            return script(request, index)
        if isinstance(script, Mapping):
            prompt = request.messages[-1].content
            for key, reply in script.items():
                if key in prompt:
                    return reply
            raise ConfigurationError(f"ScriptedBackend has no reply for a prompt ending {prompt[-80:]!r}")
        with self._lock:
            if self._position >= len(script):
                raise ConfigurationError(f"ScriptedBackend ran out of replies after {len(script)}")
            reply = script[self._position]
            self._position += 1
        return reply

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """Answer each request with ``n`` scripted samples (``progress`` sees each one whole)."""
        resolved = merge(SamplingSettings(n=1), settings)
        self.calls.append((list(requests), resolved))
        results: list[GenerationResult] = []
        for request in requests:
            samples = []
            for index in range(resolved.n or 1):
                reply = self._reply(request, index)
                if isinstance(reply, BaseException):
                    raise reply
                if not isinstance(reply, str):
                    raise NeurosymError(
                        f"a scripted reply must be a string or an exception, not {type(reply).__name__}"
                    )
                samples.append(Sample(reply, "stop", max(1, len(reply.split()))))
            prompt_tokens = sum(len(m.content.split()) for m in request.messages)
            usage = Usage(prompt_tokens, sum(s.completion_tokens for s in samples), 0.0)
            report_finished(progress, len(results), samples)
            results.append(GenerationResult(tuple(samples), usage, self.name, self.model))
        return results
