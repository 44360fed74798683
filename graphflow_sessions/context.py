"""graph-flow's ``Context`` in plain Python: key/value data plus a bounded chat history.

This module imports nothing from Django, so scripts and services can use it without a
configured project. ``Context.to_dict()`` gives exactly the JSON the Rust crate writes and
``Context.from_dict()`` reads what it writes (see ``docs/context-json.md``)::

    {"data": {...},
     "chat_history": {"messages": [{"role": "User", "content": "hi",
                                    "timestamp": "2026-01-01T00:00:00Z"}],
                      "max_messages": 1000}}
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from .exceptions import ContextDeserializationError

__all__ = [
    "DEFAULT_MAX_MESSAGES",
    "ChatHistory",
    "Context",
    "MessageRole",
    "SerializableMessage",
    "canonical_timestamp",
    "format_timestamp",
    "parse_timestamp",
]

#: A new Rust ``Context`` keeps the newest 1000 messages; so does ours.
DEFAULT_MAX_MESSAGES = 1000


class MessageRole(str, enum.Enum):
    """The three roles graph-flow knows; the JSON spelling is case-sensitive."""

    USER = "User"
    ASSISTANT = "Assistant"
    SYSTEM = "System"

    def __str__(self) -> str:
        return self.value


_ROLES: dict[str, MessageRole] = {role.value: role for role in MessageRole}

# RFC 3339 with the field ranges checked (any offset, any number of fractional digits).
# ASCII: in a str pattern \d also matches other scripts' digits, which Rust refuses.
_RFC3339 = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)"
    r"(?:\.(\d+))?(?:([Zz])|([+-])([01]\d|2[0-3]):([0-5]\d))",
    re.ASCII,
)


def parse_timestamp(text: str) -> datetime:
    """Parse RFC 3339 text (any offset, any number of fractional digits) to an aware UTC datetime.

    Python keeps microseconds: nanosecond digits written by Rust are truncated here, while
    :class:`SerializableMessage` keeps the original text so nothing is lost on re-save.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(
            f"expected an RFC 3339 timestamp such as 2026-01-01T00:00:00Z, got {text!r}"
        )
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    leap = second == "60"  # RFC 3339 allows a leap second; datetime does not.
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        59 if leap else int(second),
        micro,
        tzinfo=timezone.utc,
    )
    try:
        if leap:
            moment += timedelta(seconds=1)
        if not zulu:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            moment -= offset if sign == "+" else -offset
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00, before datetime.min in UTC
        raise ValueError(f"{text!r} is outside the years 1 to 9999 in UTC") from None
    return moment


# What graph-flow itself writes: UTC, "T" and "Z", and a real calendar day. A stored history
# is validated with one match of this per message instead of building a datetime for each
# (loading a long history is on the hot path of every ``get``); only Feb 29, leap seconds and
# other spellings (offsets, lower case) take the slower path through canonical_timestamp().
_CANONICAL = re.compile(
    r"\d{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z",
    re.ASCII,
)
# The same for a whole history in one match: its timestamps, each followed by a newline
# (which no timestamp contains), ASCII digits only; anything else takes the per-message path.
_CANONICAL_LINES = re.compile("(?:(?:" + _CANONICAL.pattern.replace(r"\d", "[0-9]") + ")\n)*")


def canonical_timestamp(text: str) -> str:
    """Return RFC 3339 ``text`` as graph-flow writes it: the same moment in UTC with ``Z``.

    The fractional digits are kept as written (Rust's nanoseconds survive); a timestamp with
    an offset is moved to UTC, as the Rust crate does when it re-saves a message. Raises
    ValueError for text that is not RFC 3339 or names no real day (2025-02-29).
    """
    if _CANONICAL.fullmatch(text):
        return text
    moment = parse_timestamp(text)  # validates the calendar day too
    match = _RFC3339.fullmatch(text)
    assert match is not None
    second, fraction = match.group(6), match.group(7)
    if second == "60":  # keep the leap second's spelling: the minute it belongs to, then :60
        moment -= timedelta(seconds=1)
    seconds = "60" if second == "60" else f"{moment.second:02d}"
    return f"{_up_to_minutes(moment)}{seconds}{'.' + fraction if fraction else ''}Z"


def _up_to_minutes(moment: datetime) -> str:
    # Not strftime: its %Y drops the zero padding before year 1000 ("412-10-07").
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:"
    )


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as graph-flow writes it: UTC with a ``Z`` suffix.

    Six fractional digits, or none for a whole second (both within the contract).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("message timestamps must be timezone-aware")
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond:
        return f"{_up_to_minutes(moment)}{moment.second:02d}.{moment.microsecond:06d}Z"
    return f"{_up_to_minutes(moment)}{moment.second:02d}Z"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SerializableMessage:
    """One chat message (graph-flow's ``SerializableMessage``): role, content, timestamp.

    The timestamp's stored text is kept verbatim, so a message read from a Rust service
    (nanosecond precision) is written back byte for byte.
    """

    __slots__ = ("_content", "_timestamp", "_timestamp_text", "role")

    def __init__(
        self, role: MessageRole | str, content: str, timestamp: datetime | str | None = None
    ) -> None:
        self.role = role if isinstance(role, MessageRole) else MessageRole(role)
        self.content = content
        self._timestamp: datetime | None
        self._timestamp_text: str | None
        if timestamp is None:
            timestamp = _utcnow()
        if isinstance(timestamp, str):
            # Fail now, not when the message is first read; written in UTC like Rust does.
            self._timestamp, self._timestamp_text = None, canonical_timestamp(timestamp)
        else:
            self._timestamp_text = format_timestamp(timestamp)
            self._timestamp = None

    @classmethod
    def _trusted(cls, role: MessageRole, content: str, timestamp_text: str) -> SerializableMessage:
        # Built from already validated JSON: skips the checks in __init__ (hot path of get).
        message = cls.__new__(cls)
        message.role, message._content = role, content
        message._timestamp, message._timestamp_text = None, timestamp_text
        return message

    @classmethod
    def _trusted_many(
        cls, roles: list[MessageRole], contents: list[str], timestamp_texts: list[str]
    ) -> list[SerializableMessage]:
        # _trusted for a whole history: one loop and no call per message (hot path of get).
        new = cls.__new__
        messages: list[SerializableMessage] = []
        append = messages.append
        for role, content, timestamp_text in zip(roles, contents, timestamp_texts, strict=True):
            message = new(cls)
            message.role, message._content = role, content
            message._timestamp, message._timestamp_text = None, timestamp_text
            append(message)
        return messages

    @property
    def content(self) -> str:
        return self._content

    @content.setter
    def content(self, content: str) -> None:
        # Always a str, however it is set: the storage's fast encoder relies on it.
        if not isinstance(content, str):
            raise TypeError(f"message content must be str, got {type(content).__name__}")
        self._content = content

    @property
    def timestamp(self) -> datetime:
        """The moment as an aware UTC datetime (microsecond precision)."""
        if self._timestamp is None:
            self._timestamp = parse_timestamp(self.timestamp_text)
        return self._timestamp

    @property
    def timestamp_text(self) -> str:
        """The timestamp exactly as stored (RFC 3339)."""
        assert self._timestamp_text is not None
        return self._timestamp_text

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role.value, "content": self.content, "timestamp": self.timestamp_text}

    @classmethod
    def from_dict(cls, value: Any, path: str = "message") -> SerializableMessage:
        if not isinstance(value, dict):
            raise ContextDeserializationError(
                f"{path}: expected an object, got {_json_type(value)}", path=path
            )
        for field in ("role", "content", "timestamp"):
            if field not in value:
                raise ContextDeserializationError(
                    f"{path}.{field}: required field is missing", path=f"{path}.{field}"
                )
        role = value["role"]
        role_enum = _ROLES.get(role) if isinstance(role, str) else None
        if role_enum is None:
            raise ContextDeserializationError(
                f'{path}.role: expected "User", "Assistant" or "System", got {_show(role)}',
                path=f"{path}.role",
            )
        content = value["content"]
        if not isinstance(content, str):
            raise ContextDeserializationError(
                f"{path}.content: expected a string, got {_show(content)}", path=f"{path}.content"
            )
        timestamp = value["timestamp"]
        try:
            if not isinstance(timestamp, str):
                raise ValueError
            timestamp = canonical_timestamp(timestamp)
        except ValueError:
            raise ContextDeserializationError(
                f"{path}.timestamp: expected an RFC 3339 timestamp such as "
                f"2026-01-01T00:00:00Z, got {_show(timestamp)}",
                path=f"{path}.timestamp",
            ) from None
        return cls._trusted(role_enum, content, timestamp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SerializableMessage):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.role, self.content, self.timestamp_text))

    def __repr__(self) -> str:
        return (
            f"SerializableMessage(role={self.role.value!r}, content={self.content!r}, "
            f"timestamp={self.timestamp_text!r})"
        )


class ChatHistory:
    """Messages, oldest first, and ``max_messages`` (``None`` means unbounded).

    As in graph-flow, the oldest messages are dropped only when one is appended: a loaded
    history longer than its limit stays as it is until the next append.

    A history read by the storage (with msgspec) holds its messages as they were stored
    until they are looked at: ``messages``, iteration and ``last`` turn them into
    SerializableMessages (``last(n)`` only those n); appending, counting and saving do not.
    """

    __slots__ = ("_items", "_stored", "max_messages")

    def __init__(
        self,
        messages: list[SerializableMessage] | None = None,
        max_messages: int | None = DEFAULT_MAX_MESSAGES,
    ) -> None:
        self._items: list[Any] = list(messages or [])
        # Whether _items may still hold wire.StoredMessage items.
        self._stored = False
        self.max_messages = _check_max_messages(max_messages)

    @classmethod
    def _from_stored(cls, items: list[Any], max_messages: int | None) -> ChatHistory:
        # From wire.read_context, which has checked every item against the contract.
        history = cls.__new__(cls)
        history._items, history._stored, history.max_messages = items, bool(items), max_messages
        return history

    @property
    def messages(self) -> list[SerializableMessage]:
        """The messages, oldest first: the history's own list."""
        if self._stored:
            self._materialize(0)
        return self._items

    @messages.setter
    def messages(self, messages: list[SerializableMessage]) -> None:
        self._items, self._stored = messages, False

    def _materialize(self, start: int) -> None:
        """Turn the stored items from ``start`` on into SerializableMessages, in place."""
        from .wire import StoredMessage, decode_contents

        items = self._items
        places = [i for i in range(start, len(items)) if type(items[i]) is StoredMessage]
        if places:
            stored = [items[i] for i in places]
            contents = decode_contents(stored, places)
            trusted, roles = SerializableMessage._trusted, _ROLES
            for place, item, content in zip(places, stored, contents, strict=True):
                items[place] = trusted(roles[item.role], content, item.timestamp)
        if start == 0:
            self._stored = False

    def last(self, n: int) -> list[SerializableMessage]:
        """The last ``n`` messages, oldest first."""
        if n <= 0:
            return []
        start = max(0, len(self._items) - n)
        if self._stored:
            self._materialize(start)
        return self._items[start:]

    def append(self, message: SerializableMessage) -> None:
        self._items.append(message)
        limit = self.max_messages
        if limit is not None and len(self._items) > limit:
            del self._items[: len(self._items) - limit]

    def clear(self) -> None:
        self._items.clear()
        self._stored = False

    def copy(self) -> ChatHistory:
        return ChatHistory(self.messages, self.max_messages)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[SerializableMessage]:
        return iter(self.messages)

    def to_dict(self) -> dict[str, Any]:
        # SerializableMessage.to_dict inlined: this runs for every message of every save.
        return {
            "messages": [
                {
                    "role": message.role._value_,
                    "content": message._content,
                    "timestamp": message._timestamp_text,
                }
                for message in self.messages
            ],
            "max_messages": self.max_messages,
        }

    @classmethod
    def from_dict(cls, value: Any, path: str = "chat_history") -> ChatHistory:
        if not isinstance(value, dict):
            raise ContextDeserializationError(
                f"{path}: expected an object, got {_json_type(value)}", path=path
            )
        if "messages" not in value:
            raise ContextDeserializationError(
                f"{path}.messages: required field is missing", path=f"{path}.messages"
            )
        raw_messages = value["messages"]
        if not isinstance(raw_messages, list):
            raise ContextDeserializationError(
                f"{path}.messages: expected a list, got {_json_type(raw_messages)}",
                path=f"{path}.messages",
            )
        max_messages = value.get("max_messages")
        if max_messages is not None and (
            not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 0
        ):
            raise ContextDeserializationError(
                f"{path}.max_messages: expected a non-negative integer or null, "
                f"got {_show(max_messages)}",
                path=f"{path}.max_messages",
            )
        history = cls.__new__(cls)
        history.max_messages = max_messages
        history.messages = _messages_from_list(raw_messages, f"{path}.messages")
        return history

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChatHistory):
            return NotImplemented
        return self.max_messages == other.max_messages and self.messages == other.messages

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChatHistory({len(self)} messages, max_messages={self.max_messages!r})"


def _messages_from_list(raw_messages: list[Any], path: str) -> list[SerializableMessage]:
    messages = _canonical_messages(raw_messages)
    if messages is not None:
        return messages
    # Something is unusual: the loop, per message, inlines the common, valid case and falls
    # back to from_dict (which builds the precise error) for anything unexpected.
    roles, match, trusted = _ROLES, _CANONICAL.fullmatch, SerializableMessage._trusted
    messages = []
    for index, raw in enumerate(raw_messages):
        try:
            role = roles[raw["role"]]
            content = raw["content"]
            timestamp = raw["timestamp"]
            if content.__class__ is not str or timestamp.__class__ is not str:
                raise TypeError
            if match(timestamp) is None:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            messages.append(SerializableMessage.from_dict(raw, f"{path}[{index}]"))
            continue
        messages.append(trusted(role, content, timestamp))
    return messages


def all_canonical(timestamps: list[str]) -> bool:
    """Whether every timestamp is in graph-flow's own form, checked in one match: joined
    by newlines, which a canonical timestamp never holds (counted, so that one holding
    several lines is not taken for several timestamps)."""
    joined = "\n".join(timestamps)
    return (
        joined.count("\n") == len(timestamps) - 1
        and _CANONICAL_LINES.fullmatch(joined + "\n") is not None
    )


def _canonical_messages(raw_messages: list[Any]) -> list[SerializableMessage] | None:
    """The messages of a history all in graph-flow's own form, checked a list at a time
    (a long history is loaded by every get); None when anything is unusual."""
    if not raw_messages:
        return []
    try:
        timestamps = [raw["timestamp"] for raw in raw_messages]
        contents = [raw["content"] for raw in raw_messages]
        roles = [_ROLES[raw["role"]] for raw in raw_messages]
        canonical = all_canonical(timestamps)  # TypeError unless every timestamp is a string
    except (KeyError, TypeError):
        return None
    if (
        not canonical
        or not set(map(type, contents)) <= {str}
        or not set(map(type, timestamps)) <= {str}
    ):
        return None
    return SerializableMessage._trusted_many(roles, contents, timestamps)


class Context:
    """graph-flow's Context: JSON key/value data and a chat history, stored with the session.

    Method names follow the Rust crate (``set``, ``get``, ``add_user_message``,
    ``get_last_messages``...). Values must be JSON-serializable; that is checked when the
    context is saved, with an error naming the key path.
    """

    __slots__ = ("_chat", "_data")

    def __init__(self, *, max_messages: int | None = DEFAULT_MAX_MESSAGES) -> None:
        self._data: dict[str, Any] = {}
        self._chat = ChatHistory(max_messages=max_messages)

    @classmethod
    def with_max_chat_messages(cls, max_messages: int | None) -> Context:
        """Rust's ``Context::with_max_chat_messages``."""
        return cls(max_messages=max_messages)

    # Data ---------------------------------------------------------------------------------

    def set(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"context keys must be str, got {type(key).__name__}")
        self._data[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def remove(self, key: str) -> Any:
        """Remove ``key`` and return its value (``None`` if it was absent)."""
        return self._data.pop(key, None)

    def clear(self) -> None:
        """Remove all data keys; the chat history stays (as in graph-flow)."""
        self._data.clear()

    @property
    def data(self) -> Mapping[str, Any]:
        """A read-only live view of the data; change it with ``set``/``remove``."""
        return MappingProxyType(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def keys(self) -> list[str]:
        return list(self._data)

    # Chat history -------------------------------------------------------------------------

    @property
    def max_messages(self) -> int | None:
        return self._chat.max_messages

    @max_messages.setter
    def max_messages(self, value: int | None) -> None:
        # Like a loaded history, the new limit applies from the next append on.
        self._chat.max_messages = _check_max_messages(value)

    def add_message(
        self, role: MessageRole | str, content: str, timestamp: datetime | str | None = None
    ) -> SerializableMessage:
        message = SerializableMessage(role, content, timestamp)
        self._chat.append(message)
        return message

    def add_user_message(self, content: str) -> SerializableMessage:
        return self.add_message(MessageRole.USER, content)

    def add_assistant_message(self, content: str) -> SerializableMessage:
        return self.add_message(MessageRole.ASSISTANT, content)

    def add_system_message(self, content: str) -> SerializableMessage:
        return self.add_message(MessageRole.SYSTEM, content)

    def get_chat_history(self) -> ChatHistory:
        """A copy of the history (changing it does not change the context)."""
        return self._chat.copy()

    def clear_chat_history(self) -> None:
        self._chat.clear()

    def chat_history_len(self) -> int:
        return len(self._chat)

    def is_chat_history_empty(self) -> bool:
        return len(self._chat) == 0

    def get_last_messages(self, n: int) -> list[SerializableMessage]:
        """The last ``n`` messages, oldest first."""
        return self._chat.last(n)

    def get_all_messages(self) -> list[SerializableMessage]:
        return list(self._chat.messages)

    # JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON as Python objects (data is shallow-copied)."""
        return {"data": dict(self._data), "chat_history": self._chat.to_dict()}

    @classmethod
    def from_dict(cls, value: Any) -> Context:
        """Build a Context from contract JSON; raise ContextDeserializationError naming the path."""
        if not isinstance(value, dict):
            raise ContextDeserializationError(
                f"context: expected an object with data and chat_history, got {_json_type(value)}"
            )
        if "data" not in value:
            raise ContextDeserializationError("data: required field is missing", path="data")
        if "chat_history" not in value:
            raise ContextDeserializationError(
                "chat_history: required field is missing", path="chat_history"
            )
        data = value["data"]
        if not isinstance(data, dict):
            raise ContextDeserializationError(
                f"data: expected an object, got {_json_type(data)}", path="data"
            )
        context = cls.__new__(cls)
        context._data = dict(data)
        context._chat = ChatHistory.from_dict(value["chat_history"])
        return context

    def to_json(self) -> str:
        """Compact JSON as serde_json writes it (UTF-8 text, no spaces).

        Raises ContextSerializationError for NaN, NUL characters or unserializable values.
        """
        from .serialization import encode_json

        return encode_json(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> Context:
        from .serialization import decode_json
        from .wire import read_context

        # Bytes take json's path: only it checks that they are UTF-8 in every string.
        context = read_context(text) if isinstance(text, str) else None
        return context if context is not None else cls.from_dict(decode_json(text))

    def copy(self) -> Context:
        """An independent copy (data values are deep-copied through JSON)."""
        return Context.from_dict(json.loads(json.dumps(self.to_dict())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return self._data == other._data and self._chat == other._chat

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Context(keys={list(self._data)!r}, messages={len(self._chat)}, "
            f"max_messages={self._chat.max_messages!r})"
        )


def _check_max_messages(value: int | None) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ValueError(f"max_messages must be a non-negative int or None, got {value!r}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    return _json_type(value)
