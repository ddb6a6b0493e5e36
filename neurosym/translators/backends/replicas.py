"""One backend over several servers of the same model (vLLM replicas): each request goes to the least busy.

A sweep over N GPU nodes runs one ``vllm serve`` per node (or per GPU) and hands all their URLs
to :class:`ReplicaBackend` (``neurosym bench NAME --llm openai:MODEL --base-url URL1,URL2``).
Each request of a ``generate`` call goes, whole, to the replica with the fewest requests in
flight (ties in turn), and the calls to different replicas run at once. A request is never split
across replicas: its ``n`` samples are drawn by one server with the request's seed, exactly as a
single server would draw them, so sample ``i`` of a request is the same whichever replica served
it (for servers whose sampling is reproducible: vLLM's online server with
``VLLM_BATCH_INVARIANT=1``, on the same hardware and vLLM version).

The backend has the replicas' one identity (``{"kind": "openai", "model": NAME}``): cache and
cassette keys do not name the server, and replicas that serve different models are refused.

A replica that cannot be reached (:class:`~neurosym.errors.BackendConnectionError`) is left out for
``cooldown_s`` seconds and its requests are sent to the others; only when every replica has failed
is the error raised.

Example:
    >>> import httpx
    >>> from neurosym.translators.backends.openai_compat import OpenAICompatBackend
    >>> from neurosym.translators.base import GenerationRequest
    >>> def server(name):
    ...     reply = {"choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "P(a)"}}]}
    ...     return OpenAICompatBackend.from_url(f"http://{name}.invalid/v1", "m", structured_output="none",
    ...         http_client=httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=reply))))
    >>> with ReplicaBackend([server("a"), server("b")]) as backend:
    ...     results = backend.generate([GenerationRequest.from_prompt(f"q{i}") for i in range(4)])
    ...     [r.texts for r in results], backend.identity, backend.served
    ([['P(a)'], ['P(a)'], ['P(a)'], ['P(a)']], {'kind': 'openai', 'model': 'm'}, [2, 2])

"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from neurosym.deadlines import check_seconds
from neurosym.errors import BackendConnectionError, ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.translators.base import (
    GenerationRequest,
    GenerationResult,
    LLMBackend,
    ProgressCallback,
    renumber_progress,
)
from neurosym.translators.identity import backend_identity, identity_label

__all__ = ["ReplicaBackend", "split_urls"]


def split_urls(text: str) -> list[str]:
    """The server URLs in a comma- or space-separated list, in order, without repeats.

    Example:
        >>> split_urls("http://a:8000/v1, http://b:8000/v1,http://a:8000/v1")
        ['http://a:8000/v1', 'http://b:8000/v1']

    """
    parts = [p.strip() for chunk in text.split(",") for p in chunk.split()]
    return list(dict.fromkeys(p for p in parts if p))


class ReplicaBackend:
    """Spread requests over ``replicas`` (backends of one model), least in flight first; see the module docstring.

    Args:
        replicas: the backends, e.g. one :class:`~neurosym.translators.backends.openai_compat.OpenAICompatBackend`
            per server. They must have the same identity.
        cooldown_s: seconds an unreachable replica is left out before it is tried again.

    Attributes:
        served: requests each replica answered, in the order of ``replicas``.

    """

    name: ClassVar[str] = "openai"

    def __init__(self, replicas: Sequence[LLMBackend], *, cooldown_s: float = 30.0) -> None:
        replicas = list(replicas)
        if not replicas:
            raise ConfigurationError("a ReplicaBackend needs at least one replica")
        identities = [backend_identity(r) for r in replicas]
        if any(i != identities[0] for i in identities[1:]):
            labels = ", ".join(sorted({identity_label(i) for i in identities}))
            raise ConfigurationError(f"the replicas serve different models ({labels}); they must serve one model")
        self.replicas = replicas
        self.identity: dict[str, Any] = identities[0]
        self.model: str = replicas[0].model
        self.cooldown_s = check_seconds(cooldown_s, "cooldown_s")
        self.served = [0] * len(replicas)
        self._in_flight = [0] * len(replicas)
        self._down_until = [0.0] * len(replicas)
        self._turn = 0
        self._lock = threading.Lock()
        # Threads for the second and later replicas of a call with several requests (the first runs in the
        # caller's thread); generous, since many callers may be in flight at once.
        self._threads = ThreadPoolExecutor(max_workers=16 * len(replicas), thread_name_prefix="neurosym-replica")

    @classmethod
    def from_urls(cls, urls: Sequence[str] | str, model: str | None = None, **options: Any) -> ReplicaBackend:
        """One :class:`OpenAICompatBackend` per URL (``options`` go to each ``from_url``), spread over.

        Raises:
            ConfigurationError: no URL, or servers that serve different models.

        """
        from neurosym.translators.backends.openai_compat import OpenAICompatBackend

        listed = split_urls(urls) if isinstance(urls, str) else list(urls)
        if not listed:
            raise ConfigurationError("no server URL given for the replicas")
        backends: list[Any] = []
        try:
            for url in listed:
                backends.append(OpenAICompatBackend.from_url(url, model, **options))
            return cls(backends)
        except BaseException:
            for backend in backends:
                backend.close()
            raise

    def __repr__(self) -> str:
        return f"ReplicaBackend({len(self.replicas)} replicas of {identity_label(self.identity)})"

    @property
    def supports_grammar(self) -> bool:
        """Whether every replica applies grammars (each may probe its server once)."""
        return all(bool(getattr(r, "supports_grammar", False)) for r in self.replicas)

    def close(self) -> None:
        """Close every replica that can be closed, and the backend's threads."""
        self._threads.shutdown(wait=False)
        for replica in self.replicas:
            closer = getattr(replica, "close", None)
            if callable(closer):
                closer()

    def __enter__(self) -> ReplicaBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _pick(self, excluded: set[int]) -> int | None:
        """The replica with the fewest requests in flight (ties in turn), skipping excluded and resting ones."""
        now = time.monotonic()
        with self._lock:
            candidates = [i for i in range(len(self.replicas)) if i not in excluded and self._down_until[i] <= now]
            if not candidates:
                candidates = [i for i in range(len(self.replicas)) if i not in excluded]  # all resting: try anyway
            if not candidates:
                return None
            count = len(self.replicas)
            chosen = min(candidates, key=lambda i: (self._in_flight[i], (i - self._turn) % count))
            self._turn = (chosen + 1) % count
            self._in_flight[chosen] += 1
            return chosen

    def _call(
        self,
        positions: list[int],
        requests: Sequence[GenerationRequest],
        settings: SamplingSettings | None,
        progress: ProgressCallback | None,
        replica: int,
    ) -> list[GenerationResult]:
        """Send ``positions`` to ``replica`` (counted in flight already); on a refused connection, to another."""
        tried: set[int] = set()
        current: int | None = replica
        while True:
            assert current is not None
            tried.add(current)
            batch = [requests[p] for p in positions]
            inner_progress = renumber_progress(progress, positions)
            try:
                if inner_progress is None:
                    results = self.replicas[current].generate(batch, settings=settings)
                else:
                    results = self.replicas[current].generate(batch, settings=settings, progress=inner_progress)
            except BackendConnectionError:
                with self._lock:
                    self._in_flight[current] -= 1
                    self._down_until[current] = time.monotonic() + self.cooldown_s
                current = self._pick(tried)
                if current is None:
                    raise
                continue
            with self._lock:
                self._in_flight[current] -= 1
                self.served[current] += len(positions)
            return results

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        settings: SamplingSettings | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationResult]:
        """One result per request, in order; each request answered whole by one replica."""
        if isinstance(requests, GenerationRequest):
            raise ConfigurationError("generate() takes a list of requests; wrap a single request in [...]")
        groups: dict[int, list[int]] = {}
        for position in range(len(requests)):
            replica = self._pick(set())
            assert replica is not None
            groups.setdefault(replica, []).append(position)
        out: list[GenerationResult | None] = [None] * len(requests)
        (first, first_positions), *others = groups.items()
        futures = [
            (positions, self._threads.submit(self._call, positions, requests, settings, progress, replica))
            for replica, positions in others
        ]
        done = [(first_positions, self._call(first_positions, requests, settings, progress, first))]
        done += [(positions, future.result()) for positions, future in futures]
        for positions, results in done:
            for position, result in zip(positions, results, strict=True):
                out[position] = result
        return [r for r in out if r is not None]
