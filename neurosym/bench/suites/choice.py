r"""The choice target on LogicalDeduction and AR-LSAT, FOL on ProntoQA: the strategies against chain of thought.

Items: 40 LogicalDeduction dev, 40 AR-LSAT dev and 40 ProntoQA dev items (Logic-LM's files),
each set drawn with ``random.Random(0)`` from its file, interleaved so that a partial recording
covers all three. LogicalDeduction and AR-LSAT go through the choice target (a typed constraint
program, decided by Z3 and cross-checked by cvc5) with the worked examples of their own set from
``neurosym/targets/choice/fewshot.json`` (train puzzles; for LogicalDeduction, puzzles whose
paragraph appears in no dev item); ProntoQA goes through the FOL target with two worked examples
written for neurosym (:data:`PRONTOQA_EXAMPLES`; there is no ProntoQA train split here), in the
FOL target's own layout and grammar.

Strategies share their samples, as in ``logic_loop``: ``cot`` (the same model, chain of thought,
greedy, zero-shot), ``greedy``, ``vote-5``, ``vote-5+repair``, ``adaptive``, ``adaptive+repair``.
Abstentions count as wrong in "accuracy". The extra report gives each set's question kinds and the
few-shot overlap check.

Example:
    >>> cot_choice_answer("... so the answer is B.\nAnswer: (B)")
    'B'
    >>> cot_choice_answer("Answer: True", prontoqa=True)
    'True'

"""

from __future__ import annotations

import collections
import dataclasses
import json
import random
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from neurosym.bench.data import data_dir
from neurosym.bench.registry import Baseline, Benchmark
from neurosym.bench.rows import STRATEGIES, Row
from neurosym.errors import InputError
from neurosym.settings import SamplingSettings
from neurosym.targets.choice import ChoiceTarget
from neurosym.targets.choice.question import question_kind
from neurosym.targets.choice.translator import choice_fewshot_examples
from neurosym.targets.fol import FolTarget
from neurosym.targets.fol.translator import SYSTEM_PROMPT as FOL_SYSTEM_PROMPT
from neurosym.targets.fol.translator import output_gbnf
from neurosym.translators.base import Constraint, GenerationRequest, Message
from neurosym.translators.decoding import Decoder
from neurosym.types import Formalization, Problem, Verdict

__all__ = [
    "CHOICE_LOOP",
    "DATASETS",
    "FILES",
    "ORDER",
    "PER_DATASET",
    "PRONTOQA_EXAMPLES",
    "ChoiceBenchTarget",
    "Item",
    "choice_items",
    "cot_choice_answer",
    "cot_choice_request",
    "fewshot_overlap",
]

PER_DATASET = 40
DATASETS = ("LogicalDeduction", "AR-LSAT", "ProntoQA")
ORDER = ("cot", *STRATEGIES)
FILES = {
    "LogicalDeduction": "logic/LogicalDeduction/logic-lm/dev.json",
    "AR-LSAT": "logic/AR-LSAT/logic-lm/dev.json",
    "ProntoQA": "logic/ProntoQA/logic-lm/dev.json",
}
"""Each set's dev file inside the data folder."""
TRAIN_FILES = {
    "LogicalDeduction": "logic/LogicalDeduction/logic-lm/train.json",
    "AR-LSAT": "logic/AR-LSAT/logic-lm/train.json",
}

SETTINGS = SamplingSettings(max_tokens=768)
"""Room for an AR-LSAT program (about 400 tokens) or a ProntoQA theory written out sentence by sentence."""
COT_SETTINGS = SamplingSettings(temperature=0.0, max_tokens=768)


@dataclass(frozen=True)
class Item:
    """One benchmark item: the problem (its ``metadata["set"]`` names the set), the gold answer and the set."""

    dataset: str
    problem: Problem
    label: str


def _paragraph(context: str) -> str:
    """A LogicalDeduction context without its shared preamble ("The following paragraphs each describe ...")."""
    return context.split("\n\n", 1)[1].strip() if "\n\n" in context else context.strip()


def _rows(root: Path | None, name: str) -> list[dict[str, Any]]:
    return list(json.loads((data_dir(root) / FILES[name]).read_text(encoding="utf-8")))


def _draw(rows: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [rows[i] for i in sorted(random.Random(0).sample(range(len(rows)), min(count, len(rows))))]


def _choice_item(name: str, row: dict[str, Any]) -> Item:
    context = _paragraph(row["context"]) if name == "LogicalDeduction" else row["context"].strip()
    problem = Problem(context, question=row["question"].strip(), options=tuple(row["options"]), id=row["id"],
                      metadata={"set": name})  # fmt: skip
    return Item(name, problem, row["answer"])


def _prontoqa_item(row: dict[str, Any]) -> Item:
    premises = tuple(s.strip() for s in re.split(r"(?<=\.)\s+", row["context"]) if s.strip())
    statement = row["question"].split("?", 1)[1].strip()
    problem = Problem(row["context"], premises=premises, conclusion=statement, id=row["id"],
                      metadata={"set": "ProntoQA"})  # fmt: skip
    return Item("ProntoQA", problem, {"A": "True", "B": "False"}[row["answer"]])


def choice_items(root: Path | None = None, count: int = PER_DATASET) -> list[Item]:
    """The benchmark's items: ``count`` of each set (seed 0, file order), interleaved.

    Raises:
        InputError: no data folder, or a set's file is missing from it.

    """
    deduction = [_choice_item("LogicalDeduction", r) for r in _draw(_rows(root, "LogicalDeduction"), count)]
    lsat = [_choice_item("AR-LSAT", r) for r in _draw(_rows(root, "AR-LSAT"), count)]
    pronto = [_prontoqa_item(r) for r in _draw(_rows(root, "ProntoQA"), count)]
    return [item for triple in zip(deduction, lsat, pronto, strict=False) for item in triple]


def fewshot_overlap(items: Sequence[Item], root: Path | None = None) -> dict[str, Any]:
    """The overlap check: reported items whose puzzle is a worked example's, and how many reuse any train puzzle.

    Example:
        >>> fewshot_overlap([])["shared_with_examples"]
        {'LogicalDeduction': 0, 'AR-LSAT': 0}

    """
    examples = {e["context"].strip() for e in choice_fewshot_examples()}
    out: dict[str, Any] = {"shared_with_examples": {}, "reuse_a_train_puzzle": {}}
    for name in ("LogicalDeduction", "AR-LSAT"):
        chosen = [i for i in items if i.dataset == name]
        out["shared_with_examples"][name] = sum(i.problem.text.strip() in examples for i in chosen)
        if chosen:
            train_file = data_dir(root) / TRAIN_FILES[name]
            train = json.loads(train_file.read_text(encoding="utf-8"))
            seen = {_paragraph(r["context"]) if name == "LogicalDeduction" else r["context"].strip() for r in train}
            out["reuse_a_train_puzzle"][name] = f"{sum(i.problem.text.strip() in seen for i in chosen)}/{len(chosen)}"
    return out


# -- ProntoQA through the FOL target -----------------------------------------------------------

PRONTOQA_EXAMPLES: tuple[dict[str, Any], ...] = (
    {
        "premises": ["Every blicket is a zorb.", "Zorbs are not cold.", "Each florp is cold.", "Sam is a blicket."],
        "premises_fol": [
            "∀x (Blicket(x) → Zorb(x))",
            "∀x (Zorb(x) → ¬Cold(x))",
            "∀x (Florp(x) → Cold(x))",
            "Blicket(sam)",
        ],
        "conclusion": "Sam is cold.",
        "conclusion_fol": "Cold(sam)",
        "label": "False",
    },
    {
        "premises": [
            "Grimbles are quopps.",
            "Each quopp is shiny.",
            "Quopps are tarvs.",
            "Every tarv is not loud.",
            "Ada is a grimble.",
        ],
        "premises_fol": [
            "∀x (Grimble(x) → Quopp(x))",
            "∀x (Quopp(x) → Shiny(x))",
            "∀x (Quopp(x) → Tarv(x))",
            "∀x (Tarv(x) → ¬Loud(x))",
            "Grimble(ada)",
        ],
        "conclusion": "Ada is shiny.",
        "conclusion_fol": "Shiny(ada)",
        "label": "True",
    },
)
"""ProntoQA-style worked examples written for neurosym (invented words that no dev item uses)."""


def _fol_user(premises: Sequence[str], conclusion: str) -> str:
    return "\n".join(
        ["Premises:", *(f"{i}. {p}" for i, p in enumerate(premises, start=1)), f"Conclusion: {conclusion}"]
    )


def _fol_answer(example: dict[str, Any]) -> str:
    lines = ["Premises:"]
    for i, (sentence, formula) in enumerate(zip(example["premises"], example["premises_fol"], strict=True), start=1):
        lines += [f"{i}. {sentence}", f"FOL: {formula}"]
    return "\n".join([*lines, "Conclusion:", example["conclusion"], f"FOL: {example['conclusion_fol']}"])


def prontoqa_request(problem: Problem, *, constrained: bool) -> GenerationRequest:
    """The FOL target's prompt layout and grammar, with the ProntoQA worked examples.

    Example:
        >>> p = Problem(premises=("Rex is a wumpus.",), conclusion="Rex is a wumpus.")
        >>> prontoqa_request(p, constrained=False).messages[-1].content.splitlines()[0]
        'Premises:'

    """
    assert problem.conclusion is not None
    messages = [Message("system", FOL_SYSTEM_PROMPT)]
    for example in PRONTOQA_EXAMPLES:
        messages += [Message("user", _fol_user(example["premises"], example["conclusion"])),
                     Message("assistant", _fol_answer(example))]  # fmt: skip
    messages.append(Message("user", _fol_user(problem.premises, problem.conclusion)))
    return GenerationRequest(tuple(messages), Constraint("grammar", output_gbnf(problem)) if constrained else None)


@dataclass(frozen=True)
class ChoiceBenchTarget:
    """The benchmark's target: each item to the target of its set (``problem.metadata["set"]``).

    LogicalDeduction and AR-LSAT: :class:`ChoiceTarget` with the worked examples of that set;
    ProntoQA: :class:`FolTarget` with :data:`PRONTOQA_EXAMPLES`. Answers are the option letter,
    or ``True``/``False`` for ProntoQA.
    """

    name: ClassVar[str] = "choice-bench"
    constrained: bool = True
    deduction: ChoiceTarget = field(default_factory=lambda: ChoiceTarget(examples="logical_deduction"))
    lsat: ChoiceTarget = field(default_factory=lambda: ChoiceTarget(examples="ar_lsat"))
    fol: FolTarget = field(default_factory=lambda: FolTarget(constrained=True, decoding="whole"))

    def __post_init__(self) -> None:
        for part in ("deduction", "lsat", "fol"):
            object.__setattr__(self, part, dataclasses.replace(getattr(self, part), constrained=self.constrained))

    def _for(self, problem: Problem) -> Any:
        return {"LogicalDeduction": self.deduction, "AR-LSAT": self.lsat}.get(
            str(problem.metadata.get("set")), self.fol
        )

    def decoder(self, problem: Problem) -> Decoder | None:
        """The item's target's decoder: line by line for LogicalDeduction and AR-LSAT, none for ProntoQA."""
        make: Any = getattr(self._for(problem), "decoder", None)
        return make(problem) if callable(make) else None

    def request(self, problem: Problem) -> GenerationRequest:
        """The prompt of the item's target."""
        target = self._for(problem)
        if target is self.fol:
            return prontoqa_request(problem, constrained=self.constrained)
        request: GenerationRequest = target.request(problem)
        return request

    def parse(self, problem: Problem, output: str) -> Formalization:
        """Read the output with the item's target."""
        formalization: Formalization = self._for(problem).parse(problem, output)
        return formalization

    def check(self, formalization: Formalization, *, timeout_s: float) -> Verdict:
        """Decide with the formalization's target (``choice`` or ``fol``)."""
        target = self.fol if formalization.target == "fol" else self.deduction
        verdict: Verdict = target.check(formalization, timeout_s=timeout_s)
        return verdict

    def answer_key(self, verdict: Verdict) -> Hashable | None:
        """The option letter of a choice verdict, the label of a FOL one."""
        if not verdict.decided or verdict.answer is None:
            return None
        exact = getattr(verdict.answer, "exact", None)
        return exact if exact is not None else getattr(verdict.answer, "value", None)

    def repair_request(
        self, problem: Problem, previous: GenerationRequest, output: str, feedback: str
    ) -> GenerationRequest:
        """The item's target's repair prompt."""
        request: GenerationRequest = self._for(problem).repair_request(problem, previous, output, feedback)
        return request

    def fingerprint(self) -> dict[str, Any]:
        """The parts' fingerprints (cache keys, the run key)."""
        return {"target": {"constrained": self.constrained, "deduction": self.deduction.fingerprint()["target"],
                           "lsat": self.lsat.fingerprint()["target"], "fol": self.fol.fingerprint()["target"],
                           "prontoqa_examples": len(PRONTOQA_EXAMPLES)},
                **{k: v for k, v in self.deduction.fingerprint().items() if k != "target"}}  # fmt: skip


# -- the chain-of-thought baseline ------------------------------------------------------------

COT_SYSTEM = "You are a careful logician. You reason only from what the puzzle states."


def cot_choice_request(item: Item, data: Path | None = None) -> GenerationRequest:
    """A zero-shot chain-of-thought prompt that ends in ``Answer: X`` (``Answer: True|False`` for ProntoQA).

    Example:
        >>> p = Problem("X is 1.", question="Which must be true?", options=("A) X is 1", "B) X is 2"))
        >>> cot_choice_request(Item("AR-LSAT", p, "A")).messages[-1].content.endswith("'Answer: B'.")
        True

    """
    problem = item.problem
    if item.dataset == "ProntoQA":
        user = (f"{problem.text}\n\nStatement: {problem.conclusion}\n\nBased only on the text, is the statement "
                "True or False? Think step by step, briefly, then finish with one line: 'Answer: True' or "
                "'Answer: False'.")  # fmt: skip
    else:
        letters = [o[0] for o in problem.options]
        user = "\n".join([problem.text, "", f"Question: {problem.question}", *problem.options, "",
                          "Think step by step, briefly, then finish with one line naming the option: "
                          + " or ".join(f"'Answer: {letter}'" for letter in letters) + "."])  # fmt: skip
    return GenerationRequest((Message("system", COT_SYSTEM), Message("user", user)))


def cot_choice_answer(text: str, *, prontoqa: bool = False) -> str | None:
    """The last ``Answer: X`` in a reply (a letter A-G, or True/False for ProntoQA), or ``None``."""
    if prontoqa:
        found = re.findall(r"answer\W*\s*(true|false)", text, flags=re.IGNORECASE)
        return found[-1].capitalize() if found else None
    letters = re.findall(r"answer\W*\s*\(?([A-G])\b", text, flags=re.IGNORECASE)
    return letters[-1].upper() if letters else None


def _cot_answer(text: str) -> str | None:
    """The answer of either form: True/False wins where the reply gives it (ProntoQA), else a letter."""
    return cot_choice_answer(text, prontoqa=True) or cot_choice_answer(text)


COT = Baseline(cot_choice_request, _cot_answer, COT_SETTINGS)


def _extra_report(rows: Sequence[Row], items: Sequence[Any]) -> str:
    kinds = collections.Counter(
        (i.dataset, question_kind(i.problem.question or "").describe()) for i in items if i.dataset != "ProntoQA"
    )
    lines = ["", "Question kinds (read by the documented rule; an unhandled kind is an abstention):", ""]
    lines += [f"- {dataset}: {kind}: {n}" for (dataset, kind), n in sorted(kinds.items())]
    try:
        overlap = fewshot_overlap(list(items))
    except (InputError, OSError) as err:  # the report still prints without the train files
        lines += ["", f"Few-shot overlap: not checked ({err})"]
    else:
        lines += ["", "Few-shot overlap (reported items whose puzzle is a worked example's): "
                  + ", ".join(f"{k} {v}" for k, v in overlap["shared_with_examples"].items())
                  + "; reported items whose puzzle also appears in train: "
                  + ", ".join(f"{k} {v}" for k, v in overlap["reuse_a_train_puzzle"].items())]  # fmt: skip
    return "\n".join(lines) + "\n"


CHOICE_LOOP = Benchmark(
    name="choice_loop",
    description="The choice target on LogicalDeduction and AR-LSAT and FOL on ProntoQA, against chain of thought.",
    data=(),
    items=choice_items,
    target=lambda: ChoiceBenchTarget(constrained=True),
    settings=SETTINGS,
    strategies=ORDER,
    datasets=DATASETS,
    title="neurosym loop, Qwen2.5-Coder 1.5B (llama.cpp), Z3 + cvc5",
    cassette="choice_loop.jsonl",
    baselines={"cot": COT},
    extra_report=_extra_report,
)
"""LogicalDeduction, AR-LSAT and ProntoQA, 120 items."""
