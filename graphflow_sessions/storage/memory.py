"""``InMemorySessionStorage``: graph-flow's in-memory storage, for tests and one-process tools."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from ..contract.codec import read_context
from ..exceptions import SessionConflict, SessionExists
from ..ids import SessionId, parse_session_id
from ..signals import session_deleted
from .base import SessionStorage, checked_row, new_row_version, saved
from .sql import session_model

if TYPE_CHECKING:
    from ..models import Session

__all__ = ["InMemorySessionStorage"]


@dataclass
class _StoredRow:
    graph_id: str
    current_task_id: str
    status_message: str | None
    context_json: str
    created_at: datetime
    updated_at: datetime
    version: int


class InMemorySessionStorage(SessionStorage):
    """graph-flow's ``InMemorySessionStorage``: for tests and single-process tools.

    Rows are kept as encoded JSON, so a get returns an independent copy and the same bad
    input fails here as on a database. Its clock is this process's: there is no other.
    """

    def __init__(self) -> None:
        self._rows: dict[SessionId, _StoredRow] = {}
        self._lock = threading.Lock()

    def save(self, session: Session, *, expected_version: int | None = None) -> None:
        self._write(session, expected_version=expected_version, create=False)

    def create(self, session: Session) -> None:
        self._write(session, expected_version=None, create=True)

    def _write(self, session: Session, *, expected_version: int | None, create: bool) -> None:
        row = checked_row(session, parse_session_id(session.id))
        now = timezone.now()
        with self._lock:
            stored = self._rows.get(row.id)
            if create and stored is not None:
                raise SessionExists.for_id(row.id)
            if (
                expected_version is not None
                and stored is not None
                and stored.version != expected_version
            ):
                raise SessionConflict.for_versions(row.id, expected_version, stored.version)
            if stored is None:
                version, created = new_row_version(expected_version), now
            else:
                version, created = stored.version + 1, stored.created_at
            self._rows[row.id] = _StoredRow(
                row.graph_id,
                row.current_task_id,
                row.status_message,
                row.context.json,
                created,
                now,
                version,
            )
        session.version, session.created_at, session.updated_at = version, created, now
        saved(self, session, None)

    def get(self, session_id: SessionId) -> Session | None:
        sid = parse_session_id(session_id)
        with self._lock:
            stored = self._rows.get(sid)
        if stored is None:
            return None
        session = session_model()(
            id=sid,
            graph_id=stored.graph_id,
            current_task_id=stored.current_task_id,
            status_message=stored.status_message,
            context=read_context(stored.context_json),
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            version=stored.version,
        )
        session._state.adding = False
        return session

    def delete(self, session_id: SessionId) -> bool:
        sid = parse_session_id(session_id)
        with self._lock:
            deleted = self._rows.pop(sid, None) is not None
        if deleted:
            session_deleted.send(type(self), session_id=sid, using=None)
        return deleted

    def __len__(self) -> int:
        return len(self._rows)
