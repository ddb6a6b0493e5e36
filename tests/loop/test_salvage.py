"""Answers the token cap cut off: the loop reads their complete part through the target's ``salvage``.

The model is a test double (a scripted backend whose replies end at the cap); HiGHS and CBC are real.
"""

from __future__ import annotations

from dataclasses import replace

from neurosym.loop.refine import Strategy, refine
from neurosym.targets.milp import MilpTarget
from neurosym.translators.backends.scripted import ScriptedBackend
from neurosym.types import Problem

PROBLEM = Problem("Make at most 4 chairs and tables, at most 3 chairs; a chair earns 3, a table 2. Best profit?")
MODEL = "integer chairs, tables\nmaximize profit: 3 chairs + 2 tables\ncap: chairs + tables <= 4\nchairs <= 3\n"
RUNAWAY = MODEL + "cap: chairs + tables <= 4\nchairs <= 3\ncap: chairs + tab"  # repeats, then the cap


class CutScriptedBackend(ScriptedBackend):
    """A scripted backend whose every reply ends at the token cap (``finish_reason="length"``)."""

    def generate(self, requests, *, settings=None, progress=None):
        results = super().generate(requests, settings=settings, progress=progress)
        return [replace(r, samples=tuple(replace(s, finish_reason="length") for s in r.samples)) for r in results]


def test_a_cut_model_is_read_without_its_unfinished_line_and_repeats():
    result = refine(PROBLEM, MilpTarget(), CutScriptedBackend([RUNAWAY]))
    [attempt] = result.attempts
    assert attempt.salvaged and attempt.status == "optimal" and result.answer == 11
    assert attempt.output == RUNAWAY  # the raw output is kept as the model wrote it
    assert attempt.formalization.source.count("cap:") == 1 and "tab\n" not in attempt.formalization.source
    assert attempt.to_dict()["salvaged"] is True
    assert "cut at the token cap" in result.render_trace()


def test_an_output_that_ended_by_itself_is_not_salvaged():
    result = refine(PROBLEM, MilpTarget(), ScriptedBackend([RUNAWAY]))
    [attempt] = result.attempts
    assert attempt.status == "unparsed" and not attempt.salvaged and result.answer is None


def test_a_cut_output_that_parses_whole_is_read_whole():
    result = refine(PROBLEM, MilpTarget(), CutScriptedBackend([MODEL]))
    [attempt] = result.attempts
    assert not attempt.salvaged and attempt.formalization.source == MODEL


def test_what_salvage_cannot_read_stays_unparsed_with_the_whole_outputs_error():
    broken = "integer chairs\nmaximize profit: 3 chairs + 2 tables\ncap: chairs <= 4\nc2: chai"
    result = refine(PROBLEM, MilpTarget(), CutScriptedBackend([broken]))
    [attempt] = result.attempts
    assert attempt.status == "unparsed" and not attempt.salvaged and "line 4" in attempt.parse_error


def test_a_cut_repair_is_salvaged_too():
    backend = CutScriptedBackend(["no model here, just words that ran on", RUNAWAY])
    result = refine(PROBLEM, MilpTarget(), backend, strategy=Strategy(repair_rounds=1))
    assert [a.salvaged for a in result.attempts] == [False, True] and result.answer == 11


def test_targets_without_salvage_are_unchanged():
    from neurosym.targets.fol import FolTarget

    problem = Problem(premises=("Rex is a dog.",), conclusion="Is Rex a dog?")
    cut = "Premises:\n1. Rex is a dog.\nFOL: Dog(rex)\nConclusion:\nIs Rex a dog?\nFOL: Dog(re"
    result = refine(problem, FolTarget(constrained=False), CutScriptedBackend([cut]))
    assert [a.status for a in result.attempts] == ["unparsed"] and not result.attempts[0].salvaged
