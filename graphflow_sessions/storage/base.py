"""What every storage does: graph-flow's ``SessionStorage`` trait, and the checks of a row.

    storage.save(session)                     # insert or replace (graph-flow's upsert)
    storage.save(session, expected_version=3) # only if still at version 3 (graph-flow 0.6)
    storage.create(session)                   # insert only: SessionExists if the id is taken
    storage.get(session_id)                   # a Session, or None
    storage.delete(session_id)                # deleting an absent id is not an error
    await storage.asave(session)              # async twins: asave, acreate, aget, adelete
    storage.save_many(sessions)               # all or nothing; expected_versions=[3, None]
    storage.get_many(ids)                     # [Session | None, ...] in the order of ids
    storage.delete_many(ids)                  # how many were deleted
    await storage.asave_many(sessions)        # async twins: asave_many, aget_many, adelete_many

A save keeps ``created_at``, moves ``updated_at`` and adds one to ``version``; a new row
starts at version 1 (one past ``expected_version`` when given). Every backend checks a row
the same way (``checked_row``) before anything reaches the database, so the same bad input
gets the same error everywhere.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async

from ..conf import app_settings
from ..contract.codec import EncodedContext, write_context
from ..exceptions import InvalidSession, SessionNotFound
from ..ids import SessionId
from ..signals import session_deleted, session_saved
from .sql import FIRST_VERSION, INDEXED_TEXT_CHARS, INDEXED_TEXT_COLUMNS

if TYPE_CHECKING:
    from ..models import Session

__all__ = [
    "SessionRow",
    "SessionStorage",
    "adeleted",
    "asaved",
    "batch_expectations",
    "check_distinct",
    "checked_row",
    "deleted",
    "new_row_version",
    "saved",
    "text_column_problem",
]


def new_row_version(expected_version: int | None) -> int:
    """The version a save gives a row it creates (graph-flow 0.6: one past the version the
    session was read at, normally 0)."""
    return FIRST_VERSION if expected_version is None else expected_version + 1


@dataclass(frozen=True)
class SessionRow:
    """What a save writes, checked and encoded once for every backend."""

    id: SessionId
    graph_id: str
    current_task_id: str
    status_message: str | None
    context: EncodedContext


def checked_row(session: Session, session_id: SessionId, *, jsonb: bool = False) -> SessionRow:
    """The session's row under ``session_id`` (its id, checked for the table), or
    InvalidSession / ContextError saying what cannot be stored. ``jsonb``: the context goes
    out as a PostgreSQL jsonb parameter."""
    session.id = session_id
    for name in ("graph_id", "current_task_id", "status_message"):
        value = getattr(session, name)
        if value is None and name == "status_message":
            continue
        if not isinstance(value, str):
            raise InvalidSession(
                f"cannot save session {session_id}: {name} must be a string, "
                f"got {type(value).__name__}",
                session_id=session_id,
            )
        problem = text_column_problem(value, column=name)
        if problem is not None:
            raise InvalidSession(
                f"cannot save session {session_id}: {name} {problem}", session_id=session_id
            )
    context = write_context(
        session.context,  # a dict assigned by the caller is checked on access
        max_bytes=app_settings.MAX_CONTEXT_BYTES,
        session_id=session_id,
        jsonb=jsonb,
    )
    return SessionRow(
        session_id, session.graph_id, session.current_task_id, session.status_message, context
    )


def text_column_problem(value: str, *, column: str) -> str | None:
    """Why ``value`` cannot be stored in the text ``column`` (graph, task, status message),
    as the end of a sentence naming the column, or None."""
    if column in INDEXED_TEXT_COLUMNS and len(value) > INDEXED_TEXT_CHARS:
        # The same limit on every database: PostgreSQL's index would refuse some of these.
        return (
            f"is {len(value):,} characters long; at most {INDEXED_TEXT_CHARS} can be stored "
            "(the column is indexed)"
        )
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which PostgreSQL text cannot store"
    if not value.isascii():
        # A lone surrogate (from a bad decode upstream) would otherwise escape as a driver
        # error.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate, which is not valid UTF-8"
    return None


def saved(storage: SessionStorage, session: Session, using: str | None) -> None:
    """Announce a write that succeeded: the one place ``session_saved`` is sent from."""
    session_saved.send(type(storage), session=session, using=using)


async def asaved(storage: SessionStorage, session: Session, using: str | None) -> None:
    """``saved`` from the native async path: Django's ``Signal.asend``, so an async receiver
    is awaited on the event loop and a sync one runs in a worker thread (as Django runs a sync
    receiver from async code); with no receiver nothing leaves the loop."""
    await session_saved.asend(type(storage), session=session, using=using)


def deleted(storage: SessionStorage, session_id: SessionId, using: str | None) -> None:
    """Announce a delete that removed a row: the one place ``session_deleted`` is sent from
    by a storage."""
    session_deleted.send(type(storage), session_id=session_id, using=using)


async def adeleted(storage: SessionStorage, session_id: SessionId, using: str | None) -> None:
    """``deleted`` from the native async path (see ``asaved``)."""
    await session_deleted.asend(type(storage), session_id=session_id, using=using)


def batch_expectations(
    sessions: Sequence[Session], expected_versions: Sequence[int | None] | None
) -> list[int | None]:
    """The expected version of each session of a batch save (None: saved whatever is
    stored), or ValueError when ``expected_versions`` does not give one per session."""
    if expected_versions is None:
        return [None] * len(sessions)
    if isinstance(expected_versions, (str, bytes)) or len(expected_versions) != len(sessions):
        raise ValueError(
            f"expected_versions must give one version (or None) per session: "
            f"{len(sessions)} sessions, got {expected_versions!r}"
        )
    for version in expected_versions:
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise ValueError(f"an expected version must be an int or None, got {version!r}")
    return list(expected_versions)


def check_distinct(ids: Sequence[SessionId]) -> None:
    """InvalidSession naming the first id a batch save holds twice (one statement cannot
    write a row twice, and which copy should win is not for the storage to guess)."""
    seen: set[SessionId] = set()
    for sid in ids:
        if sid in seen:
            raise InvalidSession(
                f"cannot save session {sid}: it is in the batch twice", session_id=sid
            )
        seen.add(sid)


class SessionStorage(abc.ABC):
    """graph-flow's ``SessionStorage`` trait: save, get, delete, plus create and async twins."""

    @abc.abstractmethod
    def save(self, session: Session, *, expected_version: int | None = None) -> None:
        """Insert or replace the session; with ``expected_version``, only if still at it."""

    @abc.abstractmethod
    def create(self, session: Session) -> None:
        """Insert the session as a new row; SessionExists (nothing written) if the id is taken."""

    @abc.abstractmethod
    def get(self, session_id: SessionId) -> Session | None:
        """The stored session, or None when there is none."""

    @abc.abstractmethod
    def delete(self, session_id: SessionId) -> bool:
        """Delete the session; True if a row was deleted (absent is not an error)."""

    def get_or_raise(self, session_id: SessionId) -> Session:
        """Like ``get``, but raise SessionNotFound (graph-flow's runner: "Session not found")."""
        session = self.get(session_id)
        if session is None:
            raise SessionNotFound(f"Session not found: {session_id}", session_id=session_id)
        return session

    @abc.abstractmethod
    def save_many(
        self, sessions: Sequence[Session], *, expected_versions: Sequence[int | None] | None = None
    ) -> None:
        """Save every session, all or nothing: when one cannot be saved (InvalidSession,
        SessionConflict naming it), none is. ``expected_versions``: one per session, as
        ``save``'s ``expected_version`` (None for a session saved whatever is stored)."""

    @abc.abstractmethod
    def get_many(self, session_ids: Sequence[SessionId]) -> list[Session | None]:
        """The stored session of each id, in the order given (None where there is none)."""

    @abc.abstractmethod
    def delete_many(self, session_ids: Sequence[SessionId]) -> int:
        """Delete the sessions; how many rows were deleted (absent ids are not an error)."""

    async def asave(self, session: Session, *, expected_version: int | None = None) -> None:
        await sync_to_async(self.save)(session, expected_version=expected_version)

    async def acreate(self, session: Session) -> None:
        await sync_to_async(self.create)(session)

    async def aget(self, session_id: SessionId) -> Session | None:
        return await sync_to_async(self.get)(session_id)

    async def aget_or_raise(self, session_id: SessionId) -> Session:
        return await sync_to_async(self.get_or_raise)(session_id)

    async def adelete(self, session_id: SessionId) -> bool:
        return await sync_to_async(self.delete)(session_id)

    async def asave_many(
        self, sessions: Sequence[Session], *, expected_versions: Sequence[int | None] | None = None
    ) -> None:
        await sync_to_async(self.save_many)(sessions, expected_versions=expected_versions)

    async def aget_many(self, session_ids: Sequence[SessionId]) -> list[Session | None]:
        return await sync_to_async(self.get_many)(session_ids)

    async def adelete_many(self, session_ids: Sequence[SessionId]) -> int:
        return await sync_to_async(self.delete_many)(session_ids)
