"""The storage prepares its statements on direct PostgreSQL connections, and only there.

What is prepared is read from the server (``pg_prepared_statements`` of the connection's own
backend); round trips are counted below Django (tests/support/roundtrips.py). Each test starts on a
new connection (``transaction=True`` tests may close it), so "first" means first. Behind
PgBouncer, nothing is prepared: tests/storage/test_pgbouncer.py.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.storage import executor as prepared
from tests.support.roundtrips import count_round_trips

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"]),
    pytest.mark.usefixtures("fresh_connection"),
]


def new_session() -> Session:
    ctx = Context()
    ctx.add_user_message("hello")
    return Session(graph_id="g", current_task_id="t", context=ctx)


def prepared_on_server() -> list[str]:
    # Through Django's cursor (client-side binding), which prepares nothing itself.
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time")
        return [row[0] for row in cursor.fetchall()]


def kinds(statements: list[str]) -> list[str]:
    return [statement.split()[0] for statement in statements]


def test_by_default_statements_are_prepared_once_the_connection_is_seen_to_be_direct() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)  # the first statement on this connection brings the proof
    assert prepared.is_direct(connection.connection) is True
    assert prepared_on_server() == []

    for _ in range(3):
        storage.save(session)
        assert storage.get(session.id) is not None
    storage.delete(session.id)

    assert kinds(prepared_on_server()) == ["INSERT", "SELECT", "DELETE"]
    # Nothing else on the connection is prepared by it: an ORM query with server-side
    # binding would be, only after 2**62 runs.
    assert connection.connection.prepare_threshold == prepared.ONLY_WHEN_ASKED


def test_the_first_prepared_run_of_each_statement_is_still_one_round_trip() -> None:
    storage = DatabaseSessionStorage()
    storage.get(new_session().id)  # absent: no row, so no proof yet
    assert prepared.is_direct(connection.connection) is None
    session = new_session()
    with count_round_trips() as trace:
        storage.save(session)  # unprepared, brings the proof
    assert trace.round_trips == 1, trace.statements
    for operation in (
        lambda: storage.save(session),  # prepared here: Parse, Bind, Execute, Sync at once
        lambda: storage.save(session),
        lambda: storage.save(session, expected_version=session.version),
        lambda: storage.get(session.id),
        lambda: storage.get(session.id),
        lambda: storage.delete(session.id),
        lambda: storage.delete(session.id),
    ):
        with count_round_trips() as trace:
            operation()
        assert trace.round_trips == 1, trace.statements
    assert len(prepared_on_server()) == 4  # upsert, upsert with version, select, delete


def test_after_a_rollback_statements_are_prepared_again_in_one_round_trip() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    storage.save(session)
    assert len(prepared_on_server()) == 1

    class Abort(Exception):
        pass

    # psycopg forgets (and deallocates) its prepared statements on a rollback.
    with pytest.raises(Abort), transaction.atomic():
        storage.get(session.id)
        raise Abort
    assert prepared_on_server() == []

    with count_round_trips() as trace:
        storage.save(session)
    assert trace.round_trips == 1, trace.statements
    assert kinds(prepared_on_server()) == ["INSERT"]
    assert storage.get(session.id).version == 3  # type: ignore[union-attr]


def test_prepared_statements_false_never_prepares(settings) -> None:
    settings.GRAPHFLOW_SESSIONS = {"PREPARED_STATEMENTS": False}
    storage = DatabaseSessionStorage()
    session = new_session()
    for _ in range(8):
        storage.save(session)
        storage.get(session.id)
    assert prepared.is_direct(connection.connection) is True  # known, and not used
    assert prepared_on_server() == []
    assert connection.connection.prepare_threshold is None  # Django's default, untouched


def test_prepared_statements_true_prepares_from_the_first_statement(settings) -> None:
    settings.GRAPHFLOW_SESSIONS = {"PREPARED_STATEMENTS": True}
    storage = DatabaseSessionStorage()
    session = new_session()
    with count_round_trips() as trace:
        storage.save(session)
    assert trace.round_trips == 1, trace.statements
    assert kinds(prepared_on_server()) == ["INSERT"]


def test_a_connection_that_reports_another_backend_is_never_prepared_again() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    pgconn = connection.connection
    # What a pooler looks like: statements report a backend other than the one announced.
    prepared.record_backend_pid(pgconn, pgconn.info.backend_pid + 1)
    assert prepared.is_direct(pgconn) is False
    prepared.record_backend_pid(pgconn, pgconn.info.backend_pid)
    assert prepared.is_direct(pgconn) is False  # not direct stays not direct
    for _ in range(3):
        storage.save(session)
    assert prepared_on_server() == []
