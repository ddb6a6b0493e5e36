"""Reading what an OpenAI-compatible server sent back, trusting none of it.

The openai client builds its response objects without validating them, so a server that sends a
number where text belongs, or ``usage`` as a string, would surface deep inside neurosym as an
``AttributeError`` or ``OverflowError``. These functions read the raw JSON instead and either
return plain values or raise :class:`MalformedResponse`, whose message says what the server sent
wrong; the backend adds who sent it. Oddities that cost nothing (a token count that is a string,
a ``finish_reason`` that is a number) become defaults, with a note in ``warnings``.

Example:
    >>> body = b'{"choices": [{"message": {"content": "P(a)"}, "finish_reason": "stop"}],'
    >>> body += b' "usage": {"prompt_tokens": "nine", "completion_tokens": 3}}'
    >>> completion = read_completion(decode_json_body(body, "application/json"))
    >>> [s.text for s in completion.samples], completion.prompt_tokens, completion.warnings
    (['P(a)'], 0, ["usage.prompt_tokens is a string ('nine'), not a token count; counted as 0"])

"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from neurosym.translators.base import Sample, split_evenly

__all__ = [
    "MAX_TOKEN_COUNT",
    "Completion",
    "MalformedResponse",
    "StreamReader",
    "decode_json_body",
    "describe",
    "read_completion",
    "summarize_error_body",
]

MAX_TOKEN_COUNT = 10**12
"""A token count above this is nonsense (no model writes a trillion tokens) and is counted as 0."""

_EXCERPT = 200


class MalformedResponse(Exception):
    """The server's answer is not a usable chat completion; the message says what it sent instead."""


def describe(value: Any) -> str:
    """The JSON type of ``value`` in words, for error messages.

    Example:
        >>> describe({}), describe([1]), describe(True), describe(1e400), describe(None)
        ('a JSON object', 'a JSON list', 'a boolean', 'a number', 'null')

    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON list"
    return type(value).__name__


def _excerpt(value: Any) -> str:
    """A short repr of ``value`` (at most about 200 characters)."""
    try:
        shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    except (TypeError, ValueError):  # inf and nan are fine for json.dumps; other objects are not JSON
        shown = repr(value)
    return shown if len(shown) <= _EXCERPT else shown[:_EXCERPT] + "..."


def _html_title(text: str) -> str | None:
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return " ".join(match.group(1).split())[:_EXCERPT] if match else None


def summarize_error_body(body: Any) -> str:
    """A short account of an HTTP error answer's body (a JSON value, or text where it was not JSON).

    Example:
        >>> summarize_error_body("<html><title>502 Bad Gateway</title></html>")
        "an HTML page ('502 Bad Gateway'), not an API answer"
        >>> summarize_error_body({"detail": [{"type": "extra_forbidden", "loc": ["body", "grammar"]}]})
        '[{"type": "extra_forbidden", "loc": ["body", "grammar"]}]'

    """
    if isinstance(body, str):
        text = body.strip()
        if text[:1] == "<":
            title = _html_title(text)
            return f"an HTML page ({title!r}), not an API answer" if title else "an HTML page, not an API answer"
        return _excerpt(text) if text else "an empty body"
    if isinstance(body, dict) and set(body) >= {"detail"}:
        return _excerpt(body["detail"])
    return _excerpt(body) if body is not None else "no body"


def decode_json_body(raw: bytes, content_type: str | None) -> Any:
    """The JSON value in a response body, or MalformedResponse saying what the body is instead.

    Example:
        >>> decode_json_body(b"<html><title>502 Bad Gateway</title></html>", "text/html")
        Traceback (most recent call last):
        ...
        neurosym.translators.backends._openai_wire.MalformedResponse: an HTML page ('502 Bad Gateway'), \
not a JSON completion (content-type text/html); is the URL an OpenAI-compatible API root, not a web page or proxy?

    """
    shown_type = content_type or "none"
    if not raw.strip():
        raise MalformedResponse(f"an empty body (content-type {shown_type}), not a JSON completion")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedResponse(f"a body that is not UTF-8 text (content-type {shown_type}): {exc}") from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise MalformedResponse("JSON nested too deeply to read") from exc
    except json.JSONDecodeError as exc:
        stripped = text.lstrip()
        if "html" in shown_type.lower() or stripped[:1] == "<":
            title = _html_title(stripped)
            what = f"an HTML page ({title!r})" if title else "an HTML page"
            raise MalformedResponse(
                f"{what}, not a JSON completion (content-type {shown_type}); "
                "is the URL an OpenAI-compatible API root, not a web page or proxy?"
            ) from exc
        raise MalformedResponse(
            f"a body that is not JSON ({exc}; content-type {shown_type}): {_excerpt(stripped)}"
        ) from exc


def read_content(value: Any, where: str) -> str:
    """A message's (or delta's) ``content`` as text.

    ``null`` is the empty text; a list of ``{"type": "text", "text": ...}`` parts (the content-parts
    form some servers answer in) is joined; anything else is malformed.

    Example:
        >>> read_content([{"type": "text", "text": "P("}, {"type": "text", "text": "a)"}], "choice 0's content")
        'P(a)'
        >>> read_content({"answer": True}, "choice 0's content")
        Traceback (most recent call last):
        ...
        neurosym.translators.backends._openai_wire.MalformedResponse: choice 0's content is a JSON object \
({"answer": true}), not text

    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str) for part in value
    ):
        return "".join(part["text"] for part in value)
    raise MalformedResponse(f"{where} is {describe(value)} ({_excerpt(value)}), not text")


def read_count(value: Any, where: str, warnings: list[str]) -> int:
    """A token count: a whole number from 0 to :data:`MAX_TOKEN_COUNT`; anything else counts 0, with a warning.

    Example:
        >>> notes = []
        >>> read_count(7, "usage.prompt_tokens", notes), read_count(7.0, "x", notes), read_count(-3, "y", notes)
        (7, 7, 0)
        >>> notes
        ['y is -3, not a token count; counted as 0']

    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_COUNT:
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and 0 <= value <= MAX_TOKEN_COUNT:
        return int(value)
    kind = describe(value)
    if kind == "a number":
        what = repr(value)
    elif value is None:
        what = "null"
    else:
        what = f"{kind} ({_excerpt(value)})"
    warnings.append(f"{where} is {what}, not a token count; counted as 0")
    return 0


def read_usage(value: Any, warnings: list[str]) -> tuple[int, int]:
    """``(prompt_tokens, completion_tokens)`` from a ``usage`` object; missing counts are 0.

    Example:
        >>> notes = []
        >>> read_usage({"prompt_tokens": 1e400, "completion_tokens": None}, notes)
        (0, 0)
        >>> notes
        ['usage.prompt_tokens is inf, not a token count; counted as 0', \
'usage.completion_tokens is null, not a token count; counted as 0']

    """
    if value is None:
        return 0, 0
    if not isinstance(value, dict):
        warnings.append(f"usage is {describe(value)} ({_excerpt(value)}), not an object; token counts taken as 0")
        return 0, 0
    counts = []
    for name in ("prompt_tokens", "completion_tokens"):
        counts.append(read_count(value[name], f"usage.{name}", warnings) if name in value else 0)
    return counts[0], counts[1]


def read_finish_reason(value: Any, where: str, warnings: list[str]) -> str | None:
    """A ``finish_reason``: a string (cut to 64 characters) or ``None``; other types become ``None``, with a warning.

    Example:
        >>> notes = []
        >>> read_finish_reason("stop", "choice 0", notes), read_finish_reason(3, "choice 0", notes), notes
        ('stop', None, ['choice 0 has a finish_reason that is a number (3), not a string; taken as unknown'])

    """
    if value is None or isinstance(value, str):
        return value[:64] if isinstance(value, str) else None
    warnings.append(
        f"{where} has a finish_reason that is {describe(value)} ({_excerpt(value)}), not a string; taken as unknown"
    )
    return None


def _reported_error(data: dict[str, Any]) -> MalformedResponse:
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return MalformedResponse(f"an error instead of a completion: {_excerpt(message)}")


def _choices(data: Any, *, allow_empty: bool) -> list[Any]:
    """The ``choices`` list of a completion (or stream chunk), checked to be a list."""
    if not isinstance(data, dict):
        raise MalformedResponse(f"{describe(data)} ({_excerpt(data)}), not a JSON object with choices")
    if data.get("error") is not None and not data.get("choices"):
        raise _reported_error(data)
    choices = data.get("choices")
    if choices is None:
        if allow_empty:
            return []
        raise MalformedResponse(f"no choices in the completion ({_excerpt(data)})")
    if not isinstance(choices, list):
        raise MalformedResponse(f"choices is {describe(choices)} ({_excerpt(choices)}), not a list")
    if not choices and not allow_empty:
        raise MalformedResponse("no choices in the completion (an empty list)")
    return choices


@dataclass(slots=True)
class Completion:
    """A completion read from the server: samples (completion tokens split evenly) and usage."""

    samples: list[Sample]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    warnings: list[str] = field(default_factory=list)


def read_completion(data: Any) -> Completion:
    """The samples and token counts of a ``chat.completion`` JSON value.

    Example:
        >>> read_completion({"choices": "P(a)"})
        Traceback (most recent call last):
        ...
        neurosym.translators.backends._openai_wire.MalformedResponse: choices is a string ('P(a)'), not a list

    """
    warnings: list[str] = []
    choices = _choices(data, allow_empty=False)
    texts: list[tuple[str, str | None]] = []
    for number, choice in enumerate(choices):
        where = f"choice {number}"
        if not isinstance(choice, dict):
            raise MalformedResponse(f"{where} is {describe(choice)} ({_excerpt(choice)}), not an object")
        message = choice.get("message")
        if message is None:
            raise MalformedResponse(f"{where} has no message ({_excerpt(choice)})")
        if not isinstance(message, dict):
            raise MalformedResponse(f"{where}'s message is {describe(message)} ({_excerpt(message)}), not an object")
        text = read_content(message.get("content"), f"{where}'s content")
        texts.append((text, read_finish_reason(choice.get("finish_reason"), where, warnings)))
    prompt_tokens, completion_tokens = read_usage(data.get("usage"), warnings)
    shares = split_evenly(completion_tokens, len(texts))
    samples = [Sample(text, reason, share) for (text, reason), share in zip(texts, shares, strict=True)]
    return Completion(samples, prompt_tokens, completion_tokens, warnings)


@dataclass(slots=True)
class _StreamedChoice:
    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    chunks: int = 0  # content-bearing chunks: servers send about one token per chunk


class StreamReader:
    """Assembles ``chat.completion.chunk`` JSON values (one per server-sent event) into a :class:`Completion`.

    :meth:`feed` returns the new text of each choice in the chunk. :meth:`finish` splits the
    server's completion-token count evenly, as a non-streamed answer would; where the stream
    carried no usage, each choice's count is its number of content chunks (an estimate).

    Example:
        >>> reader = StreamReader()
        >>> reader.feed({"choices": [{"index": 0, "delta": {"content": "P("}}]})
        [(0, 'P(')]
        >>> reader.feed({"choices": [{"index": 0, "delta": {"content": "a)"}, "finish_reason": "stop"}]})
        [(0, 'a)')]
        >>> reader.feed({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}})
        []
        >>> done = reader.finish()
        >>> [(s.text, s.finish_reason, s.completion_tokens) for s in done.samples], done.prompt_tokens
        ([('P(a)', 'stop', 2)], 4)

    """

    def __init__(self) -> None:
        self.choices: dict[int, _StreamedChoice] = {}
        self.usage: tuple[int, int] | None = None
        self.warnings: list[str] = []

    def feed(self, data: Any) -> list[tuple[int, str]]:
        """Take one chunk; return ``(choice index, new text)`` for each choice that got text."""
        new_text: list[tuple[int, str]] = []
        for position, choice in enumerate(_choices(data, allow_empty=True)):
            if not isinstance(choice, dict):
                raise MalformedResponse(f"a stream chunk's choice is {describe(choice)} ({_excerpt(choice)})")
            index = choice.get("index", position)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 10_000:
                raise MalformedResponse(f"a stream chunk's choice index is {describe(index)} ({_excerpt(index)})")
            state = self.choices.setdefault(index, _StreamedChoice())
            where = f"choice {index}"
            delta = choice.get("delta")
            if delta is None:
                delta = {}
            if not isinstance(delta, dict):
                raise MalformedResponse(f"{where}'s delta is {describe(delta)} ({_excerpt(delta)}), not an object")
            text = read_content(delta.get("content"), f"{where}'s content")
            if text:
                state.parts.append(text)
                state.chunks += 1
                new_text.append((index, text))
            reason = read_finish_reason(choice.get("finish_reason"), where, self.warnings)
            if reason is not None:
                state.finish_reason = reason
        if isinstance(data, dict) and data.get("usage") is not None:
            self.usage = read_usage(data["usage"], self.warnings)
        return new_text

    def tokens_so_far(self, index: int) -> int:
        """The estimated completion tokens of choice ``index`` so far (its content chunks)."""
        state = self.choices.get(index)
        return state.chunks if state else 0

    @property
    def finished(self) -> bool:
        """Whether every choice seen so far has a finish_reason."""
        return bool(self.choices) and all(state.finish_reason is not None for state in self.choices.values())

    def finish(self) -> Completion:
        """The completion the stream carried; MalformedResponse if it carried no choice."""
        if not self.choices:
            raise MalformedResponse("an event stream without any choice")
        ordered = [self.choices[index] for index in sorted(self.choices)]
        if self.usage is not None:
            prompt_tokens, completion_tokens = self.usage
            shares = split_evenly(completion_tokens, len(ordered))
        else:
            shares = [state.chunks for state in ordered]
            prompt_tokens, completion_tokens = 0, sum(shares)
        samples = [
            Sample("".join(state.parts), state.finish_reason, share)
            for state, share in zip(ordered, shares, strict=True)
        ]
        return Completion(samples, prompt_tokens, completion_tokens, self.warnings)


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event of a ``text/event-stream`` body: its ``event`` name (``None`` for plain messages) and data."""

    event: str | None
    data: str


class EventStreamDecoder:
    r"""Splits a ``text/event-stream`` body, fed in byte chunks of any size, into :class:`ServerSentEvent`\ s.

    Follows the HTML living standard's parsing rules for the fields chat streams use (``data``,
    ``event``; comments and other fields are skipped; lines end in LF, CRLF or CR). Text that is
    not UTF-8 is malformed.

    Example:
        >>> decoder = EventStreamDecoder()
        >>> decoder.feed(b'data: {"a": 1}\r\n\r\n: keep-alive\n\nevent: error\ndata: boom')
        [ServerSentEvent(event=None, data='{"a": 1}')]
        >>> decoder.finish()
        [ServerSentEvent(event='error', data='boom')]

    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._after_cr = False
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by ``chunk``."""
        if not chunk:
            return []
        if self._after_cr and chunk.startswith(b"\n"):  # the LF of a CRLF split between two chunks
            chunk = chunk[1:]
        self._after_cr = chunk.endswith(b"\r")
        self._buffer += chunk
        if b"\n" not in chunk and b"\r" not in chunk:  # no line ends: skip rescanning a long buffered line
            return []
        lines = re.split(rb"\r\n|\r|\n", bytes(self._buffer))
        self._buffer = bytearray(lines.pop())  # an unfinished line, or nothing after a line end
        return [event for line in lines if (event := self._line(line)) is not None]

    def finish(self) -> list[ServerSentEvent]:
        """The events left when the body ends (an event without its closing blank line is kept)."""
        events = []
        if self._buffer:
            event = self._line(bytes(self._buffer))
            self._buffer = bytearray()
            if event is not None:
                events.append(event)
        event = self._line(b"")
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedResponse(f"an event stream that is not UTF-8 text: {exc}") from exc
        if not line:
            if not self._data and self._event is None:
                return None
            event = ServerSentEvent(self._event, "\n".join(self._data))
            self._event, self._data = None, []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None
