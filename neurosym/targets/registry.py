"""The target registry: one :class:`TargetSpec` per formal language, found by name.

A target is a plug-in that describes itself: its name, how to build its loop target
(:class:`~neurosym.targets.base.Target`: prompts, grammar, output reader, checker, vote key), the
kind of answer it gives, its certificate types, its default sampling settings, its report for
people, its command-line options and how prover workers warm up for it. ``solve``, the command
line, the verdict cache and :meth:`neurosym.types.Verdict.from_dict` read the registry and know
no target by name.

Adding a target takes its own folder (``neurosym/targets/NAME/`` with a ``SPEC``) and one line
in :data:`BUILTIN_TARGETS`; a family of targets that share their code shares one folder
(``neurosym/targets/proof/`` holds ``coq`` and ``lean``, as ``COQ_SPEC`` and ``LEAN_SPEC``); a
package outside neurosym registers one through the entry point group ``neurosym.targets``
(``NAME = "package.module:SPEC"``), or calls :func:`register_target`.

Example:
    >>> {"fol", "milp", "python", "coq", "lean"} <= set(target_names())
    True
    >>> target_spec("fol").answer_kind.value
    'entailment'

"""

from __future__ import annotations

import argparse
import importlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from neurosym.errors import ConfigurationError
from neurosym.settings import SamplingSettings
from neurosym.types import AnswerKind, Formalization, Problem

if TYPE_CHECKING:
    from neurosym.loop.refine import Strategy
    from neurosym.solving import SolveResult
    from neurosym.targets.base import Target

__all__ = [
    "BUILTIN_TARGETS",
    "ENTRY_POINT_GROUP",
    "CliOption",
    "SolveOptions",
    "TargetSpec",
    "certificate_class",
    "get_target",
    "register_target",
    "reload_targets",
    "spec_of",
    "target_names",
    "target_spec",
    "unregister_target",
    "word_problem",
]

logger = logging.getLogger(__name__)

BUILTIN_TARGETS: dict[str, str] = {
    "fol": "neurosym.targets.fol:SPEC",
    "python": "neurosym.targets.python:SPEC",
    "milp": "neurosym.targets.milp:SPEC",
    "coq": "neurosym.targets.proof:COQ_SPEC",
    "lean": "neurosym.targets.proof:LEAN_SPEC",
    "choice": "neurosym.targets.choice:SPEC",
}
"""The targets that ship with neurosym: name -> ``module:attribute`` of its :class:`TargetSpec`."""

ENTRY_POINT_GROUP = "neurosym.targets"
"""The entry point group through which other packages add targets."""

MAX_PROBLEM_TEXT = 20_000
"""Longest problem text a target accepts (characters)."""
DEFAULT_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=512, seed=0)
"""A target's sampling defaults unless its spec says otherwise: greedy, 512 tokens."""


@dataclass(frozen=True)
class SolveOptions:
    """What :func:`neurosym.solve` and the command line tell a target's ``build``.

    Attributes:
        constrained: grammar-constrained decoding (already resolved against the backend).
        timeout_s: seconds for each check (prover call, program run, solver run).
        extra: the target's own options (``provers`` and ``repair_signature_clashes`` for FOL,
            whatever a target's :class:`CliOption` entries set).

    """

    constrained: bool = False
    timeout_s: float = 10.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CliOption:
    """One command-line option of a target, added to ``neurosym solve`` in the target's own group.

    ``dest`` is the key in :attr:`SolveOptions.extra`; ``flag=True`` makes it a switch
    (``store_true``), otherwise it takes a value read by ``type``.

    Example:
        >>> CliOption(("--repair",), "rename clashes", dest="repair_signature_clashes", flag=True).dest
        'repair_signature_clashes'

    """

    flags: tuple[str, ...]
    help: str
    dest: str
    flag: bool = False
    type: Callable[[str], Any] = str
    default: Any = None
    metavar: str | None = None


def word_problem(text: str | None, premises: Sequence[str] | None, conclusion: str | None, *, name: str = "",
                 kind: AnswerKind | None = None) -> Problem:  # fmt: skip
    """The problem of a target that reads plain text (a word problem): premises are refused.

    Example:
        >>> word_problem("What is 2 + 2?", None, None).text
        'What is 2 + 2?'

    """
    if premises is not None or conclusion is not None:
        raise ConfigurationError(f"the {name or 'this'} target takes the problem text, not premises and a conclusion")
    if text is None or not text.strip():
        raise ConfigurationError("the problem text is empty")
    if len(text) > MAX_PROBLEM_TEXT:
        raise ConfigurationError(f"the problem text is too long: {len(text):,} characters (limit {MAX_PROBLEM_TEXT:,})")
    return Problem(text=text.strip(), answer_kind=kind)


def _describe_source(formalization: Formalization) -> dict[str, Any]:
    return {"source": formalization.source}


@dataclass(frozen=True)
class TargetSpec:
    """Everything neurosym needs to know about one target (see the module docstring).

    Attributes:
        name: the name users type (``--target NAME``).
        description: one line for ``--help``.
        answer_kind: what its answers are.
        build: the loop target for :class:`SolveOptions`.
        problem: ``(text, premises, conclusion) -> Problem``; raises ConfigurationError on bad input.
        settings: default sampling settings of ``solve`` (greedy and a token budget).
        certificates: certificate classes (each with a class attribute ``KIND`` and ``from_dict``).
        render: the report of a :class:`~neurosym.solving.SolveResult` for people, as lines
            placed between the answer line and the cost line.
        describe: the JSON form of a formalization in ``SolveResult.to_dict()``.
        ready: raises before any model call when the target cannot check anything on this
            machine (the Python target without a sandbox).
        cli: its options of ``neurosym solve``.
        warm_up: a picklable top-level callable each prover worker runs once before its first task.
        preload: modules each prover worker imports at start.
        strategy: what ``solve`` does when not told otherwise: the strategy measured best on the
            target's development benchmark (``None``: one greedy translation).
        temperature: the sampling temperature of ``neurosym solve --samples N`` (N > 1) without
            ``--temperature``, chosen by a sweep on the development benchmark (0.7 where none was run).

    """

    name: str
    description: str
    answer_kind: AnswerKind
    build: Callable[[SolveOptions], Target]
    problem: Callable[[str | None, Sequence[str] | None, str | None], Problem] | None = None
    settings: SamplingSettings = field(default_factory=lambda: DEFAULT_SETTINGS)
    certificates: tuple[type, ...] = ()
    render: Callable[[SolveResult], list[str]] | None = None
    describe: Callable[[Formalization], dict[str, Any]] = _describe_source
    ready: Callable[[], None] | None = None
    cli: tuple[CliOption, ...] = ()
    warm_up: Callable[[], object] | None = None
    preload: tuple[str, ...] = ()
    strategy: Strategy | None = None
    temperature: float = 0.7

    def make_problem(self, text: str | None, premises: Sequence[str] | None, conclusion: str | None) -> Problem:
        """The :class:`~neurosym.types.Problem` for ``solve``'s arguments."""
        if self.problem is not None:
            return self.problem(text, premises, conclusion)
        return word_problem(text, premises, conclusion, name=self.name, kind=self.answer_kind)

    def add_cli_options(self, parser: argparse.ArgumentParser) -> None:
        """Add this target's options to ``neurosym solve``, in a group of their own.

        An option another target has already added with the same flag and ``dest`` (``--decoding``
        of ``fol`` and ``choice``) is shared: its help gains this target's, and its value is read as
        text, each target's ``build`` checking it.

        Example:
            >>> parser = argparse.ArgumentParser()
            >>> for name in ("fol", "choice"):
            ...     target_spec(name).add_cli_options(parser)
            >>> parser.parse_args(["--decoding", "whole"]).target_decoding
            'whole'

        """
        if not self.cli:
            return
        group = parser.add_argument_group(f"--target {self.name}")
        for option in self.cli:
            # argparse keeps its flags in a private table; it is the one way to find an action by flag
            existing = parser._option_string_actions.get(option.flags[0])
            if existing is not None:
                if existing.dest != f"target_{option.dest}" or option.flag != (existing.nargs == 0):
                    raise ConfigurationError(f"{option.flags[0]} of --target {self.name} clashes with another option")
                existing.help = f"{existing.help}; --target {self.name}: {option.help}"
                if not option.flag:
                    existing.type = str  # one reader for all: each target's build checks the value
                continue
            if option.flag:
                group.add_argument(*option.flags, dest=f"target_{option.dest}", action="store_true", help=option.help)
            else:
                group.add_argument(*option.flags, dest=f"target_{option.dest}", type=option.type,
                                   default=option.default, metavar=option.metavar, help=option.help)  # fmt: skip

    def cli_values(self, args: argparse.Namespace) -> dict[str, Any]:
        """The target's options as parsed, keyed by ``dest``."""
        return {option.dest: getattr(args, f"target_{option.dest}") for option in self.cli}


_registry: dict[str, TargetSpec] = {}
_loaded = False
_lock = threading.RLock()


def _load(reference: str, origin: str) -> TargetSpec:
    module_name, _, attribute = reference.partition(":")
    try:
        spec = getattr(importlib.import_module(module_name), attribute or "SPEC")
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"the target {reference!r} ({origin}) cannot be loaded: {exc}") from exc
    if not isinstance(spec, TargetSpec):
        raise ConfigurationError(f"{reference!r} ({origin}) is a {type(spec).__name__}, not a TargetSpec")
    return spec


def _ensure_loaded() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True  # first, so that a target module that asks the registry does not recurse
        for name, reference in BUILTIN_TARGETS.items():
            _registry.setdefault(name, _load(reference, "built in"))
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if entry.name in _registry:
                logger.warning("the target %r from %s is ignored: the name is taken", entry.name, entry.value)
                continue
            try:
                _registry[entry.name] = _load(entry.value, f"entry point of {entry.dist.name if entry.dist else '?'}")
            except ConfigurationError as exc:  # one broken plug-in must not break the others
                logger.warning("%s", exc)


def register_target(spec: TargetSpec, *, replace: bool = False) -> None:
    """Add a target to the registry (``replace=True`` to override one of the same name).

    Example:
        >>> from neurosym.targets.fol import SPEC
        >>> register_target(SPEC)
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: a target named 'fol' is registered already (replace=True overrides it)

    """
    if not isinstance(spec, TargetSpec):
        raise ConfigurationError(f"register_target takes a TargetSpec, not {type(spec).__name__}")
    _ensure_loaded()
    with _lock:
        if spec.name in _registry and not replace:
            raise ConfigurationError(f"a target named {spec.name!r} is registered already (replace=True overrides it)")
        _registry[spec.name] = spec


def unregister_target(name: str) -> None:
    """Remove a target (tests that register a toy target clean up with this)."""
    with _lock:
        _registry.pop(name, None)


def reload_targets() -> None:
    """Forget what was loaded and read the built-in targets and the entry points again (after an install)."""
    global _loaded
    with _lock:
        _registry.clear()
        _loaded = False
    _ensure_loaded()


def target_names() -> list[str]:
    """The names of every registered target, built-in ones first."""
    _ensure_loaded()
    with _lock:
        return list(_registry)


def target_spec(name: str) -> TargetSpec:
    """The registered target called ``name``; a ConfigurationError lists the known ones.

    Example:
        >>> target_spec("klingon")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: unknown target 'klingon'; known targets: fol, python, milp, coq, lean...

    """
    _ensure_loaded()
    with _lock:
        spec = _registry.get(name)
        if spec is None:
            raise ConfigurationError(f"unknown target {name!r}; known targets: {', '.join(_registry)}")
        return spec


def get_target(name: str, **options: Any) -> Target:
    """The loop target called ``name``, built from ``options`` (``constrained``, ``timeout_s``, its own extras).

    Example:
        >>> get_target("milp").name
        'milp'

    """
    spec = target_spec(name)
    known = {"constrained", "timeout_s"}
    base = {k: v for k, v in options.items() if k in known}
    extra = {k: v for k, v in options.items() if k not in known}
    return spec.build(SolveOptions(**base, extra=extra))


def certificate_class(kind: str) -> type | None:
    """The certificate class a registered target declared for ``kind``, or None.

    Example:
        >>> certificate_class("premises_used").__name__
        'PremisesUsed'

    """
    _ensure_loaded()
    with _lock:
        specs = list(_registry.values())
    for spec in specs:
        for cls in spec.certificates:
            if getattr(cls, "KIND", None) == kind:
                return cls
    return None


def spec_of(target: Target) -> TargetSpec | None:
    """The registered spec whose name is ``target.name``, if any."""
    _ensure_loaded()
    with _lock:
        return _registry.get(getattr(target, "name", ""))
