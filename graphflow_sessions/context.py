"""graph-flow's Context types under their long-standing import path.

They live in :mod:`graphflow_sessions.contract` (with the codec that reads and writes them);
this module names the same objects, so ``from graphflow_sessions.context import Context``
keeps working.
"""

from .contract.shape import DEFAULT_MAX_MESSAGES, MessageRole
from .contract.timestamps import canonical_timestamp, format_timestamp, parse_timestamp
from .contract.types import ChatHistory, Context, SerializableMessage

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
