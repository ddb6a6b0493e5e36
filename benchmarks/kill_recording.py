"""kill -9 a recording at random moments, resume it each time, and count the samples lost (the goal is none).

A child process records to a cassette with :class:`~neurosym.translators.backends.replay.RecordingBackend`
(``resume=True``) in front of a scripted model whose samples are large and full of multi-byte
UTF-8 characters (1 to 4 bytes each, 0.8 to 5 MB a sample), so that a kill can land inside the
one ``os.write`` of a record and tear it, often inside a character. After each write
returns, the child prints the sample's key. The driver starts the child, waits until it has read
the cassette, kills it with SIGKILL after a random delay, and starts it again, ``--kills`` times;
then a last child runs until it has written one more record and exits by itself.

Linux copies a write into the page cache a folio (up to a few MB) at a time and checks for a
fatal signal only between folios, so only a write of several MB can be torn at all, and the
write is a small part of the time a record costs (most goes to JSON encoding): a kill at a
random moment seldom tears a line. A share of the kills (``--aimed``, half by default) are
therefore aimed: after the random delay the driver watches the cassette's size and kills the
child the moment it grows, that is, in the middle of a write.

Checked at the end: the cassette reads without a skipped line (every torn line was cut off
before the next append), and every sample a child reported written replays with exactly the
text the scripted model gave it.

Run:
    python -m benchmarks.kill_recording [--kills 100] [--aimed 0.5] [--window-s 0.1] [--seed 0] [--out DIR]

Prints the counts (kills, records reported written, records lost, torn lines seen and recovered,
how many of them were torn inside a character) and writes them to ``OUT/kill_recording.json``.
It takes about four minutes on 2 cores (most of it starting children that read a cassette that
grows to about 150 MB). A child killed during the write that follows its cut cannot report the
cut, so the children's own count of cuts is lower than the count of torn lines recovered.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from neurosym.settings import SamplingSettings
from neurosym.translators.backends.replay import RecordingBackend, ReplayBackend, cassette_key
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.base import GenerationRequest

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = SamplingSettings(n=1, temperature=0.0, seed=0)
MODEL = "kill-recording"
_ALPHABET = "aé€漢字🙂🧪ßж"  # 1- to 4-byte characters
_READY_TIMEOUT_S = 120.0


def item_request(index: int) -> GenerationRequest:
    """The child's ``index``-th request."""
    return GenerationRequest.from_prompt(f"kill-recording item {index}")


def sample_text(index: int) -> str:
    """The scripted model's deterministic sample for item ``index`` (300 000 to 2 000 000 characters).

    Example:
        >>> sample_text(3) == sample_text(3) and sample_text(3) != sample_text(4)
        True

    """
    rng = random.Random(index)
    block = "".join(rng.choices(_ALPHABET, k=1009))
    length = rng.randint(300_000, 2_000_000)
    return f"item {index}: " + (block * (length // len(block) + 1))[:length]


def _reply(request: GenerationRequest, sample_index: int) -> str:
    return sample_text(int(request.messages[-1].content.rsplit(" ", 1)[1]))


def run_child(cassette: Path, stop_after: int | None) -> int:
    """Record items 0, 1, … (resuming), printing ``written INDEX KEY`` after each new record is written."""
    recorder = RecordingBackend(ScriptedBackend(_reply, model=MODEL), cassette, resume=True)
    print("ready", flush=True)
    written, cuts = 0, 0
    for index in itertools.count():
        before = recorder.misses
        request = item_request(index)
        recorder.generate([request], settings=SETTINGS)
        if recorder.misses > before:
            print(f"written {index} {cassette_key(recorder.identity, request, SETTINGS)}", flush=True)
            written += 1
        if recorder.torn_lines_cut > cuts:
            cuts = recorder.torn_lines_cut
            print("cut", flush=True)
        if stop_after is not None and written >= stop_after:
            return 0
    return 0  # pragma: no cover - the loop ends by a kill or stop_after


def _torn_tail(path: Path) -> tuple[bool, bool]:
    """Whether the cassette ends in a torn line, and whether that line ends inside a UTF-8 character.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "c.jsonl"
        >>> _ = path.write_bytes('{"key": "漢'.encode()[:-1])
        >>> _torn_tail(path)
        (True, True)

    """
    size = path.stat().st_size if path.is_file() else 0
    if size == 0:
        return False, False
    with path.open("rb") as fh:
        fh.seek(max(0, size - 4))
        end = fh.read()
    if end.endswith(b"\n"):
        return False, False
    for back in range(1, len(end) + 1):  # back to the byte that starts the last character
        byte = end[-back]
        if byte & 0xC0 != 0x80:
            length = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return True, length > back
    return True, True


def _start_child(cassette: Path, stop_after: int | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "benchmarks.kill_recording", "--child", str(cassette)]
    if stop_after is not None:
        command += ["--stop-after", str(stop_after)]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )


def _wait_ready(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], _READY_TIMEOUT_S)
    line = child.stdout.readline() if ready else ""
    if line != "ready\n":
        child.kill()
        child.wait()
        raise RuntimeError(f"the recording child did not start (it printed {line!r}, exit code {child.returncode})")


def _reports(output: str) -> tuple[dict[str, int], int]:
    """The ``written`` reports (key -> item) and the ``cut`` reports in a child's output.

    A last line without its newline was cut short by the kill and is ignored.
    """
    written: dict[str, int] = {}
    cuts = 0
    for line in output.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        fields = line.split()
        if len(fields) == 3 and fields[0] == "written":
            written[fields[2]] = int(fields[1])
        elif fields == ["cut"]:
            cuts += 1
    return written, cuts


class _Skips(logging.Handler):
    """Counts the cassette loader's warnings about skipped lines."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "skipped" in record.getMessage()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _wait_for_growth(path: Path, child: subprocess.Popen[str], timeout_s: float = 5.0) -> None:
    """Return as soon as ``path`` grows (a write is under way), the child exits, or ``timeout_s`` passes.

    Shrinking (the child cutting a torn line off) is not growth.
    """
    last, deadline = _size(path), time.monotonic() + timeout_s
    while child.poll() is None and time.monotonic() < deadline:  # a busy loop on purpose: writes are quick
        size = _size(path)
        if size > last:
            return
        last = size


def run(kills: int, aimed: float, window_s: float, seed: int, folder: Path) -> dict[str, float | int]:
    """Kill and resume the recording ``kills`` times in ``folder``; return the figures."""
    rng = random.Random(seed)
    cassette = folder / "kill.jsonl"
    reported: dict[str, int] = {}
    torn = {"random": 0, "aimed": 0}
    kinds = {"random": 0, "aimed": 0}
    torn_inside = cuts = 0
    last_torn_size = -1  # a torn tail that a child killed before its first append left as it was is one tear
    ready_s: list[float] = []
    for _ in range(kills):
        kind = "aimed" if rng.random() < aimed else "random"
        kinds[kind] += 1
        started = time.perf_counter()
        child = _start_child(cassette)
        _wait_ready(child)
        ready_s.append(time.perf_counter() - started)
        time.sleep(rng.uniform(0, window_s))
        if kind == "aimed":
            _wait_for_growth(cassette, child)
        child.kill()
        output, _ = child.communicate(timeout=60)
        written, cut = _reports(output)
        reported.update(written)
        cuts += cut
        is_torn, inside = _torn_tail(cassette)
        if is_torn and _size(cassette) != last_torn_size:
            last_torn_size = _size(cassette)
            torn[kind] += 1
            torn_inside += inside
    last = _start_child(cassette, stop_after=1)  # ends by itself: the cassette ends on a whole line
    output, _ = last.communicate(timeout=600)
    if last.returncode != 0:
        raise RuntimeError(f"the last recording child failed with exit code {last.returncode}")
    written, cut = _reports(output)
    reported.update(written)
    cuts += cut

    skips = _Skips()
    loader = logging.getLogger("neurosym.translators.backends.replay")
    loader.addHandler(skips)
    try:
        started = time.perf_counter()
        replay = ReplayBackend(cassette)
        load_s = time.perf_counter() - started
    finally:
        loader.removeHandler(skips)
    lost = 0
    for index in reported.values():
        try:
            [result] = replay.generate([item_request(index)], settings=SETTINGS)
        except Exception:  # a CassetteMiss: the reported record is not there
            lost += 1
            continue
        lost += result.texts != [sample_text(index)]
    return {
        "kills": kills,
        "kills_at_random": kinds["random"],
        "kills_aimed_at_a_write": kinds["aimed"],
        "records_reported_written": len(reported),
        "records_lost": lost,
        "records_in_cassette": len(replay),
        "torn_lines_seen_after_a_kill": torn["random"] + torn["aimed"],
        "torn_after_random_kills": torn["random"],
        "torn_after_aimed_kills": torn["aimed"],
        "torn_inside_a_character": torn_inside,
        # Every torn line a later resume failed to cut off would be glued to the next record and
        # skipped on the final read; none skipped means every torn line was recovered.
        "torn_lines_recovered": torn["random"] + torn["aimed"] - min(torn["random"] + torn["aimed"], skips.count),
        "torn_lines_cut_reported_by_children": cuts,
        "lines_skipped_on_final_read": skips.count,
        "cassette_mb": round(cassette.stat().st_size / 1e6, 1),
        "median_start_to_ready_s": round(statistics.median(ready_s), 3) if ready_s else 0.0,
        "final_read_s": round(load_s, 3),
        "kill_window_s": window_s,
        "seed": seed,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one recording child); 0 when no reported sample was lost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--aimed", type=float, default=0.5, help="share of kills aimed at a write (0 to 1)")
    parser.add_argument("--window-s", type=float, default=0.1, help="kill within this long after the child is ready")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for kill_recording.json")
    parser.add_argument("--keep", type=Path, default=None, help="record in this folder and keep the cassette")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return run_child(args.child, args.stop_after)
    if args.kills < 1 or not 0 < args.window_s < 60 or not 0 <= args.aimed <= 1:
        parser.error("--kills must be at least 1, --aimed between 0 and 1 and --window-s between 0 and 60")
    started = time.perf_counter()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = run(args.kills, args.aimed, args.window_s, args.seed, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="neurosym-kill-") as scratch:
            figures = run(args.kills, args.aimed, args.window_s, args.seed, Path(scratch))
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kill_recording.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(
        f"kills: {figures['kills']} ({figures['kills_at_random']} at random, {figures['kills_aimed_at_a_write']} "
        f"aimed at a write), records reported written: {figures['records_reported_written']}, "
        f"records lost: {figures['records_lost']} (goal 0)\n"
        f"torn lines after a kill: {figures['torn_lines_seen_after_a_kill']} ({figures['torn_after_random_kills']} "
        f"after random kills, {figures['torn_after_aimed_kills']} after aimed ones; "
        f"{figures['torn_inside_a_character']} inside a UTF-8 character); torn lines recovered: "
        f"{figures['torn_lines_recovered']} (lines skipped on the final read: "
        f"{figures['lines_skipped_on_final_read']}; "
        f"cuts the children lived to report: {figures['torn_lines_cut_reported_by_children']})\n"
        f"cassette: {figures['records_in_cassette']} records, {figures['cassette_mb']} MB; child start to ready "
        f"median {figures['median_start_to_ready_s']} s; {figures['wall_s']} s in all"
    )
    return 0 if figures["records_lost"] == 0 and figures["lines_skipped_on_final_read"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
