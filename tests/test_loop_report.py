"""What the loop benchmarks share: the strategies on one item, attempt tallies, and the verdict cache."""

from types import SimpleNamespace

from benchmarks.loop_report import STRATEGIES, Row, attempt_report, paired_report, strategy_rows
from neurosym.loop.cache import Cache
from neurosym.settings import SamplingSettings
from neurosym.targets.fol import FolTarget
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem

PROBLEM = Problem(premises=("Rex is a dog.",), conclusion="Rex is a dog.", id="rex")
GOOD = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nRex is a dog.\nFOL: Dog(rex)"
CLASH = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nRex is a dog.\nFOL: Dog(rex, rex)"


def _item(label="True"):
    return SimpleNamespace(problem=PROBLEM, dataset="toy", label=label)


def test_every_strategy_runs_once_and_the_repairing_vote_goes_first():
    rows = strategy_rows(_item(), ScriptedBackend([GOOD] * 30), FolTarget(constrained=False), SamplingSettings())
    assert [r.strategy for r in rows] == ["vote-5+repair", *(n for n in STRATEGIES if n != "vote-5+repair")]
    assert all(r.correct for r in rows)


def test_rows_tally_how_samples_and_repairs_ended():
    # The first sample of each call has a signature clash; every repair is good.
    def model(request, index):
        if request.messages[-1].content.startswith("Your answer has a problem"):
            return GOOD
        return CLASH if index == 0 else GOOD

    rows = strategy_rows(_item(), ScriptedBackend(model), FolTarget(constrained=False), SamplingSettings())
    row = next(r for r in rows if r.strategy == "vote-5+repair")
    assert row.sample_statuses == {"invalid": 1, "proved": 4}
    assert row.repair_statuses == {"proved": 1} and row.repairs_answered == 1
    report = attempt_report(rows)
    assert "fresh samples: 5 (proved 4, invalid 1), 4 with an answer" in report
    assert "repairs: 1 (proved 1), 1 with an answer, 0 the failed output again" in report
    assert "the label is among the fresh samples' answers on 1 of 1 items (1 counting repairs)" in report


def test_a_repair_that_writes_the_failed_output_again_is_counted():
    rows = strategy_rows(
        _item(), ScriptedBackend(lambda request, index: CLASH), FolTarget(constrained=False), SamplingSettings()
    )
    row = next(r for r in rows if r.strategy == "vote-5+repair")
    assert row.repair_statuses == {"invalid": 5} and row.repairs_repeated == 5
    assert "5 the failed output again word for word" in attempt_report(rows)


def test_the_label_counts_as_among_the_answers_only_when_a_sample_gave_it():
    row = Row(
        "x", "d", "vote-5+repair", "False", None, 5, 0, 0, 0, 0, 0, {"True": 2}, ["True", None, "True", None, None]
    )
    assert "on 0 of 1 items (0 counting repairs)" in attempt_report([row])
    repaired = Row("x", "d", "vote-5+repair", "False", None, 6, 0, 0, 0, 0, 0, {"True": 2, "False": 1}, ["True", None])
    assert "on 0 of 1 items (1 counting repairs)" in attempt_report([repaired])


def test_a_verdict_cache_decides_each_distinct_translation_once(tmp_path):
    with Cache(tmp_path / "verdicts.sqlite") as cache:
        rows = strategy_rows(
            _item(), ScriptedBackend([GOOD] * 30), FolTarget(constrained=False), SamplingSettings(), verdict_cache=cache
        )
        stored = cache.stats()["verdicts"]
    assert sum(r.samples for r in rows) > 10
    assert stored == 1
    assert all(r.answer == "True" for r in rows)


def test_paired_report_counts_disagreements_and_skips_missing_strategies():
    def row(item, strategy, answer):
        return Row(item, "d", strategy, "1", answer, 1, 0, 0, 0, 0, 0, {}, [])

    rows = [row("a", "vote-5", "1"), row("a", "greedy", "2"), row("b", "vote-5", None), row("b", "greedy", "1")]
    rows += [row("c", "vote-5", "1"), row("c", "greedy", "1")]
    report = paired_report(rows, [("vote-5", "greedy"), ("adaptive", "cot")])
    assert report.splitlines()[1:] == ["- vote-5 against greedy: 1 / 1 (p = 1)"]
