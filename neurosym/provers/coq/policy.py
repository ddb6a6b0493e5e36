r"""What a model-written Coq script may not do: the commands refused before the kernel sees them.

Proof scripts are model output, and Coq commands can load plugins, read and write files, switch
the kernel's checks off, give up on a goal or add an assumption. Each sentence is read without
its comments and with its strings emptied, its prefixes (``Time``, ``Fail``, ``Local``,
attributes...) set aside, and refused when it

- loads code or files: ``Declare ML Module``, ``Load``, ``Add LoadPath`` / ``Add ML Path`` and
  their kin, ``Cd``;
- writes files: ``Redirect``, every ``Extraction`` command, ``native_compute`` (which compiles
  and links OCaml code);
- weakens checking: ``Unset``/``Set`` of ``Guard Checking``, ``Positivity Checking``, ``Universe
  Checking``, the ``bypass_check`` attribute;
- gives up: ``Admitted``, ``Admit Obligations``, ``Abort``, the tactics ``admit`` and ``give_up``;
- adds an assumption: ``Axiom(s)``, ``Conjecture(s)``, ``Parameter(s)``, ``Hypothesis``,
  ``Hypotheses``, ``Variable(s)``, ``Context``, ``Declare Module``, ``Primitive``, ``Register``;
- steers the kernel's document or process: ``Reset``, ``Back``, ``BackTo``, ``Undo``, ``Drop``,
  ``Quit``, ``Set Ltac Debug`` (which waits for a debugger);
- uses a name that starts with ``neurosym`` (the checker's own names).

Helper lemmas and definitions with their own proofs are allowed and checked like the theorem;
``Require`` is allowed (only the installed, read-only libraries are visible to the kernel). What
slips past these rules still meets ``Print Assumptions`` (see :mod:`neurosym.provers.coq.prover`).

Example:
    >>> from neurosym.provers.coq.sentences import split_sentences
    >>> [r.rule for r in refusals(split_sentences("Axiom cheat : False.\nTheorem t : 1 = 2.\nProof. admit. Admitted."))]
    ['assumption', 'admit', 'admitted']
    >>> refusals(split_sentences("Lemma l : 0 = 0.\nProof. (* no admit here *) reflexivity. Qed."))
    []

"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from neurosym.provers.coq.sentences import Sentence, words_of

__all__ = ["RESERVED_PREFIX", "Refusal", "refusals"]

RESERVED_PREFIX = "neurosym"
"""Names that start with this belong to the checker (its copy of the statement, its final check)."""

_PREFIX = re.compile(
    r"""^(?:\#\[[^\]]*\]\s*
        |(?:Time|Fail|Succeed|Local|Global|Polymorphic|Monomorphic|Cumulative|NonCumulative|Private
           |Program|Instructions|Profile)\b\s*
        |Timeout\s+\d+\s*)""",
    re.VERBOSE,
)
_COMMANDS: tuple[tuple[str, str, str], ...] = (
    # (pattern at the start of a command, rule, why)
    (r"Declare\s+ML\s+Module\b", "plugin", "loads a plugin (native code)"),
    (r"Declare\s+Module\b", "assumption", "declares a module without a body (an assumption)"),
    (r"Load\b", "file", "reads a file"),
    (r"(?:Add|Remove)\s+(?:Rec\s+)?(?:LoadPath|ML\s+Path)\b", "load-path", "changes where libraries are loaded from"),
    (r"Cd\b", "file", "changes the working directory"),
    (r"Redirect\b", "file", "writes a file"),
    (r"(?:Recursive\s+|Separate\s+)?Extraction\b|Extract\b|Show\s+Extraction\b", "extraction",
     "extracts programs (and may write files)"),
    (r"(?:Set|Unset)\s+(?:Guard|Positivity|Universe)\s+Checking\b", "checks-off", "switches a kernel check off"),
    (r"(?:Set|Unset)\s+Ltac\s+(?:Batch\s+)?Debug\b", "document", "starts the Ltac debugger, which waits for input"),
    (r"Admitted\b", "admitted", "leaves the theorem unproved"),
    (r"Admit\s+Obligations\b", "admitted", "leaves obligations unproved"),
    (r"Abort\b", "abort", "abandons the proof"),
    (r"(?:Axioms?|Conjectures?|Parameters?|Hypothes[ie]s|Variables?|Context)\b", "assumption",
     "adds an assumption"),
    (r"(?:Primitive|Register)\b", "assumption", "declares a kernel primitive"),
    (r"(?:Reset|Back|BackTo|Undo|Drop|Quit)\b", "document", "steers the checker's document or process"),
)  # fmt: skip
_COMPILED = tuple((re.compile(pattern), rule, why) for pattern, rule, why in _COMMANDS)
_ANYWHERE: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"(?<![\w'.])(?:admit|give_up)(?![\w'])"), "admit", "gives up on a goal"),
    (re.compile(r"(?<![\w'.])Admitted(?![\w'])"), "admitted", "leaves the theorem unproved"),
    (re.compile(r"(?<![\w'.])native_(?:compute|cast_no_check)(?![\w'])"), "native",
     "compiles and links native code (native_compute)"),
    (re.compile(r"bypass_check"), "checks-off", "switches a kernel check off (bypass_check)"),
    (re.compile(rf"(?<![\w'])(?:\w+\.)*{RESERVED_PREFIX}\w*", re.IGNORECASE), "reserved-name",
     f"uses a name starting with {RESERVED_PREFIX!r}, which is reserved for the checker"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Refusal:
    """A sentence refused before checking: which rule, why, and where (line and column from 1).

    Example:
        >>> Refusal("plugin", "Declare ML Module loads a plugin (native code)", 0, 3, 1).render()
        'line 3, column 1: Declare ML Module loads a plugin (native code); this is not allowed in a proof script'

    """

    rule: str
    message: str
    sentence: int
    line: int
    column: int

    def render(self) -> str:
        """The refusal as one line for people and for the model."""
        return f"line {self.line}, column {self.column}: {self.message}; this is not allowed in a proof script"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {"rule": self.rule, "message": self.message, "sentence": self.sentence, "line": self.line,
                "column": self.column}  # fmt: skip


def _command(code: str) -> str:
    """The command with its prefixes (``Time``, ``Local``, attributes...) removed."""
    previous = None
    while previous != code:
        previous, code = code, _PREFIX.sub("", code, count=1).lstrip()
    return code


def _quoted(sentence: Sentence) -> str:
    first = " ".join(sentence.text.split())
    return first if len(first) <= 60 else first[:59] + "…"


def refusals(sentences: Sequence[Sentence]) -> list[Refusal]:
    """Every refused sentence of a model-written script, in order (empty when the script may be checked).

    Example:
        >>> from neurosym.provers.coq.sentences import split_sentences
        >>> [r.message for r in refusals(split_sentences('Local Unset Guard Checking.'))]
        ['Local Unset Guard Checking. switches a kernel check off']

    """
    found: list[Refusal] = []
    for index, sentence in enumerate(sentences):
        words = words_of(sentence.text)
        command = _command(words.strip())
        hit = next(((rule, why) for pattern, rule, why in _COMPILED if pattern.match(command)), None)
        if hit is None:
            hit = next(((rule, why) for pattern, rule, why in _ANYWHERE if pattern.search(words)), None)
        if hit is not None:
            rule, why = hit
            found.append(Refusal(rule, f"{_quoted(sentence)} {why}", index, sentence.line, sentence.column))
    return found
