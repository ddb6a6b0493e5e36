"""The kill -9 recording benchmark, run small: killed recordings resume and lose no reported sample."""

import json

from benchmarks import kill_recording


def test_a_few_kills_lose_no_reported_sample_and_leave_a_clean_cassette(tmp_path, capsys):
    assert kill_recording.main(["--kills", "5", "--aimed", "0.6", "--seed", "1", "--out", str(tmp_path)]) == 0
    figures = json.loads((tmp_path / "kill_recording.json").read_text())
    assert figures["kills"] == 5 == figures["kills_at_random"] + figures["kills_aimed_at_a_write"]
    assert figures["records_reported_written"] >= 1  # the last child writes one record at least
    assert figures["records_lost"] == 0
    assert figures["lines_skipped_on_final_read"] == 0
    assert figures["records_in_cassette"] >= figures["records_reported_written"]
    assert figures["torn_lines_recovered"] == figures["torn_lines_seen_after_a_kill"]
    # A child killed after cutting a torn line but before saying so leaves the cut unreported.
    assert figures["torn_lines_cut_reported_by_children"] <= figures["torn_lines_seen_after_a_kill"]
    assert "records lost: 0 (goal 0)" in capsys.readouterr().out


def test_torn_tails_are_told_apart_from_whole_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"key": "a"}\n')
    assert kill_recording._torn_tail(path) == (False, False)
    path.write_bytes(b'{"key": "a"}\n{"key": "b", "text": "x')
    assert kill_recording._torn_tail(path) == (True, False)
    for cut in (1, 2, 3):  # inside a four-byte character
        path.write_bytes(b'{"key": "a"}\n{"key": "b", "text": "' + "🙂".encode()[:cut])
        assert kill_recording._torn_tail(path) == (True, True)
    path.write_bytes(b'{"key": "b", "text": "' + "🙂".encode())
    assert kill_recording._torn_tail(path) == (True, False)
