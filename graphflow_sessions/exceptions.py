"""The one exception family of graphflow-sessions.

graph-flow wraps every storage failure in ``GraphError::StorageError``; so do we: every
error below derives from :class:`StorageError`, which derives from the package base
:class:`GraphFlowSessionsError`. Database errors are chained (``raise ... from exc``),
never swallowed, and each message names the operation and the session id.
"""

from __future__ import annotations

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


class SchemaMigrationError(StorageError):
    """The sessions schema could not be created or brought up to date."""


class SaveError(StorageError):
    """The database refused to save a session."""


class RetrieveError(StorageError):
    """The database failed while fetching a session."""


class DeleteError(StorageError):
    """The database failed while deleting a session."""
