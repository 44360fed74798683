"""Shared pieces of the REST API tests (tests/api/)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model

# Without the drf extra (scripts/matrix runs the suite so) the API tests are skipped, and
# say why; tests/api/test_optional.py checks the app itself there.
pytest.importorskip("rest_framework", reason="the drf extra is not installed")

from rest_framework.test import APIClient  # noqa: E402

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage

storage = DatabaseSessionStorage()


def make_session(
    *,
    graph_id: str = "insurance_claims",
    current_task_id: str = "InitialClaimQueryTask",
    data: dict[str, Any] | None = None,
    messages: list[tuple[str, str]] = (),  # type: ignore[assignment]
    max_messages: int | None = 1000,
    session_id: uuid.UUID | None = None,
) -> Session:
    context = Context(max_messages=max_messages)
    for key, value in (data or {}).items():
        context.set(key, value)
    for role, content in messages:
        context.add_message(role, content)
    session = Session(
        id=session_id or uuid.uuid4(),
        graph_id=graph_id,
        current_task_id=current_task_id,
        status_message=None,
        context=context,
    )
    storage.save(session)
    return session


def stored(session_id: Any) -> Session:
    session = storage.get(session_id)
    assert session is not None
    return session


def context_body(data: dict[str, Any] | None = None, messages: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"data": data or {}, "chat_history": {"messages": list(messages), "max_messages": 1000}}


def user(name: str, *, staff: bool = False) -> Any:
    # No password: force_login needs none, and hashing one is slow.
    return get_user_model().objects.create_user(name, is_staff=staff)


def client_for(account: Any, **kwargs: Any) -> APIClient:
    client = APIClient(**kwargs)
    client.force_login(account)
    return client


def detail(session_id: Any, suffix: str = "") -> str:
    return f"/api/sessions/{session_id}/{suffix}"


__all__ = ["APIClient", "client_for", "context_body", "detail", "make_session", "stored", "user"]
