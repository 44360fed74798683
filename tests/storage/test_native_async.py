"""The native async path (``native_async=True``, what ``aconnect()`` gives): psycopg's
AsyncConnection from the storage's own AsyncConnectionPool, with the sync path's statements,
checks, errors, versions, signals and prepared-statement rules, and no blocking call on the
event loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from django.db import connections

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import (
    ConnectionFailed,
    InvalidSession,
    SessionConflict,
    SessionExists,
    SessionNotFound,
)
from graphflow_sessions.models import Session
from graphflow_sessions.signals import session_deleted, session_saved
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.storage import executor as prepared
from tests.support.databases import database_alias, postgres
from tests.support.pgbouncer import pgbouncer
from tests.support.text_table import raw_connection, text_ids_committed

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"]),
]


def new_session(task: str = "t", *, text: str = "hello") -> Session:
    ctx = Context()
    ctx.set("insurance_type", "car")
    ctx.add_user_message(text)
    return Session(id=uuid.uuid4(), graph_id="g", current_task_id=task, context=ctx)


def run(
    scenario: Callable[[DatabaseSessionStorage], Awaitable[Any]], using: str = "default"
) -> Any:
    """Run ``scenario`` on a fresh loop with a native storage, closing its pool after."""
    storage = DatabaseSessionStorage(using=using, native_async=True)

    async def main() -> Any:
        try:
            return await scenario(storage)
        finally:
            await storage.aclose()

    return asyncio.run(main(), debug=True)


def test_native_operations_round_trip_and_agree_with_the_sync_path():
    session = new_session(text="déjà vu €")

    async def scenario(storage: DatabaseSessionStorage) -> None:
        await storage.asave(session)
        assert session.version == 1
        found = await storage.aget(str(session.id).upper())
        assert found is not None
        assert found.context == session.context
        assert (found.created_at, found.updated_at) == (session.created_at, session.updated_at)
        found.context.add_assistant_message("hi")
        await storage.asave(found, expected_version=1)
        assert found.version == 2
        with pytest.raises(SessionExists):
            await storage.acreate(new_session_with(session.id))
        assert await storage.adelete(session.id) is True
        assert await storage.adelete(session.id) is False
        with pytest.raises(SessionNotFound):
            await storage.aget_or_raise(session.id)

    storage = DatabaseSessionStorage()
    other = new_session()
    storage.save(other)
    run(scenario)
    assert storage.get(session.id) is None
    stored = storage.get(other.id)
    assert stored is not None  # what the sync path wrote, the async path leaves alone
    assert run(lambda s: s.aget(other.id)).context == other.context


def new_session_with(session_id: uuid.UUID) -> Session:
    session = new_session()
    session.id = session_id
    return session


def test_a_stale_version_is_a_conflict_naming_the_stored_version():
    session = new_session()
    DatabaseSessionStorage().save(session)
    DatabaseSessionStorage().save(session)

    async def scenario(storage: DatabaseSessionStorage) -> None:
        with pytest.raises(SessionConflict) as caught:
            await storage.asave(session, expected_version=1)
        assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)

    run(scenario)


def test_bad_input_fails_as_on_the_sync_path():
    session = new_session()
    session.current_task_id = "nul\x00"

    async def scenario(storage: DatabaseSessionStorage) -> None:
        with pytest.raises(InvalidSession, match="NUL"):
            await storage.asave(session)

    run(scenario)
    assert DatabaseSessionStorage().get(session.id) is None


def test_native_batches_are_one_statement_and_all_or_nothing():
    sessions = [new_session(f"t{i}") for i in range(20)]

    async def scenario(storage: DatabaseSessionStorage) -> None:
        await storage.asave_many(sessions)
        sessions[5].current_task_id = "changed"
        with pytest.raises(SessionConflict, match=str(sessions[7].id)):
            await storage.asave_many(sessions, expected_versions=[1] * 7 + [0] + [1] * 12)
        found = await storage.aget_many([s.id for s in reversed(sessions)] + [uuid.uuid4()])
        assert found[-1] is None
        assert [s.current_task_id for s in found[:-1]] == [f"t{i}" for i in reversed(range(20))]
        assert await storage.adelete_many([s.id for s in sessions]) == 20

    run(scenario)


def test_async_receivers_are_awaited_and_sync_ones_called():
    session = new_session()
    heard: list[tuple[str, Any]] = []

    async def on_saved_async(sender, session, using, **kwargs):
        heard.append(("async saved", session.version))

    def on_saved_sync(sender, session, using, **kwargs):
        heard.append(("sync saved", using))

    async def on_deleted(sender, session_id, using, **kwargs):
        heard.append(("deleted", session_id))

    session_saved.connect(on_saved_async)
    session_saved.connect(on_saved_sync)
    session_deleted.connect(on_deleted)
    try:

        async def scenario(storage: DatabaseSessionStorage) -> None:
            await storage.asave(session)
            await storage.adelete(session.id)

        run(scenario)
    finally:
        session_saved.disconnect(on_saved_async)
        session_saved.disconnect(on_saved_sync)
        session_deleted.disconnect(on_deleted)
    assert sorted(heard[:2]) == [("async saved", 1), ("sync saved", "default")]
    assert heard[2] == ("deleted", session.id)


def test_text_ids_on_a_graph_flow_06_table():
    with text_ids_committed():

        async def scenario(storage: DatabaseSessionStorage) -> None:
            session = new_session()
            session.id = "session_001"
            await storage.asave(session)
            found = await storage.aget("session_001")
            assert found is not None and found.id == "session_001"
            assert (await storage.aget_many(["session_001", "nope"]))[1] is None
            assert await storage.adelete_many(["session_001"]) == 1

        run(scenario)


def test_statements_are_prepared_on_a_direct_connection():
    session = new_session()

    async def scenario(storage: DatabaseSessionStorage) -> list[Any]:
        for _ in range(3):
            await storage.asave(session)
            await storage.aget(session.id)
        return await pool_connection_states(storage)

    states = run(scenario)
    assert all(direct for direct, _count in states)
    assert sum(count for _direct, count in states) >= 2  # the upsert and the select


async def pool_connection_states(storage: DatabaseSessionStorage) -> list[tuple[Any, int]]:
    """Of every connection in the running loop's pool: seen direct?, statements prepared."""
    pool = storage._async_pools[asyncio.get_running_loop()]
    held = [await pool.getconn() for _ in range(pool.get_stats()["pool_size"])]
    try:
        return [
            (prepared.is_direct(pgconn), len(prepared._states[pgconn].prepared))
            for pgconn in held
            if pgconn in prepared._states
        ]
    finally:
        for pgconn in held:
            await pool.putconn(pgconn)


def test_a_lost_connection_is_connection_failed_and_the_next_call_works():
    session = new_session()

    async def scenario(storage: DatabaseSessionStorage) -> None:
        await storage.asave(session)
        with raw_connection(autocommit=True) as other:
            other.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = '' AND backend_type = 'client backend' "
                "AND state = 'idle'"
            )
        failures, found = 0, None
        for _ in range(10):  # each dead pooled connection fails once, then is discarded
            try:
                found = await storage.aget(session.id)
                break
            except ConnectionFailed as exc:
                assert "lost the connection" in str(exc)
                failures += 1
        assert failures >= 1
        assert found is not None

    run(scenario)


BOUNCER = "gfs_native_async_bouncer"


@pytest.fixture
def through_bouncer() -> Iterator[str]:
    # Only the alias's settings are read (the native path opens its own connections), so
    # the test case need not list it.
    default = connections["default"].settings_dict
    with (
        pgbouncer(upstream_port=int(default.get("PORT") or 5432), pool_size=2) as port,
        database_alias(
            BOUNCER, **postgres(port, default["NAME"], OPTIONS={"prepare_threshold": None})
        ),
    ):
        yield BOUNCER


def test_nothing_is_prepared_through_pgbouncer(through_bouncer):
    sessions = [new_session() for _ in range(20)]

    async def scenario(storage: DatabaseSessionStorage) -> list[Any]:
        async def work(session: Session) -> None:
            for _ in range(3):
                await storage.asave(session)
                assert (await storage.aget(session.id)) is not None

        await asyncio.gather(*(work(s) for s in sessions))
        return await pool_connection_states(storage)

    states = run(scenario, using=through_bouncer)
    assert states  # the pool's connections all ran statements
    assert all(direct is False and count == 0 for direct, count in states)
