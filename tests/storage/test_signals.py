"""session_saved and session_deleted: sent after the write reached the database, once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import ContextSerializationError, SessionConflict
from graphflow_sessions.models import Session
from graphflow_sessions.signals import session_deleted, session_saved
from graphflow_sessions.storage import DatabaseSessionStorage, InMemorySessionStorage


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        kwargs.pop("signal")
        self.calls.append(kwargs)


@pytest.fixture
def saved() -> Iterator[Recorder]:
    recorder = Recorder()
    session_saved.connect(recorder)
    yield recorder
    session_saved.disconnect(recorder)


@pytest.fixture
def deleted() -> Iterator[Recorder]:
    recorder = Recorder()
    session_deleted.connect(recorder)
    yield recorder
    session_deleted.disconnect(recorder)


def new_session() -> Session:
    return Session(graph_id="claims", current_task_id="start", context=Context())


@pytest.mark.django_db
def test_save_sends_session_saved_once_with_the_saved_session(saved: Recorder) -> None:
    storage = DatabaseSessionStorage()
    session = new_session()

    storage.save(session)

    assert saved.calls == [
        {"sender": DatabaseSessionStorage, "session": session, "using": "default"}
    ]
    assert session.version == 1


@pytest.mark.django_db
def test_a_receiver_of_session_saved_finds_the_row_already_written() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    found: list[int | None] = []

    def receiver(session: Session, **kwargs: Any) -> None:
        stored = Session.objects.filter(id=session.id).values_list("version", flat=True).first()
        found.append(stored)

    session_saved.connect(receiver)
    try:
        storage.save(session)
        storage.save(session)
    finally:
        session_saved.disconnect(receiver)

    assert found == [1, 2]


@pytest.mark.django_db
def test_a_failed_save_sends_nothing(saved: Recorder) -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    saved.calls.clear()

    with pytest.raises(SessionConflict):
        storage.save(session, expected_version=99)
    session.context.set("bad", float("nan"))
    with pytest.raises(ContextSerializationError):
        storage.save(session)

    assert saved.calls == []


@pytest.mark.django_db
def test_delete_sends_session_deleted_only_when_a_row_was_deleted(deleted: Recorder) -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)

    assert storage.delete(str(session.id).upper()) is True
    assert storage.delete(session.id) is False
    assert storage.delete(uuid.uuid4()) is False

    assert deleted.calls == [
        {"sender": DatabaseSessionStorage, "session_id": session.id, "using": "default"}
    ]


@pytest.mark.django_db(transaction=True)
def test_inside_atomic_a_receiver_can_wait_for_the_commit(saved: Recorder) -> None:
    storage = DatabaseSessionStorage()
    committed: list[uuid.UUID] = []

    def on_save(session: Session, **kwargs: Any) -> None:
        transaction.on_commit(lambda: committed.append(session.id))

    session_saved.connect(on_save)
    try:
        with transaction.atomic():
            kept = new_session()
            storage.save(kept)
        with pytest.raises(RuntimeError), transaction.atomic():
            rolled_back = new_session()
            storage.save(rolled_back)
            raise RuntimeError("the caller's transaction fails")
    finally:
        session_saved.disconnect(on_save)

    assert [call["session"].id for call in saved.calls] == [kept.id, rolled_back.id]
    assert committed == [kept.id]
    assert not Session.objects.filter(id=rolled_back.id).exists()


def test_the_in_memory_storage_sends_the_same_signals(saved: Recorder, deleted: Recorder) -> None:
    storage = InMemorySessionStorage()
    session = new_session()

    storage.save(session)
    storage.delete(session.id)
    storage.delete(session.id)

    assert saved.calls == [{"sender": InMemorySessionStorage, "session": session, "using": None}]
    assert deleted.calls == [
        {"sender": InMemorySessionStorage, "session_id": session.id, "using": None}
    ]
