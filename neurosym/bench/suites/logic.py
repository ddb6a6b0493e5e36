"""The feedback loop on FOLIO and ProofWriter: strategies side by side, from recorded model samples.

Items: 40 FOLIO validation items and 40 ProofWriter dev items (OWA, depth 5), each set drawn with
``random.Random(0)`` from its file, interleaved so that a partial recording covers both. Model
(of the committed cassette): the embedded Qwen2.5-Coder 1.5B (llama.cpp, 2 threads), with
grammar-constrained decoding as ``neurosym solve`` uses it. (Without the grammar this model
writes set notation, ``Tom ∈ WildTurkey``, and drops premises: on the first item tried, none of
10 samples and repairs parsed.)

Strategies, all on the same items and the same recorded samples (sample ``i`` is drawn with seed
``i`` at temperature 0.7, so "vote of 5" and "adaptive" share them):

* ``cot``: the same model answers in chain-of-thought, no solver (greedy, zero-shot);
* ``greedy``: one greedy translation, decided by Z3;
* ``vote-5``: majority over 5 samples whose translation parsed and was decided;
* ``vote-5+repair``: the same, and each failed sample goes back once with the parser's or
  prover's message;
* ``adaptive``: samples in rounds of 2 (at most 5) and stops once the leader cannot be overtaken
  or holds 80% of the votes;
* ``adaptive+repair``: adaptive with one repair per failed sample;
* ``vote-5+evidence``, ``adaptive+evidence``: the same samples, the answer chosen among those
  the provers proved or refuted, 'Uncertain' only where no sample has a proof
  (``Strategy(selection="evidence")``, ``FolTarget.evidence``; the rule was chosen on these 80
  items, the development set: they are not its evidence).

Abstentions (no answer reaches half of the decided votes, or a tie) count as wrong in
"accuracy"; "answered accuracy" is over the items that got an answer.

``logic_loop_renamed`` replays the same samples with signature clashes (``Dog(rex)`` and
``Dog(rex, tom)``) renamed apart instead of failing (``FolTarget(repair_signature_clashes=True)``,
``neurosym solve --repair``). The prompt does not depend on the option, so one cassette serves
both; a repair whose prompt quotes a verdict that renaming changed is a miss, and its item is left out.

``logic_loop_declare`` runs the same development items with declare-then-use decoding
(``FolTarget(decoding="declare")``: the signature first, then the formulas under a grammar compiled
from it, so a clash cannot be written). Its samples go to the same cassette (their requests differ
from the whole layout's, and chain of thought is shared); it is how the FOL decoder is chosen.

Example:
    >>> cot_answer("Rex is a dog, so... Answer: **True**")
    'True'

"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from neurosym.bench.data import dataset_path
from neurosym.bench.registry import Baseline, Benchmark
from neurosym.bench.rows import STRATEGIES
from neurosym.settings import SamplingSettings
from neurosym.targets.fol import FolTarget
from neurosym.translators.base import GenerationRequest, Message
from neurosym.types import Problem

__all__ = [
    "COT_SYSTEM",
    "DATASETS",
    "LOGIC_LOOP",
    "LOGIC_LOOP_DECLARE",
    "LOGIC_LOOP_RENAMED",
    "LOGIC_REPORT",
    "ORDER",
    "PER_DATASET",
    "REPORT_ORDER",
    "SETTINGS",
    "Item",
    "cot_answer",
    "cot_request",
    "folio_items",
    "interleaved",
    "logic_items",
    "proofwriter_items",
]

PER_DATASET = 40
REPORT_FOLIO_POOL = 160
"""The report set's FOLIO items are drawn from validation items 0-159 (the rest kept for an independent check)."""
REPORT_PROOFWRITER_POOL = 500
"""The report set's ProofWriter items are drawn from dev items 0-499."""

SETTINGS = SamplingSettings(max_tokens=1024)
"""Long enough for a 20-sentence ProofWriter theory written out sentence by sentence."""
COT_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=768)

ORDER = ("cot", *STRATEGIES, "vote-5+evidence", "adaptive+evidence")
REPORT_ORDER = (
    "cot", "greedy", "vote-5", "vote-5+repair", "vote-5+resample", "vote-5+hint", "adaptive",
    "vote-5+evidence", "adaptive+evidence",
)  # fmt: skip
"""The report table: chain of thought, greedy, the vote, each failed-sample strategy, adaptive, and selection by
evidence (the rule chosen on the development items)."""
DATASETS = ("FOLIO", "ProofWriter")

_LABELS = {"true": "True", "false": "False", "uncertain": "Uncertain", "unknown": "Uncertain"}


@dataclass(frozen=True)
class Item:
    """One benchmark item: the problem and its gold label."""

    dataset: str
    problem: Problem
    label: str


def _report_draw(total: int, first: int, count: int, development: Sequence[int]) -> list[int]:
    """``count`` indices drawn with seed 1 from ``0 .. first - 1`` leaving out ``development``, in order."""
    pool = [i for i in range(min(total, first)) if i not in set(development)]
    return sorted(random.Random(1).sample(pool, count))


def folio_items(path: Path | None = None, count: int = PER_DATASET, *, report: bool = False) -> list[Item]:
    r"""``count`` FOLIO validation items drawn with seed 0, in file order (``path``: the data set's file).

    ``report=True``: the report items instead, drawn with seed 1 from items 0-159 outside the
    development items (the seed-0 draw of ``count``).

    Example:
        >>> import json, tempfile, pathlib
        >>> rows = [{"premises": ["A."], "conclusion": f"B{i}.", "label": "True"} for i in range(5)]
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "folio.jsonl"
        >>> _ = path.write_text("\n".join(json.dumps(r) for r in rows))
        >>> [i.problem.id for i in folio_items(path, count=2)]
        ['folio-3', 'folio-4']
        >>> [i.problem.id for i in folio_items(path, count=2, report=True)]  # outside the development draw
        ['folio-0', 'folio-2']

    """
    path = path if path is not None else dataset_path("folio-validation")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = sorted(random.Random(0).sample(range(len(rows)), count))
    if report:
        chosen = _report_draw(len(rows), REPORT_FOLIO_POOL, count, chosen)
    items = []
    for index in chosen:
        row = rows[index]
        problem = Problem(premises=tuple(row["premises"]), conclusion=row["conclusion"], id=f"folio-{index}")
        items.append(Item("FOLIO", problem, _LABELS[str(row["label"]).lower()]))
    return items


def proofwriter_items(path: Path | None = None, count: int = PER_DATASET, *, report: bool = False) -> list[Item]:
    """``count`` ProofWriter dev items drawn with seed 0, the theory split into sentences.

    ``report=True``: the report items instead, drawn with seed 1 from items 0-499 outside the
    development items.

    Example:
        >>> import json, tempfile, pathlib
        >>> row = {"id": "pw-1", "context": "Bob is big. Big things are red.", "answer": "A",
        ...        "question": "Based on the theory: true, false, or unknown? Bob is red."}
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "dev.json"
        >>> _ = path.write_text(json.dumps([row]))
        >>> item = proofwriter_items(path, count=1)[0]
        >>> item.problem.premises, item.problem.conclusion, item.label
        (('Bob is big.', 'Big things are red.'), 'Bob is red.', 'True')

    """
    path = path if path is not None else dataset_path("proofwriter-dev")
    rows = json.loads(path.read_text(encoding="utf-8"))
    chosen = sorted(random.Random(0).sample(range(len(rows)), count))
    if report:
        chosen = _report_draw(len(rows), REPORT_PROOFWRITER_POOL, count, chosen)
    items = []
    for index in chosen:
        row = rows[index]
        premises = tuple(s.strip() for s in re.split(r"(?<=\.)\s+", row["context"]) if s.strip())
        conclusion = row["question"].split("?", 1)[1].strip()
        label = {"A": "True", "B": "False", "C": "Uncertain"}[row["answer"]]
        items.append(Item("ProofWriter", Problem(premises=premises, conclusion=conclusion, id=row["id"]), label))
    return items


def interleaved(first: Sequence[Item], second: Sequence[Item]) -> Iterator[Item]:
    """Alternate the two sets, so a partial recording covers both.

    Example:
        >>> list(interleaved([1, 3], [2, 4]))
        [1, 2, 3, 4]

    """
    for a, b in zip(first, second, strict=False):
        yield a
        yield b


def logic_items(data_dir: Path | None = None, *, report: bool = False) -> list[Item]:
    """The 80 items, FOLIO and ProofWriter interleaved, from the data folder (``report``: the report set instead)."""
    return list(
        interleaved(
            folio_items(dataset_path("folio-validation", data_dir), report=report),
            proofwriter_items(dataset_path("proofwriter-dev", data_dir), report=report),
        )
    )


# -- the chain-of-thought baseline ------------------------------------------------------------

COT_SYSTEM = "You are a careful logician. You reason only from the premises you are given."


def cot_request(problem: Problem) -> GenerationRequest:
    """A zero-shot chain-of-thought prompt that ends in ``Answer: True|False|Uncertain``.

    Example:
        >>> cot_request(Problem(premises=("Rex is a dog.",), conclusion="Rex is a dog.")).messages[0].role
        'system'

    """
    premises = "\n".join(f"{i}. {p}" for i, p in enumerate(problem.premises, start=1))
    user = (
        f"Premises:\n{premises}\n\nStatement: {problem.conclusion}\n\n"
        "Based only on the premises, is the statement True, False, or Uncertain (it does not follow "
        "either way)? Think step by step, briefly, then finish with one line: 'Answer: True', "
        "'Answer: False' or 'Answer: Uncertain'."
    )
    return GenerationRequest((Message("system", COT_SYSTEM), Message("user", user)))


def cot_answer(text: str) -> str | None:
    """The last ``Answer: ...`` label in a chain-of-thought reply, or ``None``.

    Example:
        >>> cot_answer("I cannot tell.") is None
        True

    """
    found = re.findall(r"answer\W*\s*(true|false|uncertain|unknown)", text, flags=re.IGNORECASE)
    return _LABELS[found[-1].lower()] if found else None


COT = Baseline(lambda item, data_dir: cot_request(item.problem), cot_answer, COT_SETTINGS)

_DESCRIPTION = "The feedback loop on FOLIO and ProofWriter: strategies side by side, from recorded model samples."
_TITLE = "neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), Z3"

LOGIC_LOOP = Benchmark(
    name="logic_loop",
    description=_DESCRIPTION,
    data=("folio-validation", "proofwriter-dev"),
    items=logic_items,
    target=lambda: FolTarget(constrained=True),
    settings=SETTINGS,
    strategies=ORDER,
    datasets=DATASETS,
    title=_TITLE,
    cassette="logic_loop.jsonl",
    baselines={"cot": COT},
)
"""FOLIO and ProofWriter, 80 items, Z3."""

LOGIC_LOOP_RENAMED = Benchmark(
    name="logic_loop_renamed",
    description=_DESCRIPTION.removesuffix(".") + ", signature clashes renamed apart.",
    data=LOGIC_LOOP.data,
    items=logic_items,
    target=lambda: FolTarget(constrained=True, repair_signature_clashes=True),
    settings=SETTINGS,
    strategies=ORDER,
    datasets=DATASETS,
    title=_TITLE + ", clashes renamed",
    cassette="logic_loop.jsonl",
    baselines={"cot": COT},
)
"""The same samples with signature clashes renamed apart (one cassette serves both)."""

DECLARE_ORDER = ("cot", "greedy", "vote-5", "vote-5+evidence", "adaptive", "adaptive+evidence")
"""The declare-then-use table: the strategies that decide between the decoders (no failed-sample rows)."""

LOGIC_LOOP_DECLARE = Benchmark(
    name="logic_loop_declare",
    description=_DESCRIPTION.removesuffix(".") + ", declare-then-use decoding.",
    data=LOGIC_LOOP.data,
    items=logic_items,
    target=lambda: FolTarget(constrained=True, decoding="declare"),
    settings=SETTINGS,
    strategies=DECLARE_ORDER,
    datasets=DATASETS,
    title=_TITLE + ", signature declared first",
    cassette="logic_loop.jsonl",
    baselines={"cot": COT},
    pairs=(("greedy", "cot"), ("vote-5+evidence", "cot"), ("adaptive+evidence", "cot")),
)
"""The development items with declare-then-use decoding (one cassette with :data:`LOGIC_LOOP`)."""

LOGIC_REPORT = Benchmark(
    name="logic_report",
    description="The report set of the logic loop: 80 new FOLIO and ProofWriter items (seed 1, outside the "
    "development items), each strategy against chain of thought.",
    data=LOGIC_LOOP.data,
    items=lambda data_dir: logic_items(data_dir, report=True),
    target=lambda: FolTarget(constrained=True, decoding="declare"),
    settings=SETTINGS,
    strategies=REPORT_ORDER,
    datasets=DATASETS,
    title=_TITLE + ", report set",
    cassette="logic_report.jsonl",
    baselines={"cot": COT},
    pairs=tuple((s, "cot") for s in REPORT_ORDER if s != "cot"),
)
"""The report set: 40 FOLIO validation items drawn with seed 1 from items 0-159 and 40 ProofWriter dev items drawn
with seed 1 from items 0-499, none of them a development item (:data:`LOGIC_LOOP`'s). Prompts, grammar, decoder
(declare-then-use: on the development items its adaptive+evidence is right on 63.7% against 61.3% in the whole
layout), temperature and the selection rule are those chosen on the development items; recorded once, with that
design frozen (benchmarks/results/report_recording_plan.md)."""
