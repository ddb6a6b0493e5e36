"""The data registry: where the data folder is, and the errors that say how to name it."""

import pytest

from neurosym.bench import data
from neurosym.cli import main
from neurosym.errors import InputError


def test_the_environment_variable_names_the_data_folder(monkeypatch, tmp_path):
    (tmp_path / "math" / "gsm8k").mkdir(parents=True)
    (tmp_path / "math" / "gsm8k" / "test.jsonl").write_text("{}\n")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.data_dir() == tmp_path
    assert data.dataset_path("gsm8k-test") == tmp_path / "math" / "gsm8k" / "test.jsonl"


def test_a_missing_data_folder_names_the_variable_and_the_option(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match=rf"{data.DATA_ENV}.*--data-dir"):
        data.data_dir()
    with pytest.raises(InputError, match="--data-dir"):
        data.data_dir(tmp_path / "also-nowhere")


def test_a_data_set_missing_from_the_folder_is_named(tmp_path):
    with pytest.raises(InputError, match=r"proofwriter-dev .*dev\.json is missing"):
        data.dataset_path("proofwriter-dev", tmp_path)


def test_the_command_line_reports_missing_data_with_exit_code_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "nowhere"))
    assert main(["bench", "gsm8k_loop", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "InputError" in err and data.DATA_ENV in err and "Traceback" not in err


def test_the_list_shows_every_benchmark_and_whether_its_data_are_here(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("logic_loop", "logic_loop_renamed", "gsm8k_loop", "nl4opt_loop"):
        assert f"\n{name}\n" in out
    assert "folio-validation (missing)" in out


def test_an_unknown_benchmark_or_strategy_is_bad_input(capsys):
    assert main(["bench", "logic"]) == 2
    assert "did you mean 'logic_loop'" in capsys.readouterr().err
    assert main(["bench", "nl4opt_loop", "--strategies", "greedy,cot"]) == 2
    assert "has no strategy 'cot'" in capsys.readouterr().err


def test_outside_a_checkout_the_data_and_the_cassette_must_be_named(monkeypatch, tmp_path):
    from neurosym.bench import runner

    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setattr(data, "checkout_root", lambda: None)
    monkeypatch.setattr(runner, "checkout_root", lambda: None)
    with pytest.raises(InputError, match=rf"no data folder: set {data.DATA_ENV} or pass --data-dir"):
        data.data_dir()
    with pytest.raises(InputError, match="--cassette"):
        runner.default_cassette(runner.get_benchmark("gsm8k_loop"))
    monkeypatch.chdir(tmp_path)
    assert runner.default_results_dir() == tmp_path / "bench-results"
