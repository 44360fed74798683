"""The async twins: asave, aget, aget_or_raise, adelete (driven by asgiref, no pytest plugin)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import InvalidSessionId, SessionConflict, SessionNotFound
from graphflow_sessions.models import Session
from tests.support.storage import autocommit_storage  # noqa: F401 (the storage fixture)


def new_session() -> Session:
    ctx = Context()
    ctx.set("insurance_type", "car")
    ctx.add_user_message("hello")
    return Session(graph_id="g", current_task_id="t", status_message="s", context=ctx)


def test_asave_aget_adelete_work_like_their_sync_twins(storage):
    session = new_session()

    async def scenario() -> None:
        await storage.asave(session)
        assert session.version == 1
        found = await storage.aget(session.id)
        assert found is not None
        assert found.context == session.context
        assert (found.graph_id, found.current_task_id, found.status_message) == ("g", "t", "s")
        found.context.add_assistant_message("hi")
        await storage.asave(found, expected_version=1)
        again = await storage.aget(str(session.id).upper())
        assert again is not None
        assert again.version == 2
        assert again.context.chat_history_len() == 2
        assert await storage.adelete(session.id) is True
        assert await storage.aget(session.id) is None
        assert await storage.adelete(session.id) is False

    async_to_sync(scenario)()
    assert storage.get(session.id) is None


def test_aget_or_raise_of_an_absent_id_raises_session_not_found(storage):
    async def scenario() -> None:
        with pytest.raises(SessionNotFound, match="Session not found"):
            await storage.aget_or_raise(uuid.uuid4())

    async_to_sync(scenario)()


def test_asave_with_a_stale_version_raises_conflict(storage):
    session = new_session()
    storage.save(session)
    storage.save(session)

    async def scenario() -> None:
        session.current_task_id = "stale"
        with pytest.raises(SessionConflict) as caught:
            await storage.asave(session, expected_version=1)
        assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)

    async_to_sync(scenario)()
    found = storage.get(session.id)
    assert found is not None
    assert found.current_task_id == "t"


def test_async_operations_refuse_an_invalid_id(storage):
    async def scenario() -> None:
        for operation in (storage.aget, storage.adelete, storage.aget_or_raise):
            with pytest.raises(InvalidSessionId):
                await operation("session-123")

    async_to_sync(scenario)()


def test_many_concurrent_asaves_are_all_stored(storage):
    sessions = [new_session() for _ in range(20)]

    async def scenario() -> list[Session | None]:
        await asyncio.gather(*(storage.asave(session) for session in sessions))
        return list(await asyncio.gather(*(storage.aget(s.id) for s in sessions)))

    found = async_to_sync(scenario)()
    assert [f.id if f else None for f in found] == [s.id for s in sessions]
    assert all(f is not None and f.version == 1 for f in found)
