"""The context's shape, checked on decoded JSON: what graph-flow's serde types accept.

    {"data": {...},
     "chat_history": {"messages": [{"role": "User", "content": "hi",
                                    "timestamp": "2026-01-01T00:00:00Z"}],
                      "max_messages": 1000}}

Each check returns the values it found valid (roles as :class:`MessageRole`, timestamps as
graph-flow writes them) or raises ContextDeserializationError naming the path, such as
``chat_history.messages[3].role``. The types module builds its objects from these values;
the codec's fast reader checks the same rules in its own way and falls back here for the
error. Nothing here builds a Context, so both sit above this module.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from ..exceptions import ContextDeserializationError
from .timestamps import all_canonical, canonical_timestamp, is_canonical

__all__ = [
    "DEFAULT_MAX_MESSAGES",
    "MAX_MESSAGES_LIMIT",
    "ROLES",
    "CheckedMessages",
    "MessageRole",
    "check_context_dict",
    "check_history",
    "check_max_messages",
    "check_message",
    "check_messages",
]

#: A new Rust ``Context`` keeps the newest 1000 messages; so does ours.
DEFAULT_MAX_MESSAGES = 1000

#: The largest history limit graph-flow loads: its ``max_messages`` is a usize (64-bit).
MAX_MESSAGES_LIMIT = 2**64 - 1


class MessageRole(str, enum.Enum):
    """The three roles graph-flow knows; the JSON spelling is case-sensitive."""

    USER = "User"
    ASSISTANT = "Assistant"
    SYSTEM = "System"

    def __str__(self) -> str:
        return self.value


#: The roles by their JSON spelling.
ROLES: dict[str, MessageRole] = {role.value: role for role in MessageRole}

#: A history's messages as three parallel lists: roles, contents, timestamps (as written).
CheckedMessages = tuple[list[MessageRole], list[str], list[str]]


def check_max_messages(value: Any) -> int | None:
    """``value`` as a history limit (an int from 0 to 2**64-1, or None); ValueError otherwise."""
    if not _is_history_limit(value):
        raise ValueError(
            f"max_messages must be an int from 0 to {MAX_MESSAGES_LIMIT} or None, got {value!r}"
        )
    return value


def _is_history_limit(value: Any) -> bool:
    # graph-flow's Option<usize>: null, or an integer that fits a 64-bit usize.
    return value is None or (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MESSAGES_LIMIT
    )


def check_message(value: Any, path: str = "message") -> tuple[MessageRole, str, str]:
    """One message object: its role, content and timestamp (in graph-flow's form)."""
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
    role_enum = ROLES.get(role) if isinstance(role, str) else None
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
    return role_enum, content, timestamp


def check_messages(raw_messages: list[Any], path: str) -> CheckedMessages:
    """Every message of a history's list, checked a list at a time when all are in
    graph-flow's own form (a long history is read by every get), else one by one."""
    checked = _canonical_messages(raw_messages)
    if checked is not None:
        return checked
    # Something is unusual: the loop, per message, inlines the common, valid case and falls
    # back to check_message (which builds the precise error) for anything unexpected.
    roles: list[MessageRole] = []
    contents: list[str] = []
    timestamps: list[str] = []
    for index, raw in enumerate(raw_messages):
        try:
            role = ROLES[raw["role"]]
            content = raw["content"]
            timestamp = raw["timestamp"]
            if content.__class__ is not str or timestamp.__class__ is not str:
                raise TypeError
            if not is_canonical(timestamp):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            role, content, timestamp = check_message(raw, f"{path}[{index}]")
        roles.append(role)
        contents.append(content)
        timestamps.append(timestamp)
    return roles, contents, timestamps


def _canonical_messages(raw_messages: list[Any]) -> CheckedMessages | None:
    """The messages of a history all in graph-flow's own form, checked a list at a time;
    None when anything is unusual."""
    if not raw_messages:
        return [], [], []
    try:
        timestamps = [raw["timestamp"] for raw in raw_messages]
        contents = [raw["content"] for raw in raw_messages]
        roles = [ROLES[raw["role"]] for raw in raw_messages]
        canonical = all_canonical(timestamps)  # TypeError unless every timestamp is a string
    except (KeyError, TypeError):
        return None
    if (
        not canonical
        or not set(map(type, contents)) <= {str}
        or not set(map(type, timestamps)) <= {str}
    ):
        return None
    return roles, contents, timestamps


def check_history(value: Any, path: str = "chat_history") -> tuple[CheckedMessages, int | None]:
    """A chat_history object: its messages and its max_messages."""
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
    if not _is_history_limit(max_messages):
        raise ContextDeserializationError(
            f"{path}.max_messages: expected an integer from 0 to {MAX_MESSAGES_LIMIT} or null, "
            f"got {_show(max_messages)}",
            path=f"{path}.max_messages",
        )
    return check_messages(raw_messages, f"{path}.messages"), max_messages


def check_context_dict(value: Any) -> tuple[dict[str, Any], CheckedMessages, int | None]:
    """A whole context object: its data (a new dict), messages and max_messages."""
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
    messages, max_messages = check_history(value["chat_history"])
    return dict(data), messages, max_messages


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
