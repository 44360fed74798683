"""Session ids: a ``uuid.UUID`` or text PostgreSQL's uuid type accepts, checked before any query."""

from __future__ import annotations

import re
import uuid
from typing import Any

from .exceptions import InvalidSessionId

# PostgreSQL's uuid_in: 32 hex digits, optionally wrapped in braces, with an optional hyphen
# after any group of four digits. (Python's uuid.UUID is looser: "urn:uuid:" prefixes,
# hyphens anywhere, which PostgreSQL rejects; we follow PostgreSQL so both agree.)
_PG_UUID = re.compile(r"(\{)?[0-9a-fA-F]{4}(?:-?[0-9a-fA-F]{4}){7}(?(1)\})")


def parse_session_id(value: Any) -> uuid.UUID:
    """Return the id as ``uuid.UUID`` or raise InvalidSessionId saying what was wrong."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        if _PG_UUID.fullmatch(value):
            return uuid.UUID(value.replace("-", "").strip("{}"))
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidSessionId(
            f"invalid session id {shown!r}: expected a UUID such as "
            "'6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e11'",
        )
    raise InvalidSessionId(
        f"invalid session id of type {type(value).__name__}: expected a uuid.UUID or UUID text"
    )


def is_session_id(value: Any) -> bool:
    try:
        parse_session_id(value)
    except InvalidSessionId:
        return False
    return True
