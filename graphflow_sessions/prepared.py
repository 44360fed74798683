"""When the storage prepares its own statements on a PostgreSQL connection.

A prepared statement is parsed and planned once per connection instead of on every call:
on a small context that is about a third of a ``get`` (``make bench``). Django leaves
psycopg's prepared statements off (``OPTIONS["prepare_threshold"]`` is None) because a
transaction-mode pooler (PgBouncer before 1.21, and others) may run a client's next
statement on another server connection, where psycopg's statement names (``_pg3_0``...) are
missing or name another client's statement.

``GRAPHFLOW_SESSIONS["PREPARED_STATEMENTS"]`` decides, for the storage's save, get and delete
only (nothing else on the connection is prepared by this):

* ``"auto"`` (default): prepared once the connection has shown that it goes straight to one
  PostgreSQL backend. Each storage statement also returns ``pg_backend_pid()``; on a direct
  connection that is the process id PostgreSQL announced when the connection opened
  (``connection.info.backend_pid``), while a pooler announces a made-up one of its own, so
  through a pooler nothing is ever prepared. The first statement on a connection, which
  brings the proof, runs unprepared.
* ``True``: always prepared (a pooler that keeps prepared statements, such as PgBouncer 1.21+
  with ``max_prepared_statements``).
* ``False``: never prepared.

The first prepared run of a statement on a connection is sent as one pipeline (Parse, Bind,
Execute, Sync), so it is still one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .conf import app_settings

# A threshold no statement reaches by repetition. psycopg ignores ``prepare=True`` while the
# connection's threshold is None (Django's default); on a connection where the storage
# prepares, this lets it do so and still leaves every other query unprepared.
ONLY_WHEN_ASKED = 2**62


@dataclass
class _Backend:
    """What the storage knows of one psycopg connection."""

    direct: bool | None = None  # None until a statement has reported its backend's pid
    prepared: set[str] = field(default_factory=set)  # statements psycopg has prepared


# Attribute of a psycopg connection holding its _Backend (as the storage keeps its reused
# cursor there): it goes with the connection, and a new connection starts unknown.
_BACKEND = "_graphflow_sessions_backend"


def _backend(pgconn: Any) -> _Backend:
    backend = getattr(pgconn, _BACKEND, None)
    if backend is None:
        backend = _Backend()
        setattr(pgconn, _BACKEND, backend)
    return backend


def plan(pgconn: Any, statement: str) -> tuple[bool, bool]:
    """``(prepare, pipeline)`` for running ``statement`` on the psycopg connection ``pgconn``."""
    mode = app_settings.PREPARED_STATEMENTS
    if mode is False:
        return False, False
    backend = _backend(pgconn)
    if mode == "auto" and not backend.direct:
        return False, False
    if pgconn.prepare_threshold is None:
        pgconn.prepare_threshold = ONLY_WHEN_ASKED
    if backend.prepared and _psycopg_forgot(pgconn, backend):
        backend.prepared.clear()
    return True, statement not in backend.prepared


def _psycopg_forgot(pgconn: Any, backend: _Backend) -> bool:
    # psycopg drops its prepared statements on a rollback (and deallocates them on the
    # server); the next run must prepare again, in a pipeline to stay one round trip. Its
    # cache is private: if it ever moves, the cost is one extra round trip, not an error.
    names = getattr(getattr(pgconn, "_prepared", None), "_names", None)
    return names is not None and len(names) < len(backend.prepared)


def ran(pgconn: Any, statement: str, *, prepared: bool, backend_pid: int | None) -> None:
    """Record a statement that succeeded, and the backend pid it reported (None: no row)."""
    backend = _backend(pgconn)
    if prepared:
        backend.prepared.add(statement)
    if backend_pid is not None and backend.direct is not False:
        # Once a connection reports another pid than its own, it is not direct, for good.
        backend.direct = backend_pid == pgconn.info.backend_pid


def is_direct(pgconn: Any) -> bool | None:
    """Whether ``pgconn`` was seen to reach PostgreSQL directly (None: not known yet)."""
    backend = getattr(pgconn, _BACKEND, None)
    return None if backend is None else backend.direct
