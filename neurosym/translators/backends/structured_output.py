"""How each OpenAI-compatible server spells an output constraint: one :class:`StructuredOutputFormat` per mode.

A format knows three things about its server dialect, and nothing else in neurosym does:

- which request-body fields carry a ``grammar``, ``regex`` or ``json_schema`` constraint
  (:meth:`StructuredOutputFormat.request_fields`), and which kinds it cannot send;
- the names of those fields, so that a 4xx answer that names one can be recognised as the server
  refusing the format (:meth:`StructuredOutputFormat.named_in`);
- a probe: a tiny constraint whose only allowed output is known (``root ::= "neurosym-probe-7"``),
  and a check that the reply is exactly that output (:meth:`StructuredOutputFormat.applied`). A
  server that ignores fields it does not know (llama.cpp's does) answers the probe with free text,
  so the check tells "applied" from "accepted and ignored".

=================  ===========================================================================
``"vllm"``         ``{"structured_outputs": {"grammar"|"regex"|"json": ...}}``
                   (vLLM >= 0.10.2; the form current vLLM and SGLang's vLLM-compatible API read)
``"vllm-legacy"``  ``{"guided_grammar"|"guided_regex"|"guided_json": ...}``
                   (vLLM < 0.10.2; these names were deprecated in 0.10.2 and removed in 0.12.0)
``"llamacpp"``     ``grammar`` (GBNF) for grammars, ``response_format={"type": "json_object",
                   "schema": ...}`` for JSON schemas; regexes are refused
``"openai"``       ``response_format={"type": "json_schema", ...}``; grammars and regexes are refused
``"none"``         no constraint is sent: a request that carries one is refused (never dropped
                   silently), and ``supports_grammar`` is False so callers send none
=================  ===========================================================================

``"auto"`` is not a format: the backend probes the formats in :data:`PROBE_ORDER` and remembers
the first one the server applies in :data:`PROBED_FORMATS`. Under ``"auto"``, a constraint the
chosen format cannot send (a regex on llama.cpp, anything when no format was applied) is dropped
with a logged warning instead of refused: the caller asked for the best the server can do.

Example:
    >>> from neurosym.translators.base import Constraint
    >>> FORMATS["vllm-legacy"].request_fields(Constraint("regex", "yes|no"))
    {'guided_regex': 'yes|no'}
    >>> FORMATS["llamacpp"].applied("neurosym-probe-7"), FORMATS["llamacpp"].supports_grammar
    (True, True)

"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from neurosym.errors import ConfigurationError
from neurosym.translators.base import Constraint

__all__ = [
    "FORMATS",
    "GENERIC_REFUSAL_MARKERS",
    "MODES",
    "PROBED_FORMATS",
    "PROBE_LOCK",
    "PROBE_ORDER",
    "PROBE_PROMPT",
    "PROBE_TEXT",
    "StructuredOutput",
    "StructuredOutputFormat",
    "check_mode",
]

StructuredOutput = Literal["auto", "vllm", "vllm-legacy", "llamacpp", "openai", "none"]
"""How a request's :class:`~neurosym.translators.base.Constraint` is sent to the server."""

MODES: tuple[str, ...] = get_args(StructuredOutput)

PROBE_TEXT = "neurosym-probe-7"
"""The only output a probe constraint allows; a model writes it unprompted with negligible probability."""

PROBE_PROMPT = "Reply with one word: hello."
"""The probe's prompt asks for something else, so an unconstrained reply differs from :data:`PROBE_TEXT`."""

PROBE_ORDER: tuple[str, ...] = ("vllm", "vllm-legacy", "llamacpp", "openai")
"""The order ``auto`` tries the formats in: grammar-capable ones first, newest vLLM spelling first."""

GENERIC_REFUSAL_MARKERS: tuple[str, ...] = (
    "extra_forbidden",
    "extra inputs are not permitted",
    "unrecognized request argument",
    "unknown field",
    "unexpected keyword",
)
"""Phrases validation layers (pydantic, OpenAI) use for a field they do not accept, lower case."""

PROBED_FORMATS: dict[tuple[str, str], str] = {}
"""``(base_url, model) -> mode`` that ``auto`` found for a server, for the life of the process
(``"none"`` when no format was applied). Clear it to probe again."""

PROBE_LOCK = threading.Lock()
"""Guards :data:`PROBED_FORMATS` (backends on several threads may probe at once)."""


def _json_value(value: Any) -> Any:
    """A json_schema constraint's value as a dict: JSON text is parsed, anything else kept."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"a json_schema constraint must be a dict or JSON text: {exc}") from exc
    return value


def _openai_schema_name(schema: Any) -> str:
    """The ``name`` OpenAI requires beside a JSON schema: the schema's title made safe, else ``output``."""
    title = schema.get("title") if isinstance(schema, Mapping) else None
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in str(title or "output"))[:64]


_VLLM_KEYS = {"grammar": "grammar", "regex": "regex", "json_schema": "json"}
_VLLM_LEGACY_KEYS = {"grammar": "guided_grammar", "regex": "guided_regex", "json_schema": "guided_json"}
_GRAMMAR_PROBE = Constraint("grammar", f'root ::= "{PROBE_TEXT}"')
_JSON_PROBE = Constraint(
    "json_schema",
    {
        "title": "probe",
        "type": "object",
        "properties": {"probe": {"type": "string", "enum": [PROBE_TEXT]}},
        "required": ["probe"],
        "additionalProperties": False,
    },
)


def _grammar_probe_applied(reply: str) -> bool:
    return reply.strip() == PROBE_TEXT


def _json_probe_applied(reply: str) -> bool:
    try:
        return bool(json.loads(reply) == {"probe": PROBE_TEXT})
    except (ValueError, RecursionError):
        return False


@dataclass(frozen=True, slots=True)
class StructuredOutputFormat:
    """One server dialect for constraints: the body fields per constraint kind, and its probe.

    Example:
        >>> from neurosym.translators.base import Constraint
        >>> FORMATS["openai"].request_fields(Constraint("grammar", 'root ::= "a"'))
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: structured_output='openai' supports only json_schema constraints, \
not grammar; use structured_output='vllm' or 'llamacpp' for a server that can
        >>> FORMATS["openai"].named_in("Unrecognized request argument supplied: response_format")
        True

    """

    mode: str
    """The ``structured_output`` name."""
    kinds: tuple[str, ...]
    """The constraint kinds it can send."""
    encode: Callable[[str, Any], dict[str, Any]]
    """``(kind, value) -> request-body fields``, for a kind in :attr:`kinds`."""
    field_names: tuple[str, ...]
    """The body fields it writes (a server's refusal names one of them)."""
    refusal: Callable[[str], str]
    """``kind -> why it cannot be sent and what to use instead``, for a kind not in :attr:`kinds`."""
    probe: Constraint | None = None
    """A constraint whose only allowed output is known."""
    probe_applied: Callable[[str], bool] | None = None
    """Whether a reply to :attr:`probe` shows the constraint was applied."""
    probe_max_tokens: int = 12
    """Enough tokens for the probe's output, and few enough that an ignored probe is cheap."""

    @property
    def supports_grammar(self) -> bool:
        """Whether GBNF grammars can be sent (and so callers may ask for grammar-constrained decoding)."""
        return "grammar" in self.kinds

    def can_send(self, constraint: Constraint | None) -> bool:
        """Whether ``constraint`` (``None``: no constraint) can be sent in this format."""
        return constraint is None or constraint.kind in self.kinds

    def request_fields(self, constraint: Constraint | None) -> dict[str, Any]:
        """The request-body fields that carry ``constraint``; ConfigurationError for a kind it cannot send."""
        if constraint is None:
            return {}
        if constraint.kind not in self.kinds:
            raise ConfigurationError(self.refusal(constraint.kind))
        value = _json_value(constraint.value) if constraint.kind == "json_schema" else constraint.value
        return self.encode(constraint.kind, value)

    def named_in(self, error_text: str) -> bool:
        """Whether a server's error text names one of this format's fields, or a generic unknown-field phrase."""
        lowered = error_text.lower()
        return any(name.lower() in lowered for name in self.field_names) or any(
            marker in lowered for marker in GENERIC_REFUSAL_MARKERS
        )

    def applied(self, reply: str) -> bool:
        """Whether ``reply`` to :attr:`probe` is the one output the probe allows."""
        return self.probe_applied is not None and self.probe_applied(reply)


def _llamacpp_fields(kind: str, value: Any) -> dict[str, Any]:
    if kind == "grammar":
        return {"grammar": value}
    return {"response_format": {"type": "json_object", "schema": value}}


def _openai_fields(kind: str, value: Any) -> dict[str, Any]:
    schema = {"name": _openai_schema_name(value), "schema": value}
    return {"response_format": {"type": "json_schema", "json_schema": schema}}


def _none_refusal(kind: str) -> str:
    return (
        f"a {kind} constraint was given but structured_output='none'; choose 'auto', 'vllm', 'vllm-legacy', "
        "'llamacpp' or 'openai' to match the server, or drop the constraint"
    )


FORMATS: dict[str, StructuredOutputFormat] = {
    "vllm": StructuredOutputFormat(
        mode="vllm",
        kinds=("grammar", "regex", "json_schema"),
        encode=lambda kind, value: {"structured_outputs": {_VLLM_KEYS[kind]: value}},
        field_names=("structured_outputs",),
        refusal=_none_refusal,
        probe=_GRAMMAR_PROBE,
        probe_applied=_grammar_probe_applied,
    ),
    "vllm-legacy": StructuredOutputFormat(
        mode="vllm-legacy",
        kinds=("grammar", "regex", "json_schema"),
        encode=lambda kind, value: {_VLLM_LEGACY_KEYS[kind]: value},
        field_names=tuple(_VLLM_LEGACY_KEYS.values()),
        refusal=_none_refusal,
        probe=_GRAMMAR_PROBE,
        probe_applied=_grammar_probe_applied,
    ),
    "llamacpp": StructuredOutputFormat(
        mode="llamacpp",
        kinds=("grammar", "json_schema"),
        encode=_llamacpp_fields,
        field_names=("grammar", "response_format"),
        refusal=lambda kind: (
            "llama.cpp servers take no regex constraint; write it as a GBNF grammar (Constraint('grammar', ...))"
        ),
        probe=_GRAMMAR_PROBE,
        probe_applied=_grammar_probe_applied,
    ),
    "openai": StructuredOutputFormat(
        mode="openai",
        kinds=("json_schema",),
        encode=_openai_fields,
        field_names=("response_format", "json_schema"),
        refusal=lambda kind: (
            f"structured_output='openai' supports only json_schema constraints, not {kind}; "
            "use structured_output='vllm' or 'llamacpp' for a server that can"
        ),
        probe=_JSON_PROBE,
        probe_applied=_json_probe_applied,
        probe_max_tokens=32,
    ),
    "none": StructuredOutputFormat(
        mode="none", kinds=(), encode=lambda kind, value: {}, field_names=(), refusal=_none_refusal
    ),
}
"""Every format by its ``structured_output`` name (all modes but ``auto``)."""


def check_mode(mode: object) -> str:
    """``mode`` if it is a ``structured_output`` name, else a ConfigurationError listing them.

    Example:
        >>> check_mode("xml")
        Traceback (most recent call last):
        ...
        neurosym.errors.ConfigurationError: unknown structured_output 'xml'; expected one of auto, vllm, \
vllm-legacy, llamacpp, openai, none

    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ConfigurationError(f"unknown structured_output {mode!r}; expected one of {', '.join(MODES)}")
    return mode
