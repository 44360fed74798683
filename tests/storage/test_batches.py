"""Batches: save_many, get_many, delete_many (and their async twins), all or nothing, on every
backend (PostgreSQL: one statement each; SQLite: one transaction)."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import InvalidSession, SessionConflict
from graphflow_sessions.models import Session
from graphflow_sessions.signals import session_deleted, session_saved
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.storage import autocommit_storage  # noqa: F401 (the storage fixture)


def new_session(task: str = "t", *, text: str = "hello") -> Session:
    ctx = Context()
    ctx.set("step", task)
    ctx.add_user_message(text)
    return Session(id=uuid.uuid4(), graph_id="g", current_task_id=task, context=ctx)


def test_save_many_then_get_many_returns_each_in_the_order_asked(storage):
    sessions = [new_session(f"t{i}", text=f"message {i} é") for i in range(5)]
    storage.save_many(sessions)
    assert [s.version for s in sessions] == [1] * 5
    absent = uuid.uuid4()
    wanted = [sessions[3].id, absent, str(sessions[0].id).upper(), sessions[1].id]
    found = storage.get_many(wanted)
    assert found[1] is None
    assert [s.current_task_id for s in (found[0], found[2], found[3])] == ["t3", "t0", "t1"]
    assert found[0].context == sessions[3].context
    assert found[0].created_at == sessions[3].created_at
    assert found[0].updated_at == sessions[3].updated_at


def test_save_many_updates_stored_sessions_and_creates_new_ones(storage):
    old = new_session("old")
    storage.save(old)
    old.current_task_id = "moved"
    fresh = new_session("fresh")
    storage.save_many([old, fresh])
    assert (old.version, fresh.version) == (2, 1)
    stored = storage.get(old.id)
    assert stored is not None
    assert (stored.current_task_id, stored.version) == ("moved", 2)
    assert stored.created_at == old.created_at


def test_save_many_with_expected_versions_saves_all_when_all_match(storage):
    first, second = new_session("a"), new_session("b")
    storage.save(first)
    storage.save(first)  # version 2
    storage.save_many([first, second], expected_versions=[2, 0])
    assert (first.version, second.version) == (3, 1)


def test_save_many_with_one_stale_version_saves_nothing_and_names_the_session(storage):
    first, second, third = new_session("a"), new_session("b"), new_session("c")
    storage.save_many([first, second])
    storage.save(second)  # another writer moved it on: version 2
    first.current_task_id = second.current_task_id = "changed"
    with pytest.raises(SessionConflict) as caught:
        storage.save_many([first, second, third], expected_versions=[1, 1, None])
    error = caught.value
    assert error.session_id == str(second.id)
    assert (error.expected_version, error.actual_version) == (1, 2)
    assert str(second.id) in str(error)
    # Nothing of the batch was written: not the matching first, not the new third.
    stored_first, stored_second, stored_third = storage.get_many([first.id, second.id, third.id])
    assert stored_first is not None and stored_first.current_task_id == "a"
    assert stored_first.version == 1
    assert stored_second is not None and stored_second.version == 2
    assert stored_third is None


def test_save_many_with_bad_input_names_the_session_and_writes_nothing(storage):
    good, bad = new_session("good"), new_session("bad")
    bad.graph_id = "nul\x00"
    with pytest.raises(InvalidSession, match=str(bad.id)):
        storage.save_many([good, bad])
    assert storage.get(good.id) is None


def test_save_many_refuses_a_session_given_twice(storage):
    session = new_session()
    with pytest.raises(InvalidSession, match="twice"):
        storage.save_many([session, session])
    assert storage.get(session.id) is None


def test_save_many_refuses_expected_versions_of_another_length(storage):
    with pytest.raises(ValueError, match="one version"):
        storage.save_many([new_session(), new_session()], expected_versions=[1])


def test_delete_many_counts_the_rows_it_deleted(storage):
    sessions = [new_session() for _ in range(3)]
    storage.save_many(sessions)
    ids = [sessions[0].id, sessions[2].id, uuid.uuid4(), sessions[0].id]
    assert storage.delete_many(ids) == 2
    assert [s is None for s in storage.get_many([s.id for s in sessions])] == [True, False, True]
    assert storage.delete_many([]) == 0


def test_empty_batches_do_nothing(storage):
    storage.save_many([])
    assert storage.get_many([]) == []


def test_batches_send_one_signal_per_session(storage):
    sessions = [new_session() for _ in range(3)]
    saved, removed = [], []

    def on_saved(sender, session, using, **kwargs):
        saved.append(session.id)

    def on_deleted(sender, session_id, using, **kwargs):
        removed.append(session_id)

    session_saved.connect(on_saved)
    session_deleted.connect(on_deleted)
    try:
        storage.save_many(sessions)
        storage.delete_many([s.id for s in sessions[:2]])
    finally:
        session_saved.disconnect(on_saved)
        session_deleted.disconnect(on_deleted)
    assert saved == [s.id for s in sessions]
    assert sorted(map(str, removed)) == sorted(str(s.id) for s in sessions[:2])


def test_async_batches_work_like_the_sync_ones(storage):
    sessions = [new_session(f"t{i}") for i in range(4)]

    async def scenario() -> None:
        await storage.asave_many(sessions)
        found = await storage.aget_many([s.id for s in reversed(sessions)])
        assert [s.current_task_id for s in found] == ["t3", "t2", "t1", "t0"]
        with pytest.raises(SessionConflict):
            await storage.asave_many(sessions, expected_versions=[1, 1, 0, 1])
        assert await storage.adelete_many([s.id for s in sessions]) == 4

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_each_batch_is_one_statement_on_postgres_and_one_transaction_elsewhere(on_postgres):
    storage = DatabaseSessionStorage()
    sessions = [new_session() for _ in range(50)]
    storage.get(uuid.uuid4())  # the connection is open and its table known
    with CaptureQueriesContext(connection) as queries:
        storage.save_many(sessions)
        storage.get_many([s.id for s in sessions])
        storage.delete_many([s.id for s in sessions])
    statements = [q["sql"] for q in queries.captured_queries]
    if on_postgres:
        assert len(statements) == 3, statements
    else:
        writes = [q for q in statements if "INSERT" in q]
        assert len(writes) == 50  # one per row, in one transaction
        assert statements[0].startswith(("BEGIN", "SAVEPOINT")) or "BEGIN" in statements[0]


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_a_batch_conflict_inside_a_transaction_is_a_conflict_after_one_statement():
    # The statement's own conflict error must not be taken for a table changed under it
    # (which would run it again, or inside a transaction say SessionTableChanged).
    storage = DatabaseSessionStorage()
    first, second = new_session("a"), new_session("b")
    storage.save_many([first, second])
    storage.save(second)
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(SessionConflict, match=str(second.id)),
        transaction.atomic(),
    ):
        storage.save_many([first, second], expected_versions=[1, 1])
    writes = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)
    assert storage.get(first.id).version == 1
