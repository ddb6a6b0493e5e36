"""The README's examples run as written and print what the README says.

* every ```python block runs as a script, in a fresh folder, in its own process;
* every ```pycon block runs as a doctest;
* every ```console block marked ``<!-- test: run -->`` runs its ``$`` commands in order, and each
  command's output must match the README's (doctest rules: ``...`` stands for anything; the
  ``Time:`` line and millisecond figures are measurements and are not compared).

The model is the real one's recorded samples: ``get_backend`` answers every spec but ``replay:``
with tests/data/readme.jsonl, a cassette of the embedded default model (a test double at the
model boundary, nothing else). Record it again after changing an example:
``NEUROSYM_README_RECORD=1 .venv/bin/python -m pytest tests/test_readme.py`` (needs the embedded
model; a few minutes on 2 cores).
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CASSETTE = ROOT / "tests" / "data" / "readme.jsonl"
RECORD = os.environ.get("NEUROSYM_README_RECORD") == "1"
RUNNABLE = "<!-- test: run -->"

PREAMBLE = textwrap.dedent(
    f"""
    # Added by tests/test_readme.py: the model is the cassette of the README's examples.
    import neurosym.translators.backends as _backends
    from neurosym.translators.backends.replay import RecordingBackend as _Recording, ReplayBackend as _Replay

    _real_get_backend = _backends.get_backend


    def _readme_backend(spec, **options):
        if spec.startswith("replay:"):
            return _real_get_backend(spec, **options)
        if {RECORD!r}:
            return _Recording(_real_get_backend(spec, **options), {str(CASSETTE)!r}, resume=True, one_at_a_time=True)
        return _Replay({str(CASSETTE)!r})


    _backends.get_backend = _readme_backend
    """
)


def _blocks(kind: str) -> list[tuple[str, str]]:
    """The ``kind`` blocks of the README, each with the line just before its opening fence."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(rf"(?m)^([^\n]*)\n```{kind}\n(.*?)^```", text, flags=re.DOTALL):
        found.append((match.group(1), match.group(2)))
    return found


def _environment() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("NEUROSYM_LLM", None)
    return env


def _needs_cassette() -> None:
    if not RECORD and not CASSETTE.is_file():
        pytest.fail(f"the README cassette {CASSETTE} is missing: record it (see this module's docstring)")


PYTHON_BLOCKS = _blocks("python")


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_blocks_run_as_scripts(index, tmp_path):
    _needs_cassette()
    script = tmp_path / "example.py"
    script.write_text(PREAMBLE + "\n" + PYTHON_BLOCKS[index][1], encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=1800
    )
    assert run.returncode == 0, f"README python block {index} failed:\n{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr


def test_pycon_blocks_run_as_doctests():
    blocks = _blocks("pycon")
    assert blocks, "the README has no pycon example"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for i, (_, block) in enumerate(blocks):
        runner.run(parser.get_doctest(block, {}, f"README block {i}", str(README), 0))
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


def _commands(block: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block (continuation lines joined)."""
    pairs: list[tuple[str, str]] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1
            continue
        command = lines[i][2:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1] + " " + lines[i].strip()
        i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        pairs.append((command, "\n".join(output)))
    return pairs


def _normalise(text: str) -> str:
    text = re.sub(r"(?m)^Time: .*$", "Time: ...", text)
    return re.sub(r"\d+ ms\b", "N ms", text).rstrip() + "\n"


CONSOLE_BLOCKS = [block for before, block in _blocks("console") if before.strip() == RUNNABLE]


def test_the_readme_marks_runnable_console_blocks():
    assert len(CONSOLE_BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(CONSOLE_BLOCKS)))
def test_marked_console_blocks_print_what_the_readme_shows(index, tmp_path):
    _needs_cassette()
    env = _environment()
    if not RECORD:
        env["NEUROSYM_LLM"] = f"replay:{CASSETTE}"
    checker = doctest.OutputChecker()
    for command, expected in _commands(CONSOLE_BLOCKS[index]):
        argv = shlex.split(command.split("  #")[0])
        if argv[0] == "cat" and len(argv) == 2:  # the block shows a file's content: that is the file
            (tmp_path / argv[1]).write_text(expected + "\n", encoding="utf-8")
            continue
        if argv[0] == ".venv/bin/neurosym":
            argv = [sys.executable, "-m", "neurosym", *argv[1:]]
            if RECORD and argv[3] == "solve" and "--llm" not in argv:
                argv += ["--record", str(CASSETTE)]
        run = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
        assert "Traceback" not in run.stderr, run.stderr
        got, want = _normalise(run.stdout), _normalise(expected)
        if not checker.check_output(want, got, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE):
            pytest.fail(f"`{command}` printed:\n{got}\nthe README shows:\n{want}")


def test_readme_names_the_install_and_test_commands():
    text = README.read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("./scripts/install", "./scripts/test"):
        assert command in text
        assert command in ci
