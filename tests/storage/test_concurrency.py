"""Real threads, each with its own database connection, writing the same sessions at once.

The database tests run with ``transaction=True`` so that every save commits for real (the
other threads' connections cannot see a test transaction), and each thread closes its
connection when it is done.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import connections

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import SessionConflict
from graphflow_sessions.models import Session
from graphflow_sessions.storage import (
    DatabaseSessionStorage,
    SessionStorage,
)
from tests.support.storage import autocommit_storage  # noqa: F401 (the storage fixture)

THREADS = 8
SAVES_PER_THREAD = 500
IDS = 50


def run_in_threads(
    storage: SessionStorage, count: int, work: Callable[[int], None]
) -> list[BaseException]:
    """Run ``work(index)`` in ``count`` threads; return what they raised."""
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            connection = connections["default"]
            if isinstance(storage, DatabaseSessionStorage) and connection.vendor == "sqlite":
                # Durability is not under test: skip the fsync per commit (WAL keeps the
                # same locking and visibility), or 4000 commits take half a minute.
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA synchronous = NORMAL")
            work(index)
        except BaseException as exc:  # reported to the test, never lost in a thread
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connections only

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a writer thread hung"
    return errors


def written(session: Session) -> tuple[Any, ...]:
    # jsonb stores object keys in its own order: compare the JSON values, not the text.
    return (
        session.graph_id,
        session.current_task_id,
        session.status_message,
        json.dumps(session.context.to_dict(), sort_keys=True),
    )


def test_8_threads_x_500_saves_over_50_ids_leave_every_row_equal_to_one_of_the_writes(storage):
    ids = [uuid.uuid4() for _ in range(IDS)]
    writes: dict[uuid.UUID, set[tuple[Any, ...]]] = defaultdict(set)
    saves_per_id: dict[uuid.UUID, int] = defaultdict(int)
    lock = threading.Lock()

    def writer(thread: int) -> None:
        for seq in range(SAVES_PER_THREAD):
            session_id = ids[(seq * 7 + thread) % IDS]
            ctx = Context(max_messages=3)
            ctx.set("writer", thread)
            ctx.set("seq", seq)
            ctx.set("payload", {"items": list(range(seq % 5)), "text": "é" * (seq % 3)})
            ctx.add_user_message(f"thread {thread} message {seq}")
            session = Session(
                id=session_id,
                graph_id=f"graph-{thread}",
                current_task_id=f"task-{seq}",
                status_message=None if seq % 2 else f"status {thread}/{seq}",
                context=ctx,
            )
            storage.save(session)
            with lock:
                writes[session_id].add(written(session))
                saves_per_id[session_id] += 1

    errors = run_in_threads(storage, THREADS, writer)
    assert errors == []
    assert sum(saves_per_id.values()) == THREADS * SAVES_PER_THREAD
    for session_id in ids:
        found = storage.get(session_id)
        assert found is not None
        assert written(found) in writes[session_id]
        # Every save added one: no update was lost between the upserts.
        assert found.version == saves_per_id[session_id]


def test_of_8_writers_that_read_the_same_version_exactly_one_wins(storage):
    session = Session(current_task_id="start", context=Context())
    storage.save(session)
    barrier = threading.Barrier(THREADS)
    for round_number in range(3):
        outcomes: list[tuple[int, str]] = []
        lock = threading.Lock()

        def writer(
            thread: int,
            round_number: int = round_number,
            outcomes: list[tuple[int, str]] = outcomes,
            lock: threading.Lock = lock,
        ) -> None:
            loaded = storage.get(session.id)
            assert loaded is not None
            barrier.wait(timeout=60)  # everyone has read the same version before anyone writes
            loaded.current_task_id = f"round {round_number} thread {thread}"
            try:
                storage.save(loaded, expected_version=loaded.version)
            except SessionConflict as exc:
                assert exc.expected_version == round_number + 1
                assert exc.actual_version == round_number + 2
                with lock:
                    outcomes.append((thread, "conflict"))
            else:
                with lock:
                    outcomes.append((thread, "saved"))

        errors = run_in_threads(storage, THREADS, writer)
        assert errors == []
        winners = [thread for thread, outcome in outcomes if outcome == "saved"]
        assert len(winners) == 1
        assert len(outcomes) == THREADS
        found = storage.get(session.id)
        assert found is not None
        assert found.version == round_number + 2
        assert found.current_task_id == f"round {round_number} thread {winners[0]}"


def test_read_modify_write_with_retries_on_conflict_loses_no_increment(storage):
    session = Session(current_task_id="count", context=Context())
    session.context.set("counter", 0)
    storage.save(session)
    increments = 12
    conflicts = []

    def incrementer(thread: int) -> None:
        for _ in range(increments):
            while True:
                loaded = storage.get(session.id)
                assert loaded is not None
                loaded.context.set("counter", loaded.context.get("counter") + 1)
                try:
                    storage.save(loaded, expected_version=loaded.version)
                    break
                except SessionConflict:
                    conflicts.append(thread)

    errors = run_in_threads(storage, THREADS, incrementer)
    assert errors == []
    found = storage.get(session.id)
    assert found is not None
    assert found.context.get("counter") == THREADS * increments
    assert found.version == 1 + THREADS * increments
