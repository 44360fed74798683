"""The one exception family of graphflow-sessions.

graph-flow wraps every storage failure in ``GraphError::StorageError``; so do we: every
error below derives from :class:`StorageError`, which derives from the package base
:class:`GraphFlowSessionsError`. Database errors are chained (``raise ... from exc``),
never swallowed, and each message names the operation and the session id.
"""

from __future__ import annotations

import re
from typing import Any


class GraphFlowSessionsError(Exception):
    """Base class of every error raised by graphflow-sessions."""


class StorageError(GraphFlowSessionsError):
    """A session could not be stored, read or deleted (graph-flow's ``StorageError``)."""

    def __init__(self, message: str, *, session_id: Any = None) -> None:
        super().__init__(message)
        self.session_id = None if session_id is None else str(session_id)


class InvalidSessionId(StorageError, ValueError):
    """The id is neither a ``uuid.UUID`` nor text that PostgreSQL accepts as a uuid."""


class InvalidSession(StorageError, ValueError):
    """A session field (graph_id, current_task_id, status_message) cannot be stored."""


class SessionNotFound(StorageError, LookupError):
    """No session is stored under the id (graph-flow's "Session not found")."""


class SessionConflict(StorageError):
    """The stored session moved on since it was read (graph-flow 0.6's ``SessionConflict``)."""

    @classmethod
    def for_versions(
        cls, session_id: Any, expected_version: int | None, actual_version: int | None
    ) -> SessionConflict:
        """The error of a save that expected ``expected_version`` and found ``actual_version``
        (None: the row is gone)."""
        return cls(
            f"Failed to save session {session_id}: it was changed by another writer "
            f"(expected version {expected_version}, stored version {actual_version}); "
            "reload it and retry",
            session_id=session_id,
            expected_version=expected_version,
            actual_version=actual_version,
        )

    def __init__(
        self,
        message: str,
        *,
        session_id: Any = None,
        expected_version: int | None = None,
        actual_version: int | None = None,
    ) -> None:
        super().__init__(message, session_id=session_id)
        self.expected_version = expected_version
        self.actual_version = actual_version


class SessionTableChanged(StorageError):
    """The sessions table changed under a transaction (a graph-flow 0.6+ service converted
    its id column to text): the statement and the transaction failed; retry the transaction."""

    @classmethod
    def in_transaction(cls, alias: str) -> SessionTableChanged:
        return cls(
            f"The sessions table in database {alias!r} changed under this transaction: its id "
            "column changed type (a graph-flow 0.6+ service converts it to text when it "
            "connects). The transaction is aborted; run it again, the next one works."
        )


class SessionExists(SessionConflict):
    """A session was to be created under an id that is already stored."""

    @classmethod
    def for_id(cls, session_id: Any) -> SessionExists:
        return cls(
            f"Failed to create session {session_id}: a session with this id already exists",
            session_id=session_id,
        )


class ContextError(StorageError, ValueError):
    """A context breaks the graph-flow JSON contract.

    ``path`` names where, e.g. ``chat_history.messages[3].role``.
    """

    def __init__(self, message: str, *, path: str = "", session_id: Any = None) -> None:
        super().__init__(message, session_id=session_id)
        self.path = path


class ContextSerializationError(ContextError):
    """A context cannot be written: NUL characters, NaN/Infinity, unserializable values."""


class ContextTooLarge(ContextSerializationError):
    """A context's encoded JSON is larger than ``GRAPHFLOW_SESSIONS["MAX_CONTEXT_BYTES"]``."""

    def __init__(self, message: str, *, size: int, limit: int, session_id: Any = None) -> None:
        super().__init__(message, session_id=session_id)
        self.size = size
        self.limit = limit


class ContextDeserializationError(ContextError):
    """Stored or received context JSON does not follow the contract (or is not JSON)."""


class ConnectionFailed(StorageError):
    """The sessions database could not be reached (host, port, credentials, timeout)."""

    @classmethod
    def for_database(
        cls,
        settings_dict: dict[str, Any],
        alias: str,
        exc: BaseException,
        *,
        action: str = "connect",
        session_id: Any = None,
        lost: bool = False,
    ) -> ConnectionFailed:
        """The error for ``exc``: where it tried to connect, never the password.

        ``lost``: the connection was open and went away mid-operation (server restarted,
        backend terminated, network cut); the next operation reconnects.
        """
        timeout = settings_dict.get("OPTIONS", {}).get("connect_timeout")
        bound = f", connect timeout {timeout} s" if timeout and not lost else ""
        how = "lost the connection to" if lost else "cannot connect to"
        message = (
            f"{how} {describe_database(settings_dict)} (alias {alias!r}{bound}): "
            f"{redact(str(exc), settings_dict)}"
        )
        if session_id is not None:
            message = f"Failed to {action} session {session_id}: {message}"
        else:
            message = message[0].upper() + message[1:]
        return cls(message, session_id=session_id)


class SchemaMigrationError(StorageError):
    """The sessions schema could not be created or brought up to date."""


class SaveError(StorageError):
    """The database refused to save a session."""


class RetrieveError(StorageError):
    """The database failed while fetching a session."""


class DeleteError(StorageError):
    """The database failed while deleting a session."""


class SearchTimedOut(RetrieveError):
    """A search ran longer than ``SEARCH_TIMEOUT`` and the database stopped it (a read that
    failed, as a RetrieveError)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The search took longer than {seconds:g} s and was stopped; narrow it with a "
            "filter or more words"
        )
        self.seconds = seconds


# What the errors above say about a database: where it is, never its password.


def describe_database(settings_dict: dict[str, Any]) -> str:
    """``database 'name' on host:port as user 'user'``: where, never the password."""
    name = settings_dict.get("NAME")
    if "sqlite" in str(settings_dict.get("ENGINE", "")):
        return f"SQLite database {str(name)!r}"
    host = settings_dict.get("HOST") or "localhost (local socket)"
    port = settings_dict.get("PORT") or 5432
    text = f"database {name!r} on {host}:{port}"
    if settings_dict.get("USER"):
        text += f" as user {settings_dict['USER']!r}"
    return text


def redact(text: str, settings_dict: dict[str, Any]) -> str:
    """A driver's error text for one line: without the password of ``settings_dict``
    (drivers may echo a DSN back) and without the SQL excerpt (``LINE 1: ... ^``).
    """
    password = settings_dict.get("PASSWORD")
    if password:
        text = text.replace(str(password), "********")
    text = re.sub(r"\s*LINE \d+:.*?\^", "", text, flags=re.DOTALL)
    return re.sub(r"\s+", " ", text).strip()


def safe_cause(exc: BaseException, settings_dict: dict[str, Any]) -> BaseException | None:
    """The driver's error to chain, unless its text (or its own cause's) shows the password."""
    password = settings_dict.get("PASSWORD")
    chain: BaseException | None = exc
    while chain is not None:
        if password and str(password) in str(chain):
            return None
        chain = chain.__cause__
    return exc
