"""The storage's statements on psycopg 3, under Django's own connection.

A statement runs on a server-binding cursor of the psycopg connection Django opened, so
parameters (a megabyte-sized context among them) travel as bound values instead of being
quoted into the SQL text by Django's client-side-binding cursor and parsed back by the
server, and it may be prepared. The rest of what Django's cursor does is kept: the
thread-sharing and broken-transaction checks, autocommit or the caller's atomic block (it
is the same connection), and driver errors turned into django.db errors.

**Prepared statements.** A prepared statement is parsed and planned once per connection
instead of on every call: on a small context that is about a third of a get. Django leaves
psycopg's prepared statements off (``OPTIONS["prepare_threshold"]`` is None) because a
transaction-mode pooler (PgBouncer before 1.21, and others) may run a client's next
statement on another server connection, where psycopg's statement names are missing or
name another client's statement. ``GRAPHFLOW_SESSIONS["PREPARED_STATEMENTS"]`` decides, for
the storage's own statements only:

* ``"auto"`` (default): prepared once the connection has shown that it goes straight to one
  PostgreSQL backend. Each storage statement also returns ``pg_backend_pid()``; on a direct
  connection that is the process id PostgreSQL announced when the connection opened
  (``connection.info.backend_pid``), while a pooler announces a made-up one of its own, so
  through a pooler nothing is ever prepared. The first statement, which brings the proof,
  runs unprepared.
* ``True``: always prepared (a pooler that keeps prepared statements, such as PgBouncer 1.21+
  with ``max_prepared_statements``).
* ``False``: never prepared.

The first prepared run of a statement on a connection is sent as one pipeline (Parse, Bind,
Execute, Sync), so it is still one round trip. psycopg forgets its prepared statements when
a transaction is rolled back; when a transaction that ran one of ours has ended since (it
cannot be told whether by commit or rollback), the next runs are pipelined again. A rollback
this cannot see costs one extra round trip on the next run, never an error.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..conf import app_settings

__all__ = [
    "KEEP_RESULTS_BELOW",
    "ONLY_WHEN_ASKED",
    "PsycopgExecutor",
    "as_django_error",
    "available",
    "is_direct",
    "record_backend_pid",
    "reused_cursor",
    "utf8_driver_connection",
]

# A threshold no statement reaches by repetition. psycopg ignores ``prepare=True`` while the
# connection's threshold is None (Django's default); on a connection where the storage
# prepares, this lets it do so and still leaves every other query unprepared.
ONLY_WHEN_ASKED = 2**62

#: A cursor keeps its last result until its next statement: kept only for small contexts.
KEEP_RESULTS_BELOW = 64 * 1024


def available(connection: Any) -> bool:
    """Whether statements on the Django connection can run here (psycopg 3, PostgreSQL),
    judged from configuration alone, before connecting."""
    return connection.vendor == "postgresql" and _psycopg3_driver()


@functools.cache
def _psycopg3_driver() -> bool:
    # Imported only once PostgreSQL is configured: the module imports a driver.
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return bool(is_psycopg3)


def unobserved(connection: Any) -> bool:
    """Whether nobody watches this connection's queries through Django's cursor (DEBUG or
    CaptureQueriesContext, an execute_wrapper): only then is Django's cursor bypassed."""
    return not connection.queries_logged and not connection.execute_wrappers


@dataclass
class _ConnectionState:
    """What the storage knows of one psycopg connection."""

    cursor: Any = None  # the reused server-binding cursor
    direct: bool | None = None  # None until a statement has reported its backend's pid
    prepared: set[str] = field(default_factory=set)  # statements prepared through psycopg
    in_transaction: bool = False  # whether our last statement left a transaction open
    utf8: bool | None = None  # whether the server promises UTF-8 (None until asked)


# Kept beside the connection, not on it: it goes when the connection goes.
_states: weakref.WeakKeyDictionary[Any, _ConnectionState] = weakref.WeakKeyDictionary()


def _state(pgconn: Any) -> _ConnectionState:
    state = _states.get(pgconn)
    if state is None:
        state = _states[pgconn] = _ConnectionState()
    return state


def is_direct(pgconn: Any) -> bool | None:
    """Whether the psycopg connection was seen to reach PostgreSQL directly (None: not yet)."""
    state = _states.get(pgconn)
    return None if state is None else state.direct


def reused_cursor(pgconn: Any) -> Any:
    """The cursor the storage reuses on the psycopg connection (None before its first run)."""
    state = _states.get(pgconn)
    return None if state is None else state.cursor


def record_backend_pid(pgconn: Any, backend_pid: int) -> None:
    """Record the backend pid a statement on ``pgconn`` reported. Once a connection reports
    another pid than the one PostgreSQL announced, it is not direct, for good."""
    _record_pid(_state(pgconn), pgconn, backend_pid)


def _record_pid(state: _ConnectionState, pgconn: Any, backend_pid: int) -> None:
    if state.direct is not False:
        state.direct = backend_pid == pgconn.info.backend_pid


class PsycopgExecutor:
    """Runs one statement at a time on a Django connection's psycopg connection."""

    def __init__(self) -> None:
        import psycopg
        from psycopg.types.json import Jsonb

        self._cursor_class = psycopg.Cursor
        self._async_cursor_class = psycopg.AsyncCursor
        #: What psycopg raises (the async path turns it into Django's errors).
        self.driver_error = psycopg.Error
        self._jsonb = Jsonb
        # Compared with libpq's own status (``pgconn.pgconn``): ``info.transaction_status``
        # builds an enum on every call, on the hot path of every operation.
        self._idle = int(psycopg.pq.TransactionStatus.IDLE)

    def jsonb(self, data: bytes) -> Any:
        """A jsonb parameter sending ``data`` (JSON bytes already encoded) as it is."""
        return self._jsonb(data, _unchanged)

    def run(
        self, connection: Any, statement: str, params: Sequence[Any], *, many: bool = False
    ) -> tuple[Any, int]:
        """Run ``statement``; return its first row (None if it has none), or with ``many``
        the list of its rows, and its row count.

        A row's last value is the backend pid (the statements report it here); it is recorded.
        The cursor holds the result until the next statement, or until ``free_result``.
        """
        connection.validate_thread_sharing()
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            return self._run_on(connection.connection, statement, params, many)

    def run_driver(
        self, pgconn: Any, statement: str, params: Sequence[Any], *, many: bool = False
    ) -> tuple[Any, int]:
        """``run`` on a psycopg connection taken from the alias's pool without Django's
        wrapper (a ``release_connections`` storage outside a transaction), in autocommit;
        driver errors as Django's."""
        try:
            return self._run_on(pgconn, statement, params, many)
        except self.driver_error as exc:
            raise as_django_error(exc) from exc

    def _run_on(
        self, pgconn: Any, statement: str, params: Sequence[Any], many: bool
    ) -> tuple[Any, int]:
        state = _state(pgconn)
        prepare, pipeline = self._plan(pgconn, state, statement)
        cursor = state.cursor
        if cursor is None or cursor.closed:
            cursor = state.cursor = self._new_cursor(pgconn, self._cursor_class)
        if pipeline:  # the first prepared run: Parse, Bind, Execute and Sync together
            with pgconn.pipeline():
                cursor.execute(statement, params, prepare=True)
        else:
            cursor.execute(statement, params, prepare=prepare)
        result = cursor.fetchall() if many else cursor.fetchone()
        return self._ran(pgconn, state, statement, prepare, result, many), cursor.rowcount

    async def arun(
        self, pgconn: Any, statement: str, params: Sequence[Any], *, many: bool = False
    ) -> tuple[Any, int]:
        """``run`` on a psycopg ``AsyncConnection`` of this storage's own async pool: the same
        plan (prepared or not, pipelined or not) and bookkeeping; driver errors as they are
        (``as_django_error`` turns them into Django's)."""
        state = _state(pgconn)
        prepare, pipeline = self._plan(pgconn, state, statement)
        cursor = state.cursor
        if cursor is None or cursor.closed:
            cursor = state.cursor = self._new_cursor(pgconn, self._async_cursor_class)
        try:
            if pipeline:
                async with pgconn.pipeline():
                    await cursor.execute(statement, params, prepare=True)
            else:
                await cursor.execute(statement, params, prepare=prepare)
            result = await cursor.fetchall() if many else await cursor.fetchone()
        except self.driver_error as exc:
            raise as_django_error(exc) from exc
        return self._ran(pgconn, state, statement, prepare, result, many), cursor.rowcount

    def _ran(
        self,
        pgconn: Any,
        state: _ConnectionState,
        statement: str,
        prepare: bool,
        result: Any,
        many: bool,
    ) -> Any:
        """What a run leaves known of the connection; ``result`` back."""
        if prepare:
            state.prepared.add(statement)
        state.in_transaction = pgconn.pgconn.transaction_status != self._idle
        first = (result[0] if result else None) if many else result
        if first is not None:
            _record_pid(state, pgconn, first[-1])
        return result

    async def aforget_prepared(self, pgconn: Any) -> None:
        """``forget_prepared`` on an async pool's connection (always in autocommit)."""
        state = _state(pgconn)
        state.prepared.clear()
        if state.cursor is not None and not state.cursor.closed:
            try:
                await state.cursor.execute("DEALLOCATE ALL")
            except self.driver_error as exc:
                raise as_django_error(exc) from exc

    async def afree_result(self, pgconn: Any) -> None:
        """``free_result`` on an async pool's connection."""
        state = _states.get(pgconn)
        if state is not None and state.cursor is not None:
            await state.cursor.close()

    def forget_prepared(self, connection: Any) -> None:
        """Drop the prepared statements of this connection (planned against a table that has
        changed since): ``DEALLOCATE ALL`` through psycopg, which then forgets its own too.
        Inside a failed transaction nothing can run; its rollback makes psycopg forget."""
        pgconn = connection.connection
        state = _state(pgconn)
        state.prepared.clear()
        if pgconn.pgconn.transaction_status == self._idle and state.cursor is not None:
            with connection.wrap_database_errors:
                state.cursor.execute("DEALLOCATE ALL")
        else:
            state.in_transaction = True  # re-pipeline after the transaction ends

    def forget_prepared_driver(self, pgconn: Any) -> None:
        """``forget_prepared`` on a connection taken without Django's wrapper (autocommit)."""
        state = _state(pgconn)
        state.prepared.clear()
        if state.cursor is not None and not state.cursor.closed:
            try:
                state.cursor.execute("DEALLOCATE ALL")
            except self.driver_error as exc:
                raise as_django_error(exc) from exc

    def free_result(self, pgconn: Any) -> None:
        """Free the last result on the psycopg connection now (a large context): the next
        run opens a new cursor."""
        state = _states.get(pgconn)
        if state is not None and state.cursor is not None:
            state.cursor.close()

    def _plan(self, pgconn: Any, state: _ConnectionState, statement: str) -> tuple[bool, bool]:
        """``(prepare, pipeline)`` for running ``statement`` on ``pgconn``."""
        mode = app_settings.PREPARED_STATEMENTS
        if mode is False or (mode == "auto" and not state.direct):
            return False, False
        if pgconn.prepare_threshold is None:
            pgconn.prepare_threshold = ONLY_WHEN_ASKED
        if state.in_transaction and pgconn.pgconn.transaction_status == self._idle:
            # The transaction our last statement ran in has ended, maybe by a rollback.
            state.prepared.clear()
            state.in_transaction = False
        return True, statement not in state.prepared

    def _new_cursor(self, pgconn: Any, cursor_class: type) -> Any:
        # One server-binding cursor per psycopg connection, reused: a new cursor per call
        # costs about 15 us of a 100 us get (its adapters, and the dumpers and loaders it
        # caches, are built anew).
        cursor = cursor_class(pgconn)
        # The context as bytes, for the codec: a megabyte of text as a str costs a decoding
        # pass and 2 MB (characters beyond Latin-1 take two bytes each).
        cursor.adapters.register_loader("jsonb", _jsonb_as_bytes())
        return cursor


def utf8_database(connection: Any) -> bool:
    """Whether the server promises UTF-8 text (a SQL_ASCII database sends any bytes)."""
    return utf8_driver_connection(connection.connection)


def utf8_driver_connection(pgconn: Any) -> bool:
    """``utf8_database`` of a psycopg connection (sync or async), asked of libpq once per
    connection: a database's encoding is fixed when it is created."""
    state = _state(pgconn)
    if state.utf8 is None:
        state.utf8 = pgconn.info.parameter_status("server_encoding") == "UTF8"
    return state.utf8


def as_django_error(exc: Exception) -> Exception:
    """The django.db error Django's cursor raises for the psycopg error ``exc`` (same class
    name, ``exc`` as its cause): the async path's errors are then told apart, and worded,
    as the sync path's are."""
    import psycopg
    from django.db import utils

    for error in (
        utils.DataError,
        utils.OperationalError,
        utils.IntegrityError,
        utils.InternalError,
        utils.ProgrammingError,
        utils.NotSupportedError,
        utils.DatabaseError,
        utils.InterfaceError,
        utils.Error,
    ):
        if isinstance(exc, getattr(psycopg, error.__name__)):
            converted = error(*exc.args)
            converted.__cause__ = exc
            return converted
    return exc


def _unchanged(data: bytes) -> bytes:
    return data


@functools.cache
def _jsonb_as_bytes() -> type:
    from psycopg.adapt import Loader

    class JsonbAsBytes(Loader):
        def load(self, data: Any) -> bytes:
            return bytes(data)

    return JsonbAsBytes
