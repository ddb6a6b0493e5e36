r"""The XML protocol of ``coqidetop`` (the one CoqIDE speaks), as far as the Coq kernel needs it.

Calls are XML values (``<call val="Add">...</call>``); answers are ``<value val="good">`` or
``<value val="fail" loc_s=".." loc_e="..">`` with the last good state and the error, and
between them come ``<feedback>`` elements (messages with their level, location and state).
:class:`XmlReader` cuts the byte stream into those top-level elements as it arrives.

Example:
    >>> reader = XmlReader()
    >>> [e.tag for e in reader.feed(b'<feedback object="state"><state_id val="2"/></feedback><value val="go')]
    ['feedback']
    >>> [value] = reader.feed(b'od"><state_id val="3"/></value>')
    >>> value.get("val"), state_id_of(value)
    ('good', 3)

"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast
from xml.sax.saxutils import escape

__all__ = [
    "Goal",
    "Message",
    "XmlReader",
    "add_call",
    "edit_at_call",
    "goal_call",
    "goals_of",
    "init_call",
    "message_of",
    "richpp_text",
    "state_id_of",
]


def _string(text: str) -> str:
    return f"<string>{escape(text)}</string>"


def init_call() -> bytes:
    """``Init(None)``: start a document; the answer holds its first state.

    Example:
        >>> init_call()
        b'<call val="Init"><option val="none"/></call>'

    """
    return b'<call val="Init"><option val="none"/></call>'


def add_call(sentence: str, state_id: int) -> bytes:
    """``Add``: parse one sentence on top of ``state_id`` (execution waits for :func:`goal_call`).

    Example:
        >>> b'<string>Qed.</string>' in add_call("Qed.", 4), b'<state_id val="4"/>' in add_call("Qed.", 4)
        (True, True)

    """
    body = (
        f"<pair><pair><pair><pair>{_string(sentence)}<int>-1</int></pair>"
        f'<pair><state_id val="{state_id}"/><bool val="true"/></pair></pair><int>0</int></pair>'
        "<pair><int>0</int><int>0</int></pair></pair>"
    )
    return f'<call val="Add">{body}</call>'.encode()


def goal_call() -> bytes:
    """``Goal``: run the document to its tip and return the open goals (``none``: no proof is open)."""
    return b'<call val="Goal"><unit/></call>'


def edit_at_call(state_id: int) -> bytes:
    """``Edit_at``: go back to ``state_id``, dropping every state after it."""
    return f'<call val="Edit_at"><state_id val="{state_id}"/></call>'.encode()


class XmlReader:
    """Cuts coqidetop's output into its top-level XML elements as bytes arrive.

    Raises :class:`xml.etree.ElementTree.ParseError` on output that is not XML (a kernel that
    printed something else is broken).

    Example:
        >>> [e.get("val") for e in XmlReader().feed(b'<value val="good"><unit/></value>')]
        ['good']

    """

    def __init__(self) -> None:
        self._parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self._parser.feed(b"<coq>")
        self._root: ET.Element | None = None
        self._depth = 0
        self._carry = b""

    def feed(self, data: bytes) -> list[ET.Element]:
        """Read ``data`` and return the elements it completed."""
        data = self._carry + data
        cut = data.rfind(b"&")
        if cut != -1 and b";" not in data[cut:]:  # an entity cut in two: wait for its end
            data, self._carry = data[:cut], data[cut:]
        else:
            self._carry = b""
        self._parser.feed(data.replace(b"&nbsp;", b"&#160;"))  # Coq writes HTML's nbsp, which XML lacks
        done = []
        # only start and end events are asked for: each pairs an event with an element
        for event, element in cast("Iterator[tuple[str, Any]]", self._parser.read_events()):
            if not isinstance(element, ET.Element):
                continue
            if self._root is None:
                self._root = element
                continue
            if event == "start":
                self._depth += 1
                continue
            self._depth -= 1
            if self._depth == 0:
                done.append(element)
                self._root.remove(element)  # keep memory flat over a long session
        return done


def state_id_of(element: ET.Element) -> int | None:
    """The first ``state_id`` inside ``element`` (the new state of an ``Add``, the last good one of a failure)."""
    found = element.find(".//state_id")
    return int(found.get("val", "0")) if found is not None else None


def richpp_text(element: ET.Element | None) -> str:
    """The text of a pretty-printed value (``<richpp>``), with non-breaking spaces as spaces.

    Example:
        >>> richpp_text(ET.fromstring("<richpp><pp>n&#160;:&#160;<c>nat</c></pp></richpp>"))
        'n : nat'

    """
    if element is None:
        return ""
    return "".join(element.itertext()).replace("\xa0", " ")


@dataclass(frozen=True, slots=True)
class Goal:
    """One open goal: its hypotheses (``name : type``, as Coq prints them) and its conclusion.

    Example:
        >>> print(Goal(("x : R", "h : x > 0"), "x + 1 > 0").render())
        x : R
        h : x > 0
        ============================
        x + 1 > 0

    """

    hypotheses: tuple[str, ...]
    conclusion: str

    def render(self) -> str:
        """The goal as Coq shows it."""
        return "\n".join([*self.hypotheses, "=" * 28, self.conclusion])

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {"hypotheses": list(self.hypotheses), "conclusion": self.conclusion}


def goals_of(value: ET.Element) -> tuple[Goal, ...] | None:
    """The focused goals in a ``Goal`` answer; ``None`` when no proof is open.

    Unfocused goals (behind a bullet or a brace), shelved and given-up goals are added after the
    focused ones: they are all still to be proved.
    """
    option = value.find("option")
    if option is None or option.get("val") != "some":
        return None
    goals_element = option.find("goals")
    if goals_element is None:
        return ()
    goals: list[Goal] = []
    for goal in goals_element.iter("goal"):
        hyps = goal.find("list")
        conclusion = goal.find("richpp")
        hypotheses = tuple(richpp_text(h) for h in hyps.findall("richpp")) if hyps is not None else ()
        goals.append(Goal(hypotheses, richpp_text(conclusion)))
    return tuple(goals)


def focused_goal_count(value: ET.Element) -> int:
    """How many goals are in focus in a ``Goal`` answer (the first list of ``<goals>``)."""
    goals_element = value.find("option/goals")
    if goals_element is None:
        return 0
    first = goals_element.find("list")
    return len(first.findall("goal")) if first is not None else 0


@dataclass(frozen=True, slots=True)
class Message:
    """A message from the kernel: its level (``error``, ``warning``, ``notice``, ``info``...), text and place.

    ``start`` and ``stop`` are byte offsets into the sentence the message is about, when Coq gave them.

    Example:
        >>> Message("notice", "Closed under the global context").level
        'notice'

    """

    level: str
    text: str
    start: int | None = None
    stop: int | None = None


def message_of(feedback: ET.Element) -> tuple[int | None, Message] | None:
    """``(state id, message)`` for a feedback element that carries a message; ``None`` for other feedback."""
    content = feedback.find("feedback_content")
    if content is None or content.get("val") != "message":
        return None
    message = content.find("message")
    if message is None:
        return None
    level_element = message.find("message_level")
    level = level_element.get("val", "notice") if level_element is not None else "notice"
    loc = message.find("option/loc")
    start = int(loc.get("start", "0")) if loc is not None else None
    stop = int(loc.get("stop", "0")) if loc is not None else None
    return state_id_of(feedback), Message(level, richpp_text(message.find("richpp")), start, stop)
