"""The one codec of stored and received contexts: ``read_context``, ``write_context``,
``check_context``.

Every path that reads, writes or validates a context goes through here (the storage, the
model field, the admin form, the REST serializer, import, retention), so the same input is
accepted or refused the same way, with the same error naming the key path.

With msgspec installed (the ``postgres`` extra) both directions are fast on long histories:

- **Reading**: the stored JSON is read against the contract's shape in one pass, in C: the
  data as Python values, each message's role checked, its timestamp kept as text (checked
  all at once), and its content kept as the JSON string it is (a ``msgspec.Raw``, no copy).
  The history holds these :class:`StoredMessage` items until someone looks at messages
  (``ChatHistory.from_stored``); then their contents are decoded in one call.
- **Writing**: a context for PostgreSQL is written by msgspec in one call, about ten times
  faster than json at a megabyte and five at a kilobyte, once one walk of the data has
  shown it holds only values both writers write alike (``is_plain_json``); stored items
  not looked at since are written back verbatim.

Anything out of the ordinary (text that is not JSON, a context that breaks the contract, a
timestamp not in graph-flow's own form, a lone surrogate) takes json's path, which decides
with its precise errors. Without msgspec everything takes that path: the values and errors
are the same, only slower (``without_msgspec()`` shows it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from ..exceptions import ContextDeserializationError
from .jsontext import (
    check_numbers,
    check_structure,
    decode_json,
    encode_json_utf8,
    encode_jsonb,
    find_misshapen,
    is_plain_json,
)
from .shape import MAX_MESSAGES_LIMIT, ROLES, CheckedMessages
from .timestamps import all_canonical
from .types import ChatHistory, Context

try:
    import msgspec
except ImportError:  # pragma: no cover - the suite runs with msgspec, and as without it
    msgspec = None  # type: ignore[assignment]

__all__ = [
    "MSGSPEC_INSTALLED",
    "EncodedContext",
    "StoredMessage",
    "check_context",
    "read_context",
    "read_stored",
    "without_msgspec",
    "write_context",
]

#: Whether msgspec is installed; ``without_msgspec()`` turns its use off for a while.
MSGSPEC_INSTALLED = msgspec is not None
_use_msgspec = MSGSPEC_INSTALLED


@contextmanager
def without_msgspec() -> Iterator[None]:
    """Read and write contexts on json's path only, as without msgspec installed (for
    tests, and to compare the two). Not thread-safe: it changes the whole process."""
    global _use_msgspec
    previous, _use_msgspec = _use_msgspec, False
    try:
        yield
    finally:
        _use_msgspec = previous


@dataclass(frozen=True, slots=True)
class EncodedContext:
    """A context as JSON for the database. ``utf8`` is what is sent; for a jsonb parameter
    it may spell non-ASCII characters as ``\\u`` escapes (jsonb keeps characters, not their
    spelling). ``text`` is the JSON as a str when the encoder made one."""

    text: str | None
    utf8: bytes

    @property
    def json(self) -> str:
        """The JSON as a str."""
        return self.text if self.text is not None else self.utf8.decode("utf-8")


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


# A NUL in msgspec's output (a compiled search is twice as fast as ``in`` on bytes).
_NUL_ESCAPE_BYTES = re.compile(rb"\\u0000")


# Reading ----------------------------------------------------------------------------------


def read_context(text: str | bytes) -> Context:
    """The Context in contract JSON ``text`` (bytes must be UTF-8); raises
    ContextDeserializationError naming the path when it is not JSON or breaks the contract."""
    context = _read_fast(text)
    return context if context is not None else Context.from_dict(decode_json(text))


def read_stored(text: str | bytes, *, utf8: bool = True) -> Any:
    """A stored context as the model field keeps it: a Context when it follows the contract,
    else the decoded JSON, which the field checks (and reports on, naming the session) when
    the context is first used; ContextDeserializationError if it is not JSON at all.

    ``utf8=False``: the bytes come from a database that does not promise UTF-8 (SQL_ASCII),
    so json's path reads them, which checks every string.
    """
    context = _read_fast(text) if utf8 else None
    return context if context is not None else decode_json(text)


def _read_fast(text: str | bytes) -> Context | None:
    """The Context msgspec reads from ``text``, or None when json's path must decide."""
    if not _use_msgspec:
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
    if find_misshapen(stored.data, depth=2, keys=False) is not None:
        return None  # deeper than graph-flow reads: json's path, whose reading is the rule
    limit = stored.chat_history.max_messages
    if limit is not None and limit > MAX_MESSAGES_LIMIT:
        return None  # beyond graph-flow's usize (msgspec bounds only int64): json's path says so
    history = ChatHistory.from_stored(messages, stored.chat_history.max_messages, _build_messages)
    return Context.from_stored(stored.data, history)


def _contents_are_strings(messages: list[StoredMessage]) -> bool:
    # A JSON string, and no other JSON value, starts with a quote (34).
    return {memoryview(message.content)[0] for message in messages} == {34}


def _build_messages(messages: list[StoredMessage], places: list[int]) -> CheckedMessages:
    """The checked values of stored messages, their contents decoded in one call;
    ``places``: where the messages are in the history, for the error."""
    roles = [ROLES[message.role] for message in messages]
    timestamps = [message.timestamp for message in messages]
    try:
        contents = _CONTENTS.decode(b"[" + b",".join([m.content for m in messages]) + b"]")
    except _TEXT_ERRORS:  # only bytes that were not UTF-8 can get here
        pass
    else:
        return roles, contents, timestamps
    for index, message in zip(places, messages, strict=True):  # which one, for the error
        try:
            msgspec.json.decode(message.content, type=str)
        except _TEXT_ERRORS as exc:
            path = f"chat_history.messages[{index}].content"
            raise ContextDeserializationError(f"{path}: not valid text: {exc}", path=path) from exc
    raise AssertionError("unreachable: the contents decoded one by one")


# Writing ----------------------------------------------------------------------------------


def write_context(
    value: Context | Mapping[str, Any],
    *,
    max_bytes: int | None = None,
    session_id: Any = None,
    jsonb: bool = False,
) -> EncodedContext:
    """``value`` as JSON for the database, checked as every write is: the contract (a dict is
    checked, then written as given), values JSON and jsonb can store (no NUL, NaN, lone
    surrogate, nesting beyond graph-flow's reader), numbers graph-flow's reader reads back
    as they are, at most ``max_bytes`` as UTF-8 JSON. Raises ContextError (a
    ContextSerializationError or ContextTooLarge) naming the path.

    ``jsonb``: the JSON goes to PostgreSQL as a jsonb parameter, so it may be written in its
    faster escaped form (see ``jsontext.encode_jsonb``).
    """
    if isinstance(value, Context):
        if jsonb:
            return _write_context_jsonb(value, max_bytes, session_id)
        check_numbers(dict(value.data), path="data", session_id=session_id)
        text, utf8 = encode_json_utf8(value.to_dict(), max_bytes=max_bytes, session_id=session_id)
        return EncodedContext(text, utf8)
    Context.from_dict(value)
    # Numbers can only be in the data: the shape's check has seen to max_messages.
    check_numbers(value["data"], path="data", session_id=session_id)
    if jsonb:
        return EncodedContext(*encode_jsonb(value, max_bytes=max_bytes, session_id=session_id))
    text, utf8 = encode_json_utf8(value, max_bytes=max_bytes, session_id=session_id)
    return EncodedContext(text, utf8)


def check_context(
    value: Context | Mapping[str, Any], *, max_bytes: int | None = None, session_id: Any = None
) -> Context:
    """``value`` (a Context, or a dict in the contract's shape) as a Context, checked as a
    save checks it (see ``write_context``); raises ContextError naming the path."""
    context = value if isinstance(value, Context) else Context.from_dict(value)
    _write_context_jsonb(context, max_bytes, session_id)
    return context


def _write_context_jsonb(
    context: Context, max_bytes: int | None, session_id: Any
) -> EncodedContext:
    data = dict(context.data)  # the mapping view is not a dict to the encoders
    if _use_msgspec:
        utf8 = _context_bytes(context, data)
        if utf8 is not None and (max_bytes is None or len(utf8) <= max_bytes):
            return EncodedContext(None, utf8)
    # The messages sit at a fixed depth (level 4) under string keys; only the data can nest
    # deeper, hold a key of another type or a number graph-flow's reader cannot read.
    check_structure(data, depth=2, path="data", session_id=session_id)
    check_numbers(data, path="data", session_id=session_id)
    text, utf8 = encode_jsonb(
        context.to_dict(), max_bytes=max_bytes, session_id=session_id, structure_checked=True
    )
    return EncodedContext(text, utf8)


def _context_bytes(context: Context, data: dict[str, Any]) -> bytes | None:
    """``context.to_dict()`` as UTF-8 JSON written by msgspec in one call (stored messages as
    they were read), or None when json's path must decide.

    msgspec writes the same JSON values as json for what ``is_plain_json`` lets through
    (only the spelling of floats differs, ``1e30`` for ``1e+30``, which jsonb reads as the
    same number); it fails on a lone surrogate, and an escaped NUL is looked for. Message
    contents are strings by SerializableMessage's construction and the reader's checks.
    jsonb keeps no key order, so only the values matter."""
    if not is_plain_json(data, depth=2):
        return None
    document = {
        "data": data,
        "chat_history": {
            "messages": context.history_items_for_writing(StoredMessage),  # type: ignore[arg-type]
            "max_messages": context.max_messages,
        },
    }
    try:
        utf8 = _WRITER.encode(document)
    except (UnicodeEncodeError, OverflowError):
        return None
    if _NUL_ESCAPE_BYTES.search(utf8) is not None:
        return None
    return utf8
