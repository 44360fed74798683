"""Sessions for the admin tests: ordinary, Rust-written, hostile and contract-breaking."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from django.contrib.auth.models import Permission, User
from django.db import connections

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
RUST_TASK = "insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask"
BASE_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def chat_context(
    messages: int = 3, *, data: dict[str, Any] | None = None, max_messages: int | None = None
) -> Context:
    """A context whose messages alternate User/Assistant (every 10th is System), one minute
    apart, each saying which number it is."""
    context = Context(max_messages=max_messages)
    for index in range(messages):
        role = "System" if index % 10 == 9 else ("User" if index % 2 == 0 else "Assistant")
        moment = BASE_TIME + timedelta(minutes=index)
        context.add_message(role, f"message {index + 1}", moment)
    for key, value in (data or {}).items():
        context.set(key, value)
    return context


def make_session(
    *,
    graph_id: str = "claims",
    task: str = "ask",
    status: str | None = None,
    context: Context | None = None,
    updated_at: datetime | None = None,
    created_at: datetime | None = None,
    session_id: uuid.UUID | None = None,
) -> Session:
    session = Session(
        id=session_id or uuid.uuid4(),
        graph_id=graph_id,
        current_task_id=task,
        status_message=status,
        context=context if context is not None else chat_context(),
    )
    session.save()
    stamps = {
        key: value
        for key, value in (("updated_at", updated_at), ("created_at", created_at))
        if value is not None
    }
    if stamps:
        Session.objects.filter(pk=session.pk).update(**stamps)
        session.refresh_from_db()
    return session


def rust_context_json() -> dict[str, Any]:
    """What a Rust graph-flow service writes: nanosecond timestamps, no history limit, no data."""
    return {
        "data": {},
        "chat_history": {
            "messages": [
                {
                    "role": "User",
                    "content": "My car was hit\nwhile parked.",
                    "timestamp": "2025-06-10T12:34:56.123456789Z",
                },
                {
                    "role": "Assistant",
                    "content": "Sorry to hear that. What is the damage?",
                    "timestamp": "2025-06-10T12:35:01.987654321Z",
                },
            ],
            "max_messages": None,
        },
    }


def insert_raw(
    context_json: Any,
    *,
    graph_id: str = "raw",
    task: str = RUST_TASK,
    status: str | None = None,
    session_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert a row with SQL, as a Rust service (or someone with psql) would: no validation."""
    session_id = session_id or uuid.uuid4()
    connection = connections["default"]
    text = json.dumps(context_json)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, "
                "created_at, updated_at) VALUES (%s::uuid, %s, %s, %s, %s::jsonb, NOW(), NOW())",
                [str(session_id), graph_id, task, status, text],
            )
        else:
            cursor.execute(
                "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, "
                "created_at, updated_at, version) VALUES (%s, %s, %s, %s, %s, "
                "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now'), "
                "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now'), 0)",
                [session_id.hex, graph_id, task, status, text],
            )
    return session_id


def staff_user(*codenames: str, username: str = "staff") -> User:
    """A staff user holding only the named permissions of this app (``view_session``...)."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="graphflow_sessions", codename__in=codenames
        )
    )
    return user
