"""``neurosym solve --target milp --save FILE``: the final model written as LP, MPS or the modeling language.

The model is a scripted one recorded to a cassette (the test double at the model boundary); the
solvers and the files are real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurosym.cli import main
from neurosym.milp.files import read_model
from neurosym.milp.solve import solve_model
from neurosym.targets.registry import target_spec

PROBLEM = (
    "A workshop makes chairs and tables. A chair uses 2 units of wood and 3 hours; a table uses 4 units of wood "
    "and 2 hours. There are 40 units of wood and 36 hours. A chair earns $30 and a table $50. Maximize profit."
)
MODEL = (
    "integer chairs, tables\nmaximize profit: 30 chairs + 50 tables\n"
    "wood: 2 chairs + 4 tables <= 40\nhours: 3 chairs + 2 tables <= 36\n"
)


def recorded(tmp_path: Path, replies: list[str], **options) -> str:
    """A cassette of a scripted model answering PROBLEM with the milp target."""
    from neurosym.loop import Strategy
    from neurosym.solving import solve
    from neurosym.translators.backends.replay import RecordingBackend
    from neurosym.translators.backends.scripted import ScriptedBackend

    path = tmp_path / "milp.jsonl"
    options.setdefault("strategy", Strategy.greedy())  # what `--samples 1` replays
    solve(PROBLEM, target="milp", llm=RecordingBackend(ScriptedBackend(replies), path), **options)
    return str(path)


def greedy_solve(llm: str, *options: str) -> list[str]:
    """`neurosym solve --target milp --samples 1` on PROBLEM with ``llm`` (the cassettes hold one greedy sample)."""
    return ["solve", "--target", "milp", "--samples", "1", PROBLEM, "--llm", llm, *options]


def test_the_milp_target_declares_the_option():
    option = next(o for o in target_spec("milp").cli if o.dest == "save")
    assert option.flags == ("--save",) and option.metavar == "FILE"


@pytest.mark.parametrize("suffix", [".lp", ".mps", ".nsm"])
def test_save_writes_the_final_model_which_solves_to_the_answer(tmp_path, capsys, suffix):
    cassette = recorded(tmp_path, [MODEL])
    path = tmp_path / f"plan{suffix}"
    assert main(greedy_solve(f"replay:{cassette}", "--save", str(path))) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answer: 540") and f"Saved: {path}" in out
    saved = read_model(path)
    assert [c.name for c in saved.constraints] == ["wood", "hours"]
    assert solve_model(saved).objective == 540.0


def test_save_keeps_the_repaired_model_not_the_first(tmp_path, capsys):
    from neurosym.loop.refine import Strategy

    wrong = MODEL + "demand: chairs >= 30\n"
    cassette = recorded(tmp_path, [wrong, MODEL], strategy=Strategy(samples=1, repair_rounds=1))
    path = tmp_path / "plan.lp"
    argv = greedy_solve(f"replay:{cassette}", "--repair-rounds", "1")
    assert main([*argv, "--json", "--save", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["saved"] == str(path)
    assert "demand" not in [c.name for c in read_model(path).constraints]


def test_an_infeasible_final_model_is_saved_too(tmp_path, capsys):
    cassette = recorded(tmp_path, [MODEL + "demand: chairs >= 30\n"])
    path = tmp_path / "wrong.mps"
    assert main(greedy_solve(f"replay:{cassette}", "--save", str(path))) == 1
    out = capsys.readouterr().out
    assert "irreducible infeasible subset" in out and f"Saved: {path}" in out
    assert "demand" in [c.name for c in read_model(path).constraints]


def test_an_unreadable_translation_saves_nothing_and_says_so(tmp_path, capsys):
    cassette = recorded(tmp_path, ["Sorry, I can't help with that."])
    path = tmp_path / "plan.lp"
    assert main(greedy_solve(f"replay:{cassette}", "--save", str(path))) == 1
    assert "not saved: no model was read" in capsys.readouterr().err
    assert not path.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "milp", "--save", "plan.txt"], "a model file ends in .lp"),
        (["--target", "fol", "--save", "plan.lp"], "--save is an option of --target milp"),
    ],
)
def test_a_bad_save_is_refused_before_any_model_call(tmp_path, capsys, argv, message):
    # no cassette exists: a refusal must come before the backend is asked anything
    assert main(["solve", PROBLEM, "--llm", f"replay:{tmp_path / 'none.jsonl'}", *argv]) == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_save_path_is_refused_before_any_model_call(tmp_path, capsys):
    folder = tmp_path / "folder.lp"
    folder.mkdir()
    argv = greedy_solve(f"replay:{tmp_path / 'none.jsonl'}", "--save", str(folder))
    assert main(argv) == 2
    assert "is a directory" in capsys.readouterr().err
