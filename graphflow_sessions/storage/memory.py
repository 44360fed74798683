"""``InMemorySessionStorage``: graph-flow's in-memory storage, for tests and one-process tools."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from ..contract.codec import read_context
from ..exceptions import SessionConflict, SessionExists
from ..ids import SessionId, parse_session_id
from .base import (
    SessionRow,
    SessionStorage,
    batch_expectations,
    check_distinct,
    checked_row,
    deleted,
    new_row_version,
    saved,
)
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
            self._check_version(row, expected_version)
            self._store(session, row, expected_version, now)
        saved(self, session, None)

    def save_many(
        self, sessions: Sequence[Session], *, expected_versions: Sequence[int | None] | None = None
    ) -> None:
        expected = batch_expectations(sessions, expected_versions)
        rows = [checked_row(session, parse_session_id(session.id)) for session in sessions]
        check_distinct([row.id for row in rows])
        now = timezone.now()
        with self._lock:
            for row, version in zip(rows, expected, strict=True):
                self._check_version(row, version)  # every one before any is written
            for session, row, version in zip(sessions, rows, expected, strict=True):
                self._store(session, row, version, now)
        for session in sessions:
            saved(self, session, None)

    def _check_version(self, row: SessionRow, expected_version: int | None) -> None:
        stored = self._rows.get(row.id)
        if (
            expected_version is not None
            and stored is not None
            and stored.version != expected_version
        ):
            raise SessionConflict.for_versions(row.id, expected_version, stored.version)

    def _store(
        self, session: Session, row: SessionRow, expected_version: int | None, now: datetime
    ) -> None:
        stored = self._rows.get(row.id)
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

    def get_many(self, session_ids: Sequence[SessionId]) -> list[Session | None]:
        return [self.get(sid) for sid in [parse_session_id(value) for value in session_ids]]

    def delete(self, session_id: SessionId) -> bool:
        sid = parse_session_id(session_id)
        with self._lock:
            removed = self._rows.pop(sid, None) is not None
        if removed:
            deleted(self, sid, None)
        return removed

    def delete_many(self, session_ids: Sequence[SessionId]) -> int:
        ids = [parse_session_id(value) for value in session_ids]
        return sum(self.delete(sid) for sid in dict.fromkeys(ids))

    def __len__(self) -> int:
        return len(self._rows)
