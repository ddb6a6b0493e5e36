"""neurosym bench from the committed cassettes: the same rows as the committed results, written as they finish."""

import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest

from neurosym.bench.registry import get_benchmark
from neurosym.bench.runner import read_rows, run_bench, select_items
from neurosym.errors import InputError
from neurosym.loop.batch import LocalExecutor

# What a row says about the model and the verdicts; the timings differ from run to run.
ANSWER_FIELDS = ("item", "dataset", "strategy", "label", "answer", "samples", "tokens", "votes", "first_k",
                 "sample_statuses", "repair_statuses", "repairs_answered", "repairs_repeated", "correct")  # fmt: skip


def answers(rows):
    return [{k: (r[k] if isinstance(r, dict) else getattr(r, k)) for k in ANSWER_FIELDS} for r in rows]


def without_times(markdown):
    return [line for line in markdown.splitlines() if not line.startswith("Items recorded")]


def committed(cassettes, name):
    results = cassettes.parent / "results" / f"{name}.jsonl"
    return [json.loads(line) for line in results.read_text().splitlines()]


def test_a_few_items_replay_to_the_committed_rows(shared_data, cassettes, tmp_path):
    result = run_bench("gsm8k_loop", items="0:3", out=tmp_path, write_plot=False, log=lambda line: None)
    assert result.items == 3 and result.missing == 0 and len(result.rows) == 3 * 6
    ids = {r.item for r in result.rows}
    assert answers(result.rows) == answers([r for r in committed(cassettes, "gsm8k_loop") if r["item"] in ids])
    written = [json.loads(line) for line in (tmp_path / "gsm8k_loop.jsonl").read_text().splitlines()]
    assert answers(written) == answers(result.rows)
    first = written[0]
    assert first["model"]["kind"] == "llamacpp" and first["versions"]["neurosym"]
    assert first["settings"]["max_tokens"] == 512 and first["run_key"] == result.run["run_key"]
    assert result.run["llm"]["replayed_from"].endswith("gsm8k_loop.jsonl")


def test_declare_then_use_replays_its_committed_rows(shared_data, cassettes, tmp_path):
    # The declared decoder's spans are cassette keys: a change to its grammars or labels that is not
    # re-recorded leaves these items unreplayable.
    result = run_bench("logic_loop_declare", items="0:8", strategies=["cot", "greedy"], out=tmp_path,
                       write_plot=False, write_html=False, log=lambda line: None)  # fmt: skip
    assert result.items == 8 and result.missing == 0
    ids = {r.item for r in result.rows}
    expected = [
        r for r in committed(cassettes, "logic_loop_declare") if r["item"] in ids and r["strategy"] in ("cot", "greedy")
    ]
    assert sorted(map(str, answers(result.rows))) == sorted(map(str, answers(expected)))


def test_several_items_in_flight_with_a_prover_pool_write_the_same_rows(shared_data, cassettes, tmp_path):
    one = run_bench("nl4opt_loop", items="0:4", out=tmp_path / "one", write_plot=False, log=lambda line: None)
    pool = run_bench("nl4opt_loop", items="0:4", out=tmp_path / "pool", write_plot=False, log=lambda line: None,
                     executor=LocalExecutor(2, workers=2))  # fmt: skip
    assert answers(pool.rows) == answers(one.rows)
    assert without_times(pool.markdown) == without_times(one.markdown)
    assert pool.run["versions"]["highspy"] and pool.run["executor"]["workers"] == 2


def test_strategies_and_items_can_be_chosen(shared_data, cassettes, tmp_path):
    result = run_bench("logic_loop", items="folio-10,1", strategies=["greedy", "cot"], out=tmp_path,
                       write_plot=False, log=lambda line: None)  # fmt: skip
    assert [(r.item, r.strategy) for r in result.rows][:2] == [("folio-10", "cot"), ("folio-10", "greedy")]
    assert {r.strategy for r in result.rows} == {"cot", "greedy"} and result.items == 2
    assert [t["strategy"] for t in result.table if t["dataset"] == "all"] == ["cot", "greedy"]


def test_item_selections_are_checked():
    assert select_items("-2:", 5) == [3, 4] and select_items("4,0:2", 5) == [4, 0, 1]
    with pytest.raises(InputError, match="out of range"):
        select_items("9", 5)
    with pytest.raises(InputError, match="neither an index"):
        select_items("nope", 5)
    with pytest.raises(InputError, match="selects no item"):
        select_items("3:1", 5)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_html_report_is_self_contained(shared_data, cassettes, tmp_path):
    pytest.importorskip("matplotlib", reason="the plots need matplotlib (the bench extra)")
    result = run_bench("logic_loop", items="0:4", out=tmp_path, log=lambda line: None)
    page = result.files["html"].read_text()
    parser = _Links()
    parser.feed(page)
    assert parser.links and all(link.startswith("data:image/png;base64,") for link in parser.links)
    assert "link" not in parser.tags and "script" not in parser.tags
    assert "[" in page and "95%" in page  # the intervals
    assert result.files["plot"].stat().st_size > 1000


@pytest.mark.slow
def test_the_three_committed_tables_replay_exactly(shared_data, cassettes, tmp_path):
    for name in ("logic_loop", "gsm8k_loop", "nl4opt_loop"):
        result = run_bench(name, out=tmp_path, write_plot=False, write_html=False, log=lambda line: None)
        expected = (cassettes.parent / "results" / f"{name}.md").read_text()
        assert without_times(result.markdown) == without_times(expected), name
        assert answers(result.rows) == answers(committed(cassettes, name)), name


def _rows_written(path):
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_a_killed_run_resumes_to_the_full_table(shared_data, cassettes, tmp_path):
    items = "0:12"
    whole = run_bench("logic_loop", items=items, out=tmp_path / "whole", write_plot=False, write_html=False,
                      log=lambda line: None)  # fmt: skip
    out, cache = tmp_path / "killed", tmp_path / "cache.sqlite"
    command = [sys.executable, "-m", "neurosym", "bench", "logic_loop", "--items", items, "--out", str(out),
               "--cache", str(cache), "--no-plot", "--no-html"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    rows_file = out / "logic_loop.jsonl"
    deadline = time.monotonic() + 120
    try:
        while _rows_written(rows_file) < 3 * 6 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = read_rows(rows_file)
    assert 3 <= len(finished) < 12  # items written one by one, as they finished
    resumed = run_bench("logic_loop", items=items, out=out, cache=cache, resume=True, write_plot=False,
                        write_html=False, log=lambda line: None)  # fmt: skip
    assert resumed.resumed >= 3
    assert without_times(resumed.markdown) == without_times(whole.markdown)
    assert answers(resumed.rows) == answers(whole.rows)


def test_the_old_entry_point_keeps_its_grammar_and_settings_in_step_with_the_package():
    from benchmarks import nl4opt_loop
    from neurosym.bench.suites import nl4opt
    from neurosym.types import Problem

    problem = Problem("A farmer has 10 acres. Maximize profit.", id="x")
    assert nl4opt_loop.SETTINGS == nl4opt.SETTINGS
    old = nl4opt_loop.MilpTarget(constrained=True, grammar=nl4opt_loop.recorded_grammar())
    assert old.request(problem) == nl4opt.NL4OPT_LOOP.target().request(problem)
    assert nl4opt.RECORDED_GRAMMAR == nl4opt_loop.recorded_grammar()
    assert get_benchmark("nl4opt_loop").strategies == tuple(nl4opt_loop.ORDER)


def test_the_old_nl4opt_entry_point_refuses_what_only_the_package_runner_does(capsys):
    from benchmarks import nl4opt_loop

    assert nl4opt_loop.main(["--strategies", "greedy"]) == 2
    assert "neurosym bench nl4opt_loop" in capsys.readouterr().err


def test_the_wilson_interval_reaches_0_and_1_exactly_at_the_edges():
    from neurosym.bench.report import wilson_interval

    for trials in range(1, 81):  # in floating point, 0 of 3 once had a lower bound above 0 (a negative error bar)
        assert wilson_interval(0, trials)[0] == 0.0 and wilson_interval(trials, trials)[1] == 1.0, trials
        if trials > 1:
            low, high = wilson_interval(trials // 2, trials)
            assert 0.0 < low < (trials // 2) / trials < high < 1.0, trials
