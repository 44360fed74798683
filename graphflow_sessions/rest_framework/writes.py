"""Every API write runs on a locked row, in one transaction that any error rolls back.

On PostgreSQL the row is locked with ``SELECT ... FOR UPDATE``; on databases without row
locks (SQLite) a no-op ``UPDATE`` of the row takes the database's write lock first, so no
other writer commits between our read and our write. Inside the transaction the stored
session is read, checked (scope, If-Match), changed in Python with the library's own
Context methods (trimming to ``max_messages`` as graph-flow does), and written back with
``DatabaseSessionStorage.save`` (one upsert: ``version`` + 1, ``updated_at`` moves, the
``session_saved`` signal is sent). Concurrent appends and data patches therefore queue up
and none is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request

from ..ids import SessionId
from ..models import Session
from ..routers import sessions_database
from ..storage import DatabaseSessionStorage
from .permissions import is_scoped, scope

storage = DatabaseSessionStorage()


@contextmanager
def locked_session(request: Request, session_id: SessionId) -> Iterator[Session]:
    """The stored session, locked until the block ends; 404 if absent or out of scope."""
    alias = sessions_database()
    with transaction.atomic(using=alias):
        rows = Session.objects.using(alias).filter(pk=session_id)
        if connections[alias].features.has_select_for_update:
            session = rows.select_for_update().first()
        else:
            session = rows.first() if rows.update(version=F("version")) else None
        if session is None or (is_scoped() and not scope(request, rows).exists()):
            raise NotFound()
        yield session


def save_in_scope(request: Request, session: Session, expected_version: int | None) -> None:
    """Save, then make sure the request can still see the result (else 403, rolled back).

    Call inside a transaction (``locked_session`` or ``transaction.atomic``).
    """
    storage.save(session, expected_version=expected_version)
    ensure_in_scope(request, session.pk)


def ensure_in_scope(request: Request, session_id: SessionId) -> None:
    if not is_scoped():
        return
    rows = Session.objects.using(sessions_database()).filter(pk=session_id)
    if not scope(request, rows).exists():
        raise PermissionDenied(
            _("This change would put the session out of your reach; nothing was saved.")
        )
