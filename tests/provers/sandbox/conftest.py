"""A sandbox shared by the sandbox tests; skipped, with the reason, where bwrap or libseccomp is missing."""

import pytest

from neurosym.provers.sandbox import Limits, Sandbox, sandbox_problem

TEST_LIMITS = Limits(wall_s=3.0, cpu_s=2.0, memory_mb=768, file_mb=4, output_bytes=4096)


@pytest.fixture(scope="session")
def sandbox():
    """A two-worker sandbox with tight limits, so that the hostile programs end quickly."""
    problem = sandbox_problem()
    if problem is not None:
        pytest.skip(f"the Python sandbox cannot run here: {problem}")
    with Sandbox(workers=2, limits=TEST_LIMITS) as box:
        yield box
