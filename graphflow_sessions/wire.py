"""A stored context read and written fast, with msgspec (installed by the ``postgres`` extra).

Most of a get's client time on a long chat history used to go into making Python objects
of JSON: a str per message content, a dict per message, then a SerializableMessage. Here
the stored JSON is read against the contract's shape in one pass, in C: the data as Python
values, each message's role checked, its timestamp kept as text (checked below, all at
once), and its content kept as the JSON string it is (a ``msgspec.Raw``, no copy). The
history holds these :class:`StoredMessage` items until someone looks at messages; then
they become SerializableMessages, contents decoded in one call (see ``ChatHistory``). A
history saved again unread is written back verbatim.

Anything out of the ordinary (text that is not JSON, a context that breaks the contract,
a timestamp not in graph-flow's own form) gives None, and the caller takes json's path,
which builds everything at once and reports the precise error with its path. Without
msgspec, everything takes that path: the results are the same, only slower.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from .context import ChatHistory, Context, SerializableMessage, all_canonical
from .exceptions import ContextDeserializationError

try:
    import msgspec
except ImportError:  # pragma: no cover - exercised by tests that hide it
    msgspec = None  # type: ignore[assignment]

__all__ = ["StoredMessage", "available", "decode_contents", "messages_json", "read_context"]

#: Whether msgspec is installed (tests turn it off to check the json path).
available = msgspec is not None

if msgspec is not None:

    class StoredMessage(msgspec.Struct, gc=False):
        """One message as read: content still JSON text. gc=False: it holds no containers,
        so the garbage collector need not track the thousands a long history has."""

        role: Literal["User", "Assistant", "System"]
        content: msgspec.Raw  # a JSON value; _contents_are_strings checks it is a string
        timestamp: str

    class _StoredHistory(msgspec.Struct):
        messages: list[StoredMessage]
        max_messages: Annotated[int, msgspec.Meta(ge=0)] | None = None

    class _StoredContext(msgspec.Struct):
        data: dict[str, Any]
        chat_history: _StoredHistory

    _READER = msgspec.json.Decoder(_StoredContext)
    _CONTENTS = msgspec.json.Decoder(list[str])
    _WRITER = msgspec.json.Encoder()
    # What reading may raise: not JSON, not the contract's shape, nested beyond msgspec's
    # limit; a content's text not UTF-8.
    _READ_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
    _TEXT_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)
else:  # pragma: no cover - exercised by tests that hide msgspec

    class StoredMessage:  # type: ignore[no-redef]
        """Never made without msgspec; here so that type checks against it are false."""


def read_context(text: str | bytes) -> Context | None:
    """The Context in ``text`` (stored context JSON), or None when json's path must decide.

    ``text`` as bytes must be valid UTF-8 (as PostgreSQL sends text from a UTF8 database):
    the contents are not decoded here, so bad bytes inside one would surface only when the
    message is first used.
    """
    if not available:
        return None
    try:
        stored = _READER.decode(text)
    except _READ_ERRORS:
        return None
    messages = stored.chat_history.messages
    # Timestamps as the Rust crate writes them (UTC, "Z"); others are converted on json's path.
    if messages and not (
        _contents_are_strings(messages) and all_canonical([m.timestamp for m in messages])
    ):
        return None
    if _too_deep(stored.data):
        return None  # deeper than graph-flow reads: json's path, whose reading is the rule
    context = Context.__new__(Context)
    context._data = stored.data
    context._chat = ChatHistory._from_stored(messages, stored.chat_history.max_messages)
    return context


def _contents_are_strings(messages: list[StoredMessage]) -> bool:
    # A JSON string, and no other JSON value, starts with a quote (34).
    return {memoryview(message.content)[0] for message in messages} == {34}


def _too_deep(data: dict[str, Any]) -> bool:
    from .serialization import find_too_deep

    return find_too_deep(data, depth=2) is not None


def decode_contents(messages: list[StoredMessage], places: list[int]) -> list[str]:
    """The contents of stored messages as str, in one call; ``places``: where the messages
    are in the history, for the error."""
    assert msgspec is not None
    try:
        return _CONTENTS.decode(b"[" + b",".join([m.content for m in messages]) + b"]")
    except _TEXT_ERRORS:  # only bytes that were not UTF-8 can get here
        pass
    for index, message in zip(places, messages, strict=True):  # which one, for the error
        try:
            msgspec.json.decode(message.content, type=str)
        except _TEXT_ERRORS as exc:
            path = f"chat_history.messages[{index}].content"
            raise ContextDeserializationError(f"{path}: not valid text: {exc}", path=path) from exc
    raise AssertionError("unreachable: the contents decoded one by one")


def messages_json(items: list[StoredMessage | SerializableMessage]) -> bytes | None:
    """The messages as a JSON array (UTF-8), stored ones verbatim; None when json's path
    must decide (a lone surrogate in a content, which UTF-8 cannot encode)."""
    assert msgspec is not None
    stored = StoredMessage
    wire = [
        item
        if type(item) is stored
        else stored(item.role._value_, item._content, item._timestamp_text)  # type: ignore[union-attr,arg-type]
        for item in items
    ]
    try:
        return _WRITER.encode(wire)
    except UnicodeEncodeError:
        return None
