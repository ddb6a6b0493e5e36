"""Optimization benchmark data: NL4Opt (official formulations and gold sets), MAMO, IndustryOR.

NL4Opt's official competition test file (289 problems) carries structured formulations and no
objective values; the published gold objective values come from several corrected sets that
often disagree. :func:`nl4opt_golds` reads them per problem from the shared cross-check file
(data set ``nl4opt-crosscheck``, which matched each published set to the official problems), and
:func:`consensus` keeps the value the corrected sets agree on.

:func:`annotation_model` turns an official formulation into neurosym's MILP language, so the
formulations themselves can be solved and compared with every gold set (the gold-formal track).

MAMO and IndustryOR publish questions and answers only (no formulations); their loaders give the
question and every gold set's answer, matched by question text. Every loader reads the data
folder of :mod:`neurosym.bench.data` unless given a path.

Example:
    >>> annotation = {
    ...     "vars": ["sled dogs", "trucks"],
    ...     "obj_declaration": {"type": "objective", "direction": "maximize", "name": "number of fish",
    ...                         "terms": {"sled dogs": "100", "trucks": "300"}},
    ...     "const_declarations": [
    ...         {"type": "linear", "operator": "LESS_OR_EQUAL", "terms": {"sled dogs": "50", "trucks": "100"},
    ...          "limit": "1000"},
    ...         {"type": "xy", "operator": "LESS_OR_EQUAL", "x_var": "sled dogs", "y_var": "trucks"}]}
    >>> print(annotation_model(annotation))
    continuous sled_dogs, trucks
    maximize number_of_fish: 100 sled_dogs + 300 trucks
    c1: 50 sled_dogs + 100 trucks <= 1000
    c2: sled_dogs - trucks <= 0

"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurosym.bench.data import dataset_path

__all__ = [
    "ALL_GOLD_SETS",
    "CORRECTED_GOLD_SETS",
    "GOLD_REL_TOL",
    "NO_SOLUTION",
    "Nl4OptItem",
    "OptItem",
    "annotation_model",
    "consensus",
    "gold_matches",
    "load_industryor",
    "load_mamo",
    "load_nl4opt_test",
    "nl4opt_golds",
    "parse_quantity",
]


CORRECTED_GOLD_SETS = ("SIRL", "LLMOPT", "NL4OPT-E", "CoE-LPWP", "LLM4OR-clean")
"""The five corrected NL4Opt gold sets (see ../shared/BENCHMARKS.md)."""
ALL_GOLD_SETS = (*CORRECTED_GOLD_SETS, "OptMATH-repo", "ORLM-HF(2024-05)", "LLMOPT-old(100)")
GOLD_REL_TOL = 1e-4
"""Our tolerance: an objective matches a gold value within a relative 1e-4 (1e-6 absolute near zero)."""
NO_SOLUTION = "infeasible"
"""How a gold set's "No Best Solution" (or ORLM's -99999) is represented."""

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "twice": 2, "thrice": 3, "double": 2, "triple": 3, "half": 0.5, "third": 1 / 3, "quarter": 0.25,
    "fourth": 0.25, "fifth": 0.2,
}  # fmt: skip


@dataclass(frozen=True)
class Nl4OptItem:
    """One official NL4Opt test problem: its id, text and structured formulation."""

    id: str
    text: str
    annotation: Mapping[str, Any]


@dataclass(frozen=True)
class OptItem:
    """A problem with the gold answers of every source that has it (``None``: no answer, ``"infeasible"``)."""

    id: str
    text: str
    golds: Mapping[str, float | str | None] = field(default_factory=dict)


def load_nl4opt_test(path: Path | None = None) -> list[Nl4OptItem]:
    """The 289 official test problems, in file order (``path``: the test file; default the data folder's).

    Example:
        >>> import json, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "test.jsonl"
        >>> _ = path.write_text(json.dumps({"42": {"document": "Maximize x.", "vars": ["x"]}}))
        >>> [(i.id, i.text) for i in load_nl4opt_test(path)]
        [('42', 'Maximize x.')]

    """
    path = path if path is not None else dataset_path("nl4opt-test")
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            for key, value in json.loads(line).items():
                items.append(Nl4OptItem(key, value["document"], value))
    return items


def parse_quantity(text: str) -> float:
    """A number as the annotations write it: ``1,000``, ``$50``, ``20%``, ``twice``, ``a third``, ``1.5 times``.

    Example:
        >>> [parse_quantity(t) for t in ["60,500", "20%", "twice", "a third", "1.5 times", "fifteen percent"]]
        [60500.0, 0.2, 2.0, 0.3333333333333333, 1.5, 0.15]

    """
    t = text.strip().lower().replace(",", "").replace("$", "")
    percent = t.endswith("%") or t.endswith("percent")
    t = re.sub(r"\s*(%|percent)$", "", t)
    t = re.sub(r"\s*times$", "", t).removeprefix("a ").strip()
    value = float(_WORD_NUMBERS[t]) if t in _WORD_NUMBERS else float(t)
    return value / 100.0 if percent else value


def _identifier(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", text.strip()).strip("_").lower() or "x"
    return name if name[0].isalpha() else "v_" + name


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _terms(terms: Iterable[tuple[str, float]]) -> str:
    parts = []
    for name, coef in terms:
        sign = "-" if coef < 0 else "+"
        size = abs(coef)
        parts.append(f"{sign} {name}" if size == 1 else f"{sign} {_number(size)} {name}")
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


def annotation_model(annotation: Mapping[str, Any], *, integer: bool = False) -> str:
    """The official formulation in neurosym's MILP language (continuous variables unless ``integer``).

    Constraint types: ``linear`` (terms op limit), ``sum`` (all variables op limit), ``upperbound`` /
    ``lowerbound`` (a variable op limit), ``xy`` (x op y), ``xby`` (x op param * y) and ``ratio``
    (a variable op share * the sum of all variables). Objectives: ``objective`` (terms) and
    ``objvar`` (the sum of the listed variables).
    """
    mentions = annotation.get("var_mention_to_first_var", {})
    names = {v: _identifier(v) for v in annotation["vars"]}

    def var(mention: str) -> str:
        first = mentions.get(mention, mention)
        if first not in names:
            raise KeyError(f"unknown variable mention {mention!r}")
        return names[first]

    every = list(names.values())
    objective = annotation["obj_declaration"]
    if objective["type"] == "objvar":
        # One official problem (-1704758994) lists no variables; it asks for the total of all of them.
        obj_terms = [(var(v), 1.0) for v in objective["vars"]] or [(n, 1.0) for n in every]
    else:
        obj_terms = [(var(m), parse_quantity(c)) for m, c in objective["terms"].items()]
    lines = [f"{'integer' if integer else 'continuous'} {', '.join(every)}"]
    sense = "maximize" if "max" in objective["direction"].lower() else "minimize"
    if sense == "minimize" and not re.search(r"min|low|reduc|decreas", objective["direction"].lower()):
        raise ValueError(f"objective direction {objective['direction']!r} is neither max nor min")
    lines.append(f"{sense} {_identifier(objective.get('name', 'objective'))}: {_terms(obj_terms) or '0'}")
    for i, c in enumerate(annotation["const_declarations"], start=1):
        op = "<=" if c["operator"] == "LESS_OR_EQUAL" else ">="
        kind = c["type"]
        if kind == "linear":
            row, rhs = [(var(m), parse_quantity(v)) for m, v in c["terms"].items()], parse_quantity(c["limit"])
        elif kind == "sum":
            row, rhs = [(n, 1.0) for n in every], parse_quantity(c["limit"])
        elif kind in ("upperbound", "lowerbound"):
            row, rhs = [(var(c["var"]), 1.0)], parse_quantity(c["limit"])
        elif kind == "xy":
            row, rhs = [(var(c["x_var"]), 1.0), (var(c["y_var"]), -1.0)], 0.0
        elif kind == "xby":
            row, rhs = [(var(c["x_var"]), 1.0), (var(c["y_var"]), -parse_quantity(c["param"]))], 0.0
        elif kind == "ratio":
            share, x = parse_quantity(c["limit"]), var(c["var"])
            row = [(n, (1.0 if n == x else 0.0) - share) for n in every]
            rhs = 0.0
        else:
            raise ValueError(f"unknown constraint type {kind!r}")
        merged: dict[str, float] = {}
        for name, coef in row:
            merged[name] = merged.get(name, 0.0) + coef
        row = [(n, coef) for n, coef in merged.items() if coef != 0.0]
        lines.append(f"c{i}: {_terms(row)} {op} {_number(rhs)}")
    return "\n".join(lines)


def _gold_value(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if "no best solution" in value.lower() or "infeasible" in value.lower():
            return NO_SOLUTION
        try:
            value = float(value)
        except ValueError:
            return None
    value = float(value)
    return NO_SOLUTION if value == -99999 else value


def nl4opt_golds(path: Path | None = None) -> dict[str, dict[str, float | str | None]]:
    """Every gold set's answer for each official test problem, by NL4Opt id (``path``: the cross-check file).

    Example:
        >>> import json, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "crosscheck.json"
        >>> _ = path.write_text(json.dumps([{"nl4opt_id": "42", "answers": {"SIRL": "12", "ORLM": -99999}}]))
        >>> nl4opt_golds(path)
        {'42': {'SIRL': 12.0, 'ORLM': 'infeasible'}}

    """
    path = path if path is not None else dataset_path("nl4opt-crosscheck")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {e["nl4opt_id"]: {k: _gold_value(v) for k, v in e["answers"].items()} for e in data}


def gold_matches(value: float | None, status: str, gold: float | str | None, rel_tol: float = GOLD_REL_TOL) -> bool:
    """Whether a solved objective (or an infeasible/unbounded status) matches one gold answer.

    Example:
        >>> gold_matches(1499.97, "optimal", 1500.0), gold_matches(None, "infeasible", "infeasible")
        (True, True)

    """
    if gold is None:
        return False
    if gold == NO_SOLUTION:
        return status in ("infeasible", "unbounded")
    return value is not None and math.isclose(value, float(gold), rel_tol=rel_tol, abs_tol=1e-6)


def consensus(golds: Mapping[str, float | str | None], sets: Iterable[str] = CORRECTED_GOLD_SETS) -> float | None:
    """The value every corrected gold set that has the problem agrees on (within 1e-4), if at least two have it.

    Example:
        >>> consensus({"SIRL": 10.0, "LLMOPT": 10.0004, "NL4OPT-E": None})
        10.0
        >>> consensus({"SIRL": 10.0, "LLMOPT": 12.0}) is None
        True

    """
    values = [golds.get(s) for s in sets]
    numbers = [float(v) for v in values if isinstance(v, float)]
    if len(numbers) < 2 or any(v == NO_SOLUTION for v in values):
        return None
    first = numbers[0]
    if all(math.isclose(first, v, rel_tol=GOLD_REL_TOL, abs_tol=1e-6) for v in numbers[1:]):
        return first
    return None


def _records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _question(record: Mapping[str, Any]) -> str:
    for key in ("en_question", "Question", "question"):
        if key in record:
            return str(record[key])
    raise KeyError("no question field")


def _answer(record: Mapping[str, Any]) -> Any:
    for key in ("en_answer", "Answer", "answer"):
        if key in record:
            return record[key]
    return None


def _key(text: str) -> str:
    return " ".join(text.split()).lower()


def _merge_sources(sources: Mapping[str, Path], id_prefix: str) -> list[OptItem]:
    """The first source's items, with each other source's answer attached where its question text matches.

    Texts match when equal after collapsing whitespace and case, or failing that on their first
    150 characters (later copies fixed typos near the end). Rewritten questions stay unmatched.
    """
    names = list(sources)
    primary = _records(sources[names[0]])
    items = [(_question(r), {names[0]: _gold_value(_answer(r))}) for r in primary]
    by_text = {_key(text): golds for text, golds in items}
    by_prefix: dict[str, dict[str, float | str | None] | None] = {}
    for text, golds in items:
        prefix = _key(text)[:150]
        by_prefix[prefix] = None if prefix in by_prefix else golds  # ambiguous prefixes match nothing
    for name in names[1:]:
        for record in _records(sources[name]):
            key = _key(_question(record))
            matched = by_text.get(key) or by_prefix.get(key[:150])
            if matched is not None and name not in matched:
                matched[name] = _gold_value(_answer(record))
    return [OptItem(f"{id_prefix}-{i}", text, golds) for i, (text, golds) in enumerate(items, start=1)]


def load_mamo(split: str, root: Path | None = None) -> list[OptItem]:
    """MAMO ``easy`` (652) or ``complex`` (211) problems, with the original, SIRL, LLMOPT and LLM4OR answers.

    ``root`` is the MAMO folder (data set ``mamo``; default the data folder's).

    Example:
        >>> load_mamo("hard")
        Traceback (most recent call last):
        ...
        ValueError: MAMO split is 'easy' or 'complex', not 'hard'

    """
    if split not in ("easy", "complex"):
        raise ValueError(f"MAMO split is 'easy' or 'complex', not {split!r}")
    mamo = root if root is not None else dataset_path("mamo")
    if split == "easy":
        sources = {
            "Mamo": mamo / "Mamo/data/optimization/Easy_LP/mamo_easy_lp.jsonl",
            "SIRL-fixed": mamo / "SIRL/test_data/MAMO_EasyLP_fixed.jsonl",
            "LLMOPT": mamo / "LLMOPT/data/testset/mamo_easy_test.jsonl",
            "LLM4OR-clean": mamo / "LLM4OR/static/clean_benchmarks/Mamo/Mamo_easy_lp_clean.jsonl",
        }
    elif split == "complex":
        sources = {
            "Mamo": mamo / "Mamo/data/optimization/Complex_LP/mamo_complex_lp.jsonl",
            "SIRL-fixed": mamo / "SIRL/test_data/MAMO_ComplexLP_fixed.jsonl",
            "LLMOPT": mamo / "LLMOPT/data/testset/mamo_complex_test.jsonl",
            "LLM4OR-clean": mamo / "LLM4OR/static/clean_benchmarks/Mamo/Mamo_complex_lp_clean.jsonl",
        }
    else:
        raise ValueError(f"MAMO split is 'easy' or 'complex', not {split!r}")
    return _merge_sources(sources, f"mamo-{split}")


def load_industryor(root: Path | None = None) -> list[OptItem]:
    """IndustryOR's 100 problems (as of 2024-05), with the ORLM, LLMOPT, LLM4OR-clean and SIRL-fixedV2 answers.

    SIRL's fixedV2 rewrote most question texts; its answers attach only where a text is (nearly)
    unchanged. ``root`` is the IndustryOR folder (data set ``industryor``; default the data folder's).

    Example:
        >>> from neurosym.bench.data import dataset
        >>> dataset("industryor").path
        'opt/industryor'

    """
    root = root if root is not None else dataset_path("industryor")
    sources = {
        "ORLM-HF(2024-05)": root / "ORLM-results/results/IndustryOR.q2mc_en.ORLM-LLaMA-3-8B/executed.jsonl",
        "LLMOPT": root / "LLMOPT/data/testset/industryor.jsonl",
        "LLM4OR-clean": root / "LLM4OR/static/clean_benchmarks/IndustryOR.jsonl",
        "SIRL-fixedV2": root / "SIRL/test_data/IndustryOR_fixedV2.json",
    }
    return _merge_sources(sources, "industryor")
