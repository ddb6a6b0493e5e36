import json

import pytest

from neurosym.errors import ConfigurationError
from neurosym.fol.certificates import Countermodel, Countermodels, PremisesUsed
from neurosym.types import (
    DECIDED,
    STATUSES,
    AnswerKind,
    Assignment,
    Certificate,
    EntailmentLabel,
    Formalization,
    NumberAnswer,
    Problem,
    ProofAnswer,
    Verdict,
)


@pytest.mark.parametrize("status", ["maybe", "Proved", "", "true", None])
def test_verdict_rejects_an_unknown_status(status):
    with pytest.raises(ConfigurationError, match="unknown verdict status") as info:
        Verdict(status)
    assert "proved" in str(info.value)


def test_statuses_and_decided():
    assert set(STATUSES) == {
        "proved", "disproved", "uncertain", "computed", "optimal", "inconsistent", "invalid", "unknown", "timeout"
    }  # fmt: skip
    assert {"proved", "disproved", "uncertain", "computed", "optimal"} == DECIDED
    for status in STATUSES:
        assert Verdict(status).decided is (status in DECIDED)


def test_verdicts_are_immutable():
    verdict = Verdict("proved")
    with pytest.raises(AttributeError):
        verdict.status = "disproved"


MODEL = Countermodel(
    "a model of the premises where the conclusion is false",
    ("e0", "e1"),
    (("a", "e0"),),
    (("P", 1, (("e0",),)), ("R", 2, (("e0", "e1"),)), ("Rain", 0, ())),
    (("f", ((("e0",), "e1"), (("e1",), "e1"))),),
)

CERTIFICATES = [
    None,
    PremisesUsed((0, 2), ("P(a)", "∀x (P(x) → Q(x))")),
    PremisesUsed((), ()),
    Countermodels(MODEL, Countermodel("a model where it is true", ("e0",), (("a", "e0"),), (("P", 1, (("e0",),)),))),
]


@pytest.mark.parametrize("certificate", CERTIFICATES)
@pytest.mark.parametrize(
    "answer",
    [
        None,
        EntailmentLabel.TRUE,
        NumberAnswer(0.5, exact="1/2"),
        Assignment({"x": 2.0, "y": 0.0}, objective=4.0),
        ProofAnswer("theorem t : 1 + 1 = 2", "by norm_num"),
    ],
)
def test_to_dict_is_json_serialisable(certificate, answer):
    verdict = Verdict(
        "proved",
        answer=answer,
        certificate=certificate,
        message="unsat",
        elapsed_s=0.1234567891,
        prover="z3",
        details={
            "provers": {"z3": "proved"},
            "tuple": (1, 2),
            "label": EntailmentLabel.FALSE,
            "certificate": certificate,
            "other": object(),
        },
    )
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["status"] == "proved"
    assert data["elapsed_s"] == 0.123457
    assert data["details"]["tuple"] == [1, 2]
    assert data["details"]["label"] == "False"
    assert isinstance(data["details"]["other"], str)
    if certificate is None:
        assert data["certificate"] is None
    else:
        assert data["certificate"] == json.loads(json.dumps(certificate.to_dict()))
        assert data["certificate"]["kind"] in {"premises_used", "countermodels"}
    if answer is None:
        assert data["answer"] is None
    elif isinstance(answer, EntailmentLabel):
        assert data["answer"] == "True"
    elif isinstance(answer, NumberAnswer):
        assert data["answer"] == {"value": 0.5, "exact": "1/2"}
    elif isinstance(answer, Assignment):
        assert data["answer"] == {"values": {"x": 2.0, "y": 0.0}, "objective": 4.0}
    else:
        assert data["answer"] == {"statement": "theorem t : 1 + 1 = 2", "proof": "by norm_num"}


def test_certificates_follow_the_protocol_and_render():
    for certificate in CERTIFICATES[1:]:
        assert isinstance(certificate, Certificate)
        assert certificate.render()
    text = MODEL.render()
    assert "domain: {e0, e1}" in text
    assert "a = e0" in text
    assert "P: {e0}" in text and "R: {(e0, e1)}" in text and "Rain: false" in text
    assert "f(e0) = e1, f(e1) = e1" in text
    assert MODEL.to_dict()["predicates"] == {"P": [["e0"]], "R": [["e0", "e1"]], "Rain": []}
    truncated = Countermodel("big", ("e0",), (), (), truncated=True)
    assert "cut short" in truncated.render()
    assert truncated.to_dict()["truncated"] is True


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("True", EntailmentLabel.TRUE),
        ("true", EntailmentLabel.TRUE),
        (" TRUE. ", EntailmentLabel.TRUE),
        ("A", EntailmentLabel.TRUE),
        ("yes", EntailmentLabel.TRUE),
        ("False", EntailmentLabel.FALSE),
        ("b", EntailmentLabel.FALSE),
        ("No", EntailmentLabel.FALSE),
        ("Uncertain", EntailmentLabel.UNCERTAIN),
        ("Unknown", EntailmentLabel.UNCERTAIN),
        ("C", EntailmentLabel.UNCERTAIN),
        ("uncertain.", EntailmentLabel.UNCERTAIN),
    ],
)
def test_entailment_label_spellings(text, label):
    assert EntailmentLabel.parse(text) is label


@pytest.mark.parametrize("text", ["maybe", "", "D", "truth", "not sure"])
def test_entailment_label_rejects_other_text(text):
    with pytest.raises(ConfigurationError, match="not an entailment label"):
        EntailmentLabel.parse(text)


def test_labels_and_kinds_are_strings():
    assert EntailmentLabel.TRUE == "True"
    assert [label.value for label in EntailmentLabel] == ["True", "False", "Uncertain"]
    assert AnswerKind("entailment") is AnswerKind.ENTAILMENT
    assert {kind.value for kind in AnswerKind} == {"entailment", "number", "assignment", "proof"}


def test_problem_and_formalization_values():
    problem = Problem("text", premises=("a", "b"), conclusion="c", answer_kind=AnswerKind.ENTAILMENT, id="folio-1")
    assert problem.premises == ("a", "b")
    assert problem.metadata == {}
    assert Problem().options == ()
    formalization = Formalization("fol", "P(a)")
    assert formalization.parsed is None
