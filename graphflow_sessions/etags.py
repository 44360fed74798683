"""The ETag of a stored session state, shared by the REST API and the admin's live transcript.

It combines ``version`` (graph-flow 0.6's optimistic-locking counter) with ``updated_at``:
writers that predate the version column (graph-flow 0.5 services) still move ``updated_at``
on every save, so their writes change the ETag too.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def etag_for(version: int | None, updated_at: datetime | None) -> str:
    micros = 0 if updated_at is None else (updated_at - _EPOCH) // timedelta(microseconds=1)
    return f'"{version or 0}.{micros}"'


def session_etag(session: Any) -> str:
    return etag_for(session.version, session.updated_at)
