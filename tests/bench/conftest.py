"""Fixtures of the benchmark tests: the shared data, the committed cassettes, a local Ray cluster."""

import pytest

from neurosym.bench.data import DATA_ENV, checkout_root, default_data_dir


@pytest.fixture(scope="session")
def shared_data():
    """The data folder; the test is skipped, with the reason, where it is absent."""
    root = default_data_dir()
    if root is None or not root.is_dir():
        pytest.skip(f"the benchmark data are not here: set {DATA_ENV} to the folder that holds logic/, math/, opt/")
    return root


@pytest.fixture(scope="session")
def cassettes():
    """The checkout's committed cassettes; skipped where neurosym does not run from a checkout."""
    root = checkout_root()
    if root is None or not (root / "benchmarks" / "cassettes").is_dir():
        pytest.skip("the committed cassettes are in a checkout's benchmarks/cassettes; this is not one")
    return root / "benchmarks" / "cassettes"


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray cluster of 2 CPUs for the module's tests (skipped without the ray package)."""
    ray = pytest.importorskip("ray", reason="the Ray tests need the ray package (pip install 'neurosym-toolkit[ray]')")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
