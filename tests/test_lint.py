"""The static checks of scripts/lint hold: mypy and ruff are clean on the code.

mypy uses the settings of pyproject.toml ([tool.mypy]) and its incremental cache in .mypy_cache
at the checkout's root (git-ignored), so after a first run it takes seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF_PATHS = ["neurosym", "tests", "benchmarks", "conftest.py"]


def _clean(*args: str) -> str:
    """Run ``python -m ARGS`` at the checkout's root; fail with the tool's own output unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(args)}` exited with {done.returncode}:\n{done.stdout}{done.stderr}", pytrace=False)
    return done.stdout


def test_mypy_is_clean_on_the_package():
    assert "Success: no issues found" in _clean("mypy")


def test_ruff_check_is_clean():
    assert "All checks passed" in _clean("ruff", "check", "--output-format", "concise", *RUFF_PATHS)


def test_ruff_format_leaves_every_file_as_it_is():
    assert "already formatted" in _clean("ruff", "format", "--check", *RUFF_PATHS)


def test_scripts_lint_runs_each_check_and_refuses_an_unknown_option():
    lint = ROOT / "scripts" / "lint"
    text = lint.read_text(encoding="utf-8")
    for command in ("ruff check", "ruff format --check", "mypy"):
        assert command in text, f"scripts/lint does not run {command}"
    done = subprocess.run([str(lint), "--no-such-option"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "usage" in done.stderr
