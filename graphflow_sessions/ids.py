"""Session ids as graph-flow's two tables hold them, checked before any query.

graph-flow 0.5's table has ``id UUID``: an id is a ``uuid.UUID`` or text PostgreSQL's uuid
type accepts, written back in canonical lower-case hyphenated form. graph-flow 0.6+ turns
the column into ``TEXT`` (``ALTER TABLE sessions ALTER COLUMN id TYPE TEXT``): any string is
an id there, and an id is its exact text, so ``"6F1C…"`` and ``"6f1c…"`` are two ids. A
``uuid.UUID`` is always written as its canonical text, as graph-flow's services write them.

What PostgreSQL cannot hold in a text key is refused on both: a NUL character, a lone
surrogate (not UTF-8), more than ``MAX_ID_BYTES`` of UTF-8 (the primary-key index stops at
about 2,700 bytes of incompressible text), and the empty id (no URL can address it).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .exceptions import InvalidSessionId

__all__ = [
    "MAX_ID_BYTES",
    "SessionId",
    "check_text_id",
    "id_text",
    "is_canonical_uuid_text",
    "is_session_id",
    "parse_session_id",
    "quote_id",
    "unquote_id",
]

#: A session id: a UUID, or (on graph-flow 0.6's text table) any other text.
SessionId = uuid.UUID | str

#: The longest id accepted, in UTF-8 bytes: what the primary-key index holds uncompressed.
MAX_ID_BYTES = 2_600

# PostgreSQL's uuid_in: 32 hex digits, optionally wrapped in braces, with an optional hyphen
# after any group of four digits. (Python's uuid.UUID is looser: "urn:uuid:" prefixes,
# hyphens anywhere, which PostgreSQL rejects; we follow PostgreSQL so both agree.)
_PG_UUID = re.compile(r"(\{)?[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}(?(1)\})")
# What str(uuid.UUID) writes, and graph-flow's services (Uuid::new_v4().to_string()).
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_canonical_uuid_text(value: Any) -> bool:
    """Whether ``value`` is a UUID's canonical text: the same id on either table."""
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


def parse_session_id(value: Any, *, text_ids: bool = False) -> SessionId:
    """The id as the table holds it, or InvalidSessionId saying what was wrong.

    ``text_ids``: the table has graph-flow 0.6's text ids. A UUID, or a UUID's canonical text,
    gives a ``uuid.UUID`` either way; other text is kept as it is on a text table.
    """
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidSessionId(
            f"invalid session id of type {type(value).__name__}: expected a uuid.UUID or text"
        )
    if is_canonical_uuid_text(value):
        return uuid.UUID(value)
    if text_ids:
        check_text_id(value)
        return value
    if _PG_UUID.fullmatch(value):
        return uuid.UUID(value.replace("-", "").strip("{}"))
    raise InvalidSessionId(
        f"invalid session id {_shown(value)}: expected a UUID such as "
        "'6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e11' (this table has graph-flow 0.5's uuid ids)",
    )


def check_text_id(value: str) -> None:
    """Refuse what no table can hold as an id (see the module docstring)."""
    if not value:
        raise InvalidSessionId("invalid session id '': the empty id is not allowed")
    if "\x00" in value:
        raise InvalidSessionId(
            f"invalid session id {_shown(value)}: it contains a NUL character (\\u0000), "
            "which PostgreSQL text cannot store"
        )
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidSessionId(
            f"invalid session id {_shown(value)}: it contains a lone surrogate, "
            "which is not valid UTF-8"
        ) from None
    if size > MAX_ID_BYTES:
        raise InvalidSessionId(
            f"invalid session id {_shown(value)}: it is {size} bytes as UTF-8, over the "
            f"{MAX_ID_BYTES} bytes a primary key can hold"
        )


def id_text(session_id: SessionId) -> str:
    """The id as a text column holds it (a UUID in canonical lower-case hyphenated form)."""
    return str(session_id)


# What an id cannot hold in one URL path segment even percent-encoded: "/" (Django decodes
# %2F before routing), "." (the API's format suffixes, ".json"), and "~", the escape itself.
_QUOTED = {"/": "~2F", ".": "~2E", "~": "~7E"}
_QUOTED_CHAR = re.compile(r"~(2F|2E|7E)", re.IGNORECASE)


def quote_id(session_id: SessionId) -> str:
    """The id for a URL path segment: ``/``, ``.`` and ``~`` as ``~2F``, ``~2E``, ``~7E``;
    everything else as it is (to be percent-encoded as usual). A UUID's text, and ids such
    as ``session_001``, are unchanged. ``unquote_id`` reverses it."""
    text = id_text(session_id)
    if not any(char in _QUOTED for char in text):
        return text
    return "".join(_QUOTED.get(char, char) for char in text)


def unquote_id(text: str) -> str:
    """An id from a URL path segment written by ``quote_id``."""
    return _QUOTED_CHAR.sub(lambda match: chr(int(match.group(1), 16)), text)


def is_session_id(value: Any, *, text_ids: bool = False) -> bool:
    try:
        parse_session_id(value, text_ids=text_ids)
    except InvalidSessionId:
        return False
    return True


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")
