"""The ``neurosym`` command line.

Subcommands:
    solve    answer a problem in English: an LLM translates it to FOL (provers decide), to a
             Python program (run in the sandbox) or to a MILP model (HiGHS and CBC solve it)
    check    decide a FOL problem (premises and a conclusion) from a file, stdin or JSON
    provers  list the provers and whether this machine can run them
    info     versions, the llama.cpp build's CPU features, the embedded models and their SHA-256
    sandbox  try the escape suite against this machine's Python sandbox
    bench    run a registered benchmark from its cassette or a live model (``neurosym bench --list``)
    prove    prove what a .v or .lean file leaves Admitted or sorry
    serve    a local web page: write a model of a problem, see it as mathematics, edit, re-solve, download
    milp     solve and check a model file (.lp, .mps or .nsm) with HiGHS and CBC, no LLM

Exit codes (the same for every subcommand; ``--help`` lists them):

===  ========================================================================================
0    answered: the question is decided (True, False or Uncertain, a computed number, an optimum)
1    no answer: inconsistent premises, unknown, a timeout, disagreeing provers, an abstention,
     an unreadable translation
2    bad input: a usage error, an unreadable file, an option out of range
3    the model backend or a solver could not be reached or failed
4    a missing optional dependency (the message names what to install)
130  interrupted
===  ========================================================================================

With ``--json`` an error is printed on stdout as ``{"error": {"type", "message", "hint",
"exit_code"}}`` too, so a script reads one JSON document whatever happened.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from neurosym.deadlines import check_seconds
from neurosym.errors import (
    BackendError,
    ConfigurationError,
    InputError,
    MissingDependencyError,
    NeurosymError,
    SolverCrashedError,
    SolverUnavailableError,
)
from neurosym.provers import list_provers
from neurosym.targets.fol.check import MAX_PROBLEM_CHARS, check_fol
from neurosym.types import DECIDED, Verdict

__all__ = ["EXIT_CODES", "exit_code_for", "main"]

EXIT_DECIDED, EXIT_UNDECIDED, EXIT_INVALID, EXIT_BACKEND, EXIT_MISSING = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_DECIDED: "answered",
    EXIT_UNDECIDED: "no answer (undecided, abstained, unreadable translation)",
    EXIT_INVALID: "bad input or usage",
    EXIT_BACKEND: "the model backend or a solver could not be reached or failed",
    EXIT_MISSING: "a missing optional dependency",
    EXIT_INTERRUPTED: "interrupted",
}
"""Every exit code the command uses, with its meaning (shown by ``--help``)."""
_EPILOG = "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
_CONCLUSION_MARKERS = ("⊢", "|-", "conclusion:")


@dataclass(frozen=True)
class FolInput:
    """A FOL problem read from text or JSON, with the input line of each formula (for messages)."""

    premises: list[str]
    conclusion: str
    lines: list[int | None]  # input line of each premise, then of the conclusion


def read_fol_input(text: str, *, conclusion: str | None = None, fmt: str = "auto") -> FolInput:
    r"""Read premises and a conclusion from the text or JSON form ``neurosym check`` accepts.

    Text: one formula per line; blank lines and lines starting with ``#`` or ``%`` are skipped;
    the conclusion is the line starting with ``⊢``, ``|-`` or ``conclusion:`` (or ``conclusion``
    is given). JSON: ``{"premises": [...], "conclusion": "..."}`` (FOLIO's ``premises-FOL`` and
    ``conclusion-FOL`` keys work too).

    Example:
        >>> p = read_fol_input("P(a)\n# a comment\n∀x (P(x) → Q(x))\n⊢ Q(a)\n")
        >>> p.premises, p.conclusion, p.lines
        (['P(a)', '∀x (P(x) → Q(x))'], 'Q(a)', [1, 3, 4])

    """
    if len(text) > MAX_PROBLEM_CHARS:
        raise InputError(f"input too large: {len(text):,} characters (the limit is {MAX_PROBLEM_CHARS:,})")
    stripped = text.lstrip()
    if fmt == "json" or (fmt == "auto" and stripped.startswith("{")):
        return _read_json(text, conclusion)
    premises: list[str] = []
    lines: list[int | None] = []
    found: tuple[str, int | None] | None = None  # the conclusion and its line (None: from --conclusion)
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.strip()
        if not body or body.startswith(("#", "%")):
            continue
        marker = next((m for m in _CONCLUSION_MARKERS if body.lower().startswith(m)), None)
        if marker is not None:
            if found is not None:
                raise InputError(f"line {number}: a second conclusion (the first is on line {found[1]})")
            found = (body[len(marker) :].strip(), number)
            continue
        premises.append(body)
        lines.append(number)
    if conclusion is not None:
        if found is not None:
            raise InputError(f"the conclusion is given twice: on line {found[1]} and with --conclusion")
        found = (conclusion, None)
    if found is None:
        raise InputError("no conclusion: mark its line with '⊢' (or '|-'), or pass --conclusion")
    if not found[0].strip():
        raise InputError("the conclusion is empty")
    return FolInput(premises, found[0], [*lines, found[1]])


def _read_json(text: str, conclusion: str | None) -> FolInput:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except RecursionError:
        raise InputError("the JSON input is nested too deeply to be a problem") from None
    if not isinstance(data, dict):
        raise InputError("JSON input must be an object with 'premises' and 'conclusion'")
    premises = data.get("premises-FOL", data.get("premises"))
    found = conclusion if conclusion is not None else data.get("conclusion-FOL", data.get("conclusion"))
    if not isinstance(premises, list) or not all(isinstance(p, str) for p in premises):
        raise InputError("JSON 'premises' must be a list of strings")
    if not isinstance(found, str) or not found.strip():
        raise InputError("JSON 'conclusion' must be a non-empty string")
    return FolInput(list(premises), found, [None] * (len(premises) + 1))


def _print_verdict(verdict: Verdict, problem: FolInput, out: TextIO) -> None:
    label = verdict.answer.value if verdict.decided else verdict.status.upper()  # type: ignore[union-attr]  # decided FOL: a label
    out.write(f"{label}  ({verdict.status}, {verdict.prover or 'no prover'}, {verdict.elapsed_s * 1000:.0f} ms)\n")
    if verdict.status == "invalid":
        index, line = verdict.details.get("formula_index"), verdict.details.get("line")
        if isinstance(index, int) and line == 1 and problem.lines[index] is not None:
            # One formula per input line: point at the input file's line.
            out.write(f"input line {problem.lines[index]}, column {verdict.details.get('column')}: ")
            out.write(f"{verdict.details.get('reason')}\n{verdict.details.get('excerpt')}\n")
        else:
            out.write(verdict.message + "\n")
        return
    if verdict.certificate is not None:
        out.write(verdict.certificate.render() + "\n")
    if verdict.status not in DECIDED and verdict.message:
        out.write(verdict.message + "\n")
    for repair in verdict.details.get("repairs", ()):
        out.write(f"note: {repair}\n")
    provers = verdict.details.get("provers")
    if isinstance(provers, dict) and len(provers) > 1:
        out.write("provers: " + ", ".join(f"{k} {v}" for k, v in provers.items()) + "\n")


def _read_input(name: str | None, limit: int) -> tuple[str, str]:
    """The text of a file (or stdin for ``None`` and ``-``), read up to one character past ``limit``.

    Reading stops there, so ``/dev/zero`` or a huge file costs no more than the limit, and the
    size check that follows says the input is too large.
    """
    if name in (None, "-"):
        try:
            return sys.stdin.read(limit + 1), "standard input"
        except UnicodeDecodeError as exc:
            raise InputError(f"cannot read standard input: it is not UTF-8 text ({exc.reason})") from None
    path = Path(name)
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a problem file")
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.read(limit + 1), str(path)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {path}: it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    text, where = _read_input(args.file, MAX_PROBLEM_CHARS)
    if not text.strip():
        raise InputError(f"the input is empty ({where})")
    problem = read_fol_input(text, conclusion=args.conclusion, fmt=args.format)
    provers = ["z3", "eprover"] if args.cross_check else [args.prover]
    verdict = check_fol(
        problem.premises,
        problem.conclusion,
        timeout=args.timeout,
        provers=provers,
        repair_signature_clashes=args.repair,
    )
    if args.json:
        out.write(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_verdict(verdict, problem, out)
    if verdict.status == "invalid":
        return EXIT_INVALID
    return EXIT_DECIDED if verdict.decided else EXIT_UNDECIDED


class _StatusLine:
    """A live line on stderr while the model writes: the sample, tokens so far, tokens per second.

    Shown only on a terminal (never in a pipe or a log file); fed by the backend's progress callback.
    """

    def __init__(self, err: TextIO) -> None:
        from rich.console import Console

        self._console = Console(file=err, highlight=False)
        self._status: Any = None
        self._started = time.perf_counter()
        self._sample_started = self._started
        self._sample = -1
        self._tokens = 0

    def __enter__(self) -> _StatusLine:
        self._status = self._console.status("loading the model…", spinner="dots")
        self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._status.__exit__(*exc)

    def __call__(self, event: Any) -> None:
        now = time.perf_counter()
        if event.sample_index != self._sample:
            self._sample, self._sample_started = event.sample_index, now
        self._tokens = event.completion_tokens
        rate = self._tokens / max(now - self._sample_started, 1e-6)
        state = "done" if event.done else "writing"
        self._status.update(
            f"sample {event.sample_index + 1} {state}: {self._tokens} tokens, {rate:.1f} tokens/s "
            f"({now - self._started:.0f} s)"
        )


def _cmd_solve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from neurosym.loop.refine import Budget
    from neurosym.solving import MAX_PROBLEM_TEXT
    from neurosym.translators.backends import default_llm_spec, get_backend

    if args.text not in (None, "-"):
        text = args.text
    else:
        text, _ = _read_input(None, MAX_PROBLEM_TEXT)
    if not text or not text.strip():
        raise InputError("the problem text is empty")
    if args.record:
        _check_writable_file(args.record, "the cassette (--record)")
    save_to = _target_options(args).get("save")  # a target's --save FILE (milp: the final model)
    if save_to:
        _check_writable_file(save_to, "the model file (--save)")
    # Every option is checked before the model is loaded (which takes seconds).
    strategy = _strategy(args)
    budget = Budget(samples=args.max_samples, tokens=args.max_total_tokens, wall_s=args.max_seconds)
    options = _llm_options(args)
    with contextlib.ExitStack() as stack:
        cache = None
        if args.cache:
            from neurosym.loop.cache import Cache

            cache = stack.enter_context(Cache(args.cache))
        backend: Any = get_backend(args.llm or default_llm_spec(), **options)
        if cache is not None:
            from neurosym.loop.cache import CachedBackend

            backend = CachedBackend(backend, cache)
        if args.record:  # outside the cache, so the cassette gets the samples the cache serves too
            from neurosym.translators.backends.replay import RecordingBackend

            backend = RecordingBackend(backend, args.record)
        status = stack.enter_context(_StatusLine(err)) if err.isatty() and not args.json else None
        result = _solve_with(args, text, backend, strategy, budget, cache, progress=status)
    saved = _save_formalization(args.target, result, save_to, err) if save_to else None
    if args.json:
        payload = result.to_dict()
        if save_to:
            payload["saved"] = None if saved is None else str(saved)
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(result.render() + "\n")
        if saved is not None:
            out.write(f"Saved: {saved}\n")
        if args.trace and result.loop is not None:
            out.write(result.loop.render_trace() + "\n")
    return EXIT_DECIDED if result.verdict.decided else EXIT_UNDECIDED


_STRATEGY_FLAGS = ("samples", "repair_rounds", "round_size", "confidence", "on_failure", "selection")


def _strategy(args: argparse.Namespace) -> Any:
    """The loop strategy of ``solve``: the target's default unless a strategy option was given.

    ``--temperature`` and ``--agreement`` adjust either. Options left out take the values of one
    greedy translation (``--samples 1``); several samples are drawn at the target's swept temperature.
    """
    from neurosym.loop.refine import Strategy
    from neurosym.targets.registry import target_spec

    given = {name: getattr(args, name) for name in _STRATEGY_FLAGS if getattr(args, name) is not None}
    spec = target_spec(args.target)
    default = spec.strategy
    if given or default is None:
        samples = given.get("samples", 1)
        strategy = Strategy(
            samples=samples,
            repair_rounds=given.get("repair_rounds", 0),
            round_size=given.get("round_size"),
            confidence=given.get("confidence", 1.0),
            on_failure=given.get("on_failure", "repair"),
            selection=given.get("selection", "majority"),
            temperature=0.0 if samples == 1 else spec.temperature,
        )
    else:
        strategy = default
    if args.temperature is not None and strategy.samples > 1:
        strategy = dataclasses.replace(strategy, temperature=args.temperature)
    if args.agreement is not None:
        strategy = dataclasses.replace(strategy, agreement=args.agreement)
    return strategy


def _save_formalization(target_name: str, result: Any, path: str, err: TextIO) -> Path | None:
    """Write the final formalization with its target's ``save(formalization, path)``; None (said on stderr) if not.

    A run that found no readable formalization, or one the file format cannot hold, leaves no
    file and keeps its exit code: the answer is what the run is about.
    """
    from neurosym.targets.registry import get_target

    if result.formalization is None:
        err.write(f"not saved: no model was read from the translation, so {path} was not written\n")
        return None
    target: Any = get_target(target_name)
    try:
        saved: Path = target.save(result.formalization, path)
    except NeurosymError as exc:
        err.write(f"not saved: {exc}\n")
        return None
    return saved


def _llm_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend options given with ``--llm`` (``--base-url`` ...); an option of another backend is refused."""
    from neurosym.translators.backends import default_llm_spec

    spec_kind = (args.llm or default_llm_spec()).partition(":")[0].strip().lower()
    options: dict[str, Any] = {}
    for flag, name in (("--base-url", "base_url"), ("--structured-output", "structured_output"),
                       ("--llm-timeout", "timeout")):  # fmt: skip
        value = getattr(args, name if name != "timeout" else "llm_timeout")
        if value is None:
            continue
        if spec_kind != "openai":
            raise InputError(f"{flag} is an option of --llm openai, not of --llm {spec_kind}")
        options[name] = value
    return options


def _cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from neurosym.serve import bind, require_framework, serve

    require_framework()
    from neurosym.serve.app import ServeConfig
    from neurosym.translators.backends import default_llm_spec, get_backend

    spec = args.llm or default_llm_spec()
    options = _llm_options(args)
    sock = bind(args.port)  # before the model is loaded: a port in use is said at once
    try:
        backend = get_backend(spec, **options)
        targets = (args.target, *(name for name in ("milp", "fol", "python") if name != args.target))
        config = ServeConfig(backend, port=sock.getsockname()[1], timeout_s=args.timeout, max_tokens=args.max_tokens,
                             constrained=False if args.no_constraint else None, targets=targets,
                             backend_label=spec)  # fmt: skip
        interrupted = serve(config, sock, out=out)
    finally:
        sock.close()
    return EXIT_INTERRUPTED if interrupted else 0


def _solve_with(args: argparse.Namespace, text: str, backend: Any, strategy: Any, budget: Any, cache: Any,
                *, progress: Any) -> Any:  # fmt: skip
    from neurosym.settings import SamplingSettings
    from neurosym.solving import solve

    return solve(
        text,
        target=args.target,
        llm=backend,
        settings=SamplingSettings(max_tokens=args.max_tokens),
        constrained=False if args.no_constraint else None,
        timeout=args.timeout,
        target_options=_target_options(args),
        strategy=strategy,
        budget=budget,
        verdict_cache=cache,
        progress=progress,
    )


def _target_options(args: argparse.Namespace) -> dict[str, Any]:
    """The chosen target's own options; another target's option given on the command line is refused."""
    from neurosym.targets.registry import target_names, target_spec

    chosen = target_spec(args.target)
    own = {option.dest for option in chosen.cli}
    owners: dict[str, list[str]] = {}
    for name in target_names():
        for option in target_spec(name).cli:
            given = getattr(args, f"target_{option.dest}", None) not in (None, False, option.default)
            if given and option.dest not in own:
                owners.setdefault(option.flags[0], []).append(name)
    if owners:
        flag, names = next(iter(owners.items()))
        raise InputError(f"{flag} is an option of --target {', '.join(names)}, not of --target {args.target}")
    return chosen.cli_values(args)


def _check_writable_file(name: str, what: str) -> None:
    """Refuse, before any model call, a path that cannot be appended to (a directory, a read-only place).

    The check opens the file for appending, as the recorder will; a file it had to create for
    that is removed again, so a refused or failed run leaves nothing behind.
    """
    path = Path(name)
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory, not a file")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    except OSError as exc:
        raise InputError(f"{what} {path} is not writable: {exc.strerror or exc}") from None
    if not existed:
        path.unlink(missing_ok=True)


def _cmd_provers(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    for info in list_provers():
        out.write(f"{info.name:10} {info.target:6} {'available' if info.available else 'not installed'}\n")
    return 0


def _llama_build() -> dict[str, Any]:
    """What llama-cpp-python is installed, the CPU features its build uses, and how scripts/install built it."""
    try:
        import llama_cpp
    except ImportError:
        return {"installed": False}
    import re

    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    features = sorted(name for name, on in re.findall(r"([A-Z0-9_]+) = ([01])", info) if on == "1")
    record = Path(sys.prefix) / "neurosym-llama-build.json"
    build = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None
    return {"installed": True, "version": llama_cpp.__version__, "cpu_features": features, "build": build}


def _sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read now (no remembered digest: this is the check a user asked for)."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _cmd_info(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import platform

    from neurosym import __version__
    from neurosym.provers.sandbox import sandbox_problem
    from neurosym.translators.models import EMBEDDED_MODELS, MODEL_ALIASES, default_cache_dir

    models = []
    aliases = {name: alias for alias, name in MODEL_ALIASES.items()}
    for name, spec in EMBEDDED_MODELS.items():
        path = default_cache_dir() / spec.filename
        entry: dict[str, Any] = {
            "name": name,
            "alias": aliases.get(name),
            "description": spec.description,
            "extra": spec.extra,
            "packages": f"{spec.package_prefix}1 ... {spec.package_prefix}{spec.slices}",
            "sha256": spec.sha256,
            "size": spec.size,
            "path": str(path) if path.is_file() else None,
        }
        if args.hash and path.is_file():
            entry["sha256_of_file"] = _sha256_of(path)
            entry["matches"] = entry["sha256_of_file"] == spec.sha256
        models.append(entry)
    report: dict[str, Any] = {
        "neurosym": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "llama_cpp": _llama_build(),
        "models": models,
        "provers": {p.name: p.available for p in list_provers()},
        "sandbox": sandbox_problem() or "available",
    }
    if args.json:
        out.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        return 0
    out.write(f"neurosym {report['neurosym']} on Python {report['python']} ({report['platform']})\n")
    llama = report["llama_cpp"]
    if llama["installed"]:
        level = (llama["build"] or {}).get("level", "not built by scripts/install")
        out.write(f"llama-cpp-python {llama['version']}, build level {level}; CPU features: ")
        out.write(" ".join(llama["cpu_features"]) + "\n")
    else:
        out.write("llama-cpp-python: not installed (the embedded backend needs it)\n")
    for m in models:
        where = m["path"] or "not assembled yet"
        out.write(f"model {m['name']} ({m['alias']}): {where}\n  sha256 {m['sha256']}  {m['size']:,} bytes\n")
        if "matches" in m:
            out.write(f"  file sha256 {m['sha256_of_file']}: {'matches' if m['matches'] else 'DOES NOT MATCH'}\n")
        out.write(f"  {m['description']}; slices in the packages {m['packages']} (extra '{m['extra']}')\n")
    out.write("provers: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in report["provers"].items()) + "\n")
    out.write(f"sandbox: {report['sandbox']}\n")
    return 0 if all(m.get("matches", True) for m in models) else EXIT_UNDECIDED


def _cmd_sandbox(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from neurosym.provers.sandbox import Limits, Sandbox, SandboxUnavailable, sandbox_problem
    from neurosym.provers.sandbox.escapes import run_escape_suite

    problem = sandbox_problem()
    if problem is not None:
        raise SandboxUnavailable(problem)
    with Sandbox(limits=Limits(wall_s=3.0, cpu_s=2.0, memory_mb=768, file_mb=4, output_bytes=4096)) as box:
        report = run_escape_suite(box, on_result=lambda r: out.write(r.render() + "\n"))
    contained = sum(r.contained for r in report)
    out.write(f"{len(report)} attacks tried, {contained} contained\n")
    return 0 if contained == len(report) else 1


def _cmd_bench(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from neurosym.bench.cli import run_args

    return run_args(args, out, err)


def _cmd_milp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from neurosym.milp.cli import run

    return run(args, out, err)


def _cmd_prove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Prove what a .v or .lean file leaves unproved: the automation portfolio first, then the model."""
    from dataclasses import replace

    from neurosym.targets.proof.files import language_of, open_theorems, prove_file
    from neurosym.targets.proof.prove import WHOLE_PROOF
    from neurosym.targets.proof.search import SearchBudget
    from neurosym.targets.registry import target_spec

    language = language_of(args.file)
    text, where = _read_input(args.file, 2_000_000)
    if not text.strip():
        raise InputError(f"the file is empty ({where})")
    spec = target_spec(language)
    if spec.ready is not None:  # before the model loads: nothing could be checked
        spec.ready()
    if not open_theorems(text, language):
        marker = "Admitted" if language == "coq" else "sorry"
        err.write(f"{where}: no theorem is left unproved (none ends in {marker})\n")
        return EXIT_DECIDED
    if args.record:
        _check_writable_file(args.record, "the cassette (--record)")
    backend: Any = None
    if not args.no_model:
        from neurosym.translators.backends import default_llm_spec, get_backend

        backend = get_backend(args.llm or default_llm_spec())
        if args.record:
            from neurosym.translators.backends.replay import RecordingBackend

            backend = RecordingBackend(backend, args.record)
    strategy = replace(WHOLE_PROOF, samples=args.samples, repair_rounds=args.repair_rounds, timeout_s=args.timeout)

    def said(theorem: Any, outcome: Any) -> None:
        if outcome.proved:
            how = f"the portfolio ({outcome.tactic})" if outcome.by == "portfolio" else f"the {outcome.by}"
            err.write(f"{theorem.name}: proved by {how}\n")
        else:
            tried = []
            if outcome.portfolio is not None:
                tried.append(f"the portfolio's {len(outcome.portfolio.tries)} tactics did not close it")
            if outcome.loop is not None:
                tried.append(f"no verified proof in {len(outcome.loop.attempts)} model attempts")
            elif backend is None:
                tried.append("no model was asked (--no-model)")
            said_last = outcome.verdict.message if outcome.verdict is not None else ""
            last = said_last.splitlines()[0] if said_last else ""
            err.write(f"{theorem.name}: not proved: {'; '.join(tried) or 'no proof found'}"
                      + (f" (last: {last})" if last else "") + "\n")  # fmt: skip

    result = prove_file(text, language, backend, portfolio=not args.no_portfolio, tactic_timeout_s=args.tactic_timeout,
                        search=SearchBudget() if args.search else None, on_theorem=None if args.json else said,
                        strategy=strategy)  # fmt: skip
    if args.output:
        try:
            Path(args.output).write_text(result.text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    if args.json:
        theorems = [{"name": t.name, "statement": t.statement, **o.to_dict()} for t, o in result.outcomes]
        payload = {"file": where, "language": language, "open": len(result.outcomes), "proved": result.proved,
                   "theorems": theorems, "text": result.text}  # fmt: skip
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif not args.output:
        out.write(result.text)
    return EXIT_DECIDED if result.proved == len(result.outcomes) else EXIT_UNDECIDED


def _integer(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    try:
        return check_seconds(value, "the time")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("the time must be", "must be")) from None


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share in (0, 1], got {text}")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0 <= value <= 5:
        raise argparse.ArgumentTypeError(f"must be between 0 and 5, got {text}")
    return value


def _version() -> str:
    from neurosym import __version__

    return f"neurosym {__version__}"


def _add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """The backend options of ``solve`` and ``serve``: ``--llm`` and the options of ``--llm openai``."""
    parser.add_argument(
        "--llm",
        help="backend: embedded (default model), embedded:small, embedded:PATH.gguf, openai[:MODEL], "
        "vllm:MODEL, transformers:MODEL, replay:CASSETTE.jsonl (default: $NEUROSYM_LLM, else embedded)",
    )
    parser.add_argument("--base-url", help="server URL for --llm openai (default: $OPENAI_BASE_URL)")
    parser.add_argument(
        "--structured-output",
        choices=("auto", "vllm", "vllm-legacy", "llamacpp", "openai", "none"),
        help="how --llm openai sends grammar constraints: vllm (structured_outputs), vllm-legacy (guided_grammar), "
        "llamacpp (grammar), openai (response_format JSON schema), none (no constraint); default auto: probe the "
        "server once with a grammar that forces a known string, and use the first format it applies",
    )
    parser.add_argument(
        "--llm-timeout", type=_seconds, help="seconds for each request to --llm openai, retries included"
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535 (0: any free port), got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurosym",
        description="Neurosymbolic reasoning: LLMs translate, solvers decide.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    solve = sub.add_parser(
        "solve",
        help="answer a problem in English (LLM translation + provers)",
        description="Translate premises and a question into FOL with an LLM and decide them with provers, or "
        "(--target python) a word problem into a program that runs in the sandbox, or (--target milp) an "
        "optimization problem into a MILP model solved by HiGHS and CBC and checked.",
        epilog=_EPILOG,
    )
    solve.add_argument("text", nargs="?", help="the problem: premises, then a question; '-' or nothing reads stdin")
    from neurosym.targets.registry import target_names, target_spec

    specs = [target_spec(name) for name in target_names()]
    solve.add_argument(
        "--target",
        choices=[spec.name for spec in specs],
        default="fol",
        help="; ".join(f"{spec.name}: {spec.description}" for spec in specs) + " (default fol)",
    )
    _add_llm_arguments(solve)
    solve.add_argument(
        "--max-tokens", type=_integer(1), help="most tokens the model may write (default 512; 768 for --target milp)"
    )
    solve.add_argument("--no-constraint", action="store_true", help="switch off grammar-constrained decoding")
    solve.add_argument("--timeout", type=_seconds, default=10.0, help="seconds per prover (default 10)")
    solve.add_argument("--record", metavar="CASSETTE", help="append the model exchange to a JSONL cassette")
    solve.add_argument(
        "--cache",
        metavar="FILE",
        help="SQLite cache of model samples and verdicts: a repeated run makes no model or prover calls",
    )
    loop = solve.add_argument_group("feedback loop")
    loop.add_argument(
        "--samples",
        type=_integer(1),
        help="translations to sample and vote over; 1 is one greedy translation, the fastest (default: the "
        "target's measured best strategy: for fol adaptive sampling of up to 5 with --selection evidence, "
        "for the other targets 1)",
    )
    loop.add_argument("--repair-rounds", type=_integer(0), help="repairs per failed translation (default 0)")
    loop.add_argument(
        "--on-failure",
        choices=("repair", "resample", "hint"),
        help="what a failed translation's --repair-rounds tries are: the repair conversation (default), "
        "a fresh sample at a new seed, or a fresh sample with the feedback in the prompt",
    )
    loop.add_argument(
        "--selection",
        choices=("majority", "evidence"),
        help="which samples vote: all decided ones (default), or only those with the strongest evidence "
        "(FOL: a proof of the conclusion or its negation outweighs 'Uncertain')",
    )
    loop.add_argument("--round-size", type=_integer(1), help="adaptive: sample this many at a time, stop once settled")
    loop.add_argument("--confidence", type=_share, help="adaptive: stop at this vote share (default 1)")
    loop.add_argument("--agreement", type=_share, help="abstain below this vote share (default 0.5)")
    loop.add_argument(
        "--temperature", type=_temperature, help="sampling temperature when more than one sample is drawn (default 0.7)"
    )
    loop.add_argument("--max-samples", type=_integer(1), help="budget: most model samples, repairs included")
    loop.add_argument("--max-total-tokens", type=_integer(1), help="budget: most prompt + completion tokens")
    loop.add_argument("--max-seconds", type=_seconds, help="budget: most wall time")
    loop.add_argument("--trace", action="store_true", help="print every attempt after the answer")
    solve.add_argument("--json", action="store_true", help="print the result (or the error) as JSON")
    for spec in specs:
        spec.add_cli_options(solve)
    solve.set_defaults(handler=_cmd_solve)
    check = sub.add_parser(
        "check",
        help="decide a FOL problem",
        description="Decide whether FOL premises entail a conclusion.",
        epilog=_EPILOG,
    )
    check.add_argument("file", nargs="?", help="problem file (text or JSON); '-' or nothing reads stdin")
    check.add_argument("--conclusion", "-c", help="the conclusion, if the input holds only premises")
    check.add_argument("--format", choices=("auto", "text", "json"), default="auto")
    check.add_argument("--timeout", type=_seconds, default=10.0, help="seconds per prover (default 10)")
    check.add_argument("--prover", default="z3", help="prover to use (default z3; see 'neurosym provers')")
    check.add_argument("--cross-check", action="store_true", help="run Z3 and E and report any disagreement")
    check.add_argument("--repair", action="store_true", help="rename signature clashes apart instead of failing")
    check.add_argument("--json", action="store_true", help="print the verdict (or the error) as JSON")
    check.set_defaults(handler=_cmd_check)
    prove = sub.add_parser(
        "prove",
        help="prove the theorems a Coq (.v) or Lean (.lean) file leaves with Admitted or sorry",
        description="For each theorem left with Admitted (Coq) or sorry (Lean): the automation portfolio (lia, nra, "
        "field...; omega, norm_num... in Lean) first, then whole proofs from the model, checked by the kernel "
        "(the statement as written, no new axioms). Prints the file with the proofs found (or writes --output); "
        "exit 0 when every theorem was proved, 1 otherwise.",
        epilog=_EPILOG,
    )
    prove.add_argument("file", help="the .v or .lean file")
    prove.add_argument("--llm", help="backend, as for solve (default: $NEUROSYM_LLM, else embedded)")
    prove.add_argument("--no-model", action="store_true", help="the portfolio only: no model call")
    prove.add_argument("--no-portfolio", action="store_true", help="skip the automation portfolio")
    prove.add_argument("--samples", type=_integer(1), default=4, help="whole proofs to sample per theorem (default 4)")
    prove.add_argument("--repair-rounds", type=_integer(0), default=1, help="repairs per failed proof (default 1)")
    prove.add_argument("--search", action="store_true", help="then the tactic search (Coq), if no proof was found")
    prove.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per kernel check (default 30)")
    prove.add_argument("--tactic-timeout", type=_seconds, default=3.0, help="seconds per portfolio tactic (default 3)")
    prove.add_argument("--output", "-o", metavar="FILE", help="write the completed file here instead of stdout")
    prove.add_argument("--record", metavar="CASSETTE", help="append the model exchange to a JSONL cassette")
    prove.add_argument("--json", action="store_true", help="print each theorem's outcome and the file as JSON")
    prove.set_defaults(handler=_cmd_prove)
    serve_page = sub.add_parser(
        "serve",
        help="a local web page: write a model of a problem, see it as mathematics, edit, re-solve, download",
        description="Start the modeling assistant's web page on 127.0.0.1 (only) and print its address, which "
        "holds a token that changes at every launch. The page shows the model being written, the model as "
        "mathematics, the checked solution, binding constraints and slack, sensitivity where the solver "
        "reports it, the conflict of an infeasible model; the model can be edited and re-solved without the "
        "LLM, and downloaded as LP or MPS. Ctrl-C stops it.",
        epilog=_EPILOG,
    )
    _add_llm_arguments(serve_page)
    serve_page.add_argument("--port", type=_port, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free)")
    serve_page.add_argument("--target", choices=("milp", "fol", "python"), default="milp",
                            help="the target selected on the page (default milp)")  # fmt: skip
    serve_page.add_argument("--timeout", type=_seconds, default=10.0, help="seconds per check (default 10)")
    serve_page.add_argument("--max-tokens", type=_integer(1), help="most tokens the model may write")
    serve_page.add_argument("--no-constraint", action="store_true", help="switch off grammar-constrained decoding")
    serve_page.set_defaults(handler=_cmd_serve)
    provers = sub.add_parser("provers", help="list provers and whether they are installed")
    provers.set_defaults(handler=_cmd_provers)
    info = sub.add_parser(
        "info",
        help="versions, the llama.cpp build's CPU features, the embedded models and their SHA-256",
        description="Print what this installation has: versions, the llama.cpp build (CPU level and features), "
        "the embedded models (where they are, their SHA-256, which packages carry their slices), the provers "
        "and the sandbox. Exit 1 if --hash finds a model file whose SHA-256 does not match.",
        epilog=_EPILOG,
    )
    info.add_argument("--hash", action="store_true", help="compute the SHA-256 of the assembled model files")
    info.add_argument("--json", action="store_true", help="print it as JSON")
    info.set_defaults(handler=_cmd_info)
    sandbox = sub.add_parser(
        "sandbox",
        help="try the escape suite against the Python sandbox",
        description="Run hostile programs (network, files, processes, memory, signals...) in the sandbox "
        "and report which were contained. Exit 0: all contained; 1: one escaped.",
        epilog=_EPILOG,
    )
    sandbox.set_defaults(handler=_cmd_sandbox)
    bench = sub.add_parser(
        "bench",
        help="run a benchmark from its cassette or a live model (--list shows them)",
        description="Run a registered benchmark: replay its cassette (default) or a live model (--llm), write its "
        "rows as they finish and its report (Markdown and a self-contained HTML page). --ray sends the checks to "
        "a Ray cluster; --base-url URL1,URL2 spreads the model's requests over several servers.",
        epilog=_EPILOG,
    )
    from neurosym.bench.cli import add_arguments as add_bench_arguments

    add_bench_arguments(bench)
    bench.set_defaults(handler=_cmd_bench)
    milp = sub.add_parser(
        "milp",
        help="solve and check a model file (.lp, .mps or .nsm) with HiGHS and CBC, no LLM",
        description="Read a model file (LP or MPS through HiGHS's readers, or neurosym's modeling language), solve "
        "it with HiGHS and CBC, check the solution against the model and report it: the solution, binding "
        "constraints, HiGHS's sensitivity analysis (duals, reduced costs, ranges), or the irreducible infeasible "
        "subset of an infeasible model. Exit 0: an optimum; 1: none (infeasible, unbounded, timeout); 2: a bad "
        "file or a model that cannot be linearised; 3: the solvers failed.",
        epilog=_EPILOG,
    )
    from neurosym.milp.cli import add_arguments as add_milp_arguments

    add_milp_arguments(milp)
    milp.set_defaults(handler=_cmd_milp)
    return parser


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an error (see the module docstring).

    Example:
        >>> from neurosym.errors import BackendConnectionError, MissingDependencyError
        >>> exit_code_for(BackendConnectionError("refused")), exit_code_for(MissingDependencyError("no z3"))
        (3, 4)
        >>> exit_code_for(InputError("empty"))
        2

    """
    from neurosym.provers.sandbox import SandboxUnavailable

    if isinstance(exc, (MissingDependencyError, SolverUnavailableError, SandboxUnavailable)):
        return EXIT_MISSING
    if isinstance(exc, (BackendError, SolverCrashedError)):
        return EXIT_BACKEND
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_INVALID


def _report_error(exc: BaseException, code: int, *, as_json: bool, out: TextIO, err: TextIO) -> None:
    name = type(exc).__name__
    hint = getattr(exc, "hint", None)
    message = str(exc) or name
    if as_json:
        payload = {"error": {"type": name, "message": message, "hint": hint, "exit_code": code}}
        out.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    err.write(f"{name}: {message}\n")
    if hint:
        err.write(f"hint: {hint}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see :data:`EXIT_CODES`).

    Example:
        >>> main(["provers"])  # doctest: +ELLIPSIS
        z3         fol    available
        ...
        0

    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message (or --help, --version)
        return EXIT_INVALID if exc.code else 0
    out, err = sys.stdout, sys.stderr
    as_json = bool(getattr(args, "json", False))
    try:
        handler: Any = args.handler
        code: int = handler(args, out, err)
        return code
    except NeurosymError as exc:
        code = exit_code_for(exc)
        _report_error(exc, code, as_json=as_json, out=out, err=err)
        return code
    except KeyboardInterrupt as exc:
        if as_json:
            _report_error(exc, EXIT_INTERRUPTED, as_json=True, out=out, err=io.StringIO())
        err.write("interrupted\n")
        return EXIT_INTERRUPTED
    except RecursionError as exc:  # input nested too deeply for a parser that recurses
        wrapped = InputError(f"the input is nested too deeply to be read ({exc})")
        _report_error(wrapped, EXIT_INVALID, as_json=as_json, out=out, err=err)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
