"""Decoders side by side on a few development items: model time, tokens and failures of form per sample.

For the FOL target: today's layout in one request (``whole``), the same layout with the sentences
written by neurosym (``interleaved``) and the signature declared first (``declare``). For the MILP
target: ``whole`` (today's grammar, :func:`~neurosym.targets.milp.translator.model_gbnf`) and
``declare``. Each item gets one greedy sample (seed 0) per decoder from the live embedded model;
nothing is recorded. Items are the first N of the development sets (the logic and NL4Opt loop
benchmarks' items, never the report items).

Per decoder it prints the median model seconds (wall time of the model calls) and the tokens per
sample: those the model generated, and those llama.cpp evaluated as prompt beyond the KV cache it
kept from the call before (the fixed text of an interleaved answer is evaluated, never generated).
These token counts do not depend on the machine's load; the seconds do. And what went wrong in
form: FOL signature clashes (one name with two roles or arities) and unparsable outputs; MILP
unparsable models and samples cut off at the token cap. With ``--failed`` it also gives every
greedy sample that failed one more try by each failed-sample strategy (``repair``, ``resample``,
``hint``) and counts the tries that were decided and right.

``--recorded`` reads today's whole-layout greedy samples of the same items from the loop
benchmarks' cassettes instead (no model): their tokens, the latency recorded with them, and their
failures of form, as the "before" figures.

Run (one model run at a time; several minutes per FOL sample when other model runs share the 2 cores):
    python -m benchmarks.decoding_speed --target fol --items 5 --modes interleaved,declare
    python -m benchmarks.decoding_speed --target milp --items 5 --failed
    python -m benchmarks.decoding_speed --target fol --items 80 --recorded
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurosym.errors import ParseError
from neurosym.fol.signature import check_signature
from neurosym.fol.syntax import EntailmentProblem
from neurosym.loop.refine import Strategy, refine
from neurosym.settings import SamplingSettings
from neurosym.translators.store.backend import MemoryStore, StoredBackend

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "decoding_speed.json"
MODES = {"fol": ("whole", "interleaved", "declare"), "milp": ("whole", "declare")}


def _items(target: str, count: int) -> list[Any]:
    if target == "fol":
        from neurosym.bench.suites.logic import logic_items

        return logic_items()[:count]
    from benchmarks.nl4opt_loop import nl4opt_items

    return nl4opt_items()[:count]


def _target(target: str, mode: str) -> Any:
    if target == "fol":
        from neurosym.targets.fol import FolTarget

        return FolTarget(decoding=mode)
    from neurosym.targets.milp import MilpTarget

    return MilpTarget(constrained=True, decoding=mode)


def _settings(target: str) -> SamplingSettings:
    return SamplingSettings(max_tokens=1024 if target == "fol" else 256, temperature=0.0, seed=0)


def _form(target: str, target_obj: Any, problem: Any, text: str, *, cut: bool = False) -> dict[str, Any]:
    """What is wrong with an output in form: unparsable, a signature clash.

    An output the token cap cut (``cut``) is read as the loop reads it: its complete part, through
    the target's ``salvage``, when the whole cannot be read.
    """
    salvaged = False
    try:
        formalization = target_obj.parse(problem, text)
    except ParseError as err:
        part = target_obj.salvage(problem, text) if cut and hasattr(target_obj, "salvage") else None
        try:
            formalization = target_obj.parse(problem, part) if part and part != text else None
        except ParseError:
            formalization = None
        if formalization is None:
            return {"parsed": False, "clash": False, "salvaged": False, "why": err.message[:160]}
        salvaged = True
    clash = False
    if target == "fol" and isinstance(formalization.parsed, EntailmentProblem):
        parsed = formalization.parsed
        clash = bool(check_signature([*parsed.premises, parsed.conclusion]))
    return {"parsed": True, "clash": clash, "salvaged": salvaged, "formalization": formalization}


class EvalCounter:
    """Counts the tokens a ``llama_cpp.Llama`` evaluates (prompt tokens beyond its KV cache, and each generated token).

    ``Llama.eval`` is shadowed on the instance, so nothing about what is evaluated changes.
    """

    def __init__(self, llm: Any) -> None:
        self.tokens = 0
        original = llm.eval

        def counted(tokens: Sequence[int]) -> Any:
            self.tokens += len(tokens)
            return original(tokens)

        llm.eval = counted


def one_sample(backend: Any, target: str, mode: str, item: Any, counter: EvalCounter | None = None) -> dict[str, Any]:
    """One greedy sample of ``item`` by decoder ``mode``: its cost, form and verdict."""
    target_obj = _target(target, mode)
    request = target_obj.request(item.problem)
    decoder = target_obj.decoder(item.problem)
    evaluated_before = counter.tokens if counter is not None else 0
    started = time.perf_counter()
    if decoder is not None:
        result = decoder.generate(backend, request, settings=_settings(target))
    else:
        [result] = backend.generate([request], settings=_settings(target))
    seconds = time.perf_counter() - started
    evaluated = (counter.tokens - evaluated_before) if counter is not None else 0
    sample = result.samples[0]
    form = _form(target, target_obj, item.problem, sample.text, cut=sample.finish_reason == "length")
    status, answer, verdict = "unparsed", None, None
    if form["parsed"]:
        verdict = target_obj.check(form.pop("formalization"), timeout_s=10.0)
        status, answer = verdict.status, target_obj.answer_key(verdict)
    correct = answer is not None and (
        str(answer) == item.label
        or (target == "milp" and verdict is not None and target_obj.same_answer(verdict.answer, float(item.label)))
    )
    return {
        "item": item.problem.id,
        "mode": mode,
        "model_s": round(seconds, 2),
        "completion_tokens": sample.completion_tokens,
        "prompt_tokens": result.usage.prompt_tokens,
        "prompt_tokens_evaluated": max(0, evaluated - sample.completion_tokens),
        "finish_reason": sample.finish_reason,
        "status": status,
        "answer": None if answer is None else str(answer),
        "correct": bool(correct),
        "output": sample.text,
        **{k: v for k, v in form.items() if k != "formalization"},
    }


def failed_tries(backend: Any, target: str, mode: str, item: Any) -> list[dict[str, Any]]:
    """The greedy sample and, if it failed, one more try by each failed-sample strategy (sharing the greedy sample)."""
    target_obj = _target(target, mode)
    rows = []
    for on_failure in ("repair", "resample", "hint"):
        strategy = Strategy(samples=1, repair_rounds=1, temperature=0.7, on_failure=on_failure)
        result = refine(item.problem, target_obj, backend, strategy=strategy, settings=_settings(target))
        fresh = [a for a in result.attempts if a.repair == 0]
        tries = [a for a in result.attempts if a.repair == 1]
        if not tries:
            return []  # the greedy sample was decided: nothing to retry
        attempt = tries[0]
        right = attempt.answer is not None and (
            str(attempt.answer) == item.label
            or (
                target == "milp"
                and attempt.verdict is not None
                and target_obj.same_answer(attempt.verdict.answer, float(item.label))
            )
        )
        rows.append(
            {
                "item": item.problem.id,
                "mode": mode,
                "on_failure": on_failure,
                "first_status": fresh[0].status,
                "status": attempt.status,
                "decided": attempt.answer is not None,
                "correct": bool(right),
                "repeated": attempt.output.strip() == fresh[0].output.strip(),
                "completion_tokens": attempt.completion_tokens,
            }
        )
    return rows


def recorded_samples(target: str, items: Sequence[Any]) -> list[dict[str, Any]]:
    """Today's greedy whole-layout samples of ``items`` from the loop benchmark's cassette, as sample rows."""
    from benchmarks.nl4opt_loop import CASSETTE as NL4OPT_CASSETTE
    from neurosym.bench.suites.nl4opt import RECORDED_GRAMMAR

    cassette = ROOT / "benchmarks" / "cassettes" / "logic_loop.jsonl" if target == "fol" else NL4OPT_CASSETTE
    lines = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines() if line.strip()]
    if target == "fol":
        from neurosym.targets.fol import FolTarget

        target_obj: Any = FolTarget()
    else:
        from neurosym.targets.milp import MilpTarget

        target_obj = MilpTarget(constrained=True, grammar=RECORDED_GRAMMAR)
    rows = []
    for item in items:
        wanted = target_obj.request(item.problem).to_dict()
        found = [
            line
            for line in lines
            if line["request"] == wanted and line["settings"].get("temperature") == 0.0 and line["sample_index"] == 0
        ]
        if not found:
            continue
        line = found[0]
        text = line["sample"]["text"]
        form = _form(target, target_obj, item.problem, text, cut=line["sample"]["finish_reason"] == "length")
        status, answer, verdict = "unparsed", None, None
        if form["parsed"]:
            verdict = target_obj.check(form.pop("formalization"), timeout_s=10.0)
            status, answer = verdict.status, target_obj.answer_key(verdict)
        correct = answer is not None and (
            str(answer) == item.label
            or (target == "milp" and verdict is not None and target_obj.same_answer(verdict.answer, float(item.label)))
        )
        rows.append(
            {
                "item": item.problem.id,
                "mode": "whole (recorded)",
                "model_s": round(line["usage"]["latency_s"], 2),
                "completion_tokens": line["sample"]["completion_tokens"],
                "prompt_tokens": line["usage"]["prompt_tokens"],
                "prompt_tokens_evaluated": line["usage"]["prompt_tokens"],
                "finish_reason": line["sample"]["finish_reason"],
                "status": status,
                "answer": None if answer is None else str(answer),
                "correct": bool(correct),
                "output": text,
                **{k: v for k, v in form.items() if k != "formalization"},
            }
        )
    return rows


def summary(samples: Sequence[dict[str, Any]], modes: Sequence[str]) -> list[dict[str, Any]]:
    """Per decoder: medians of model seconds and completion tokens, and counts of what went wrong."""
    table = []
    for mode in modes:
        rows = [s for s in samples if s["mode"] == mode]
        if not rows:
            continue
        table.append(
            {
                "mode": mode,
                "samples": len(rows),
                "median_model_s": statistics.median(r["model_s"] for r in rows),
                "total_model_s": round(sum(r["model_s"] for r in rows), 1),
                "median_completion_tokens": statistics.median(r["completion_tokens"] for r in rows),
                "median_prompt_evaluated": statistics.median(r["prompt_tokens_evaluated"] for r in rows),
                "unparsed": sum(not r["parsed"] for r in rows),
                "signature_clashes": sum(r["clash"] for r in rows),
                "cut_at_cap": sum(r["finish_reason"] == "length" for r in rows),
                "salvaged": sum(r.get("salvaged", False) for r in rows),
                "decided": sum(r["answer"] is not None for r in rows),
                "correct": sum(r["correct"] for r in rows),
            }
        )
    return table


def render(table: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table."""
    keys = list(table[0]) if table else []
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in table]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the decoders on the first ``--items`` development items and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target", choices=("fol", "milp"), default="fol")
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--skip", type=int, default=0, help="start after this many items")
    parser.add_argument("--modes", help="comma-separated decoders (default: all of the target's)")
    parser.add_argument("--failed", action="store_true", help="also retry failed greedy samples by each strategy")
    parser.add_argument("--model", default="default", help="embedded model name or GGUF path")
    parser.add_argument("--recorded", action="store_true", help="today's greedy samples from the cassettes (no model)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.recorded:
        items = _items(args.target, args.skip + args.items)[args.skip :]
        rows = recorded_samples(args.target, items)
        print(f"{len(rows)} of {len(items)} items have a recorded greedy sample")
        print(render(summary(rows, ["whole (recorded)"])))
        return 0
    from neurosym.translators.backends.llamacpp import LlamaCppBackend

    modes = tuple(args.modes.split(",")) if args.modes else MODES[args.target]
    live = LlamaCppBackend.from_path(args.model, n_ctx=4096)
    counter = EvalCounter(live.llm)
    backend = StoredBackend(live, MemoryStore())  # the failed-sample strategies share each greedy sample
    items = _items(args.target, args.skip + args.items)[args.skip :]
    samples, tries = [], []
    # One decoder over all items, then the next: each keeps its own prompt prefix in llama.cpp's KV
    # cache from one item to the next, as in a real run (alternating decoders would re-read it).
    for mode in modes:
        for item in items:
            row = one_sample(live, args.target, mode, item, counter)
            samples.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "output"}), flush=True)
            if args.failed and row["answer"] is None:
                for attempt in failed_tries(backend, args.target, mode, item):
                    tries.append(attempt)
                    print(json.dumps(attempt), flush=True)
    table = summary(samples, modes)
    print(render(table))
    if tries:
        for on_failure in ("repair", "resample", "hint"):
            chosen = [t for t in tries if t["on_failure"] == on_failure]
            decided, right = sum(t["decided"] for t in chosen), sum(t["correct"] for t in chosen)
            repeated = sum(t["repeated"] for t in chosen)
            print(f"{on_failure}: {len(chosen)} failed samples, {decided} decided, {right} right, {repeated} repeated")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    # Decoders measured in earlier runs stay, each with its own samples (a run replaces the modes it ran).
    earlier = previous.get(args.target, {})
    kept = [s for s in earlier.get("samples", []) if s["mode"] not in modes]
    kept_tries = [t for t in earlier.get("tries", []) if t["mode"] not in modes]
    all_modes = list(dict.fromkeys([*(s["mode"] for s in kept), *modes]))
    previous[args.target] = {
        "items": list(dict.fromkeys([*earlier.get("items", []), *(i.problem.id for i in items)])),
        "summary": summary([*kept, *samples], all_modes),
        "samples": [*kept, *samples],
        "tries": [*kept_tries, *tries],
    }
    args.out.write_text(json.dumps(previous, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
