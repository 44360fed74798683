"""The seed's error categories, each produced for real and each its own StorageError.

graph-flow: "detailed error messages for common failure scenarios: database connection
failures, schema migration failures, context serialization/deserialization errors, session
save/retrieve/delete failures. All errors are wrapped in StorageError." Here each failure is
caused the way it happens in production (a port nobody listens on, a user without
privileges, a read-only transaction, a row another writer broke) and the error says what
failed, for which session.
"""

from __future__ import annotations

import math
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import dj_database_url
import pytest
from django.db import connections

from graphflow_sessions.connect import DEFAULT_POOL_MAX_SIZE
from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import (
    ConnectionFailed,
    ContextDeserializationError,
    ContextSerializationError,
    DeleteError,
    RetrieveError,
    SaveError,
    SchemaMigrationError,
    StorageError,
)
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage, PostgresSessionStorage
from tests.support import throwaway
from tests.support.throwaway import sql

pytestmark = pytest.mark.postgres

PASSWORD = "Corr3ct-Horse-Battery"  # must never show up in an error message


@dataclass
class Setup:
    database: str
    owner: DatabaseSessionStorage  # the superuser, who migrated the schema


# What each restricted role may do on the sessions table.
ROLES = {
    "reader": ["SELECT"],
    "readonly_tx": ["SELECT", "INSERT", "UPDATE", "DELETE"],  # in read-only transactions
    "no_select": ["INSERT", "UPDATE", "DELETE"],
    "no_delete": ["SELECT", "INSERT", "UPDATE"],
}


def role_name(role: str) -> str:
    return throwaway.throwaway_name(role)


@pytest.fixture(scope="module")
def setup(django_db_blocker: object) -> Iterator[Setup]:
    database = throwaway.throwaway_name("errors")
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        throwaway.create_database(database)
        try:
            with throwaway.forgetting_new_aliases():  # closes the pools before the drop
                owner = PostgresSessionStorage.connect(throwaway.url_for(database))
                for role, privileges in ROLES.items():
                    grant(database, role_name(role), privileges)
                with throwaway.admin() as connection:
                    connection.execute(
                        sql()
                        .SQL("ALTER ROLE {} SET default_transaction_read_only = on")
                        .format(sql().Identifier(role_name("readonly_tx")))
                    )
                yield Setup(database, owner)
        finally:
            throwaway.drop_database(database)
            for role in ROLES:
                throwaway.drop_role(role_name(role))


def grant(database: str, role: str, privileges: list[str]) -> None:
    throwaway.create_role(role, password=PASSWORD)
    with throwaway.admin(database) as connection:
        connection.execute(
            sql()
            .SQL("GRANT {} ON sessions TO {}")
            .format(sql().SQL(", ").join(sql().SQL(p) for p in privileges), sql().Identifier(role))
        )
        # So connect()'s "is the schema up to date?" check can read the migration history.
        connection.execute(
            sql().SQL("GRANT SELECT ON django_migrations TO {}").format(sql().Identifier(role))
        )


@pytest.fixture(autouse=True)
def database_access(django_db_blocker: object) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield


def as_role(setup: Setup, role: str) -> DatabaseSessionStorage:
    url = throwaway.url_for(setup.database, user=role_name(role), password=PASSWORD)
    return PostgresSessionStorage.connect(url)


def new_session(**data: object) -> Session:
    context = Context()
    for key, value in data.items():
        context.set(key, value)
    return Session(id=uuid.uuid4(), graph_id="g", current_task_id="t", context=context)


def assert_names_session(error: StorageError, session_id: uuid.UUID, operation: str) -> None:
    message = str(error)
    assert str(session_id) in message
    assert error.session_id == str(session_id)
    assert operation in message
    assert PASSWORD not in message
    assert PASSWORD not in str(error.__cause__)


def stored_ids(setup: Setup) -> set[uuid.UUID]:
    with throwaway.admin(setup.database) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM sessions")}


# --- connection --------------------------------------------------------------------------------


@pytest.fixture
def unreachable_alias(setup: Setup) -> Iterator[str]:
    """A database alias, configured as a project would, on a port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    alias = "h_seed_unreachable"
    entry = dict(
        dj_database_url.parse(throwaway.url_for(setup.database, password=PASSWORD, port=port))
    )
    connections.configure_settings({"default": entry})
    connections.settings[alias] = entry
    yield alias
    del connections[alias]
    connections.settings.pop(alias)


@pytest.mark.parametrize(
    ("operation", "words"), [("save", "save"), ("get", "fetch"), ("delete", "delete")]
)
def test_a_port_nobody_listens_on_gives_connection_failed_naming_the_session(
    unreachable_alias: str, setup: Setup, operation: str, words: str
) -> None:
    storage = DatabaseSessionStorage(using=unreachable_alias)
    session = new_session()

    with pytest.raises(ConnectionFailed) as caught:
        getattr(storage, operation)(session if operation == "save" else session.id)

    assert_names_session(caught.value, session.id, f"Failed to {words} session {session.id}")
    port = connections.settings[unreachable_alias]["PORT"]
    assert f"database {setup.database!r} on 127.0.0.1:{port}" in str(caught.value)
    assert "Connection refused" in str(caught.value)


@pytest.fixture
def own_database() -> Iterator[str]:
    database = throwaway.throwaway_name("errors_lost")
    throwaway.create_database(database)
    with throwaway.forgetting_new_aliases():
        yield database
    throwaway.drop_database(database)


def test_a_connection_the_server_dropped_gives_connection_failed_then_reconnects(
    own_database: str,
) -> None:
    storage = PostgresSessionStorage.connect(throwaway.url_for(own_database))
    session = new_session()
    storage.save(session)
    with throwaway.admin() as connection:  # what a server restart does to open connections
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [own_database],
        )

    with pytest.raises(ConnectionFailed) as caught:
        storage.get(session.id)

    assert_names_session(caught.value, session.id, f"Failed to fetch session {session.id}")
    assert f"lost the connection to database {own_database!r}" in str(caught.value)
    assert "terminating connection due to administrator command" in str(caught.value)
    # The dead connection was dropped, not handed out again: the next call reconnects.
    loaded = None
    for _attempt in range(DEFAULT_POOL_MAX_SIZE + 1):  # other pooled ones died too
        try:
            loaded = storage.get(session.id)
            break
        except ConnectionFailed:
            continue
    assert loaded is not None and loaded.id == session.id


@pytest.fixture(params=[False, True], ids=["no health checks", "health checks"])
def persistent_alias(own_database: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """An alias configured as a project would, keeping its connections (CONN_MAX_AGE=60)."""
    PostgresSessionStorage.connect(throwaway.url_for(own_database))  # creates the table
    alias = "h_hard_persistent"
    entry = dict(dj_database_url.parse(throwaway.url_for(own_database), conn_max_age=60))
    entry["CONN_HEALTH_CHECKS"] = request.param
    connections.configure_settings({"default": entry})
    connections.settings[alias] = entry
    yield alias  # (only the worker thread connects, and closes its connection)
    connections.settings.pop(alias)


def test_a_configured_alias_reconnects_outside_any_request_after_its_connection_was_lost(
    persistent_alias: str, own_database: str
) -> None:
    # A worker thread, a management command or a queue consumer: no request cycle ever
    # closes the broken connection for it.
    storage = DatabaseSessionStorage(using=persistent_alias)
    session = new_session()
    outcomes: list[object] = []

    def worker() -> None:
        try:
            storage.save(session)
            with throwaway.admin() as connection:  # what a server restart does to them
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    [own_database],
                )
            for _call in range(3):
                try:
                    outcomes.append(storage.get(session.id))
                except ConnectionFailed as exc:
                    outcomes.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()

    failed, *later = outcomes
    assert isinstance(failed, ConnectionFailed), failed
    assert f"lost the connection to database {own_database!r}" in str(failed)
    assert [getattr(loaded, "id", loaded) for loaded in later] == [session.id, session.id]


# --- schema migration ----------------------------------------------------------------------------


@pytest.fixture
def database_without_create_privilege() -> Iterator[tuple[str, str]]:
    """A database owned by the superuser, and a role that may connect but not create tables."""
    database = throwaway.throwaway_name("errors_noddl")
    role = throwaway.throwaway_name("noddl")
    throwaway.create_database(database)
    throwaway.create_role(role, password=PASSWORD)
    with throwaway.admin(database) as connection:
        # PostgreSQL 15 already refuses CREATE on public to non-owners; older servers don't.
        connection.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    try:
        with throwaway.forgetting_new_aliases():
            yield database, role
    finally:
        throwaway.drop_database(database)
        throwaway.drop_role(role)


def test_a_user_without_create_privilege_gives_schema_migration_error(
    database_without_create_privilege: tuple[str, str],
) -> None:
    database, role = database_without_create_privilege
    url = throwaway.url_for(database, user=role, password=PASSWORD)

    with pytest.raises(SchemaMigrationError) as caught:
        PostgresSessionStorage.connect(url)

    message = str(caught.value)
    assert f"Failed to create the sessions schema in database {database!r}" in message
    assert f"as user {role!r}" in message
    assert "permission denied for schema public" in message
    assert "LINE 1" not in message  # the driver's SQL excerpt is noise here
    assert "migrate=False" in message  # says how to get out of it
    assert PASSWORD not in message
    assert PASSWORD not in str(caught.value.__cause__)
    with throwaway.admin(database) as connection:
        row = connection.execute("SELECT to_regclass('sessions') IS NULL").fetchone()
    assert row == (True,)  # nothing half-created
    assert database not in {s["NAME"] for s in connections.settings.values()}


# --- context serialization and deserialization ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [(math.nan, "NaN"), ("a\x00b", "NUL character")],
    ids=["nan", "nul"],
)
def test_an_unstorable_context_gives_context_serialization_error(
    setup: Setup, value: object, problem: str
) -> None:
    session = new_session(claim={"amount": value})

    with pytest.raises(ContextSerializationError) as caught:
        setup.owner.save(session)

    assert_names_session(caught.value, session.id, "claim.amount")
    assert problem in str(caught.value)
    assert caught.value.path == "data.claim.amount"
    assert session.id not in stored_ids(setup)


@pytest.mark.parametrize(
    ("stored", "where"),
    [
        (
            '{"data": {}, "chat_history": {"messages": [{"role": "Robot", "content": "hi", '
            '"timestamp": "2025-06-10T17:30:48Z"}], "max_messages": null}}',
            "chat_history.messages[0].role",
        ),
        ('{"data": [1, 2], "chat_history": {"messages": []}}', "data"),
    ],
    ids=["unknown role", "data not an object"],
)
def test_a_stored_row_that_breaks_the_contract_gives_context_deserialization_error(
    setup: Setup, stored: str, where: str
) -> None:
    session_id = uuid.uuid4()
    with throwaway.admin(setup.database) as connection:
        connection.execute(
            "INSERT INTO sessions (id, graph_id, current_task_id, context) "
            "VALUES (%s, 'g', 't', %s::jsonb)",
            [session_id, stored],
        )

    with pytest.raises(ContextDeserializationError) as caught:
        setup.owner.get(session_id)

    assert_names_session(caught.value, session_id, where)
    assert caught.value.path == where


# --- save, retrieve, delete ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "reason"),
    [
        ("reader", "permission denied for table sessions"),
        ("readonly_tx", "cannot execute INSERT in a read-only transaction"),
    ],
)
def test_a_user_who_may_not_write_gives_save_error(setup: Setup, role: str, reason: str) -> None:
    storage = as_role(setup, role)
    session = new_session()

    with pytest.raises(SaveError) as caught:
        storage.save(session)

    assert type(caught.value) is SaveError
    assert_names_session(caught.value, session.id, f"Failed to save session {session.id}")
    assert reason in str(caught.value)
    assert session.id not in stored_ids(setup)


def test_a_revoked_select_gives_retrieve_error(setup: Setup) -> None:
    session = new_session()
    setup.owner.save(session)
    storage = as_role(setup, "no_select")

    with pytest.raises(RetrieveError) as caught:
        storage.get(session.id)

    assert type(caught.value) is RetrieveError
    assert_names_session(caught.value, session.id, f"Failed to fetch session {session.id}")
    assert "permission denied for table sessions" in str(caught.value)


def test_a_revoked_delete_gives_delete_error(setup: Setup) -> None:
    session = new_session()
    setup.owner.save(session)
    storage = as_role(setup, "no_delete")

    with pytest.raises(DeleteError) as caught:
        storage.delete(session.id)

    assert type(caught.value) is DeleteError
    assert_names_session(caught.value, session.id, f"Failed to delete session {session.id}")
    assert "permission denied for table sessions" in str(caught.value)
    assert session.id in stored_ids(setup)  # still there


def test_every_category_is_a_distinct_storage_error() -> None:
    categories = [
        ConnectionFailed,
        SchemaMigrationError,
        ContextSerializationError,
        ContextDeserializationError,
        SaveError,
        RetrieveError,
        DeleteError,
    ]
    assert all(issubclass(category, StorageError) for category in categories)
    for category in categories:
        others = [other for other in categories if other is not category]
        assert not any(issubclass(category, other) for other in others), category
