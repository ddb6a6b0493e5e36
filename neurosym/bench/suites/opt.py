r"""The optimization-modeling assistant on MAMO and IndustryOR: the MILP target against chain of thought.

Items: 30 MAMO EasyLP, 30 MAMO ComplexLP and 30 IndustryOR problems, each set drawn with
``random.Random(0)`` from its consensus subset (the problems on which every gold set that has them
agrees within a relative 1e-4, at least two of them; see
:func:`neurosym.bench.suites.opt_data.consensus`), in file order, interleaved so that a partial
recording covers all three. The gold sets: MAMO's own answers, SIRL's fixed copy, LLMOPT's and
LLM4OR's clean copy; for IndustryOR, the answers of the 2024-05 copy ORLM evaluated on, LLMOPT's,
LLM4OR's clean copy and SIRL's fixedV2 (where its rewritten question still matches). Model (of the
committed cassette): the embedded Qwen2.5-Coder 1.5B (llama.cpp, 2 threads), grammar-constrained
to the modeling language with the layout grammar of the NL4Opt benchmark
(:data:`~neurosym.bench.suites.nl4opt.RECORDED_GRAMMAR`: declarations, a named objective, named
constraints). It was chosen on the 40 NL4Opt development items, one greedy model each: 14 right
with it, 12 with declare-then-use decoding (:mod:`neurosym.targets.milp.declare`, fewer failures
of form but more wrong optima; ``python -m benchmarks.decoding_speed --target milp --items 40``
and ``--recorded``). Today's default grammar (compiled from ``milp.lark``) was not measured
there; on the first six items here it let prose and repeated lines through to the token cap in
four of six models. Every model is solved by HiGHS and CBC and its solution checked.

Strategies:

* ``cot``: the same model reasons in words, greedy, zero-shot, and states the optimal value
  (``The answer is N.``), no solver;
* ``greedy``: one greedy model through the loop (parsed, solved by both solvers, checked).

The sampling strategies are left out of this table: on the NL4Opt development items they lost to
greedy (27.5% against 35.0%, ``neurosym bench nl4opt_loop``) at five times the model time.

An answer is the optimal objective; it is right when it is within a relative 1e-4 of the label
(the consensus value). A second table scores the same answers against each gold set separately.
Abstentions count as wrong in "accuracy".

Example:
    >>> opt_cot_answer("Profit is 3 * 50 = 150 dollars. The answer is $1,150.50.")
    '1150.5'
    >>> OPT_LOOP.strategies
    ('cot', 'greedy')

"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurosym.bench.data import dataset_path
from neurosym.bench.registry import Baseline, Benchmark
from neurosym.bench.rows import Row
from neurosym.bench.suites.nl4opt import (
    NL4OPT_LOOP,
    RECORDED_GRAMMAR,
    Item,
    nl4opt_items,
    per_gold_set,
    render_per_gold_set,
    table_order,
)
from neurosym.bench.suites.opt_data import GOLD_REL_TOL, OptItem, consensus, load_industryor, load_mamo
from neurosym.settings import SamplingSettings
from neurosym.targets.milp import SAMPLING_TEMPERATURE, MilpTarget
from neurosym.translators.base import GenerationRequest, Message
from neurosym.types import AnswerKind, Problem

__all__ = [
    "COT_SYSTEM",
    "DATASETS",
    "GOLD_SETS",
    "NL4OPT_REPORT",
    "NL4OPT_REPORT_ORDER",
    "OPT_LOOP",
    "ORDER",
    "PER_DATASET",
    "opt_cot_answer",
    "opt_cot_request",
    "opt_items",
]

PER_DATASET = 30
DATASETS = ("MAMO-EasyLP", "MAMO-ComplexLP", "IndustryOR")
ORDER = ("cot", "greedy")
GOLD_SETS: dict[str, tuple[str, ...]] = {
    "MAMO-EasyLP": ("Mamo", "SIRL-fixed", "LLMOPT", "LLM4OR-clean"),
    "MAMO-ComplexLP": ("Mamo", "SIRL-fixed", "LLMOPT", "LLM4OR-clean"),
    "IndustryOR": ("ORLM-HF(2024-05)", "LLMOPT", "LLM4OR-clean", "SIRL-fixedV2"),
}
"""Each set's gold sets, in the loaders' names (:func:`load_mamo`, :func:`load_industryor`)."""

# A MAMO ComplexLP or IndustryOR model has up to a few dozen variables and constraints; 512 tokens
# hold them and cap a sample that repeats itself.
SETTINGS = SamplingSettings(max_tokens=512)
COT_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=512)
"""The same cap as the models': the chain of thought gets as many tokens as the loop's one model."""


def _loaded(name: str, data_dir: Path | None) -> list[OptItem]:
    if name == "IndustryOR":
        return load_industryor(dataset_path("industryor", data_dir))
    return load_mamo("easy" if name == "MAMO-EasyLP" else "complex", dataset_path("mamo", data_dir))


def _draw(name: str, count: int, data_dir: Path | None) -> list[Item]:
    pool = [(item, consensus(item.golds, GOLD_SETS[name])) for item in _loaded(name, data_dir)]
    pool = [(item, label) for item, label in pool if label is not None]
    chosen = sorted(random.Random(0).sample(range(len(pool)), min(count, len(pool))))
    out = []
    for i in chosen:
        item, label = pool[i]
        problem = Problem(item.text.strip(), answer_kind=AnswerKind.ASSIGNMENT, id=item.id, metadata={"set": name})
        out.append(Item(name, problem, f"{label:.10g}", dict(item.golds)))
    return out


def opt_items(data_dir: Path | None = None, count: int = PER_DATASET) -> list[Item]:
    """``count`` consensus problems of each set (seed 0, file order), interleaved.

    Raises:
        InputError: no data folder, or a set's files are missing from it.

    """
    drawn = [_draw(name, count, data_dir) for name in DATASETS]
    return [item for triple in zip(*drawn, strict=False) for item in triple]


# -- the chain-of-thought baseline ------------------------------------------------------------

COT_SYSTEM = (
    "You solve optimization word problems. Reason step by step in short sentences: name the decisions, "
    "the objective and the constraints, then find the best feasible plan. Finish with one line: "
    "'The answer is N.' where N is the optimal value of the objective, a plain number."
)


def opt_cot_request(item: Item, data_dir: Path | None = None) -> GenerationRequest:
    """A zero-shot chain-of-thought prompt that ends in ``The answer is N.`` (the optimal objective value).

    Example:
        >>> item = Item("IndustryOR", Problem("Maximise x with x <= 3.", id="p"), "3")
        >>> opt_cot_request(item).messages[-1].content
        'Problem: Maximise x with x <= 3.'

    """
    return GenerationRequest((Message("system", COT_SYSTEM), Message("user", f"Problem: {item.problem.text}")))


def opt_cot_answer(text: str) -> str | None:
    """The number in the last ``The answer is N`` (or ``Answer: N``) of a reply, or ``None``.

    Example:
        >>> opt_cot_answer("Answer: -12"), opt_cot_answer("The plan is good.") is None
        ('-12', True)

    """
    found = re.findall(r"answer(?: is|:)\s*:?\s*\**\s*\$?\s*(-?[\d,]*\.?\d+)", text, flags=re.IGNORECASE)
    if not found:
        return None
    try:
        return f"{float(found[-1].replace(',', '')):.10g}"
    except ValueError:  # "," alone or a stray separator
        return None


COT = Baseline(opt_cot_request, opt_cot_answer, COT_SETTINGS)


def _extra_report(rows: Sequence[Row], items: Sequence[Any]) -> str:
    parts = ["The same answers against each gold set (items covered in brackets):"]
    for name in DATASETS:
        chosen = [i for i in items if i.dataset == name]
        ids = {i.problem.id for i in chosen}
        table = per_gold_set([r for r in rows if r.item in ids], chosen, ORDER, GOLD_SETS[name])
        parts.append(f"{name}:\n\n" + render_per_gold_set(table, ORDER, GOLD_SETS[name]))
    return "\n\n".join(parts) + "\n"


OPT_LOOP = Benchmark(
    name="opt_loop",
    description="The optimization-modeling assistant on MAMO EasyLP, ComplexLP and IndustryOR, against CoT.",
    data=("mamo", "industryor"),
    items=opt_items,
    target=lambda: MilpTarget(constrained=True, grammar=RECORDED_GRAMMAR),
    settings=SETTINGS,
    strategies=ORDER,
    datasets=DATASETS,
    title="neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), MILP (HiGHS + CBC)",
    cassette="opt_loop.jsonl",
    baselines={"cot": COT},
    rel_tol=GOLD_REL_TOL,
    extra_report=_extra_report,
)
"""MAMO EasyLP, MAMO ComplexLP and IndustryOR, 90 items."""

NL4OPT_REPORT_ORDER = (
    "cot", "greedy",
    *(f"{name}@{SAMPLING_TEMPERATURE}"
      for name in ("vote-5", "vote-5+repair", "vote-5+resample", "vote-5+hint", "adaptive")),
)  # fmt: skip
"""The NL4Opt report table: chain of thought, greedy, and the development table's sampling strategies with each
failed-sample strategy, all sampled at the MILP temperature swept on the development items (0.5, ``vote-5@0.5``)."""


def _nl4opt_report_extra(rows: Sequence[Row], items: Sequence[Any]) -> str:
    order = table_order(rows, NL4OPT_REPORT_ORDER)
    return "The same answers against each gold set (items covered in brackets):\n\n" + render_per_gold_set(
        per_gold_set(rows, items, order), order
    )


NL4OPT_REPORT = Benchmark(
    name="nl4opt_report",
    description="The report set of the optimization assistant: 40 new NL4Opt consensus problems (seed 1, outside "
    "the development items), each strategy against chain of thought.",
    data=NL4OPT_LOOP.data,
    items=lambda data_dir: nl4opt_items(data_dir=data_dir, report=True),
    target=lambda: MilpTarget(constrained=True, grammar=RECORDED_GRAMMAR),
    settings=NL4OPT_LOOP.settings,
    strategies=NL4OPT_REPORT_ORDER,
    datasets=NL4OPT_LOOP.datasets,
    title=NL4OPT_LOOP.title + ", report set",
    cassette="nl4opt_report.jsonl",
    baselines={"cot": COT},
    rel_tol=GOLD_REL_TOL,
    extra_report=_nl4opt_report_extra,
    pairs=tuple((s, "cot") for s in NL4OPT_REPORT_ORDER if s != "cot"),
)
"""40 NL4Opt consensus problems drawn with seed 1 outside the 40 development items of :data:`NL4OPT_LOOP`, with the
grammar chosen on those (the layout grammar: 15/40 greedy against 13/40 for declare-then-use decoding). Not recorded
yet; recorded once, with the design frozen (benchmarks/results/report_recording_plan.md)."""
