"""Values shared by every target (FOL, MILP, Python, Lean): problems, formalizations, answers, verdicts.

A :class:`Verdict` is what a prover says about a formalization. It is a value, never an
exception: a malformed formula is ``invalid``, a solver that ran out of time is ``timeout``.

Statuses:

=============  ==========================================================================
``proved``     the claim is certified (FOL: the premises entail the conclusion)
``disproved``  the claim's negation is certified (FOL: the premises entail its negation)
``uncertain``  neither holds, and there are witnesses of both (FOL: two countermodels)
``computed``   the formalization ran and gave an answer (Python: the program returned a number);
               nothing certifies that the program models the problem, so votes matter
``optimal``    the model was solved to optimality and the solution re-checked (MILP: both
               solvers agree); as with ``computed``, nothing certifies the model itself
``inconsistent`` the hypotheses contradict each other, so nothing can be concluded (MILP: the
               model is infeasible)
``invalid``    the formalization is malformed (parse error, signature clash, bad model)
``unknown``    the prover gave up or the provers disagree; ``message`` says why
``timeout``    the prover ran out of time
=============  ==========================================================================

Example:
    >>> v = Verdict("proved", answer=EntailmentLabel.TRUE, prover="z3")
    >>> v.decided, v.answer.value
    (True, 'True')

"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

__all__ = [
    "DECIDED",
    "Answer",
    "AnswerKind",
    "Assignment",
    "Certificate",
    "EntailmentLabel",
    "Formalization",
    "NumberAnswer",
    "Problem",
    "ProofAnswer",
    "Status",
    "StoredCertificate",
    "Verdict",
    "certificate_from_dict",
]

Status = Literal[
    "proved", "disproved", "uncertain", "computed", "optimal", "inconsistent", "invalid", "unknown", "timeout"
]
STATUSES: tuple[str, ...] = get_args(Status)
DECIDED: frozenset[str] = frozenset({"proved", "disproved", "uncertain", "computed", "optimal"})
"""Statuses that settle the question asked."""


class AnswerKind(str, enum.Enum):
    """What kind of answer a problem expects."""

    ENTAILMENT = "entailment"
    """True / False / Uncertain, as in FOLIO and ProofWriter."""
    NUMBER = "number"
    """A number, as in GSM8K or an optimal objective value."""
    ASSIGNMENT = "assignment"
    """Values for named variables, as in a MILP solution."""
    PROOF = "proof"
    """A checked proof of a stated theorem (Lean)."""


class EntailmentLabel(str, enum.Enum):
    """Whether premises entail a conclusion.

    Example:
        >>> EntailmentLabel.parse("unknown"), EntailmentLabel.parse("B")
        (<EntailmentLabel.UNCERTAIN: 'Uncertain'>, <EntailmentLabel.FALSE: 'False'>)

    """

    TRUE = "True"
    FALSE = "False"
    UNCERTAIN = "Uncertain"

    @classmethod
    def parse(cls, text: str) -> EntailmentLabel:
        """Read a label as the data sets spell it: True/False/Uncertain/Unknown, or A/B/C (Logic-LM)."""
        key = text.strip().strip(".").lower()
        table = {
            "true": cls.TRUE,
            "a": cls.TRUE,
            "yes": cls.TRUE,
            "false": cls.FALSE,
            "b": cls.FALSE,
            "no": cls.FALSE,
            "uncertain": cls.UNCERTAIN,
            "unknown": cls.UNCERTAIN,
            "c": cls.UNCERTAIN,
        }
        if key not in table:
            from neurosym.errors import ConfigurationError

            raise ConfigurationError(f"not an entailment label: {text!r} (expected True, False or Uncertain)")
        return table[key]


@dataclass(frozen=True, slots=True)
class NumberAnswer:
    """A numeric answer; ``exact`` keeps an exact form (a fraction, a SymPy expression) as text.

    Example:
        >>> NumberAnswer(0.5, exact="1/2").value
        0.5

    """

    value: float
    exact: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """Values for named variables, with the objective value when there is one.

    Example:
        >>> Assignment({"x": 2.0, "y": 0.0}, objective=4.0).values["x"]
        2.0

    """

    values: Mapping[str, float]
    objective: float | None = None


@dataclass(frozen=True, slots=True)
class ProofAnswer:
    """A theorem statement and a proof of it.

    Example:
        >>> ProofAnswer("theorem t : 1 + 1 = 2", "by norm_num").proof
        'by norm_num'

    """

    statement: str
    proof: str


Answer = EntailmentLabel | NumberAnswer | Assignment | ProofAnswer


@runtime_checkable
class Certificate(Protocol):
    """Evidence for a verdict: premises used, countermodels, a checked solution, a proof."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        ...

    def render(self) -> str:
        """A form for people to read."""
        ...


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem in natural language, with optional structure.

    Example:
        >>> p = Problem("All dogs are animals. Rex is a dog. Is Rex an animal?",
        ...             premises=("All dogs are animals.", "Rex is a dog."),
        ...             conclusion="Rex is an animal.", answer_kind=AnswerKind.ENTAILMENT)
        >>> len(p.premises)
        2

    """

    text: str = ""
    premises: tuple[str, ...] = ()
    conclusion: str | None = None
    question: str | None = None
    options: tuple[str, ...] = ()
    answer_kind: AnswerKind | None = None
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Formalization:
    """A problem in a formal language: the target's name, the source text and its parsed object.

    ``declared`` is what the model declared before writing the formulas (declare-then-use
    decoding: a FOL signature, one predicate with its gloss per line, then the constants), as
    the model wrote it; empty when it declared nothing.

    Example:
        >>> from neurosym.fol import parse_formula
        >>> Formalization("fol", "P(a)", parse_formula("P(a)")).target
        'fol'

    """

    target: str
    source: str
    parsed: Any = None
    declared: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a prover says about a formalization (see the module docstring for the statuses).

    Attributes:
        status: one of :data:`Status`.
        answer: the answer the verdict supports, when there is one.
        certificate: evidence for the verdict (premises used, countermodels, ...).
        feedback: text meant for an LLM that should repair its formalization.
        message: the solver's own words (Z3's ``reason_unknown``, E's SZS status, a parse error).
        elapsed_s: wall time spent.
        prover: the prover (or provers, joined by ``+``) that produced the verdict.
        details: anything else worth keeping (per-prover results, repairs made).

    Example:
        >>> Verdict("timeout", message="canceled", prover="z3").decided
        False

    """

    status: Status
    answer: Answer | None = None
    certificate: Certificate | None = None
    feedback: str = ""
    message: str = ""
    elapsed_s: float = 0.0
    prover: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            from neurosym.errors import ConfigurationError

            raise ConfigurationError(f"unknown verdict status {self.status!r}; expected one of {', '.join(STATUSES)}")

    @property
    def decided(self) -> bool:
        """True when the status settles the question (proved, disproved, uncertain or computed)."""
        return self.status in DECIDED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form.

        Example:
            >>> Verdict("proved", answer=EntailmentLabel.TRUE).to_dict()["answer"]
            'True'

        """
        return {
            "status": self.status,
            "answer": _answer_to_json(self.answer),
            "certificate": self.certificate.to_dict() if self.certificate is not None else None,
            "feedback": self.feedback,
            "message": self.message,
            "elapsed_s": round(self.elapsed_s, 6),
            "prover": self.prover,
            "details": _jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """The verdict that :meth:`to_dict` wrote (a cache or a trace read back).

        The answer and the certificate come back as their own types (an entailment label, a
        number, the premises used, countermodels, a program run); a certificate of a kind this
        version does not know comes back as a :class:`StoredCertificate`.

        Example:
            >>> v = Verdict("proved", answer=EntailmentLabel.TRUE, prover="z3", message="unsat")
            >>> Verdict.from_dict(v.to_dict()) == v
            True

        """
        certificate = data.get("certificate")
        return cls(
            status=data["status"],
            answer=_answer_from_json(data.get("answer")),
            certificate=certificate_from_dict(certificate) if certificate is not None else None,
            feedback=data.get("feedback", ""),
            message=data.get("message", ""),
            elapsed_s=float(data.get("elapsed_s", 0.0)),
            prover=data.get("prover", ""),
            details=dict(data.get("details") or {}),
        )


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    """A certificate read back from JSON whose kind has no class here: its data, shown as is.

    Example:
        >>> StoredCertificate({"kind": "lean_proof", "steps": 3}).render()
        'lean_proof: {"steps": 3}'

    """

    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The data it was read from."""
        return dict(self.data)

    def render(self) -> str:
        """The kind and the rest of the data as JSON."""
        import json

        rest = {k: v for k, v in self.data.items() if k != "kind"}
        return f"{self.data.get('kind', 'certificate')}: {json.dumps(rest, ensure_ascii=False)}"


def certificate_from_dict(data: Mapping[str, Any]) -> Certificate:
    r"""The certificate a ``to_dict()`` form describes, by its ``kind``.

    The kinds are those the registered targets declare (:attr:`TargetSpec.certificates
    <neurosym.targets.registry.TargetSpec>`); an unknown kind comes back as a
    :class:`StoredCertificate`.

    Example:
        >>> certificate_from_dict({"kind": "premises_used", "indices": [0], "formulas": ["P(a)"]}).render()
        'premises used: 1\n  [1] P(a)'

    """
    from neurosym.targets.registry import certificate_class  # the registry sits above the shared types

    cls = certificate_class(str(data.get("kind")))
    if cls is None:
        return StoredCertificate(dict(data))
    loaded: Certificate = cls.from_dict(data)  # type: ignore[attr-defined]  # registered classes have from_dict
    return loaded


def _answer_from_json(data: Any) -> Answer | None:
    if data is None:
        return None
    if isinstance(data, str):
        return EntailmentLabel(data)
    if "value" in data:
        return NumberAnswer(float(data["value"]), exact=data.get("exact"))
    if "values" in data:
        return Assignment(dict(data["values"]), objective=data.get("objective"))
    return ProofAnswer(data["statement"], data["proof"])


def _answer_to_json(answer: Answer | None) -> Any:
    if answer is None:
        return None
    if isinstance(answer, EntailmentLabel):
        return answer.value
    if isinstance(answer, NumberAnswer):
        return {"value": answer.value, "exact": answer.exact}
    if isinstance(answer, Assignment):
        return {"values": dict(answer.values), "objective": answer.objective}
    return {"statement": answer.statement, "proof": answer.proof}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
