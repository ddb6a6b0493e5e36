"""Provers: decision procedures that turn a formalization into a :class:`~neurosym.types.Verdict`.

Every prover implements :class:`~neurosym.provers.base.Prover` (``name``, ``target``,
``available()``, ``check()``, ``to_dict()``): Z3 and E for ``fol``, HiGHS and CBC for ``milp``,
the Python sandbox for ``python``. Look one up by name with :func:`get_prover`;
:func:`list_provers` says which this machine can run. Provers are imported and probed lazily,
never at import time. Combining provers (Z3 with E in :func:`~neurosym.check_fol`, HiGHS with CBC
and the solution check in :func:`~neurosym.milp.solve.solve_model`) is the targets' business.
The child processes they start are handled by :mod:`neurosym.processes`.

Example:
    >>> [p.name for p in list_provers(target="fol")]
    ['z3', 'eprover']
    >>> [(p.name, p.target) for p in list_provers(target="milp")]
    [('highs', 'milp'), ('cbc', 'milp')]

"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any

from neurosym.errors import ConfigurationError
from neurosym.provers.base import Prover

__all__ = ["Prover", "ProverInfo", "get_prover", "list_provers"]

# name -> (module, class, target)
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "z3": ("neurosym.provers.z3", "Z3Prover", "fol"),
    "eprover": ("neurosym.provers.eprover", "EProver", "fol"),
    "highs": ("neurosym.provers.highs", "HighsProver", "milp"),
    "cbc": ("neurosym.provers.cbc", "CbcProver", "milp"),
    "python-sandbox": ("neurosym.provers.python_sandbox", "PythonSandboxProver", "python"),
    "coq": ("neurosym.provers.coq", "CoqProver", "coq"),
    "lean": ("neurosym.provers.lean", "LeanProver", "lean"),
    "cvc5": ("neurosym.provers.cvc5", "Cvc5Prover", "choice"),
}


@dataclass(frozen=True, slots=True)
class ProverInfo:
    """A registered prover: its name, its target and whether this machine can run it."""

    name: str
    target: str
    available: bool


def get_prover(name: str, **options: Any) -> Prover:
    """Build the prover called ``name`` with ``options``.

    Raises:
        ConfigurationError: for an unknown name; the message lists the known ones.

    Example:
        >>> get_prover("z3").name
        'z3'
        >>> get_prover("z4")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: unknown prover 'z4'; did you mean 'z3'? Known provers: cbc, coq, ...

    """
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise ConfigurationError(f"unknown prover {name!r}{hint} Known provers: {', '.join(sorted(_REGISTRY))}")
    module, cls, _ = _REGISTRY[name]
    prover: Prover = getattr(importlib.import_module(module), cls)(**options)
    return prover


def list_provers(*, target: str | None = None, available_only: bool = False) -> list[ProverInfo]:
    """The registered provers, optionally only those for ``target`` or those this machine can run.

    Example:
        >>> [p.name for p in list_provers(available_only=True)][0]
        'z3'

    """
    out = []
    for name, (_, _, prover_target) in _REGISTRY.items():
        if target is not None and prover_target != target:
            continue
        available = get_prover(name).available()
        if available or not available_only:
            out.append(ProverInfo(name, prover_target, available))
    return out
