r"""Coq scripts cut into sentences, as Coq's own lexer does: comments, strings, bullets, braces, final dots.

A Coq sentence ends with a ``.`` followed by a blank or the end of the text (``Nat.add`` and
``1.5`` do not end one); comments ``(* ... *)`` nest and may hold strings, strings double their
quotes (``"a""b"``); at the start of a sentence a bullet (``-``, ``+``, ``*``, repeated) or a brace
(``{``, ``}``, or a goal selector ``2: {``) is a sentence by itself. The kernel is fed one sentence
at a time, and every error is reported at a sentence's line and column.

Example:
    >>> [s.text for s in split_sentences("Lemma x : True.\nProof. (* trivial. *)\n- exact I.\nQed.")]
    ['Lemma x : True.', 'Proof.', '-', 'exact I.', 'Qed.']
    >>> split_sentences("Lemma x : Nat.add 1 0 = 1.")[0].end
    26

"""

from __future__ import annotations

import re
from dataclasses import dataclass

from neurosym.errors import ParseError

__all__ = [
    "THEOREM_KEYWORDS",
    "Sentence",
    "TheoremHead",
    "code_of",
    "parse_theorem",
    "position",
    "split_sentences",
    "statement_tokens",
    "words_of",
]

THEOREM_KEYWORDS = ("Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example")
"""The commands that state a theorem and open its proof."""

_BULLET = re.compile(r"(-+|\++|\*+)(?=\s|$|[^-+*)])")
_BRACE = re.compile(r"(?:(?:\d+|\[[A-Za-z_][\w']*\])\s*:\s*)?\{|\}")
_TOKEN = re.compile(r"\"(?:[^\"]|\"\")*\"|[\w'\u0080-\U0010ffff]+(?:\.[\w'\u0080-\U0010ffff]+)*|\S")
_PREFIXES = re.compile(r"^(?:#\[[^\]]*\]\s*|(?:Local|Global|Polymorphic|Monomorphic|Program)\s+)*")
_HEAD = re.compile(rf"^({'|'.join(THEOREM_KEYWORDS)})\s+([A-Za-z_\u0080-\U0010ffff][\w'\u0080-\U0010ffff]*)(.*)\.$",
                   re.DOTALL)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a script: its text (from its first character to its final dot) and where it is.

    Attributes:
        text: the sentence as written, comments inside it included (leading ones are not).
        start, end: its character offsets in the script (``script[start:end] == text``).
        line, column: where it starts, both from 1.
        complete: ``False`` for text left after the last sentence without a final dot.

    """

    text: str
    start: int
    end: int
    line: int
    column: int
    complete: bool = True

    @property
    def code(self) -> str:
        """The text with its comments removed (see :func:`code_of`)."""
        return code_of(self.text)


def position(script: str, offset: int) -> tuple[int, int]:
    r"""The line and column (both from 1) of character ``offset`` of ``script``.

    Example:
        >>> position("ab\ncd", 4)
        (2, 2)

    """
    offset = max(0, min(offset, len(script)))
    line = script.count("\n", 0, offset) + 1
    return line, offset - (script.rfind("\n", 0, offset) + 1) + 1


def _skip_comment(text: str, i: int) -> int:
    """The offset just past the comment that starts at ``i`` (``(*``); nested comments and strings count."""
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith("(*", j):
            depth, j = depth + 1, j + 2
        elif text.startswith("*)", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        elif text[j] == '"':
            j = _skip_string(text, j)
        else:
            j += 1
    line, column = position(text, i)
    raise ParseError(f"unterminated comment starting at line {line}, column {column}", line=line, column=column)


def _skip_string(text: str, i: int) -> int:
    """The offset just past the string that starts at ``i``; ``""`` inside it is a quote."""
    j, n = i + 1, len(text)
    while j < n:
        if text[j] == '"':
            if j + 1 < n and text[j + 1] == '"':
                j += 2
                continue
            return j + 1
        j += 1
    line, column = position(text, i)
    raise ParseError(f"unterminated string starting at line {line}, column {column}", line=line, column=column)


def _skip_blanks(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("(*", i):
            i = _skip_comment(text, i)
        else:
            break
    return i


def split_sentences(script: str) -> list[Sentence]:
    r"""The sentences of ``script``, in order; raises :class:`ParseError` for an unterminated comment or string.

    Text after the last full stop is returned as a last sentence with ``complete=False`` (Coq would
    wait for its end), so that a caller can say what is missing.

    Example:
        >>> [(s.text, s.line) for s in split_sentences('Goal True.\n  exact I')]
        [('Goal True.', 1), ('exact I', 2)]
        >>> split_sentences("(* not closed")
        Traceback (most recent call last):
        ...
        neurosym.errors.ParseError: unterminated comment starting at line 1, column 1

    """
    sentences: list[Sentence] = []
    i, n = 0, len(script)
    while True:
        i = _skip_blanks(script, i)
        if i >= n:
            return sentences
        start = i
        match = _BRACE.match(script, i) or _BULLET.match(script, i)
        if match:
            stop = match.end()
            sentences.append(Sentence(script[start:stop], start, stop, *position(script, start)))
            i = stop
            continue
        j, end = i, None
        while j < n:
            char = script[j]
            if script.startswith("(*", j):
                j = _skip_comment(script, j)
            elif char == '"':
                j = _skip_string(script, j)
            elif char == ".":
                run = j
                while run < n and script[run] == ".":
                    run += 1
                if run - j > 1:  # "..": a token of recursive notations, not a full stop
                    j = run
                elif run == n or script[run].isspace():
                    end = run
                    break
                else:
                    j = run
            else:
                j += 1
        if end is None:
            text = script[start:].rstrip()
            sentences.append(Sentence(text, start, start + len(text), *position(script, start), complete=False))
            return sentences
        sentences.append(Sentence(script[start:end], start, end, *position(script, start)))
        i = end


def code_of(text: str) -> str:
    """``text`` with every comment replaced by one space (strings are kept).

    Example:
        >>> code_of('intros (* "x" *) x. (* (* nested *) *)')
        'intros   x.  '

    """
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("(*", i):
            i = _skip_comment(text, i)
            out.append(" ")
        elif text[i] == '"':
            j = _skip_string(text, i)
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def words_of(text: str) -> str:
    """``text`` with comments removed and every string emptied (``""``): what is left is commands and names.

    Example:
        >>> words_of('Notation "admit" := I. (* admit *)')
        'Notation "" := I.  '

    """
    code = code_of(text)
    return re.sub(r"\"(?:[^\"]|\"\")*\"", '""', code)


def statement_tokens(text: str) -> list[str]:
    """The tokens of a statement (comments and blanks dropped), for comparing statements as written.

    Names, numbers and strings are one token each; every other character is one token, so
    ``x:R`` and ``x : R`` are the same statement. The opening keyword counts as ``Theorem``
    (``Lemma`` or ``Theorem`` state the same thing).

    Example:
        >>> statement_tokens("Lemma t: forall x:R, x=x.") == statement_tokens("Theorem t : forall x : R, x = x .")
        True

    """
    tokens = _TOKEN.findall(_PREFIXES.sub("", code_of(text).strip()))
    if tokens and tokens[0] in THEOREM_KEYWORDS:
        tokens[0] = "Theorem"
    return tokens


@dataclass(frozen=True, slots=True)
class TheoremHead:
    """A theorem's statement split up (``Theorem name binders : type.``).

    Example:
        >>> head = parse_theorem("Theorem t (x : nat) {y : nat} : x + y = y + x.")
        >>> head.name, head.binders, head.type
        ('t', '(x : nat) {y : nat}', 'x + y = y + x')
        >>> head.proposition
        'forall (x : nat) {y : nat}, x + y = y + x'

    """

    keyword: str
    name: str
    binders: str
    type: str

    @property
    def proposition(self) -> str:
        """The statement as one closed type (``forall binders, type``)."""
        return f"forall {self.binders}, {self.type}" if self.binders else self.type


def parse_theorem(text: str) -> TheoremHead | None:
    """The parts of a theorem statement (``Theorem``, ``Lemma``...), or ``None`` if ``text`` states none.

    Example:
        >>> parse_theorem("Lemma l: 1 = 1.").type
        '1 = 1'
        >>> parse_theorem("Definition d := 1.") is None
        True

    """
    code = _PREFIXES.sub("", code_of(text).strip())
    match = _HEAD.match(code)
    if not match:
        return None
    keyword, name, rest = match.groups()
    depth, i, n = 0, 0, len(rest)
    while i < n:
        char = rest[i]
        if char == '"':
            i = _skip_string(rest, i)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == ":" and depth == 0 and not rest.startswith((":=", "::", ":>"), i):
            binders, type_ = rest[:i].strip(), rest[i + 1 :].strip()
            if not type_:
                return None
            return TheoremHead(keyword, name, " ".join(binders.split()), type_)
        i += 1
    return None
