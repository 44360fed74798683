"""Each storage operation is one statement and one round trip (counted below Django).

PostgreSQL: libpq's protocol trace counts the messages that make the server answer.
SQLite: the engine's trace callback lists every statement it runs, BEGIN and COMMIT included.
Autocommit tests use ``transaction=True``: pytest-django's default wraps a test in a
transaction, which is the other case tested here (the save joins the caller's transaction).
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.roundtrips import count_round_trips

autocommit = pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])


def new_session() -> Session:
    ctx = Context()
    ctx.set("insurance_type", "car")
    ctx.add_user_message("hello")
    return Session(graph_id="g", current_task_id="t", status_message=None, context=ctx)


def transaction_control(statements: list[str]) -> list[str]:
    words = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [s for s in statements if any(word in s.upper() for word in words)]


@autocommit
def test_saving_a_new_session_is_one_round_trip():
    storage = DatabaseSessionStorage()  # a fresh backend: its first save is counted too
    session = new_session()
    with count_round_trips() as trace:
        storage.save(session)
    assert trace.round_trips == 1, trace.statements
    assert transaction_control(trace.statements) == []
    assert session.version == 1


@autocommit
def test_saving_an_existing_session_is_one_round_trip():
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    session.context.add_assistant_message("hi")
    with count_round_trips() as trace:
        storage.save(session)
    assert trace.round_trips == 1, trace.statements
    assert session.version == 2
    assert Session.objects.get(pk=session.id).context.chat_history_len() == 2


@autocommit
def test_saving_with_an_expected_version_is_one_round_trip():
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    with count_round_trips() as trace:
        storage.save(session, expected_version=1)
    assert trace.round_trips == 1, trace.statements
    assert session.version == 2


@autocommit
def test_saving_a_large_context_is_one_round_trip():
    storage = DatabaseSessionStorage()
    session = new_session()
    session.context.set("blob", "x" * 1_000_000)
    with count_round_trips() as trace:
        storage.save(session)
    assert trace.round_trips == 1, trace.statements


@autocommit
def test_get_is_one_round_trip_found_or_not():
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    with count_round_trips() as trace:
        found = storage.get(session.id)
    assert trace.round_trips == 1, trace.statements
    assert found is not None
    assert found.context == session.context
    with count_round_trips() as trace:
        assert storage.get(uuid.uuid4()) is None
    assert trace.round_trips == 1, trace.statements


@autocommit
def test_delete_is_one_round_trip_found_or_not():
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    with count_round_trips() as trace:
        assert storage.delete(session.id) is True
    assert trace.round_trips == 1, trace.statements
    with count_round_trips() as trace:
        assert storage.delete(session.id) is False
    assert trace.round_trips == 1, trace.statements


@autocommit
def test_each_operation_commits_on_its_own_in_autocommit():
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    assert connection.get_autocommit()
    assert not connection.in_atomic_block
    # Visible from a second connection: the save was committed without a COMMIT round trip.
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT version FROM sessions WHERE id = %s",
                [Session._meta.pk.get_db_prep_value(session.id, other)],
            )
            assert cursor.fetchone() == (1,)
    finally:
        other.close()


@autocommit
def test_inside_atomic_the_save_joins_the_callers_transaction():
    storage = DatabaseSessionStorage()
    session = new_session()
    with transaction.atomic():
        Session.objects.exists()  # the transaction has begun
        with count_round_trips() as trace:
            storage.save(session)
            storage.get(session.id)
        assert trace.round_trips == 2, trace.statements
        assert transaction_control(trace.statements) == []
        assert connection.in_atomic_block


@autocommit
def test_a_save_inside_a_rolled_back_atomic_block_is_rolled_back():
    storage = DatabaseSessionStorage()
    session = new_session()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        storage.save(session)
        assert storage.get(session.id) is not None
        raise Abort
    assert storage.get(session.id) is None


@autocommit
def test_a_committed_atomic_block_keeps_the_save():
    storage = DatabaseSessionStorage()
    session = new_session()
    with transaction.atomic():
        storage.save(session)
        storage.delete(uuid.uuid4())
    assert storage.get(session.id) is not None
