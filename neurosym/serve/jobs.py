"""Runs the page starts: a solve through the model in a worker thread, its streamed text, its outcome.

A :class:`Job` collects what the backend's progress callback reports (the text as it is written)
so that the page's event stream can send it on, and keeps the :class:`~neurosym.serve.views.Outcome`
once the run ends. :class:`JobBoard` holds the latest jobs and lets one model run at a time (the
embedded model uses every core; two runs would only share them).

Example:
    >>> from neurosym.serve.views import Outcome
    >>> board = JobBoard()
    >>> job = board.add(Job("milp", "Maximize x ..."))
    >>> job.report(Progress(0, 0, 3, "integer x"))
    >>> job.finish(Outcome("milp", "Maximize x ..."))
    >>> job.events_since(0), board.get(job.id) is job
    ([('token', {'sample': 0, 'request': 0, 'text': 'integer x', 'tokens': 3})], True)

"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Any

from neurosym.serve.views import Outcome
from neurosym.translators.base import Progress

__all__ = ["MAX_JOBS", "Job", "JobBoard", "Progress"]

MAX_JOBS = 64
"""How many runs the server remembers (for their page, downloads and event stream); older ones are dropped."""
MAX_STREAMED_CHARS = 200_000
"""Most characters of model text one job streams (a model that runs on is cut off on the page, not in the run)."""


class Job:
    """One run: its target and problem, the events streamed so far, and the outcome once finished.

    Example:
        >>> job = Job("milp", "Maximize x ...")
        >>> job.report(Progress(0, 0, 1, "integer x", done=True))
        >>> [name for name, _ in job.events_since(0)], job.finished
        (['token', 'sample'], False)

    """

    def __init__(self, target: str, problem: str, *, outcome: Outcome | None = None) -> None:
        self.id = secrets.token_hex(8)
        self.target = target
        self.problem = problem
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._streamed = 0
        self._lock = threading.Lock()
        self.outcome = outcome
        self._finished = threading.Event()
        if outcome is not None:
            self._finished.set()

    @property
    def finished(self) -> bool:
        """Whether the run has ended (its outcome is set)."""
        return self._finished.is_set()

    def report(self, event: Progress) -> None:
        """The backend's progress callback: keep the new text (and the end of each sample) for the stream."""
        with self._lock:
            if event.text and self._streamed < MAX_STREAMED_CHARS:
                text = event.text[: MAX_STREAMED_CHARS - self._streamed]
                self._streamed += len(text)
                self._events.append(("token", {"sample": event.sample_index, "request": event.request_index,
                                               "text": text, "tokens": event.completion_tokens}))  # fmt: skip
            if event.done:
                self._events.append(("sample", {"sample": event.sample_index, "tokens": event.completion_tokens}))

    def events_since(self, cursor: int) -> list[tuple[str, dict[str, Any]]]:
        """The events after the first ``cursor`` ones."""
        with self._lock:
            return self._events[cursor:]

    def finish(self, outcome: Outcome) -> None:
        """Set the outcome; the stream ends after the events before it."""
        self.outcome = outcome
        self._finished.set()

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the run to end; whether it has."""
        return self._finished.wait(timeout_s)


class JobBoard:
    """The latest :data:`MAX_JOBS` jobs by id, and the one lock that lets one model run at a time.

    Example:
        >>> board = JobBoard()
        >>> board.model_busy.acquire(blocking=False), board.model_busy.acquire(blocking=False)
        (True, False)

    """

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.model_busy = threading.Lock()

    def add(self, job: Job) -> Job:
        """Remember ``job`` (dropping the oldest beyond :data:`MAX_JOBS`)."""
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, if it is still remembered."""
        with self._lock:
            return self._jobs.get(job_id)
