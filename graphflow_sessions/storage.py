"""Session storage backends with graph-flow's semantics: save (upsert), get, delete.

    storage = PostgresSessionStorage()        # GRAPHFLOW_SESSIONS["DATABASE"], or using="alias"
    storage.save(session)                     # one INSERT ... ON CONFLICT DO UPDATE, one round trip
    storage.get(session_id)                   # a Session, or None
    storage.delete(session_id)                # deleting an absent id is not an error
    await storage.asave(session)              # async twins: asave, aget, adelete

``save`` keeps ``created_at``, moves ``updated_at`` and adds one to ``version``. Pass
``expected_version=`` (the version you read) for graph-flow 0.6's optimistic locking:
if the stored row moved on, SessionConflict is raised and nothing is written.
"""

from __future__ import annotations

import abc
import functools
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.connection import ConnectionDoesNotExist

from . import prepared
from .conf import app_settings
from .context import Context
from .exceptions import (
    ContextDeserializationError,
    DeleteError,
    InvalidSession,
    RetrieveError,
    SaveError,
    SessionConflict,
    SessionNotFound,
    StorageError,
)
from .ids import parse_session_id
from .serialization import decode_context_json, decode_json, encode_context_jsonb, encode_json_utf8
from .signals import session_deleted, session_saved

if TYPE_CHECKING:
    from .models import Session

# The Session model is imported where it is used, not here: the seed's plain script does
# ``from graphflow_sessions.storage import PostgresSessionStorage`` before ``connect()``
# has configured Django, and importing a model needs configured, loaded apps.

__all__ = [
    "DatabaseSessionStorage",
    "InMemorySessionStorage",
    "PostgresSessionStorage",
    "SessionStorage",
]


class SessionStorage(abc.ABC):
    """graph-flow's ``SessionStorage`` trait: save, get, delete, plus async twins."""

    @abc.abstractmethod
    def save(self, session: Session, *, expected_version: int | None = None) -> None:
        """Insert or replace the session; with ``expected_version``, only if still at it."""

    @abc.abstractmethod
    def get(self, session_id: uuid.UUID | str) -> Session | None:
        """The stored session, or None when there is none."""

    @abc.abstractmethod
    def delete(self, session_id: uuid.UUID | str) -> bool:
        """Delete the session; True if a row was deleted (absent is not an error)."""

    def get_or_raise(self, session_id: uuid.UUID | str) -> Session:
        """Like ``get``, but raise SessionNotFound (graph-flow's runner: "Session not found")."""
        session = self.get(session_id)
        if session is None:
            raise SessionNotFound(f"Session not found: {session_id}", session_id=session_id)
        return session

    async def asave(self, session: Session, *, expected_version: int | None = None) -> None:
        await sync_to_async(self.save)(session, expected_version=expected_version)

    async def aget(self, session_id: uuid.UUID | str) -> Session | None:
        return await sync_to_async(self.get)(session_id)

    async def aget_or_raise(self, session_id: uuid.UUID | str) -> Session:
        return await sync_to_async(self.get_or_raise)(session_id)

    async def adelete(self, session_id: uuid.UUID | str) -> bool:
        return await sync_to_async(self.delete)(session_id)


@dataclass(frozen=True)
class _Fields:
    """What a save writes, checked and encoded once for every backend."""

    id: uuid.UUID
    graph_id: str
    current_task_id: str
    status_message: str | None
    context_text: str | None  # the JSON as text, when the encoder made it
    context_utf8: bytes  # the JSON as PostgreSQL receives it (for jsonb, maybe \u escapes)

    @property
    def context_json(self) -> str:
        if self.context_text is not None:
            return self.context_text
        return self.context_utf8.decode("utf-8")


def _is_utf8(text: str) -> bool:
    # A lone surrogate (from a bad decode upstream) would otherwise escape as a driver error.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _prepare(session: Session, *, jsonb: bool = False) -> _Fields:
    session_id = parse_session_id(session.id)
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
        if "\x00" in value:
            raise InvalidSession(
                f"cannot save session {session_id}: {name} contains a NUL character (\\u0000), "
                "which PostgreSQL text cannot store",
                session_id=session_id,
            )
        if not value.isascii() and not _is_utf8(value):
            raise InvalidSession(
                f"cannot save session {session_id}: {name} contains a lone surrogate, "
                "which is not valid UTF-8",
                session_id=session_id,
            )
    context = session.context  # a dict assigned by the caller is validated here
    limit = app_settings.MAX_CONTEXT_BYTES
    if jsonb:
        context_text, context_utf8 = encode_context_jsonb(
            context, max_bytes=limit, session_id=session_id
        )
    else:
        context_text, context_utf8 = encode_json_utf8(
            context.to_dict(), max_bytes=limit, session_id=session_id
        )
    return _Fields(
        session_id,
        session.graph_id,
        session.current_task_id,
        session.status_message,
        context_text,
        context_utf8,
    )


class _Statements:
    """SQL and result converters for one database connection, built once per alias."""

    def __init__(self, connection: Any) -> None:
        from .models import Session

        self.model = Session
        quote = connection.ops.quote_name
        table = quote(Session._meta.db_table)
        # Column order of every SELECT and of Session.from_db().
        columns = ", ".join(quote(field.column) for field in Session._meta.concrete_fields)
        self.vendor = connection.vendor
        self.upsert_supported = self.vendor in ("postgresql", "sqlite")
        now = (
            "NOW()" if self.vendor == "postgresql" else "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')"
        )
        json_param = "%s::jsonb" if self.vendor == "postgresql" else "%s"
        # psycopg 3 on PostgreSQL: every statement also reports its backend's pid, which
        # tells whether the connection is direct and so may prepare (see prepared.py).
        self.direct = self.vendor == "postgresql" and _is_psycopg3()
        pid = ", pg_backend_pid()" if self.direct else ""
        version = f"{table}.{quote('version')}"
        # One statement: graph-flow's upsert, plus graph-flow 0.6's version bookkeeping, and
        # RETURNING so the caller's object learns its timestamps in the same round trip.
        self.upsert = (
            f"INSERT INTO {table} ({columns}) "
            f"VALUES (%s, %s, %s, %s, {json_param}, {now}, {now}, %s) "
            "ON CONFLICT (id) DO UPDATE SET "
            "graph_id = EXCLUDED.graph_id, current_task_id = EXCLUDED.current_task_id, "
            "status_message = EXCLUDED.status_message, context = EXCLUDED.context, "
            f"updated_at = {now}, version = {version} + 1"
        )
        self.returning = f" RETURNING version, created_at, updated_at{pid}"
        self.upsert_if_version = self.upsert + f" WHERE {version} = %s" + self.returning
        self.upsert += self.returning
        self.select = f"SELECT {columns}{pid} FROM {table} WHERE id = %s"
        self.select_version = f"SELECT version FROM {table} WHERE id = %s"
        self.delete = f"DELETE FROM {table} WHERE id = %s"
        if self.direct:
            self.delete += " RETURNING pg_backend_pid()"
        fields = Session._meta.concrete_fields
        self.row_converters = [_converters(field, connection) for field in fields]
        self.context_index = [field.name for field in fields].index("context")
        by_name = {field.attname: field for field in fields}
        self.returning_converters = [
            _converters(by_name[name], connection)
            for name in ("version", "created_at", "updated_at")
        ]
        self.pk_field = Session._meta.pk
        if self.direct:
            import psycopg
            from psycopg.types.json import Jsonb

            self.server_cursor = psycopg.Cursor
            # The context goes out as the bytes _prepare measured: no second encoding.
            self.jsonb = lambda data: Jsonb(data, _unchanged)


def _is_psycopg3() -> bool:
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def _unchanged(data: bytes) -> bytes:
    return data


def _direct(connection: Any, sql: _Statements) -> bool:
    # Django's own cursor runs the statement whenever someone watches queries through it:
    # DEBUG or CaptureQueriesContext (queries_logged) or an installed execute_wrapper.
    return sql.direct and not connection.queries_logged and not connection.execute_wrappers


def _sends_jsonb(alias: str) -> bool:
    """Whether a save on ``alias`` will pass the context as a psycopg jsonb parameter.

    Decided from configuration alone, before connecting, so that bad input still fails
    before the database is touched; should it not hold at execution, the text form is sent.
    """
    try:
        connection = connections[alias]
    except ConnectionDoesNotExist:  # fails later, where it always did
        return False
    return (
        connection.vendor == "postgresql"
        and _is_psycopg3()
        and not connection.queries_logged
        and not connection.execute_wrappers
    )


def _utf8_database(connection: Any) -> bool:
    return connection.connection.info.parameter_status("server_encoding") == "UTF8"


def _run(
    connection: Any, sql: _Statements, statement: str, params: list[Any], *, direct: bool
) -> tuple[Any, int]:
    """Run one statement; return its first row (None if it has none) and its row count.

    ``direct`` (psycopg 3, nobody watching queries): the statement runs on a server-binding
    cursor (one, reused) of Django's own connection, so parameters (a megabyte-sized context
    among them) travel as bound values instead of being quoted into the SQL text by Django's
    client-side-binding cursor and parsed back by the server, and it may be prepared (see
    prepared.py). The rest of what Django's cursor does is kept: the thread-sharing and
    broken-transaction checks, autocommit or the caller's atomic block (it is the same
    connection), and driver errors translated to django.db errors.

    A row's last value is the backend pid when ``sql.direct``; it is recorded here.
    """
    if direct:
        connection.validate_thread_sharing()
        connection.validate_no_broken_transaction()
        pgconn = connection.connection
        prepare, pipeline = prepared.plan(pgconn, statement)
        cursor = _server_cursor(pgconn, sql)
        with connection.wrap_database_errors:
            if pipeline:  # the first prepared run: Parse, Bind, Execute and Sync together
                with pgconn.pipeline():
                    cursor.execute(statement, params, prepare=True)
            else:
                cursor.execute(statement, params, prepare=prepare)
            row, count = cursor.fetchone(), cursor.rowcount
        if (
            statement is sql.select
            and row is not None
            and len(row[sql.context_index]) > KEEP_RESULTS_BELOW
        ):
            cursor.close()  # frees the result now; the next call opens a new cursor
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            row = cursor.fetchone() if cursor.description else None
            count = cursor.rowcount
        pgconn, prepare = connection.connection, False
    if sql.direct:
        prepared.ran(pgconn, statement, prepared=prepare, backend_pid=row[-1] if row else None)
    return row, count


#: Attribute of a psycopg connection holding the storage's reused cursor.
_CURSOR = "_graphflow_sessions_cursor"
#: A cursor keeps its last result until its next statement: kept only for small contexts.
KEEP_RESULTS_BELOW = 64 * 1024


def _server_cursor(pgconn: Any, sql: _Statements) -> Any:
    # One server-binding cursor per psycopg connection, reused: a new cursor per call costs
    # about 15 us of a 100 us get (its adapters, and the dumpers and loaders it caches, are
    # built anew). Kept on the connection object, so it goes when the connection goes.
    cursor = getattr(pgconn, _CURSOR, None)
    if cursor is None or cursor.closed:
        cursor = sql.server_cursor(pgconn)
        # The context as bytes, for decode_context_json: a megabyte of text as a str costs
        # a decoding pass and 2 MB (characters beyond Latin-1 take two bytes each).
        cursor.adapters.register_loader("jsonb", _jsonb_as_bytes())
        setattr(pgconn, _CURSOR, cursor)
    return cursor


@functools.cache
def _jsonb_as_bytes() -> type:
    from psycopg.adapt import Loader

    class JsonbAsBytes(Loader):
        def load(self, data: Any) -> bytes:
            return bytes(data)

    return JsonbAsBytes


def _converters(field: Field, connection: Any) -> list[Callable[..., Any]]:
    from .models import Session

    # The same converters the ORM's compiler applies to a selected column.
    column = field.get_col(Session._meta.db_table)
    converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    if field.name == "context":
        # The context is validated (and turned into a Context) on access, not here.
        converters = [c for c in converters if c != getattr(field, "from_db_value", None)]
        converters.append(_read_context)
    return converters


def _read_context(value: Any, expression: Any, connection: Any) -> Any:
    # A Context, or the JSON for the descriptor to check (see decode_context_json).
    if isinstance(value, bytes) and not _utf8_database(connection):
        return decode_json(value)  # SQL_ASCII: the bytes are whatever was stored
    if isinstance(value, (str, bytes)):
        return decode_context_json(value)
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


class DatabaseSessionStorage(SessionStorage):
    """Sessions in a Django database: PostgreSQL (graph-flow's own table), SQLite, others.

    ``using`` names the database alias; by default ``GRAPHFLOW_SESSIONS["DATABASE"]``.
    On PostgreSQL and SQLite each operation is one statement and one round trip in
    autocommit; inside a caller's ``transaction.atomic`` it joins that transaction.
    """

    def __init__(self, using: str | None = None) -> None:
        self._using = using
        self._statements: dict[str, _Statements] = {}
        self._lock = threading.Lock()

    @property
    def using(self) -> str:
        return self._using or app_settings.DATABASE

    def __repr__(self) -> str:
        return f"{type(self).__name__}(using={self.using!r})"

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        migrate: bool = True,
        pool_max_size: int | None = None,
        connect_timeout: float | None = None,
        pool_timeout: float | None = None,
    ) -> DatabaseSessionStorage:
        """The seed's ``PostgresSessionStorage::connect(url)``: a storage for the database at
        ``url``, schema created on first connect, pooled connections (at most 5 by default).
        Works in a plain script too. See :mod:`graphflow_sessions.connect`.
        """
        from .connect import DEFAULT_POOL_TIMEOUT, connect

        return connect(
            url,
            migrate=migrate,
            pool_max_size=pool_max_size,
            connect_timeout=connect_timeout,
            pool_timeout=DEFAULT_POOL_TIMEOUT if pool_timeout is None else pool_timeout,
            storage_class=cls,
        )

    @classmethod
    async def aconnect(
        cls,
        url: str,
        *,
        migrate: bool = True,
        pool_max_size: int | None = None,
        connect_timeout: float | None = None,
        pool_timeout: float | None = None,
    ) -> DatabaseSessionStorage:
        """``connect()`` for async code: ``await PostgresSessionStorage.aconnect(url)``."""
        return await sync_to_async(cls.connect)(
            url,
            migrate=migrate,
            pool_max_size=pool_max_size,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )

    def _connection(self, session_id: Any, action: str) -> tuple[Any, _Statements]:
        alias = self.using
        connection = connections[alias]
        try:
            connection.close_if_health_check_failed()  # as Django's cursor() does
            connection.ensure_connection()
        except DatabaseError as exc:
            from .connect import connection_failed, safe_cause

            settings = connection.settings_dict
            raise connection_failed(
                settings, alias, exc, action=action, session_id=session_id
            ) from safe_cause(exc, settings)
        statements = self._statements.get(alias)
        if statements is None:
            with self._lock:
                statements = self._statements.setdefault(alias, _Statements(connection))
        return connection, statements

    # save ---------------------------------------------------------------------------------

    def save(self, session: Session, *, expected_version: int | None = None) -> None:
        jsonb = _sends_jsonb(self.using)
        fields = _prepare(session, jsonb=jsonb)
        connection, sql = self._connection(fields.id, "save")
        if jsonb and not _utf8_database(connection):
            fields = _prepare(session)  # \u escapes beyond ASCII need a UTF8 database
        if not sql.upsert_supported:
            self._save_without_upsert(session, fields, connection, expected_version)
            return
        new_version = 1 if expected_version is None else expected_version + 1
        direct = _direct(connection, sql)
        params: list[Any] = [
            sql.pk_field.get_db_prep_value(fields.id, connection),
            fields.graph_id,
            fields.current_task_id,
            fields.status_message,
            sql.jsonb(fields.context_utf8) if direct else fields.context_json,
            new_version,
        ]
        statement = sql.upsert
        if expected_version is not None:
            statement = sql.upsert_if_version
            params.append(expected_version)
        try:
            row, _ = _run(connection, sql, statement, params, direct=direct)
        except DatabaseError as exc:
            raise _failure(SaveError, "save", fields.id, exc, connection) from exc
        if row is None:
            raise self._conflict(fields.id, expected_version, connection, sql)
        session.version, session.created_at, session.updated_at = _convert(
            row, sql.returning_converters, connection
        )
        session._state.adding = False
        session._state.db = self.using
        session_saved.send(type(self), session=session, using=self.using)

    def _conflict(
        self, session_id: uuid.UUID, expected: int | None, connection: Any, sql: _Statements
    ) -> SessionConflict:
        # Only on the error path: one more query to say what the stored version is.
        with connection.cursor() as cursor:
            cursor.execute(
                sql.select_version, [sql.pk_field.get_db_prep_value(session_id, connection)]
            )
            row = cursor.fetchone()
        actual = row[0] if row else None
        return SessionConflict(
            f"Failed to save session {session_id}: it was changed by another writer "
            f"(expected version {expected}, stored version {actual}); reload it and retry",
            session_id=session_id,
            expected_version=expected,
            actual_version=actual,
        )

    def _save_without_upsert(
        self, session: Session, fields: _Fields, connection: Any, expected_version: int | None
    ) -> None:
        # Databases without INSERT ... ON CONFLICT: a locked read-modify-write.
        from .models import Session

        manager = Session.objects.using(self.using)
        try:
            with transaction.atomic(using=self.using):
                stored = (
                    manager.select_for_update()
                    .filter(pk=fields.id)
                    .values_list("version", "created_at")
                    .first()
                )
                current, created_at = stored if stored is not None else (None, None)
                if (
                    expected_version is not None
                    and current is not None
                    and current != expected_version
                ):
                    raise self._conflict(
                        fields.id, expected_version, connection, _Statements(connection)
                    )
                now = timezone.now()
                version = (
                    (current + 1)
                    if current is not None
                    else (1 if expected_version is None else expected_version + 1)
                )
                values = {
                    "graph_id": fields.graph_id,
                    "current_task_id": fields.current_task_id,
                    "status_message": fields.status_message,
                    "context": decode_json(fields.context_json),
                    "updated_at": now,
                    "version": version,
                }
                # QuerySet.update and create, not Model.save (whose bookkeeping would add
                # one to the version a second time).
                if stored is None:
                    created_at = now
                    manager.create(id=fields.id, created_at=now, **values)
                else:
                    manager.filter(pk=fields.id).update(**values)
        except DatabaseError as exc:
            raise _failure(SaveError, "save", fields.id, exc, connection) from exc
        session.version, session.created_at, session.updated_at = version, created_at, now
        session._state.adding = False
        session._state.db = self.using
        session_saved.send(type(self), session=session, using=self.using)

    # get ----------------------------------------------------------------------------------

    def get(self, session_id: uuid.UUID | str) -> Session | None:
        sid = parse_session_id(session_id)
        connection, sql = self._connection(sid, "fetch")
        params = [sql.pk_field.get_db_prep_value(sid, connection)]
        try:
            row, _ = _run(connection, sql, sql.select, params, direct=_direct(connection, sql))
        except DatabaseError as exc:
            raise _failure(RetrieveError, "fetch", sid, exc, connection) from exc
        if row is None:
            return None
        try:
            values = _convert(row, sql.row_converters, connection)
        except ContextDeserializationError as exc:
            raise ContextDeserializationError(
                f"Failed to fetch session {sid}: stored context is not valid JSON: {exc}",
                session_id=sid,
            ) from exc
        session = sql.model.from_db(self.using, None, values)  # type: ignore[arg-type]
        session.context  # noqa: B018 (a stored context that breaks the contract fails here)
        return session

    # delete -------------------------------------------------------------------------------

    def delete(self, session_id: uuid.UUID | str) -> bool:
        sid = parse_session_id(session_id)
        connection, sql = self._connection(sid, "delete")
        params = [sql.pk_field.get_db_prep_value(sid, connection)]
        try:
            _, count = _run(connection, sql, sql.delete, params, direct=_direct(connection, sql))
            deleted = count > 0
        except DatabaseError as exc:
            raise _failure(DeleteError, "delete", sid, exc, connection) from exc
        if deleted:
            session_deleted.send(type(self), session_id=sid, using=self.using)
        return deleted


def _failure(
    error: type[StorageError], action: str, session_id: uuid.UUID, exc: Exception, connection: Any
) -> StorageError:
    """``error`` for a statement the database refused; ConnectionFailed when the connection
    itself died under it (server restart, terminated backend): retrying can then succeed.
    """
    from .connect import connection_failed, connection_lost

    if connection_lost(connection):
        return connection_failed(
            connection.settings_dict,
            connection.alias,
            exc,
            action=action,
            session_id=session_id,
            lost=True,
        )
    return error(f"Failed to {action} session {session_id}: {exc}", session_id=session_id)


#: The seed's name. Works on any Django database, PostgreSQL being the one it is built for.
PostgresSessionStorage = DatabaseSessionStorage


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
    input fails here as on a database.
    """

    def __init__(self) -> None:
        self._rows: dict[uuid.UUID, _StoredRow] = {}
        self._lock = threading.Lock()

    def save(self, session: Session, *, expected_version: int | None = None) -> None:
        fields = _prepare(session)
        now = timezone.now()
        with self._lock:
            stored = self._rows.get(fields.id)
            if (
                expected_version is not None
                and stored is not None
                and stored.version != expected_version
            ):
                raise SessionConflict(
                    f"Failed to save session {fields.id}: it was changed by another writer "
                    f"(expected version {expected_version}, stored version {stored.version}); "
                    "reload it and retry",
                    session_id=fields.id,
                    expected_version=expected_version,
                    actual_version=stored.version,
                )
            if stored is None:
                version = 1 if expected_version is None else expected_version + 1
                created = now
            else:
                version, created = stored.version + 1, stored.created_at
            self._rows[fields.id] = _StoredRow(
                fields.graph_id,
                fields.current_task_id,
                fields.status_message,
                fields.context_json,
                created,
                now,
                version,
            )
        session.version, session.created_at, session.updated_at = version, created, now
        session_saved.send(type(self), session=session, using=None)

    def get(self, session_id: uuid.UUID | str) -> Session | None:
        sid = parse_session_id(session_id)
        with self._lock:
            stored = self._rows.get(sid)
        if stored is None:
            return None
        from .models import Session

        session = Session(
            id=sid,
            graph_id=stored.graph_id,
            current_task_id=stored.current_task_id,
            status_message=stored.status_message,
            context=Context.from_json(stored.context_json),
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            version=stored.version,
        )
        session._state.adding = False
        return session

    def delete(self, session_id: uuid.UUID | str) -> bool:
        sid = parse_session_id(session_id)
        with self._lock:
            deleted = self._rows.pop(sid, None) is not None
        if deleted:
            session_deleted.send(type(self), session_id=sid, using=None)
        return deleted

    def __len__(self) -> int:
        return len(self._rows)
