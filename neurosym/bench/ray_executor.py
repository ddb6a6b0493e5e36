"""Checks on a Ray cluster: the provers run in Ray's worker processes, the loops stay in this process.

:class:`RayExecutor` is a :class:`~neurosym.loop.batch.ProblemExecutor`: ``run_many(...,
executor=RayExecutor())`` and ``neurosym bench NAME --ray [ADDRESS]`` work on problems in
threads of this process (the driver) and send each check (``target.check(formalization)``) to
the cluster as a Ray task of one CPU. The model calls stay in the driver, where the cache and
the cassette are, and are spread over the model's servers there
(:class:`~neurosym.translators.backends.replicas.ReplicaBackend`); only the CPU-bound provers
(Z3, E, HiGHS, CBC, the Python sandbox) go to the cluster. A problem's samples therefore do not
depend on the executor, and neither do its verdicts, short of a timeout.

Deadlines: at most as many checks are in flight as the cluster has CPUs, so a task starts as
soon as it is sent, and a check whose answer has not come ``timeout_s + grace_s`` seconds after it
was sent is cancelled (its worker process is killed, ``ray.cancel(force=True)``) and gets a
``timeout`` verdict, as in :class:`~neurosym.loop.pool.ProverPool`. An exception in the worker is
an ``unknown`` verdict with the worker's traceback, except usage errors, which raise; a cluster
that cannot be reached raises :class:`~neurosym.errors.PoolBrokenError`.

Ray is an optional dependency: ``pip install 'neurosym-toolkit[ray]'``, on the driver and on
every node, with the same neurosym.

Example:
    >>> executor = RayExecutor(num_cpus=2)
    >>> executor.address, executor.describe()["executor"]
    (None, 'ray')

"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from neurosym.deadlines import check_seconds
from neurosym.errors import (
    ConfigurationError,
    MissingDependencyError,
    PoolBrokenError,
    SolverUnavailableError,
)
from neurosym.loop.refine import Checker
from neurosym.types import Formalization, Verdict

__all__ = ["RayExecutor", "import_ray"]

_PROPAGATED = (ConfigurationError, MissingDependencyError, SolverUnavailableError)


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`~neurosym.errors.MissingDependencyError` that says what to install.

    Example:
        >>> try:
        ...     ray = import_ray()
        ... except MissingDependencyError:
        ...     ray = None
        >>> ray is None or callable(ray.init)
        True

    """
    try:
        import ray
    except ImportError as err:
        raise MissingDependencyError(
            "running on Ray needs the ray package: pip install 'neurosym-toolkit[ray]'", package="ray"
        ) from err
    return ray


def check_in_worker(target: Any, formalization: Formalization, timeout_s: float) -> Verdict:
    r"""What a Ray task runs: ``target.check`` in the worker process (one task at a time per worker).

    Example:
        >>> from neurosym.targets.fol import FolTarget
        >>> from neurosym.types import Problem
        >>> t = FolTarget(constrained=False)
        >>> out = "Premises:\n1. A dog.\nFOL: Dog(rex)\nConclusion:\nA dog?\nFOL: Dog(rex)"
        >>> check_in_worker(t, t.parse(Problem(premises=("A dog.",), conclusion="A dog?"), out), 5.0).status
        'proved'

    """
    from neurosym.loop.pool import check_with_target

    return check_with_target(target, formalization, timeout_s)


def _warm_up(preload: tuple[str, ...]) -> int:
    """Import the target's heavy modules in a worker (so the first check does not pay for it); the worker's pid."""
    import importlib
    import os

    for module in preload:
        importlib.import_module(module)
    return os.getpid()


class RayExecutor:
    """Problems in threads here, their checks as tasks on a Ray cluster (see the module docstring).

    Args:
        address: the cluster (``ray.init(address=...)``): ``None`` connects to ``$RAY_ADDRESS`` or
            to a cluster started on this machine with ``ray start``, else starts a local one;
            ``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"`` name one. If Ray is already
            initialised in this process, that connection is used and left open.
        max_in_flight: problems worked on at once; default twice the cluster's CPUs (a problem
            waits on its model as often as on its checks).
        num_cpus: CPUs of a local cluster started here (default: all of this machine's).
        grace_s: seconds a check may run past its time limit before it is cancelled.
        init_options: more keyword arguments for ``ray.init`` (``runtime_env``, ``namespace``, ...).

    """

    def __init__(
        self,
        address: str | None = None,
        *,
        max_in_flight: int | None = None,
        num_cpus: int | None = None,
        grace_s: float = 5.0,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        if max_in_flight is not None and (isinstance(max_in_flight, bool) or max_in_flight < 1):
            raise ConfigurationError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
        if num_cpus is not None and (isinstance(num_cpus, bool) or num_cpus < 1):
            raise ConfigurationError(f"num_cpus must be at least 1, got {num_cpus!r}")
        self.address = address
        self.num_cpus = num_cpus
        self.grace_s = check_seconds(grace_s, "grace_s")
        self.init_options = dict(init_options or {})
        self._requested_in_flight = max_in_flight
        self.max_in_flight = max_in_flight or 1
        self.cluster_cpus: int | None = None
        self.stats = {"checks": 0, "timeouts": 0, "worker_errors": 0}

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, num_cpus={self.num_cpus}, max_in_flight={self.max_in_flight})"

    def describe(self) -> dict[str, Any]:
        """What a results file records about where the run ran."""
        ray_version = None
        with contextlib.suppress(MissingDependencyError):
            ray_version = import_ray().__version__
        return {
            "executor": "ray",
            "address": self.address,
            "cluster_cpus": self.cluster_cpus,
            "max_in_flight": self.max_in_flight,
            "ray": ray_version,
        }

    def _connect(self, ray: Any) -> bool:
        """Initialise Ray unless it already is; whether this call started the connection."""
        if ray.is_initialized():
            return False
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, **self.init_options}
        if self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        try:
            ray.init(address=self.address, **options)
        except (ConnectionError, ValueError, RuntimeError) as err:
            where = self.address or "a local cluster"
            raise PoolBrokenError(f"cannot start or reach the Ray cluster ({where}): {err}", solver="ray") from err
        return True

    @contextlib.contextmanager
    def checking(self, target: Any, problems: int) -> Iterator[Checker]:
        """Connect to the cluster, warm its workers up for ``target``, yield the checker; disconnect if we connected."""
        ray = import_ray()
        started_here = self._connect(ray)
        try:
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            self.cluster_cpus = cpus
            self.max_in_flight = self._requested_in_flight or max(1, min(2 * cpus, problems or 1))
            from neurosym.targets.registry import spec_of

            spec = spec_of(target)
            preload = tuple(spec.preload) if spec else ()
            warm = ray.remote(num_cpus=1, max_retries=0)(_warm_up)
            ray.get([warm.remote(preload) for _ in range(cpus)])
            yield _RayChecker(ray, self, cpus)
        finally:
            if started_here:
                ray.shutdown()


class _RayChecker:
    """The checker :meth:`RayExecutor.checking` yields: one Ray task per check, at most one per CPU in flight."""

    def __init__(self, ray: Any, executor: RayExecutor, slots: int) -> None:
        self.ray = ray
        self.executor = executor
        self.remote = ray.remote(num_cpus=1, max_retries=0)(check_in_worker)
        self.slots = threading.BoundedSemaphore(slots)
        self.refs: dict[int, Any] = {}  # id(target) -> (target, its object ref): each target is sent once
        self.lock = threading.Lock()

    def _target_ref(self, target: Any) -> Any:
        with self.lock:
            entry = self.refs.get(id(target))
            if entry is None or entry[0] is not target:
                entry = (target, self.ray.put(target))
                self.refs[id(target)] = entry
            return entry[1]

    def __call__(self, target: Any, formalization: Formalization, timeout_s: float) -> Verdict:
        ray, executor = self.ray, self.executor
        exceptions = ray.exceptions
        target_ref = self._target_ref(target)
        with self.slots:
            started = time.monotonic()
            ref = self.remote.remote(target_ref, formalization, timeout_s)
            try:
                verdict: Verdict = ray.get(ref, timeout=timeout_s + executor.grace_s)
            except exceptions.GetTimeoutError:
                ray.cancel(ref, force=True)
                executor.stats["timeouts"] += 1
                return Verdict(
                    "timeout",
                    message=f"the check did not finish within {timeout_s:g} s (+{executor.grace_s:g} s grace) "
                    "on the Ray cluster; its worker was killed",
                    feedback=f"The prover ran out of time ({timeout_s:g} s) on this problem.",
                    elapsed_s=time.monotonic() - started,
                    details={"timeout_s": timeout_s, "grace_s": executor.grace_s, "executor": "ray"},
                )
            except exceptions.RayTaskError as err:
                cause = getattr(err, "cause", None)
                if isinstance(cause, _PROPAGATED):
                    raise cause from None
                executor.stats["worker_errors"] += 1
                name = type(cause).__name__ if cause is not None else type(err).__name__
                return Verdict(
                    "unknown",
                    message=f"{name}: {cause if cause is not None else err}",
                    elapsed_s=time.monotonic() - started,
                    details={"traceback": str(err), "executor": "ray"},
                )
            except (exceptions.WorkerCrashedError, exceptions.TaskCancelledError) as err:
                executor.stats["worker_errors"] += 1
                return Verdict(
                    "unknown",
                    message=f"the Ray worker running the check died: {type(err).__name__}: {err}",
                    elapsed_s=time.monotonic() - started,
                    details={"executor": "ray"},
                )
            except exceptions.RayError as err:
                raise PoolBrokenError(f"the Ray cluster failed: {type(err).__name__}: {err}", solver="ray") from err
            executor.stats["checks"] += 1
            return verdict
