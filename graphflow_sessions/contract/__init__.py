"""graph-flow's JSON contract: the Context types and the one codec that reads and writes them.

    from graphflow_sessions.contract import Context, read_context, write_context

Modules, from the bottom up (each imports only those before it):

- ``timestamps``: RFC 3339 message timestamps as graph-flow writes and reads them.
- ``jsonnumbers``: JSON numbers as graph-flow's reader (serde_json) reads them, and which
  Python numbers it would refuse or read back rounded once PostgreSQL has printed them.
- ``jsontext``: JSON as jsonb and graph-flow's Rust reader accept it (NUL, NaN, surrogates,
  nesting, numbers, size), knowing nothing of the context's shape.
- ``shape``: the context's shape, checked on decoded JSON, with the path of any breach.
- ``types``: ``Context``, ``ChatHistory``, ``SerializableMessage``, ``MessageRole``.
- ``codec``: ``read_context``, ``write_context``, ``check_context``; msgspec lives here only.

Nothing here imports Django, so scripts and services can use it without a configured project.
"""

from .codec import EncodedContext, check_context, read_context, write_context
from .shape import DEFAULT_MAX_MESSAGES, MessageRole
from .timestamps import canonical_timestamp, format_timestamp, parse_timestamp
from .types import ChatHistory, Context, SerializableMessage

__all__ = [
    "DEFAULT_MAX_MESSAGES",
    "ChatHistory",
    "Context",
    "EncodedContext",
    "MessageRole",
    "SerializableMessage",
    "canonical_timestamp",
    "check_context",
    "format_timestamp",
    "parse_timestamp",
    "read_context",
    "write_context",
]
