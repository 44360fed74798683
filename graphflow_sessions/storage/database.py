"""``DatabaseSessionStorage``: sessions in a Django database, one statement per operation.

On PostgreSQL and SQLite each operation is one statement and one round trip in autocommit
(graph-flow's upsert, with ``RETURNING``); inside a caller's ``transaction.atomic`` it joins
that transaction. On PostgreSQL with psycopg 3 the statement runs on the driver's connection
(``executor.py``: bound parameters, prepared statements); when someone watches queries
through Django's cursor (DEBUG, CaptureQueriesContext, an execute_wrapper) it runs through
Django's cursor instead, with the same SQL. Databases without an upsert write through the
ORM (``orm.py``). Every statement comes from ``sql.py``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils.connection import ConnectionDoesNotExist

from ..conf import app_settings
from ..connect import DEFAULT_POOL_MAX_SIZE, DEFAULT_POOL_TIMEOUT, ConnectOptions, open_alias
from ..contract.codec import read_stored
from ..contract.jsontext import decode_json
from ..exceptions import (
    ConnectionFailed,
    ContextDeserializationError,
    DeleteError,
    RetrieveError,
    SaveError,
    SessionConflict,
    SessionExists,
    SessionNotFound,
    SessionTableChanged,
    StorageError,
    safe_cause,
)
from ..ids import SessionId, check_text_id, id_text, is_canonical_uuid_text, parse_session_id
from . import orm, sql
from .base import (
    SessionRow,
    SessionStorage,
    adeleted,
    asaved,
    batch_expectations,
    check_distinct,
    checked_row,
    deleted,
    new_row_version,
    saved,
)
from .executor import (
    KEEP_RESULTS_BELOW,
    PsycopgExecutor,
    available,
    unobserved,
    utf8_database,
    utf8_driver_connection,
)
from .flavour import (
    Flavour,
    aid_for_table,
    flavour_of,
    forget,
    forget_driver_connection,
    id_for_table,
    id_on_any_table,
    is_stale_statement,
)
from .sql import Statements, session_model, supports_upsert

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..models import Session

__all__ = ["DatabaseSessionStorage", "PostgresSessionStorage"]


@dataclass(frozen=True)
class _AliasPlan:
    """How this storage runs on one alias: its statements, converters and executor."""

    statements: Statements
    upsert: bool
    executor: PsycopgExecutor | None  # None: every statement goes through Django's cursor
    row_converters: list[list[Callable[..., Any]]]
    returning_converters: list[list[Callable[..., Any]]]
    context_index: int
    pk_field: Any
    model: Any
    # PostgreSQL takes an id as its text (whichever type the column has); others through
    # the field (SQLite: Django's 32 hex digits).
    ids_as_text: bool

    def id_param(self, session_id: SessionId, connection: Any) -> Any:
        if self.ids_as_text:
            return id_text(session_id)
        return self.pk_field.get_db_prep_value(session_id, connection)


class DatabaseSessionStorage(SessionStorage):
    """Sessions in a Django database: PostgreSQL (graph-flow's own table), SQLite, others.

    ``using`` names the database alias; by default ``GRAPHFLOW_SESSIONS["DATABASE"]``.
    ``release_connections``: hand the connection back after each operation (outside a
    caller's ``transaction.atomic``), as ``connect()``'s pooled storages do: outside a
    request nothing else returns a thread's connection to Django's pool. ``upsert``: False
    writes through the ORM even where the database has an upsert; None (default) asks the
    database's features. ``native_async``: the async operations (``asave``, ``aget``...) run
    on psycopg's ``AsyncConnection`` from an ``AsyncConnectionPool`` of this storage, built
    from the alias's settings (PostgreSQL with psycopg 3 only; ``aconnect()`` sets it),
    instead of the sync operations in a worker thread.
    """

    def __init__(
        self,
        using: str | None = None,
        *,
        release_connections: bool = False,
        upsert: bool | None = None,
        native_async: bool = False,
    ) -> None:
        self._using = using
        self._release_connections = release_connections
        self._upsert = upsert
        self._native_async = native_async
        if native_async:
            # Imported here, not on the event loop at the first call (an import blocks it).
            import psycopg_pool

            self._async_pool_class = psycopg_pool.AsyncConnectionPool
        # One psycopg AsyncConnectionPool per event loop (a pool serves the loop it opened on).
        self._async_pools: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._plans: dict[str, _AliasPlan] = {}
        self._lock = threading.Lock()

    @property
    def using(self) -> str:
        return self._using or app_settings.DATABASE

    def __repr__(self) -> str:
        return f"{type(self).__name__}(using={self.using!r})"

    @classmethod
    def connect(cls, url: str, **options: Unpack[ConnectOptions]) -> DatabaseSessionStorage:
        """graph-flow 0.5's ``PostgresSessionStorage::connect(url)``: a storage for the
        database at ``url``, schema created on first connect, pooled connections (at most 5
        by default). Works in a plain script too. Options: ``migrate`` (default True),
        ``pool_max_size``, ``connect_timeout``, ``pool_timeout``; see
        :mod:`graphflow_sessions.connect`.
        """
        if options.get("pool_timeout") is None:
            options["pool_timeout"] = DEFAULT_POOL_TIMEOUT
        return cls(using=open_alias(url, **options), release_connections=True)

    @classmethod
    async def aconnect(cls, url: str, **options: Unpack[ConnectOptions]) -> DatabaseSessionStorage:
        """``connect()`` for async code: ``await PostgresSessionStorage.aconnect(url)``. Its
        async operations run natively (``native_async=True``) on PostgreSQL; the setup
        itself (checking the URL, migrating) runs once, in a worker thread."""
        if options.get("pool_timeout") is None:
            options["pool_timeout"] = DEFAULT_POOL_TIMEOUT
        alias = await sync_to_async(open_alias)(url, **options)
        postgres = "postgresql" in str(connections[alias].settings_dict.get("ENGINE", ""))
        return cls(using=alias, release_connections=True, native_async=postgres)

    # Connections ------------------------------------------------------------------------

    def _connection(self, session_id: Any, action: str) -> tuple[Any, _AliasPlan]:
        alias = self.using
        connection = connections[alias]
        _close_if_lost(connection)
        try:
            connection.close_if_health_check_failed()  # as Django's cursor() does
            connection.ensure_connection()
        except DatabaseError as exc:
            _raise_unavailable(exc, connection.settings_dict, alias, action, session_id)
        plan = self._plans.get(alias)
        if plan is None:
            with self._lock:
                plan = self._plans.get(alias) or self._plans.setdefault(
                    alias, self._plan(connection)
                )
        return connection, plan

    def _plan(self, connection: Any) -> _AliasPlan:
        executor = PsycopgExecutor() if available(connection) else None
        statements = Statements(connection, report_backend_pid=executor is not None)
        model = session_model()
        upsert = supports_upsert(connection) if self._upsert is None else self._upsert
        return _AliasPlan(
            statements=statements,
            upsert=upsert,
            executor=executor,
            row_converters=[_converters(column, connection) for column in statements.selected],
            returning_converters=[
                _converters(column, connection) for column in statements.returned
            ],
            context_index=statements.column_names.index("context"),
            pk_field=model._meta.pk,
            model=model,
            ids_as_text=connection.vendor == "postgresql",
        )

    def _release(self) -> None:
        if not self._release_connections:
            return
        connection = connections[self.using]
        if connection.connection is None:
            return  # nothing checked out through the wrapper (or the pool was used directly)
        _close_if_lost(connection)
        if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
            connection.close()  # back to the pool

    def _run(
        self,
        connection: Any,
        plan: _AliasPlan,
        statement: str,
        params: list[Any],
        *,
        many: bool = False,
    ) -> tuple[Any, int]:
        """Run one statement; its first row (None if none) and its row count.

        A statement planned before a graph-flow 0.6+ service converted the id column (on
        this connection, prepared earlier) fails; outside a transaction it runs again,
        planned anew. Inside the caller's transaction, which the failure has aborted,
        SessionTableChanged says so (the next transaction works).
        """
        try:
            return self._run_once(connection, plan, statement, params, many)
        except DatabaseError as exc:
            if not is_stale_statement(exc):
                raise
            forget(connection)
            if plan.executor is not None:
                plan.executor.forget_prepared(connection)
            if connection.in_atomic_block:
                raise SessionTableChanged.in_transaction(connection.alias) from exc
        return self._run_once(connection, plan, statement, params, many)

    def _run_once(
        self, connection: Any, plan: _AliasPlan, statement: str, params: list[Any], many: bool
    ) -> tuple[Any, int]:
        if plan.executor is not None and unobserved(connection):
            return plan.executor.run(connection, statement, params, many=many)
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            if many:
                return (cursor.fetchall() if cursor.description else []), cursor.rowcount
            row = cursor.fetchone() if cursor.description else None
            return row, cursor.rowcount

    # save and create --------------------------------------------------------------------

    def save(self, session: Session, *, expected_version: int | None = None) -> None:
        try:
            self._write(session, expected_version, create=False)
        finally:
            self._release()

    def create(self, session: Session) -> None:
        try:
            self._write(session, None, create=True)
        finally:
            self._release()

    def has_text_ids(self) -> bool:
        """Whether the table has graph-flow 0.6's text ids (read from the database now)."""
        try:
            connection, _plan = self._connection(None, "inspect")
            return flavour_of(connection, fresh=True) is Flavour.TEXT_IDS
        finally:
            self._release()

    def database_time(self) -> datetime:
        """The database server's clock now (aware, UTC): what every write stamps."""
        try:
            connection, _plan = self._connection(None, "inspect")
            with connection.cursor() as cursor:
                cursor.execute(sql.database_time(connection))
                value = cursor.fetchone()[0]
        finally:
            self._release()
        if isinstance(value, str):  # SQLite's text, in UTC
            value = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        return value

    def session_id(self, value: Any) -> SessionId:
        """``value`` as an id of this storage's table, or InvalidSessionId (see ``ids.py``)."""
        try:
            return self._session_id(value, "look up")
        finally:
            self._release()

    def _session_id(self, value: Any, action: str) -> SessionId:
        """``value`` as an id of this database's table. A UUID (or its canonical text) is the
        same id on either of graph-flow's tables and needs no query; other text is looked up
        against the table as it is now (see flavour.py)."""
        if type(value) is uuid.UUID:
            return value
        if not isinstance(value, str) or is_canonical_uuid_text(value):
            return parse_session_id(value)
        check_text_id(value)  # what no table holds fails before the database is asked
        connection, _plan = self._connection(None, action)
        return id_for_table(connection, value)

    def _write(self, session: Session, expected_version: int | None, *, create: bool) -> None:
        action = "create" if create else "save"
        pool = self._driver_pool()
        jsonb = pool is not None or self._sends_jsonb()  # the pool's path sends jsonb
        row = checked_row(session, self._session_id(session.id, action), jsonb=jsonb)
        if pool is not None:
            stored = self._write_on_pool(pool, session, row, expected_version, create)
        else:
            connection, plan = self._connection(row.id, action)
            direct = plan.executor is not None and unobserved(connection)
            if jsonb and not utf8_database(connection):
                row = checked_row(session, row.id)  # \u escapes beyond ASCII need UTF8
            stored = self._write_row(connection, plan, row, expected_version, create, direct)
        self._written(session, stored)
        saved(self, session, self.using)

    def _write_row(
        self,
        connection: Any,
        plan: _AliasPlan,
        row: SessionRow,
        expected_version: int | None,
        create: bool,
        direct: bool,
    ) -> Sequence[Any]:
        """Write one checked row; its version, created_at and updated_at."""
        if plan.upsert:
            return self._upsert_row(
                connection, plan, row, expected_version, create=create, direct=direct
            )
        try:
            if create:
                return orm.create_row(self.using, row)
            return orm.save_row(self.using, row, expected_version)
        except DatabaseError as exc:
            action = "create" if create else "save"
            raise _failure(SaveError, action, row.id, exc, connection) from exc

    def _written(self, session: Session, stored: Sequence[Any]) -> None:
        """What a write tells the caller's object: version, timestamps, that it is stored."""
        session.version, session.created_at, session.updated_at = stored
        session._state.adding = False
        session._state.db = self.using

    def _upsert_row(
        self,
        connection: Any,
        plan: _AliasPlan,
        row: SessionRow,
        expected_version: int | None,
        *,
        create: bool,
        direct: bool,
    ) -> list[Any]:
        # Directly, the context goes out as the bytes checked_row measured: no second encoding
        # (and no decoding of a megabyte into a str either).
        context: Any = (
            plan.executor.jsonb(row.context.utf8)
            if direct and plan.executor is not None
            else row.context.json
        )
        statement, params = _write_statement(
            plan, plan.id_param(row.id, connection), row, context, expected_version, create
        )
        action = "create" if create else "save"
        try:
            stored, _ = self._run(connection, plan, statement, params)
        except DatabaseError as exc:
            raise _failure(SaveError, action, row.id, exc, connection) from exc
        if stored is None:
            if create:
                raise SessionExists.for_id(row.id)
            raise self._conflict(row.id, expected_version, connection, plan)
        return _convert(stored, plan.returning_converters, connection)

    def _conflict(
        self, session_id: SessionId, expected: int | None, connection: Any, plan: _AliasPlan
    ) -> SessionConflict:
        # Only on the error path: one more query to say what the stored version is.
        with connection.cursor() as cursor:
            cursor.execute(
                plan.statements.select_version,
                [plan.id_param(session_id, connection)],
            )
            found = cursor.fetchone()
        return SessionConflict.for_versions(session_id, expected, found[0] if found else None)

    def _sends_jsonb(self) -> bool:
        """Whether a save will pass the context as a psycopg jsonb parameter.

        Decided from configuration alone, before connecting, so that bad input still fails
        before the database is touched; should it not hold at execution, the text is sent.
        """
        try:
            connection = connections[self.using]
        except ConnectionDoesNotExist:  # fails later, where it always did
            return False
        return available(connection) and unobserved(connection)

    def save_fields(self, session: Session, fields: Sequence[str]) -> None:
        """Write only ``fields`` of a stored session (the ORM's ``save(update_fields=...)``),
        with a save's bookkeeping: ``version`` + 1 and ``updated_at`` from the database's
        clock. DatabaseError, as Django's, when no row is stored under the id."""
        model = session_model()
        names = {model._meta.get_field(name).name for name in fields}
        values = {name: getattr(session, name) for name in names - {"version", "updated_at"}}
        manager = model.objects.using(self.using)
        try:
            with transaction.atomic(using=self.using):
                rows = manager.filter(pk=session.pk)
                if not rows.update(**values, version=F("version") + 1, updated_at=Now()):
                    raise DatabaseError("Save with update_fields did not affect any rows.")
                session.version, session.updated_at = rows.values_list(
                    "version", "updated_at"
                ).get()
        finally:
            self._release()
        session._state.db = self.using
        saved(self, session, self.using)

    # get --------------------------------------------------------------------------------

    def get(self, session_id: SessionId) -> Session | None:
        try:
            return self._get(session_id)
        finally:
            self._release()

    def _get(self, session_id: SessionId) -> Session | None:
        sid = self._session_id(session_id, "fetch")
        pool = self._driver_pool()
        if pool is not None:
            return self._get_on_pool(pool, sid)
        connection, plan = self._connection(sid, "fetch")
        params = [plan.id_param(sid, connection)]
        try:
            row, _ = self._run(connection, plan, plan.statements.select, params)
        except DatabaseError as exc:
            raise _failure(RetrieveError, "fetch", sid, exc, connection) from exc
        if row is None:
            return None
        if plan.executor is not None and len(row[plan.context_index] or b"") > KEEP_RESULTS_BELOW:
            plan.executor.free_result(connection.connection)
        return _session_from_row(plan, self.using, row, connection)

    # delete -----------------------------------------------------------------------------

    def delete(self, session_id: SessionId) -> bool:
        try:
            return self._delete(session_id)
        finally:
            self._release()

    def _delete(self, session_id: SessionId) -> bool:
        sid = self._session_id(session_id, "delete")
        pool = self._driver_pool()
        if pool is not None:
            removed = self._delete_on_pool(pool, sid)
        else:
            connection, plan = self._connection(sid, "delete")
            params = [plan.id_param(sid, connection)]
            try:
                _, count = self._run(connection, plan, plan.statements.delete, params)
            except DatabaseError as exc:
                raise _failure(DeleteError, "delete", sid, exc, connection) from exc
            removed = count > 0
        if removed:
            deleted(self, sid, self.using)
        return removed

    # the pool, directly ------------------------------------------------------------------
    # A ``release_connections`` storage (``connect()``'s) hands its connection back after
    # every operation. Through Django's wrapper each operation then costs a connect and a
    # close (connection parameters, autocommit, connection state, a signal: about four times
    # what the pool's own checkout costs), which is what held threads sharing the pool back.
    # So its save, get and delete take a connection from the alias's psycopg pool (Django's
    # own, the same connections) directly whenever nothing needs the wrapper: outside a
    # transaction on the alias, with nobody watching queries through Django's cursor.

    def _driver_pool(self) -> Any | None:
        """The alias's psycopg pool when an operation may run on it directly, else None."""
        if not self._release_connections:
            return None
        try:
            connection = connections[self.using]
        except ConnectionDoesNotExist:
            return None
        if not (available(connection) and unobserved(connection)):
            return None
        if connection.in_atomic_block or (
            connection.connection is not None and not connection.autocommit
        ):
            return None  # the caller's transaction: its connection, through the wrapper
        return getattr(connection, "pool", None)

    @contextmanager
    def _pooled(self, pool: Any, action: str, session_id: Any) -> Iterator[Any]:
        """A connection of the alias's pool for one operation, in autocommit;
        ConnectionFailed (naming the database, never the password) when none can be had."""
        executor = self._executor(self._driver_plan())
        try:
            pool.open()  # as Django opens it on its first connection; a no-op once open
            pgconn = pool.getconn()
        except executor.driver_error as exc:  # PoolTimeout is an OperationalError
            settings = connections[self.using].settings_dict
            _raise_unavailable(exc, settings, self.using, action, session_id)
        try:
            if not pgconn.autocommit:  # Django's pool makes them so; a write must not linger
                pgconn.autocommit = True
            yield pgconn
        finally:
            pool.putconn(pgconn)  # a broken connection is discarded by the pool

    def _write_on_pool(
        self,
        pool: Any,
        session: Session,
        row: SessionRow,
        expected_version: int | None,
        create: bool,
    ) -> Sequence[Any]:
        action = "create" if create else "save"
        plan = self._driver_plan()
        with self._pooled(pool, action, row.id) as pgconn:
            if not utf8_driver_connection(pgconn):
                row = checked_row(session, row.id)  # \u escapes beyond ASCII need UTF8
            context = self._executor(plan).jsonb(row.context.utf8)
            statement, params = _write_statement(
                plan, id_text(row.id), row, context, expected_version, create
            )
            try:
                stored, _ = self._run_pooled(pgconn, plan, statement, params)
                if stored is None and not create:
                    # Only on the error path: one more query to say what the stored version is.
                    cursor = pgconn.execute(plan.statements.select_version, [id_text(row.id)])
                    found = cursor.fetchone()
            except (DatabaseError, self._executor(plan).driver_error) as exc:
                raise self._refused_on_driver(SaveError, action, row.id, exc, pgconn) from exc
            if stored is None:
                if create:
                    raise SessionExists.for_id(row.id)
                raise SessionConflict.for_versions(
                    row.id, expected_version, found[0] if found else None
                )
            return _convert(stored, plan.returning_converters, _DriverConnection(pgconn))

    def _get_on_pool(self, pool: Any, sid: SessionId) -> Session | None:
        plan = self._driver_plan()
        with self._pooled(pool, "fetch", sid) as pgconn:
            try:
                row, _ = self._run_pooled(pgconn, plan, plan.statements.select, [id_text(sid)])
            except DatabaseError as exc:
                raise self._refused_on_driver(RetrieveError, "fetch", sid, exc, pgconn) from exc
            if row is None:
                return None
            if len(row[plan.context_index] or b"") > KEEP_RESULTS_BELOW:
                self._executor(plan).free_result(pgconn)
            return _session_from_row(plan, self.using, row, _DriverConnection(pgconn))

    def _delete_on_pool(self, pool: Any, sid: SessionId) -> bool:
        plan = self._driver_plan()
        with self._pooled(pool, "delete", sid) as pgconn:
            try:
                _, count = self._run_pooled(pgconn, plan, plan.statements.delete, [id_text(sid)])
            except DatabaseError as exc:
                raise self._refused_on_driver(DeleteError, "delete", sid, exc, pgconn) from exc
        return count > 0

    def _run_pooled(
        self, pgconn: Any, plan: _AliasPlan, statement: str, params: list[Any]
    ) -> tuple[Any, int]:
        """``_run`` on a pool's connection (autocommit): a statement planned before the id
        column changed type runs once more, planned anew."""
        executor = self._executor(plan)
        try:
            return executor.run_driver(pgconn, statement, params)
        except DatabaseError as exc:
            if not is_stale_statement(exc):
                raise
            forget_driver_connection(pgconn)
            executor.forget_prepared_driver(pgconn)
        return executor.run_driver(pgconn, statement, params)

    # batches ----------------------------------------------------------------------------

    def save_many(
        self, sessions: Sequence[Session], *, expected_versions: Sequence[int | None] | None = None
    ) -> None:
        """Save every session in one statement on PostgreSQL (one transaction elsewhere), all
        or nothing: InvalidSession or SessionConflict names the session that stopped it."""
        expected = batch_expectations(sessions, expected_versions)
        try:
            self._write_many(sessions, expected)
        finally:
            self._release()

    def _write_many(self, sessions: Sequence[Session], expected: list[int | None]) -> None:
        if not sessions:
            return
        jsonb = self._sends_jsonb()
        ids = [self._session_id(session.id, "save") for session in sessions]
        rows = [checked_row(s, sid, jsonb=jsonb) for s, sid in zip(sessions, ids, strict=True)]
        check_distinct(ids)
        connection, plan = self._connection(None, "save")
        direct = plan.executor is not None and unobserved(connection)
        if jsonb and not utf8_database(connection):
            rows = [checked_row(s, sid) for s, sid in zip(sessions, ids, strict=True)]
        if plan.statements.postgres and plan.upsert:
            stored = self._upsert_many(connection, plan, rows, expected, direct)
        else:  # one statement per row, in one transaction: the same all or nothing
            with transaction.atomic(using=self.using):
                stored = [
                    self._write_row(connection, plan, row, version, False, direct)
                    for row, version in zip(rows, expected, strict=True)
                ]
        for session, values in zip(sessions, stored, strict=True):
            self._written(session, values)
        for session in sessions:
            saved(self, session, self.using)

    def _upsert_many(
        self,
        connection: Any,
        plan: _AliasPlan,
        rows: list[SessionRow],
        expected: list[int | None],
        direct: bool,
    ) -> list[Sequence[Any]]:
        document = _batch_document(rows, expected)
        param: Any = (
            plan.executor.jsonb(document)
            if direct and plan.executor is not None
            else document.decode()
        )
        try:
            returned, _ = self._run(
                connection, plan, plan.statements.upsert_many, [param], many=True
            )
        except DatabaseError as exc:
            conflict = _batch_conflict(exc, rows, expected)
            if conflict is not None:
                raise conflict from exc
            raise _failure(SaveError, "save", _batch_label(rows), exc, connection) from exc
        return _batch_returned(plan, rows, returned, connection)

    def get_many(self, session_ids: Sequence[SessionId]) -> list[Session | None]:
        """The sessions of ``session_ids`` in one statement (PostgreSQL; chunks of 500
        elsewhere), in the order given, None where none is stored; an id given twice gets
        the same object twice."""
        try:
            ids = [self._session_id(value, "fetch") for value in session_ids]
            if not ids:
                return []
            connection, plan = self._connection(None, "fetch")
            found: dict[str, Session] = {}
            for statement, params in _id_statements(
                plan, connection, ids, plan.statements, "select"
            ):
                try:
                    rows, _ = self._run(connection, plan, statement, params, many=True)
                except DatabaseError as exc:
                    raise _failure(
                        RetrieveError, "fetch", _batch_label(ids), exc, connection
                    ) from exc
                if plan.executor is not None:
                    plan.executor.free_result(connection.connection)
                for row in rows:
                    session = _session_from_row(plan, self.using, row, connection)
                    found[id_text(session.pk)] = session
            return [found.get(id_text(sid)) for sid in ids]
        finally:
            self._release()

    def delete_many(self, session_ids: Sequence[SessionId]) -> int:
        """Delete the sessions of ``session_ids`` in one statement (PostgreSQL; chunks of 500
        elsewhere); how many rows were deleted. ``session_deleted`` for each."""
        try:
            ids = list(dict.fromkeys(self._session_id(value, "delete") for value in session_ids))
            if not ids:
                return 0
            connection, plan = self._connection(None, "delete")
            removed: list[SessionId] = []
            if not plan.upsert:
                removed = orm.delete_rows(self.using, ids)
            for statement, params in (
                _id_statements(plan, connection, ids, plan.statements, "delete")
                if plan.upsert
                else []
            ):
                try:
                    rows, _ = self._run(connection, plan, statement, params, many=True)
                except DatabaseError as exc:
                    raise _failure(
                        DeleteError, "delete", _batch_label(ids), exc, connection
                    ) from exc
                removed += [
                    _convert([row[0]], plan.row_converters[:1], connection)[0] for row in rows
                ]
        finally:
            self._release()
        for sid in removed:
            deleted(self, sid, self.using)
        return len(removed)

    # native async -----------------------------------------------------------------------
    # With ``native_async`` the a-methods run the same statements, checks and row conversion
    # as the sync ones, awaiting psycopg's AsyncConnection: no worker thread per call. The
    # storage's own async pool gives a connection per operation (always autocommit: a
    # caller's ``transaction.atomic`` is a sync, per-thread thing).

    async def asave(self, session: Session, *, expected_version: int | None = None) -> None:
        if not self._native_async:
            return await super().asave(session, expected_version=expected_version)
        await self._awrite(session, expected_version, create=False)

    async def acreate(self, session: Session) -> None:
        if not self._native_async:
            return await super().acreate(session)
        await self._awrite(session, None, create=True)

    async def aget(self, session_id: SessionId) -> Session | None:
        if not self._native_async:
            return await super().aget(session_id)
        plan = self._driver_plan()
        known = id_on_any_table(session_id)
        async with self._driver_connection("fetch", known) as pgconn:
            sid = await self._aresolve(pgconn, session_id)
            try:
                row, _ = await self._arun(pgconn, plan, plan.statements.select, [id_text(sid)])
            except DatabaseError as exc:
                raise self._refused_on_driver(RetrieveError, "fetch", sid, exc, pgconn) from exc
            if row is None:
                return None
            if len(row[plan.context_index] or b"") > KEEP_RESULTS_BELOW:
                await self._executor(plan).afree_result(pgconn)
            return _session_from_row(plan, self.using, row, _DriverConnection(pgconn))

    async def aget_or_raise(self, session_id: SessionId) -> Session:
        if not self._native_async:
            return await super().aget_or_raise(session_id)
        session = await self.aget(session_id)
        if session is None:
            raise SessionNotFound(f"Session not found: {session_id}", session_id=session_id)
        return session

    async def adelete(self, session_id: SessionId) -> bool:
        if not self._native_async:
            return await super().adelete(session_id)
        plan = self._driver_plan()
        async with self._driver_connection("delete", id_on_any_table(session_id)) as pgconn:
            sid = await self._aresolve(pgconn, session_id)
            try:
                _, count = await self._arun(pgconn, plan, plan.statements.delete, [id_text(sid)])
            except DatabaseError as exc:
                raise self._refused_on_driver(DeleteError, "delete", sid, exc, pgconn) from exc
        if count > 0:
            await adeleted(self, sid, self.using)
        return count > 0

    async def asave_many(
        self, sessions: Sequence[Session], *, expected_versions: Sequence[int | None] | None = None
    ) -> None:
        if not self._native_async:
            return await super().asave_many(sessions, expected_versions=expected_versions)
        expected = batch_expectations(sessions, expected_versions)
        if not sessions:
            return
        plan = self._driver_plan()
        async with self._driver_connection("save", None) as pgconn:
            jsonb = utf8_driver_connection(pgconn)  # \u escapes beyond ASCII need UTF8
            ids = [await self._aresolve(pgconn, session.id) for session in sessions]
            rows = [
                checked_row(session, sid, jsonb=jsonb)
                async for session, sid in _in_steps(zip(sessions, ids, strict=True))
            ]
            check_distinct(ids)
            param = self._executor(plan).jsonb(_batch_document(rows, expected))
            try:
                returned, _ = await self._arun(
                    pgconn, plan, plan.statements.upsert_many, [param], many=True
                )
            except DatabaseError as exc:
                conflict = _batch_conflict(exc, rows, expected)
                if conflict is not None:
                    raise conflict from exc
                label = _batch_label(rows)
                raise self._refused_on_driver(SaveError, "save", label, exc, pgconn) from exc
            stored = _batch_returned(plan, rows, returned, _DriverConnection(pgconn))
        for session, values in zip(sessions, stored, strict=True):
            self._written(session, values)
        for session in sessions:
            await asaved(self, session, self.using)

    async def aget_many(self, session_ids: Sequence[SessionId]) -> list[Session | None]:
        if not self._native_async:
            return await super().aget_many(session_ids)
        if not session_ids:
            return []
        plan = self._driver_plan()
        async with self._driver_connection("fetch", None) as pgconn:
            ids = [await self._aresolve(pgconn, value) for value in session_ids]
            ((statement, params),) = _id_statements(plan, None, ids, plan.statements, "select")
            try:
                rows, _ = await self._arun(pgconn, plan, statement, params, many=True)
            except DatabaseError as exc:
                raise self._refused_on_driver(
                    RetrieveError, "fetch", _batch_label(ids), exc, pgconn
                ) from exc
            await self._executor(plan).afree_result(pgconn)
            view = _DriverConnection(pgconn)
        found = {}
        async for row in _in_steps(rows):
            session = _session_from_row(plan, self.using, row, view)
            found[id_text(session.pk)] = session
        return [found.get(id_text(sid)) for sid in ids]

    async def adelete_many(self, session_ids: Sequence[SessionId]) -> int:
        if not self._native_async:
            return await super().adelete_many(session_ids)
        if not session_ids:
            return 0
        plan = self._driver_plan()
        async with self._driver_connection("delete", None) as pgconn:
            ids = list(dict.fromkeys([await self._aresolve(pgconn, v) for v in session_ids]))
            ((statement, params),) = _id_statements(plan, None, ids, plan.statements, "delete")
            try:
                rows, _ = await self._arun(pgconn, plan, statement, params, many=True)
            except DatabaseError as exc:
                label = _batch_label(ids)
                raise self._refused_on_driver(DeleteError, "delete", label, exc, pgconn) from exc
        for row in rows:
            await adeleted(self, row[0], self.using)
        return len(rows)

    async def aclose(self) -> None:
        """Close the async pool of the running event loop (an ASGI app's lifespan shutdown, the
        end of an asyncio service); the next async operation opens a new one."""
        pool = self._async_pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    async def _awrite(
        self, session: Session, expected_version: int | None, *, create: bool
    ) -> None:
        action = "create" if create else "save"
        plan = self._driver_plan()
        known = id_on_any_table(session.id)
        # Bad input fails before a connection is taken whenever the id needs no table.
        row = checked_row(session, known, jsonb=True) if known is not None else None
        async with self._driver_connection(action, known) as pgconn:
            sid = await self._aresolve(pgconn, session.id)
            if row is None or not utf8_driver_connection(pgconn):
                row = checked_row(session, sid, jsonb=utf8_driver_connection(pgconn))
            context = self._executor(plan).jsonb(row.context.utf8)
            statement, params = _write_statement(
                plan, id_text(row.id), row, context, expected_version, create
            )
            try:
                stored, _ = await self._arun(pgconn, plan, statement, params)
            except DatabaseError as exc:
                raise self._refused_on_driver(SaveError, action, row.id, exc, pgconn) from exc
            if stored is None:
                if create:
                    raise SessionExists.for_id(row.id)
                # Only on the error path: one more query to say what the stored version is.
                cursor = await pgconn.execute(plan.statements.select_version, [id_text(row.id)])
                found = await cursor.fetchone()
                raise SessionConflict.for_versions(
                    row.id, expected_version, found[0] if found else None
                )
            values = _convert(stored, plan.returning_converters, _DriverConnection(pgconn))
        self._written(session, values)
        await asaved(self, session, self.using)

    def _driver_plan(self) -> _AliasPlan:
        """The alias's plan for the driver connections of the async and pooled paths, made
        without a connection (nothing in it needs one)."""
        alias = self.using
        plan = self._plans.get(alias)
        if plan is None:
            connection = connections[alias]
            if not available(connection):
                raise ImproperlyConfigured(
                    f"native_async needs PostgreSQL with psycopg 3; database alias {alias!r} "
                    f"is {connection.vendor}"
                )
            with self._lock:
                plan = self._plans.get(alias) or self._plans.setdefault(
                    alias, self._plan(connection)
                )
        return plan

    @staticmethod
    def _executor(plan: _AliasPlan) -> PsycopgExecutor:
        assert plan.executor is not None  # _async_plan refuses an alias without one
        return plan.executor

    @asynccontextmanager
    async def _driver_connection(self, action: str, session_id: Any) -> AsyncIterator[Any]:
        """A connection of this loop's pool for one operation; ConnectionFailed (naming the
        database, never the password) when none can be had."""
        pool = await self._async_pool()
        executor = self._executor(self._driver_plan())
        try:
            pgconn = await pool.getconn()
        except executor.driver_error as exc:  # PoolTimeout is an OperationalError
            settings = connections[self.using].settings_dict
            _raise_unavailable(exc, settings, self.using, action, session_id)
        try:
            yield pgconn
        finally:
            await pool.putconn(pgconn)  # a broken connection is discarded by the pool

    async def _async_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        pool = self._async_pools.get(loop)
        if pool is None:
            wrapper = connections[self.using]
            params = wrapper.get_connection_params()  # Django's own: adapters, no prepare
            params.pop("cursor_factory", None)  # Django's sync cursor class
            params["autocommit"] = True
            options = wrapper.settings_dict.get("OPTIONS", {}).get("pool")
            options = options if isinstance(options, dict) else {}
            pool = self._async_pool_class(
                kwargs=params,
                min_size=1,
                max_size=options.get("max_size", DEFAULT_POOL_MAX_SIZE),
                timeout=options.get("timeout", DEFAULT_POOL_TIMEOUT),
                name=f"{self.using} (async)",
                open=False,
            )
            self._async_pools[loop] = pool
            await pool.open()
        return pool

    async def _aresolve(self, pgconn: Any, value: Any) -> SessionId:
        """``_session_id`` on an async connection."""
        known = id_on_any_table(value)
        if known is not None:
            return known
        return await aid_for_table(pgconn, sql.id_column_type(connections[self.using]), value)

    async def _arun(
        self,
        pgconn: Any,
        plan: _AliasPlan,
        statement: str,
        params: list[Any],
        *,
        many: bool = False,
    ) -> tuple[Any, int]:
        """``_run`` on an async connection: a statement planned before the id column changed
        type runs once more, planned anew (always autocommit here)."""
        executor = self._executor(plan)
        try:
            return await executor.arun(pgconn, statement, params, many=many)
        except DatabaseError as exc:
            if not is_stale_statement(exc):
                raise
            forget_driver_connection(pgconn)
            await executor.aforget_prepared(pgconn)
        return await executor.arun(pgconn, statement, params, many=many)

    def _refused_on_driver(
        self, error: type[StorageError], action: str, session_id: Any, exc: Exception, pgconn: Any
    ) -> StorageError:
        return _refused(
            error,
            action,
            session_id,
            exc,
            lost=bool(pgconn.closed or pgconn.broken),
            settings_dict=connections[self.using].settings_dict,
            alias=self.using,
        )

    # retention --------------------------------------------------------------------------

    def prune_batch(
        self,
        cutoff: datetime,
        *,
        limit: int,
        since: Any = None,
        graph_id: str | None = None,
        except_graphs: Sequence[str] = (),
    ) -> tuple[list[SessionId], Any]:
        """Delete up to ``limit`` of the oldest sessions not updated since ``cutoff`` (and, when
        given, updated at or after ``since``; of ``graph_id``, or of graphs other than
        ``except_graphs``), in one short statement where the database has
        ``DELETE ... RETURNING`` and a LIMIT inside IN, else in one transaction. Rows a save
        holds locked are skipped. Returns the ids deleted and the newest ``updated_at`` among
        them (as the database returned it, for the next batch's ``since``)."""
        connection, plan = self._connection(None, "prune")
        features = connection.features
        if not (
            features.can_return_rows_from_bulk_insert and features.allow_sliced_subqueries_with_in
        ):
            return orm.prune_batch(self.using, cutoff, limit, since, graph_id, except_graphs)
        others = () if graph_id is not None else tuple(except_graphs)
        statement = plan.statements.prune_batch(
            since=since is not None,
            graph=graph_id is not None,
            except_graphs=len(others),
            skip_locked=features.has_select_for_update_skip_locked,
        )
        params: list[Any] = [connection.ops.adapt_datetimefield_value(cutoff)]
        params += [since] if since is not None else []
        params += [graph_id] if graph_id is not None else list(others)
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        ids = [_convert([row[0]], plan.row_converters[:1], connection)[0] for row in rows]
        return ids, max((row[1] for row in rows), default=None)

    def trim_batch(
        self,
        *,
        limit: int,
        after: Any = None,
        graph_id: str | None = None,
        dry_run: bool = False,
        oversized: tuple[str, list[Any]],
        trimmed: tuple[str, list[Any]],
    ) -> tuple[int, int, Any]:
        """One batch of trimming on PostgreSQL, in one statement: of the next ``limit`` rows in
        id order (after ``after``; of ``graph_id``), cut each history that is ``oversized``
        (compiled SQL and its parameters) to ``trimmed``; ``dry_run`` only counts. Returns
        rows scanned, rows trimmed (or to trim) and the last id scanned."""
        connection, plan = self._connection(None, "trim")
        statement = plan.statements.trim_batch(
            after=after is not None,
            graph=graph_id is not None,
            oversized=oversized[0],
            trimmed=None if dry_run else trimmed[0],
        )
        params: list[Any] = []
        params += [plan.id_param(after, connection)] if after is not None else []
        params += [graph_id] if graph_id is not None else []
        params.append(limit)
        params += oversized[1] if dry_run else trimmed[1] + oversized[1]
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            scanned, last, changed = cursor.fetchone()
        if last is not None:
            last = _convert([last], plan.row_converters[:1], connection)[0]
        return scanned, changed, last

    def replace_context_at_version(
        self, session_id: SessionId, context_json: str, version: int
    ) -> bool:
        """Store a new context (checked JSON text) for a session still at ``version``, one more
        version, ``updated_at`` kept: trimming where the database cannot do it in SQL.
        False when the session has moved on (or is gone) since it was read."""
        connection, plan = self._connection(session_id, "trim")
        with connection.cursor() as cursor:
            cursor.execute(
                plan.statements.replace_context_at_version(),
                [context_json, plan.id_param(session_id, connection), version],
            )
            return bool(cursor.rowcount)

    # restore (import) -------------------------------------------------------------------

    def restore_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write ``rows`` exactly as given, every column (``id``, ``graph_id``,
        ``current_task_id``, ``status_message``, ``context`` as checked JSON text,
        ``created_at``, ``updated_at``, ``version``), in place of any rows stored under their
        ids: what import does, keeping versions and timestamps from the file. Sends no
        signal (like ``bulk_create``). Call inside ``transaction.atomic`` for all-or-nothing.
        """
        if not rows:
            return
        connection, plan = self._connection(None, "import")
        if not plan.upsert:
            contexts = [dict(row, context=decode_json(row["context"])) for row in rows]
            orm.restore_rows(self.using, contexts)
            return
        adapt = connection.ops.adapt_datetimefield_value
        columns = plan.statements.column_names
        # At most 1000 rows per statement: 8000 parameters, under every driver's limit.
        with transaction.atomic(using=self.using), connection.cursor() as cursor:
            for start in range(0, len(rows), 1000):
                part = rows[start : start + 1000]
                params: list[Any] = []
                for row in part:
                    for name in columns:
                        value = row[name]
                        if name == "id":
                            value = plan.id_param(value, connection)
                        elif name in ("created_at", "updated_at"):
                            value = adapt(value)
                        params.append(value)
                cursor.execute(plan.statements.restore(len(part)), params)


@dataclass(frozen=True)
class _DriverConnection:
    """What the row converters read of a connection (its driver connection), for a psycopg
    AsyncConnection that has no Django wrapper."""

    connection: Any


def _write_statement(
    plan: _AliasPlan,
    id_param: Any,
    row: SessionRow,
    context: Any,
    expected_version: int | None,
    create: bool,
) -> tuple[str, list[Any]]:
    """The statement of one save or create of ``row``, and its parameters (sync and async)."""
    statements = plan.statements
    params: list[Any] = [
        id_param,
        row.graph_id,
        row.current_task_id,
        row.status_message,
        context,
        new_row_version(expected_version),
    ]
    if create:
        return statements.insert, params
    if expected_version is None:
        return statements.upsert, params
    return statements.upsert_if_version, [*params, expected_version]


def _batch_document(rows: Sequence[SessionRow], expected: Sequence[int | None]) -> bytes:
    return sql.batch_document(
        [
            (
                id_text(row.id),
                row.graph_id,
                row.current_task_id,
                row.status_message,
                row.context.utf8,
                new_row_version(version),
                version,
            )
            for row, version in zip(rows, expected, strict=True)
        ]
    )


def _batch_returned(
    plan: _AliasPlan, rows: Sequence[SessionRow], returned: Sequence[Any], connection: Any
) -> list[Sequence[Any]]:
    """Version, created_at and updated_at of each row, in the order of ``rows``, from what
    the batch upsert returned (id first)."""
    by_id = {
        id_text(stored[0]): _convert(stored[1:], plan.returning_converters, connection)
        for stored in returned
    }
    return [by_id[id_text(row.id)] for row in rows]


_CONFLICT = re.compile(re.escape(sql.CONFLICT_MARK) + r' (\d+) (.*)"', re.DOTALL)


def _batch_conflict(
    exc: Exception, rows: Sequence[SessionRow], expected: Sequence[int | None]
) -> SessionConflict | None:
    """The SessionConflict of the session that stopped a batch upsert (the statement's own
    error names it and its stored version), or None for any other failure."""
    found = _CONFLICT.search(str(exc))
    if found is None:
        return None
    stored, text = int(found.group(1)), found.group(2)
    for row, version in zip(rows, expected, strict=True):
        if id_text(row.id) == text:
            conflict = SessionConflict.for_versions(row.id, version, stored)
            return SessionConflict(
                f"{conflict} (nothing of the batch of {len(rows)} was saved)",
                session_id=row.id,
                expected_version=version,
                actual_version=stored,
            )
    return None


def _batch_label(ids: Sequence[Any]) -> str:
    """How an error names a batch: its size and first ids."""
    ids = [getattr(row, "id", row) for row in ids]
    shown = ", ".join(str(sid) for sid in ids[:3])
    more = ", ..." if len(ids) > 3 else ""
    return f"{shown}{more} (batch of {len(ids)})"


def _id_statements(
    plan: _AliasPlan, connection: Any, ids: Sequence[SessionId], statements: Statements, kind: str
) -> Iterator[tuple[str, list[Any]]]:
    """The statements selecting (``kind="select"``) or deleting the rows of ``ids``: one on
    PostgreSQL (an array parameter), chunks of 500 ids elsewhere."""
    if statements.postgres:
        statement = statements.select_many if kind == "select" else statements.delete_many
        yield statement, [sql.id_array([id_text(sid) for sid in ids])]
        return
    build = statements.select_in if kind == "select" else statements.delete_in
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        yield build(len(part)), [plan.id_param(sid, connection) for sid in part]


#: Sessions an async batch builds (read) or checks and encodes (write) in one step of the
#: event loop: each costs tens of microseconds, so a batch of hundreds in one step would hold
#: the loop for milliseconds (100 writes: ~10 ms).
_SESSIONS_PER_STEP = 25

_Item = TypeVar("_Item")


async def _in_steps(items: Iterable[_Item]) -> AsyncIterator[_Item]:
    """``items``, letting the event loop run other tasks every ``_SESSIONS_PER_STEP``."""
    for index, item in enumerate(items):
        if index and index % _SESSIONS_PER_STEP == 0:
            await asyncio.sleep(0)
        yield item


#: Ids per statement where they travel one parameter each (under SQLite's old limit of 999).
_CHUNK = 500


def _session_from_row(plan: _AliasPlan, using: str, row: Sequence[Any], connection: Any) -> Any:
    """The Session of a selected row (sync and async); ContextDeserializationError naming it
    when its stored context breaks the contract."""
    try:
        values = _convert(row, plan.row_converters, connection)
    except ContextDeserializationError as exc:
        sid = _convert(row[:1], plan.row_converters[:1], connection)[0]  # the id as Django reads it
        raise ContextDeserializationError(
            f"Failed to fetch session {sid}: stored context is not valid JSON: {exc}",
            path=exc.path,
            session_id=sid,
        ) from exc
    session = plan.model.from_db(using, None, values)
    session.context  # noqa: B018 (a stored context that breaks the contract fails here)
    return session


def _failure(
    error: type[StorageError], action: str, session_id: Any, exc: Exception, connection: Any
) -> StorageError:
    """``error`` for a statement the database refused; ConnectionFailed when the connection
    itself died under it (server restart, terminated backend): retrying can then succeed.
    """
    return _refused(
        error,
        action,
        session_id,
        exc,
        lost=_connection_lost(connection),
        settings_dict=connection.settings_dict,
        alias=connection.alias,
    )


def _refused(
    error: type[StorageError],
    action: str,
    session_id: Any,
    exc: Exception,
    *,
    lost: bool,
    settings_dict: dict[str, Any],
    alias: str,
) -> StorageError:
    """``_failure`` from what is known of the connection (the async path has no wrapper)."""
    if lost:
        return ConnectionFailed.for_database(
            settings_dict, alias, exc, action=action, session_id=session_id, lost=True
        )
    return error(f"Failed to {action} session {session_id}: {exc}", session_id=session_id)


def _raise_unavailable(
    exc: Exception, settings_dict: dict[str, Any], alias: str, action: str, session_id: Any
) -> NoReturn:
    """Raise ConnectionFailed for a connection that could not be had (naming the database,
    never the password), from a cause that does not show it either."""
    raise ConnectionFailed.for_database(
        settings_dict, alias, exc, action=action, session_id=session_id
    ) from safe_cause(exc, settings_dict)


def _close_if_lost(connection: Any) -> None:
    """Close a connection whose server side is gone, so that the next call reconnects.

    Django closes a broken connection only between requests (``close_old_connections``);
    a worker thread, a management command or a loop has none, and with ``CONN_MAX_AGE``
    (health checks too, which run once per request) would be handed the dead connection on
    every later call. Inside the caller's transaction it is left for the transaction to fail.
    """
    if not connection.in_atomic_block and _connection_lost(connection):
        connection.close()


def _connection_lost(connection: Any) -> bool:
    """Whether the driver connection under a Django wrapper died (not merely a failed query)."""
    raw = getattr(connection, "connection", None)
    if raw is None:
        return False
    # psycopg 3: ``closed`` (also true once the connection went BAD) and ``broken``;
    # psycopg 2: ``closed`` is a non-zero int. sqlite3 has neither.
    return bool(getattr(raw, "closed", False) or getattr(raw, "broken", False))


def _converters(column: Any, connection: Any) -> list[Callable[..., Any]]:
    """The converters the ORM's compiler applies to a selected ``column``, asked of Django
    for this connection; the context's own is the codec's."""
    field = column.target
    converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    if field.name == "context":
        # The context is read by the codec (a Context, or JSON the field checks on access).
        converters = [c for c in converters if c != getattr(field, "from_db_value", None)]
        converters.append(_read_context)
    return converters


def _read_context(value: Any, expression: Any, connection: Any) -> Any:
    if isinstance(value, bytes):
        return read_stored(value, utf8=utf8_database(connection))
    if isinstance(value, str):
        return read_stored(value)
    return value


def _convert(
    row: Sequence[Any], converters: list[list[Callable[..., Any]]], connection: Any
) -> list[Any]:
    """The row's values through their converters; a trailing backend pid is left out."""
    values = list(row[: len(converters)])
    for index, chain in enumerate(converters):
        if chain:  # on PostgreSQL only the context's
            value = values[index]
            for converter in chain:
                value = converter(value, None, connection)
            values[index] = value
    return values


#: graph-flow 0.5's name. Works on any Django database, PostgreSQL being the one it is built for.
PostgresSessionStorage = DatabaseSessionStorage
