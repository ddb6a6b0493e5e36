"""The target contract: what the loop needs from every target, run over each registered target and the test target.

:class:`TargetContract` holds the tests; a subclass per target names it and lists the few-shot
examples its prompt shows (the problem and the output). Those outputs are the known-good
formalizations: each must parse, check to a decided verdict and, between them, give every
certificate kind the target's spec declares. Every registered target must have a subclass here.
"""

from __future__ import annotations

import collections
import json
import pickle
from collections.abc import Hashable
from typing import ClassVar

import pytest

from neurosym.errors import ParseError
from neurosym.loop._testing import ECHO_SPEC, EchoTarget
from neurosym.provers.sandbox import sandbox_problem
from neurosym.targets import Target, get_target, target_names, target_spec
from neurosym.targets.fol.translator import fewshot_examples
from neurosym.targets.milp.translator import milp_fewshot_examples
from neurosym.targets.python.translator import python_fewshot_examples
from neurosym.targets.registry import TargetSpec, register_target, unregister_target
from neurosym.translators.base import GenerationRequest, Message
from neurosym.types import STATUSES, Formalization, Problem, Verdict, certificate_from_dict

GARBAGE = "I am not sure what the answer is; it depends on how you look at it."


class TargetContract:
    """The tests every target passes; a subclass names the target and gives its few-shot examples."""

    target_name: ClassVar[str]
    check_timeout_s: ClassVar[float] = 20.0

    def make_target(self) -> Target:
        return get_target(self.target_name)

    def spec(self) -> TargetSpec:
        return target_spec(self.target_name)

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        """``(problem, output shown in the prompt, expected answer key or None)`` for each worked example."""
        raise NotImplementedError

    @pytest.fixture
    def target(self) -> Target:
        return self.make_target()

    @pytest.fixture(scope="class")
    @classmethod
    def checked(cls) -> list[tuple[Problem, str, object, Formalization, Verdict]]:
        """Every few-shot output parsed and checked once for the class's tests."""
        contract = cls()
        target = contract.make_target()
        return [
            (problem, output, key, formalization, target.check(formalization, timeout_s=cls.check_timeout_s))
            for problem, output, key in contract.fewshot()
            for formalization in [target.parse(problem, output)]
        ]

    def test_is_a_target_named_as_its_spec(self, target):
        assert isinstance(target, Target)
        assert target.name == self.spec().name == self.target_name

    def test_request_is_a_generation_request_that_ends_with_the_problem(self, target):
        problem, _, _ = self.fewshot()[0]
        request = target.request(problem)
        assert isinstance(request, GenerationRequest)
        assert all(isinstance(m, Message) for m in request.messages)
        assert request.messages[-1].role == "user"

    def test_the_fewshot_outputs_are_in_the_prompt_and_parse(self, target):
        for problem, output, _ in self.fewshot():
            shown = [m.content for m in target.request(problem).messages if m.role == "assistant"]
            assert output in shown  # the prompt's own worked example, not a test's invention
            formalization = target.parse(problem, output)
            assert isinstance(formalization, Formalization) and formalization.target == target.name

    def test_garbage_is_a_parse_error(self, target):
        problem, _, _ = self.fewshot()[0]
        with pytest.raises(ParseError):
            target.parse(problem, GARBAGE)

    def test_check_returns_a_decided_verdict_on_every_fewshot_example(self, target, checked):
        for _, _, key, _, verdict in checked:
            assert isinstance(verdict, Verdict) and verdict.status in STATUSES
            assert verdict.decided, verdict
            if key is not None:
                assert target.answer_key(verdict) == key

    def test_answer_keys_are_hashable_and_none_without_an_answer(self, target, checked):
        keys = [target.answer_key(verdict) for *_, verdict in checked]
        assert all(isinstance(key, Hashable) and key is not None for key in keys)
        votes = collections.Counter(keys)  # what the loop does with them (an unhashable key raises here)
        assert sum(votes.values()) == len(keys)
        for status in ("timeout", "invalid", "unknown", "inconsistent"):
            assert target.answer_key(Verdict(status)) is None

    def test_repair_request_extends_the_conversation(self, target):
        problem, _, _ = self.fewshot()[0]
        previous = target.request(problem)
        repair = target.repair_request(problem, previous, "a broken answer", "formula 1 is not well formed")
        assert isinstance(repair, GenerationRequest)
        assert repair.messages[: len(previous.messages)] == previous.messages
        assert len(repair.messages) > len(previous.messages)
        added = repair.messages[len(previous.messages) :]
        assert any(m.role == "assistant" and "a broken answer" in m.content for m in added)
        assert added[-1].role == "user" and "formula 1 is not well formed" in added[-1].content

    def test_the_target_pickles(self, target):
        copy = pickle.loads(pickle.dumps(target))
        assert copy == target and type(copy) is type(target)
        problem, output, _ = self.fewshot()[0]
        assert copy.parse(problem, output) == target.parse(problem, output)

    def test_the_fingerprint_is_json_and_stable(self, target):
        fingerprint = target.fingerprint()
        text = json.dumps(fingerprint, sort_keys=True)
        assert json.dumps(self.make_target().fingerprint(), sort_keys=True) == text
        assert isinstance(json.loads(text), dict) and json.loads(text)

    def test_the_specs_certificates_round_trip(self, checked):
        certificates = [verdict.certificate for *_, verdict in checked if verdict.certificate is not None]
        declared = set(self.spec().certificates)
        assert {type(c) for c in certificates} == declared  # the examples show every declared kind
        for certificate in certificates:
            data = json.loads(json.dumps(certificate.to_dict()))
            assert data["kind"] == type(certificate).KIND
            back = certificate_from_dict(data)
            assert type(back) is type(certificate) and back.to_dict() == data
            assert back.render() == certificate.render()


class TestFolTargetContract(TargetContract):
    target_name = "fol"

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        out = []
        for example in fewshot_examples():
            problem = Problem(premises=tuple(example["premises"]), conclusion=example["conclusion"])
            request = get_target("fol").request(problem)
            shown = [m.content for m in request.messages if m.role == "assistant"]
            out.append((problem, shown[fewshot_examples().index(example)], example["label"]))
        return out


class TestPythonTargetContract(TargetContract):
    target_name = "python"

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _sandbox(cls):
        """The checks run programs in the sandbox: skip, with what is missing, where it cannot run."""
        problem = sandbox_problem()
        if problem is not None:
            pytest.skip(f"the Python sandbox cannot run here: {problem}")

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        return [
            (Problem(example["question"]), f"```python\n{example['program']}```", None)
            for example in python_fewshot_examples()
        ]


class TestMilpTargetContract(TargetContract):
    target_name = "milp"

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        return [(Problem(example["problem"]), example["model"], None) for example in milp_fewshot_examples()]


class TestEchoTargetContract(TargetContract):
    """The test target of the loop's unit tests (registered only while these tests run)."""

    target_name = "echo"

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _registered(cls):
        register_target(ECHO_SPEC)
        yield
        unregister_target(ECHO_SPEC.name)

    def make_target(self) -> Target:
        return EchoTarget()

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        return [(Problem("What is 1 + 1?"), "ANSWER: 2", 2.0)]


class TestCoqTargetContract(TargetContract):
    """The worked examples are miniF2F-rocq valid theorems with proofs written for neurosym: each must verify."""

    target_name = "coq"
    check_timeout_s: ClassVar[float] = 60.0

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _kernel(cls):
        from neurosym.provers.coq import kernel_problem

        problem = kernel_problem()
        if problem is not None:
            pytest.skip(f"the Coq kernel cannot run here: {problem}")

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        from neurosym.targets.proof import proof_problem
        from neurosym.targets.proof.translator import proof_fewshot_examples

        shown = self.make_target().shots
        return [
            (proof_problem(e["name"], e["statement"], e["header"], e["informal"]), f"```coq\n{e['script']}\n```", None)
            for e in proof_fewshot_examples("coq")["examples"][:shown]
        ]


class TestLeanTargetContract(TargetContract):
    """Checks of the worked examples need Lean and Mathlib; they skip, with the reason, where those are missing."""

    target_name = "lean"
    check_timeout_s: ClassVar[float] = 300.0

    @pytest.fixture(scope="class")
    @classmethod
    def checked(cls):
        from neurosym.provers.lean import lean_miniF2F_setup_problem

        problem = lean_miniF2F_setup_problem()
        if problem is not None:
            pytest.skip(f"Lean with Mathlib is not here: {problem}")
        contract = cls()
        target = contract.make_target()
        return [
            (problem, output, key, formalization, target.check(formalization, timeout_s=cls.check_timeout_s))
            for problem, output, key in contract.fewshot()
            for formalization in [target.parse(problem, output)]
        ]

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        from neurosym.targets.proof import proof_problem
        from neurosym.targets.proof.translator import proof_fewshot_examples

        shown = self.make_target().shots
        return [
            (
                proof_problem(e["name"], e["statement"], e["header"], e["informal"]),
                f"```lean\n{e['script']}\n```",
                None,
            )
            for e in proof_fewshot_examples("lean")["examples"][:shown]
        ]


class TestChoiceTargetContract(TargetContract):
    """The worked examples are train puzzles (LogicalDeduction, AR-LSAT) with programs written for neurosym."""

    target_name = "choice"

    def fewshot(self) -> list[tuple[Problem, str, object]]:
        from neurosym.targets.choice.translator import choice_fewshot_examples

        return [
            (Problem(e["context"], question=e["question"], options=tuple(e["options"])), e["program"], e["answer"])
            for e in choice_fewshot_examples()
        ]


def test_every_registered_target_has_a_contract():
    covered = {cls.target_name for cls in TargetContract.__subclasses__()}
    assert set(target_names()) <= covered
