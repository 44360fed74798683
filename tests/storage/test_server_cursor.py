"""On PostgreSQL the storage reuses one server-binding cursor per connection.

Reused because a new cursor per call costs about 15 us of a 100 us get; let go after a large
get so that the result (a cursor keeps its last one) is freed at once.
"""

from __future__ import annotations

import pytest
from django.db import connection

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import SaveError
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.storage.executor import KEEP_RESULTS_BELOW, reused_cursor

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"]),
    pytest.mark.usefixtures("fresh_connection"),
]


def new_session(text: str = "hello") -> Session:
    ctx = Context()
    ctx.add_user_message(text)
    return Session(graph_id="g", current_task_id="t", context=ctx)


def kept_cursor() -> object:
    return reused_cursor(connection.connection)


def test_one_cursor_serves_every_operation_on_a_connection() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    cursor = kept_cursor()
    assert cursor is not None
    storage.get(session.id)
    storage.save(session, expected_version=session.version)
    storage.delete(session.id)
    assert kept_cursor() is cursor

    connection.close()
    storage.get(session.id)
    assert kept_cursor() not in (None, cursor)  # a new connection, a new cursor


def test_a_large_get_lets_its_cursor_go_and_the_next_call_opens_another() -> None:
    storage = DatabaseSessionStorage()
    session = new_session("x" * (KEEP_RESULTS_BELOW + 1))
    storage.save(session)
    cursor = kept_cursor()

    found = storage.get(session.id)

    assert found is not None and found.context == session.context
    assert cursor.closed  # type: ignore[attr-defined]
    small = new_session()
    storage.save(small)
    assert kept_cursor() is not cursor
    assert not kept_cursor().closed  # type: ignore[attr-defined]
    assert storage.get(small.id) is not None


def test_after_a_statement_the_database_refused_the_cursor_serves_the_next() -> None:
    storage = DatabaseSessionStorage()
    storage.save(new_session())
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE sessions ADD CONSTRAINT gfs_test_refuse "
            "CHECK (graph_id <> 'refused') NOT VALID"
        )
    try:
        refused = new_session()
        refused.graph_id = "refused"
        with pytest.raises(SaveError, match="gfs_test_refuse"):
            storage.save(refused)

        accepted = new_session()
        storage.save(accepted)
        assert storage.get(accepted.id) is not None
        assert storage.get(refused.id) is None
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE sessions DROP CONSTRAINT gfs_test_refuse")
