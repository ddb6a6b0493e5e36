"""The data sets the benchmarks read, by name, and the folder they are found in.

The data are not part of the package: they live in one folder (``logic/``, ``math/``, ``opt/``
below it, as in the checkout's ``../shared/data``). That folder is, in order:

1. the ``--data-dir`` option (the ``data_dir`` argument),
2. the ``NEUROSYM_DATA`` environment variable,
3. ``../shared/data`` beside the repository root, when neurosym runs from a checkout.

A folder that is not there, or a data set missing from it, is an
:class:`~neurosym.errors.InputError` that names the variable and the option.

Example:
    >>> dataset("gsm8k-test").path
    'math/gsm8k/test.jsonl'
    >>> import tempfile
    >>> from neurosym.errors import InputError
    >>> empty = tempfile.mkdtemp()
    >>> try:
    ...     dataset_path("gsm8k-test", empty)
    ... except InputError as err:
    ...     print(str(err).split(":")[0])
    the data set gsm8k-test (GSM8K test split, 1319 word problems) is not in the data folder

"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from neurosym.errors import InputError

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "Dataset",
    "checkout_root",
    "data_dir",
    "dataset",
    "dataset_path",
    "default_data_dir",
]

DATA_ENV = "NEUROSYM_DATA"
"""The environment variable that names the data folder."""


@dataclass(frozen=True)
class Dataset:
    """One data set: its name, where it lies inside the data folder, what it is and where it comes from."""

    name: str
    path: str
    """Relative to the data folder (a file, or a folder for data sets of several files)."""
    description: str
    source: str

    def locate(self, root: Path | str | None = None) -> Path:
        """Where the data set would be (not checked): under ``root``, else the default data folder.

        Example:
            >>> dataset("folio-validation").locate("/data").as_posix()
            '/data/logic/FOLIO/folio-v0.0/folio-validation.jsonl'

        """
        base = Path(root) if root is not None else default_data_dir()
        return (base if base is not None else Path(f"${DATA_ENV}")) / self.path


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("folio-validation", "logic/FOLIO/folio-v0.0/folio-validation.jsonl",
                "FOLIO validation split, 204 items with gold FOL", "Han et al. 2022, FOLIO v0.0"),
        Dataset("proofwriter-dev", "logic/ProofWriter/logic-lm/dev.json",
                "ProofWriter dev (OWA, depth 5), 600 items as Logic-LM prepared them", "Tafjord et al. 2021; Logic-LM"),
        Dataset("gsm8k-test", "math/gsm8k/test.jsonl", "GSM8K test split, 1319 word problems", "Cobbe et al. 2021"),
        Dataset("gsm8k-train", "math/gsm8k/train.jsonl", "GSM8K train split (worked solutions for few-shot prompts)",
                "Cobbe et al. 2021"),
        Dataset("gsm-hard", "math/gsm-hard/gsmhardv2.jsonl", "GSM-Hard v2, 1319 programs with targets",
                "Gao et al. 2023, PAL"),
        Dataset("nl4opt-test", "opt/nl4opt/nl4opt-competition/generation_data/test.jsonl",
                "NL4Opt competition test set, 289 problems with formulations", "Ramamonjison et al. 2022"),
        Dataset("nl4opt-crosscheck", "opt/nl4opt/derived/nl4opt_test_crosscheck.json",
                "every published NL4Opt gold set matched to the official test problems", "shared/BENCHMARKS.md"),
        Dataset("mamo", "opt/mamo", "MAMO easy and complex LP with the SIRL, LLMOPT and LLM4OR answers",
                "Huang et al. 2024"),
        Dataset("industryor", "opt/industryor", "IndustryOR (100 problems) with the ORLM, LLMOPT, LLM4OR, SIRL answers",
                "Tang et al. 2024, ORLM"),
    )
}  # fmt: skip
"""The data sets, by name."""


def checkout_root() -> Path | None:
    """The repository root when neurosym runs from a checkout (``pyproject.toml`` and ``benchmarks/`` beside it).

    Example:
        >>> root = checkout_root()
        >>> root is None or (root / "benchmarks").is_dir()
        True

    """
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "benchmarks").is_dir():
        return root
    return None


def default_data_dir() -> Path | None:
    """``$NEUROSYM_DATA``, else the checkout's ``../shared/data``, else ``None`` (not checked).

    Example:
        >>> import os
        >>> saved = os.environ.get(DATA_ENV)
        >>> os.environ[DATA_ENV] = "/somewhere/data"
        >>> default_data_dir().as_posix()
        '/somewhere/data'
        >>> _ = os.environ.pop(DATA_ENV) if saved is None else os.environ.update({DATA_ENV: saved})

    """
    named = os.environ.get(DATA_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    root = checkout_root()
    return root.parent / "shared" / "data" if root is not None else None


def data_dir(explicit: Path | str | None = None) -> Path:
    """The data folder (``explicit``, ``$NEUROSYM_DATA`` or the checkout's), checked to be a folder.

    Raises:
        InputError: there is none, or it is not a folder; the message says how to name one.

    Example:
        >>> import tempfile
        >>> data_dir(tempfile.gettempdir()).is_dir()
        True

    """
    chosen = Path(explicit).expanduser() if explicit is not None else default_data_dir()
    if chosen is None:
        raise InputError(
            f"no data folder: set {DATA_ENV} or pass --data-dir (the folder that holds logic/, math/ and opt/; "
            "in a checkout it is ../shared/data)"
        )
    if not chosen.is_dir():
        where = "--data-dir" if explicit is not None else (DATA_ENV if os.environ.get(DATA_ENV) else "the default")
        raise InputError(
            f"the data folder {chosen} ({where}) is not there; point {DATA_ENV} or --data-dir at the folder "
            "that holds logic/, math/ and opt/"
        )
    return chosen


def dataset(name: str) -> Dataset:
    """The registered data set ``name``.

    Example:
        >>> dataset("gsm8").name
        Traceback (most recent call last):
        ...
        neurosym.errors.InputError: unknown data set 'gsm8'; did you mean 'gsm8k-test'? Known: folio-validation, \
proofwriter-dev, gsm8k-test, gsm8k-train, gsm-hard, nl4opt-test, nl4opt-crosscheck, mamo, industryor

    """
    found = DATASETS.get(name)
    if found is None:
        close = difflib.get_close_matches(name, DATASETS, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise InputError(f"unknown data set {name!r}{hint} Known: {', '.join(DATASETS)}")
    return found


def dataset_path(name: str, root: Path | str | None = None) -> Path:
    """The file (or folder) of data set ``name`` in the data folder, checked to exist.

    Raises:
        InputError: no data folder, or the data set is not in it.

    """
    entry = dataset(name)
    path = data_dir(root) / entry.path
    if not path.exists():
        raise InputError(
            f"the data set {name} ({entry.description}) is not in the data folder: {path} is missing; "
            f"point {DATA_ENV} or --data-dir at the folder that holds logic/, math/ and opt/"
        )
    return path
