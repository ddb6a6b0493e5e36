"""A target from outside neurosym: one folder and one entry point, and solve, the CLI, the cache and the pool take it.

The toy target asks for the number of words in a sentence and checks the model's number by
counting them itself; its certificate is the words it counted.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

TOY_PACKAGE = textwrap.dedent(
    '''
    """A toy target: how many words does the sentence have? The checker counts them."""

    from dataclasses import dataclass
    from typing import ClassVar

    from neurosym.errors import ParseError
    from neurosym.targets.registry import SolveOptions, TargetSpec
    from neurosym.translators.base import GenerationRequest, Message
    from neurosym.types import AnswerKind, Formalization, NumberAnswer, Verdict


    @dataclass(frozen=True)
    class WordCount:
        KIND: ClassVar[str] = "toy_word_count"
        words: tuple

        def to_dict(self):
            return {"kind": self.KIND, "words": list(self.words)}

        @classmethod
        def from_dict(cls, data):
            return cls(tuple(data["words"]))

        def render(self):
            return "words counted: " + " ".join(self.words)


    @dataclass(frozen=True)
    class ToyTarget:
        name: ClassVar[str] = "toy"

        def request(self, problem):
            return GenerationRequest((Message("user", f"How many words? {problem.text}"),))

        def parse(self, problem, output):
            if not output.strip().isdigit():
                raise ParseError(f"not a number: {output!r}")
            return Formalization("toy", output.strip(), (problem.text, int(output)))

        def check(self, formalization, *, timeout_s):
            text, claimed = formalization.parsed
            words = tuple(text.split())
            if claimed != len(words):
                return Verdict("invalid", feedback=f"there are not {claimed} words", prover="toy-counter")
            return Verdict("computed", answer=NumberAnswer(float(claimed)), certificate=WordCount(words),
                           prover="toy-counter")

        def answer_key(self, verdict):
            return verdict.answer.value if verdict.decided else None

        def repair_request(self, problem, previous, output, feedback):
            return GenerationRequest((*previous.messages, Message("assistant", output), Message("user", feedback)))


    SPEC = TargetSpec(
        name="toy",
        description="count the words of a sentence (a test target)",
        answer_kind=AnswerKind.NUMBER,
        build=lambda options: ToyTarget(),
        certificates=(WordCount,),
        render=lambda result: [result.verdict.certificate.render()] if result.verdict.certificate else [],
    )
    '''
)


@pytest.fixture
def toy_installed(tmp_path, monkeypatch):
    """Install the toy package the way pip would: a folder on sys.path and a dist-info with its entry point."""
    from neurosym.targets import registry

    (tmp_path / "toytarget").mkdir()
    (tmp_path / "toytarget" / "__init__.py").write_text(TOY_PACKAGE, encoding="utf-8")
    info = tmp_path / "toytarget-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toytarget\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[neurosym.targets]\ntoy = toytarget:SPEC\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload_targets()
    yield tmp_path
    monkeypatch.undo()
    sys.modules.pop("toytarget", None)
    registry.reload_targets()


def test_the_registry_finds_the_plugin(toy_installed):
    from neurosym.targets import get_target, target_names, target_spec

    assert target_names()[:3] == ["fol", "python", "milp"] and "toy" in target_names()
    assert target_spec("toy").answer_kind.value == "number"
    assert get_target("toy").name == "toy"


def test_solve_takes_the_plugin_by_name(toy_installed):
    import neurosym
    from neurosym.translators.backends.scripted import ScriptedBackend

    result = neurosym.solve("the cat sat on the mat", target="toy", llm=ScriptedBackend(["6"]))
    assert result.answer.value == 6.0 and result.target == "toy"
    assert "words counted: the cat sat on the mat" in result.render()
    assert json.loads(json.dumps(result.to_dict()))["formalization"] == {"source": "6"}
    wrong = neurosym.solve("the cat sat", target="toy", llm=ScriptedBackend(["4"]))
    assert wrong.answer is None and wrong.verdict.status == "invalid"


def test_its_certificates_read_back(toy_installed):
    import toytarget

    from neurosym.types import Verdict

    verdict = Verdict("computed", certificate=toytarget.WordCount(("a", "b")))
    assert Verdict.from_dict(verdict.to_dict()).certificate == toytarget.WordCount(("a", "b"))


def test_the_cache_and_the_prover_pool_take_it(toy_installed, tmp_path):
    import toytarget

    from neurosym.loop import Cache, Strategy, run_many
    from neurosym.translators.backends.scripted import ScriptedBackend
    from neurosym.types import Problem

    problems = [Problem("one two three", id="a"), Problem("four five", id="b")]
    backend = ScriptedBackend(lambda request, index: "3" if "three" in request.messages[0].content else "2")
    with Cache(tmp_path / "c.sqlite") as cache:
        first = run_many(problems, toytarget.ToyTarget(), backend, strategy=Strategy(samples=1), verdict_cache=cache)
        again = run_many(problems, toytarget.ToyTarget(), backend, strategy=Strategy(samples=1), verdict_cache=cache)
        assert cache.stats()["verdicts"] == 2
    assert [r.answer for r in first] == [r.answer for r in again] == [3.0, 2.0]


def test_the_command_line_offers_it(toy_installed, tmp_path, capsys):
    import neurosym
    from neurosym.cli import main
    from neurosym.translators.backends.replay import RecordingBackend
    from neurosym.translators.backends.scripted import ScriptedBackend

    cassette = tmp_path / "toy.jsonl"
    neurosym.solve("a b c d", target="toy", llm=RecordingBackend(ScriptedBackend(["4"]), cassette))
    assert main(["solve", "--target", "toy", "a b c d", "--llm", f"replay:{cassette}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answer: 4  (computed, toy-counter)") and "words counted: a b c d" in out
    assert main(["solve", "--help"]) == 0
    assert "toy: count the words" in " ".join(capsys.readouterr().out.split())


def test_a_broken_plugin_is_reported_not_fatal(tmp_path, monkeypatch, caplog):
    from neurosym.targets import registry

    info = tmp_path / "broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[neurosym.targets]\nbroken = no_such_module:SPEC\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload_targets()
    try:
        assert "broken" not in registry.target_names() and "fol" in registry.target_names()
        assert "cannot be loaded" in caplog.text
    finally:
        monkeypatch.undo()
        registry.reload_targets()


def test_the_package_holds_each_builtin_target_in_a_folder_of_its_own_kind():
    """Each target is a folder's spec: ``NAME/`` with ``SPEC``, or a family's folder (``proof/``: ``COQ_SPEC``...)."""
    import neurosym.targets as targets

    root = Path(targets.__file__).parent
    from neurosym.targets.registry import BUILTIN_TARGETS, target_spec

    for name, reference in BUILTIN_TARGETS.items():
        module, _, attribute = reference.partition(":")
        package, _, folder = module.rpartition(".")
        assert package == "neurosym.targets" and (root / folder / "__init__.py").is_file()
        own_folder = folder == name and attribute == "SPEC"
        family_member = folder != name and attribute == f"{name.upper()}_SPEC"
        assert own_folder or family_member, reference
        assert target_spec(name).name == name
    # a folder named after a target holds that target alone (``fol/`` is not also home to another)
    folders = [reference.partition(":")[0].rpartition(".")[2] for reference in BUILTIN_TARGETS.values()]
    assert all(folders.count(folder) == 1 for folder in folders if folder in BUILTIN_TARGETS)
