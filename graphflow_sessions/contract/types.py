"""graph-flow's ``Context`` in plain Python: key/value data plus a bounded chat history.

``Context.to_dict()`` gives exactly the JSON the Rust crate writes and ``Context.from_dict()``
reads what it writes (the shape is in ``shape.py``; the JSON rules in ``jsontext.py``). These
types hold no codec: reading and writing stored contexts fast is ``codec.py``'s job, which
builds them through ``Context.from_stored`` and ``ChatHistory.from_stored`` and writes them
through ``ChatHistory.items_for_writing``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, TypeVar

from .jsontext import decode_json, encode_json
from .shape import (
    DEFAULT_MAX_MESSAGES,
    CheckedMessages,
    MessageRole,
    check_context_dict,
    check_history,
    check_max_messages,
    check_message,
)
from .timestamps import canonical_timestamp, format_timestamp, parse_timestamp

__all__ = ["BuildMessages", "ChatHistory", "Context", "SerializableMessage"]

#: Turns a history's stored items (from ``places`` in it) into their messages' checked
#: values (see ``ChatHistory.from_stored``).
BuildMessages = Callable[[list[Any], list[int]], CheckedMessages]

_Written = TypeVar("_Written")


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
    def _checked(cls, role: MessageRole, content: str, timestamp_text: str) -> SerializableMessage:
        # From values shape.py has checked: skips the checks in __init__ (hot path of get).
        message = cls.__new__(cls)
        message.role, message._content = role, content
        message._timestamp, message._timestamp_text = None, timestamp_text
        return message

    @classmethod
    def _checked_many(cls, checked: CheckedMessages) -> list[SerializableMessage]:
        # _checked for a whole history: one loop and no call per message (hot path of get).
        new = cls.__new__
        messages: list[SerializableMessage] = []
        append = messages.append
        for role, content, timestamp_text in zip(*checked, strict=True):
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
        # Always a str, however it is set: the codec's fast writer relies on it.
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
        return cls._checked(*check_message(value, path))

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

    A history read by the codec's fast reader holds its messages as they were stored until
    they are looked at: ``messages``, iteration and ``last`` turn them into
    SerializableMessages (``last(n)`` only those n); appending, counting and saving do not.
    """

    __slots__ = ("_build", "_items", "_max_messages")

    def __init__(
        self,
        messages: list[SerializableMessage] | None = None,
        max_messages: int | None = DEFAULT_MAX_MESSAGES,
    ) -> None:
        self._items: list[Any] = list(messages or [])
        # Set while _items may still hold stored items: how to turn them into messages.
        self._build: BuildMessages | None = None
        self.max_messages = max_messages  # checked by the setter

    @classmethod
    def from_stored(
        cls, items: list[Any], max_messages: int | None, build: BuildMessages
    ) -> ChatHistory:
        """A history of stored items that a codec has checked against the contract, turned
        into messages by ``build`` when first looked at (``max_messages`` is checked too)."""
        history = cls.__new__(cls)
        history._items, history.max_messages = items, max_messages
        history._build = build if items else None
        return history

    @property
    def max_messages(self) -> int | None:
        """How many of the newest messages an append keeps; None keeps them all."""
        return self._max_messages

    @max_messages.setter
    def max_messages(self, value: int | None) -> None:
        # Checked however it is set, so that no history holds a limit graph-flow cannot load.
        self._max_messages = check_max_messages(value)

    @property
    def messages(self) -> list[SerializableMessage]:
        """The messages, oldest first: the history's own list."""
        if self._build is not None:
            self._materialize(0)
        return self._items

    @messages.setter
    def messages(self, messages: list[SerializableMessage]) -> None:
        self._items, self._build = messages, None

    def _materialize(self, start: int) -> None:
        """Turn the stored items from ``start`` on into SerializableMessages, in place."""
        assert self._build is not None
        items, message_type = self._items, SerializableMessage
        places = [i for i in range(start, len(items)) if type(items[i]) is not message_type]
        if places:
            built = SerializableMessage._checked_many(
                self._build([items[i] for i in places], places)
            )
            for place, message in zip(places, built, strict=True):
                items[place] = message
        if start == 0:
            self._build = None

    def items_for_writing(self, write: Callable[[str, str, str], _Written]) -> list[_Written | Any]:
        """The history's items for a codec to write, oldest first: each message as
        ``write(role, content, timestamp_text)``, each item still as stored as it is."""
        message_type = SerializableMessage
        return [
            write(item.role._value_, item._content, item._timestamp_text)  # type: ignore[arg-type]
            if type(item) is message_type
            else item
            for item in self._items
        ]

    def last(self, n: int) -> list[SerializableMessage]:
        """The last ``n`` messages, oldest first."""
        if n <= 0:
            return []
        start = max(0, len(self._items) - n)
        if self._build is not None:
            self._materialize(start)
        return self._items[start:]

    def append(self, message: SerializableMessage) -> None:
        self._items.append(message)
        limit = self.max_messages
        if limit is not None and len(self._items) > limit:
            del self._items[: len(self._items) - limit]

    def clear(self) -> None:
        self._items.clear()
        self._build = None

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
        checked, max_messages = check_history(value, path)
        history = cls.__new__(cls)
        history.max_messages = max_messages
        history.messages = SerializableMessage._checked_many(checked)
        return history

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChatHistory):
            return NotImplemented
        return self.max_messages == other.max_messages and self.messages == other.messages

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChatHistory({len(self)} messages, max_messages={self.max_messages!r})"

    def __getstate__(self) -> tuple[list[SerializableMessage], int | None]:
        # Pickled and deep-copied as messages: a stored item's builder is the codec's.
        return self.messages, self.max_messages

    def __setstate__(self, state: tuple[list[SerializableMessage], int | None]) -> None:
        self._items, self.max_messages = state
        self._build = None


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

    @classmethod
    def from_stored(cls, data: dict[str, Any], history: ChatHistory) -> Context:
        """A context of ``data`` (taken as it is, not copied) and ``history``, both already
        checked against the contract by a codec."""
        context = cls.__new__(cls)
        context._data, context._chat = data, history
        return context

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
        self._chat.max_messages = value

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

    def history_items_for_writing(
        self, write: Callable[[str, str, str], _Written]
    ) -> list[_Written | Any]:
        """``ChatHistory.items_for_writing`` of this context's own history (for a codec)."""
        return self._chat.items_for_writing(write)

    # JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON as Python objects (data is shallow-copied)."""
        return {"data": dict(self._data), "chat_history": self._chat.to_dict()}

    @classmethod
    def from_dict(cls, value: Any) -> Context:
        """Build a Context from contract JSON; raise ContextDeserializationError naming the path."""
        data, checked, max_messages = check_context_dict(value)
        history = ChatHistory.__new__(ChatHistory)
        history.max_messages = max_messages
        history.messages = SerializableMessage._checked_many(checked)
        return cls.from_stored(data, history)

    def to_json(self) -> str:
        """Compact JSON as serde_json writes it (UTF-8 text, no spaces).

        Raises ContextSerializationError for NaN, NUL characters or unserializable values.
        """
        return encode_json(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> Context:
        """Read contract JSON text (bytes must be UTF-8); ContextDeserializationError if not."""
        return cls.from_dict(decode_json(text))

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
