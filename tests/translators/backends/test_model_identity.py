"""The model identity each backend puts into cassette and cache keys."""

import hashlib
import os

import pytest

from neurosym.errors import ConfigurationError, InputError
from neurosym.loop.cache import response_key
from neurosym.settings import SamplingSettings
from neurosym.translators import models
from neurosym.translators.backends.llamacpp import from_llamacpp
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.translators.backends.transformers import TransformersBackend
from neurosym.translators.backends.vllm_offline import from_vllm_offline
from neurosym.translators.base import GenerationRequest
from neurosym.translators.identity import backend_identity, gguf_identity, normalize_identity
from neurosym.translators.models import EMBEDDED_MODELS, ModelSpec


class LoadedGGUF:
    """A test double for ``llama_cpp.Llama``: only the model file's path, as llama-cpp-python keeps it."""

    def __init__(self, path):
        self.model_path = str(path)


@pytest.fixture
def model_cache(tmp_path, monkeypatch):
    """A private model cache folder, and no digests remembered from earlier tests in this process."""
    monkeypatch.setenv("NEUROSYM_CACHE_DIR", str(tmp_path / "neurosym"))
    monkeypatch.setattr(models, "_DIGESTS", {})
    return tmp_path / "neurosym" / "models"


def count_hashing(monkeypatch):
    hashed = []
    real = models._sha256
    monkeypatch.setattr(models, "_sha256", lambda path: hashed.append(path) or real(path))
    return hashed


def test_an_embedded_model_takes_its_registered_digest_without_hashing(tmp_path, model_cache, monkeypatch):
    payload = b"GGUF" + b"tiny model" * 100
    spec = ModelSpec("tiny.gguf", "tiny-part", "tiny_part", 1, len(payload), "ab" * 32, "embedded-tiny", "test")
    monkeypatch.setitem(EMBEDDED_MODELS, "tiny", spec)
    path = tmp_path / "tiny.gguf"
    path.write_bytes(payload)
    hashed = count_hashing(monkeypatch)
    backend = from_llamacpp(LoadedGGUF(path), model_name="tiny")
    assert backend.identity == {"kind": "llamacpp", "model": "tiny", "sha256": "ab" * 32}
    assert hashed == []
    # The same name on a file of another size is not the registered model: it is hashed.
    path.write_bytes(payload + b"more")
    assert (
        from_llamacpp(LoadedGGUF(path), model_name="tiny").identity["sha256"]
        == hashlib.sha256(payload + b"more").hexdigest()
    )


def test_another_gguf_is_hashed_once_and_remembered_by_path_size_and_mtime(tmp_path, model_cache, monkeypatch):
    path = tmp_path / "my-model.gguf"
    path.write_bytes(b"GGUF" + os.urandom(5000))
    hashed = count_hashing(monkeypatch)
    backend = from_llamacpp(LoadedGGUF(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert backend.identity == {"kind": "llamacpp", "model": "my-model.gguf", "sha256": digest}
    assert backend.identity == backend_identity(backend) and len(hashed) == 1  # asked twice, hashed once
    assert len(list((model_cache / "digests").iterdir())) == 1

    monkeypatch.setattr(models, "_DIGESTS", {})  # a new process: the digest comes from the cache folder
    assert from_llamacpp(LoadedGGUF(path)).identity["sha256"] == digest and len(hashed) == 1

    before = path.stat()
    path.write_bytes(b"GGUF" + os.urandom(5000))  # another model under the same name and size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))  # coarse file clocks
    changed = from_llamacpp(LoadedGGUF(path)).identity["sha256"]
    assert changed == hashlib.sha256(path.read_bytes()).hexdigest() != digest and len(hashed) == 2


def test_a_file_assembled_by_ensure_model_takes_the_digest_of_its_marker(tmp_path, model_cache, monkeypatch):
    payload = b"GGUF" + b"z" * 3000
    spec = ModelSpec("z.gguf", "z-part", "z_part", 1, len(payload), hashlib.sha256(payload).hexdigest(), "z", "")
    slice_file = tmp_path / "part01.bin"
    slice_file.write_bytes(payload)
    monkeypatch.setitem(EMBEDDED_MODELS, "z", spec)
    monkeypatch.setattr(models, "_slice_paths", lambda s: [slice_file])
    path = models.ensure_model("z", cache_dir=model_cache, progress=False)
    hashed = count_hashing(monkeypatch)
    assert models.file_sha256(path) == spec.sha256 and hashed == []


def test_an_unreadable_or_missing_model_file_is_an_input_error(tmp_path, model_cache):
    with pytest.raises(InputError, match="not found"):
        models.file_sha256(tmp_path / "gone.gguf")
    assert gguf_identity("llamacpp", "gone", tmp_path / "gone.gguf") == {"kind": "llamacpp", "model": "gone"}


class EngineDouble:
    """A test double for ``vllm.LLM``: the engine's model config only."""

    class llm_engine:
        class model_config:
            model = "Qwen/Qwen2.5-0.5B-Instruct"
            revision = "7ae557604adf67be50417f59c2c2f167def9a775"


class HFModelDouble:
    """A test double for a transformers model: its config with the hub commit it came from."""

    class config:
        _commit_hash = "7ae557604adf67be50417f59c2c2f167def9a775"


def test_vllm_and_transformers_identities_carry_the_revision_when_known():
    revision = "7ae557604adf67be50417f59c2c2f167def9a775"
    assert from_vllm_offline(EngineDouble()).identity == {
        "kind": "vllm-offline",
        "model": "Qwen/Qwen2.5-0.5B-Instruct",
        "revision": revision,
    }
    assert from_vllm_offline(object(), model_name="m").identity == {"kind": "vllm-offline", "model": "m"}
    transformers = TransformersBackend(HFModelDouble(), object(), model_name="Qwen/Qwen2.5-0.5B-Instruct")
    assert transformers.identity["revision"] == revision


def test_keys_follow_the_identity_and_bad_identities_are_refused():
    request, settings = GenerationRequest.from_prompt("hi"), SamplingSettings()
    keys = {
        response_key(backend_identity(ScriptedBackend(["x"], model="qwen")), request, settings, 0),
        response_key({"kind": "scripted", "model": "other"}, request, settings, 0),
        response_key({"kind": "openai", "model": "qwen"}, request, settings, 0),
        response_key({"kind": "llamacpp", "model": "qwen", "sha256": "a" * 64}, request, settings, 0),
        response_key({"kind": "llamacpp", "model": "qwen", "sha256": "b" * 64}, request, settings, 0),
    }
    assert len(keys) == 5
    # A missing value and a value of None are one identity (a revision that is not known).
    assert response_key({"kind": "vllm", "model": "m", "revision": None}, request, settings, 0) == response_key(
        {"kind": "vllm", "model": "m"}, request, settings, 0
    )
    for bad in ("llamacpp", {"kind": "x"}, {"kind": "x", "model": 3}, {"kind": "x", "model": "m", "f": object()}):
        with pytest.raises(ConfigurationError, match="identity"):
            response_key(bad, request, settings, 0)
    assert normalize_identity({"kind": "k", "model": "m", "sha256": "c"}) == {"kind": "k", "model": "m", "sha256": "c"}
