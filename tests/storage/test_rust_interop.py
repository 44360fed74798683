"""A Rust graph-flow service and Django share the table, both ways.

The Rust service's statements are used verbatim (graph-flow 0.5's PostgresSessionStorage),
with ``$n`` parameters sent through the extended protocol as sqlx does: ids and text as
``text`` (the SQL casts the id with ``::uuid``), the context as ``jsonb``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg.types.json import Jsonb, JsonbLoader
from psycopg.types.string import StrDumper

from graphflow_sessions.context import Context, MessageRole
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.graph_flow import SEED_EXAMPLE_JSON
from tests.support.rust_sql import RUST_DELETE, RUST_INSERT, RUST_SELECT

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


# What chrono writes for a DateTime<Utc> and the Rust reader accepts: UTC, 0-9 digits, Z.
RUST_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")

TASK = "insurance_claims_service::tasks::insurance_type_classifier::InsuranceTypeClassifierTask"


class RustService:
    """The Rust service's three statements, on the test's PostgreSQL connection."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.cursor = psycopg.RawCursor(raw)
        self.cursor.adapters.register_dumper(str, StrDumper)  # String binds as text in sqlx
        # Django makes its connection return jsonb as text; sqlx hands serde a parsed value.
        self.cursor.adapters.register_loader("jsonb", JsonbLoader)

    def save(self, session_id: str, graph_id: str, task: str, status: str | None, ctx: Any) -> None:
        self.cursor.execute(RUST_INSERT, [session_id, graph_id, task, status, Jsonb(ctx)])

    def get(self, session_id: str) -> tuple[Any, ...] | None:
        self.cursor.execute(RUST_SELECT, [session_id])
        return self.cursor.fetchone()

    def delete(self, session_id: str) -> None:
        self.cursor.execute(RUST_DELETE, [session_id])


@pytest.fixture
def rust() -> Iterator[RustService]:
    connection.ensure_connection()
    service = RustService(connection.connection)
    yield service
    service.cursor.close()


def rust_context(*, max_messages: int | None = 50) -> dict[str, Any]:
    """A context as graph-flow's serde writes it: nanosecond timestamps, struct field order."""
    return {
        "data": {
            "user_input": "about $150",
            "insurance_type": "car",
            "claim_details": {
                "insurance_type": "car",
                "description": "rear bumper",
                "estimated_cost": 150.0,
                "additional_info": None,
            },
            "retry_count": 0,
        },
        "chat_history": {
            "messages": [
                {"role": "User", "content": "hello", "timestamp": "2025-06-10T12:34:56.123456789Z"},
                {
                    "role": "Assistant",
                    "content": "What happened?",
                    "timestamp": "2025-06-10T12:34:57.000000001Z",
                },
                {"role": "System", "content": "classified", "timestamp": "2025-06-10T12:35:00Z"},
            ],
            "max_messages": max_messages,
        },
    }


def assert_rust_can_read(context: Any) -> None:
    """The checks graph-flow's serde reader applies to the context column."""
    assert isinstance(context, dict)
    assert isinstance(context["data"], dict)
    history = context["chat_history"]
    assert isinstance(history["messages"], list)
    max_messages = history.get("max_messages")
    assert max_messages is None or (isinstance(max_messages, int) and max_messages >= 0)
    for message in history["messages"]:
        assert message["role"] in ("User", "Assistant", "System")
        assert isinstance(message["content"], str)
        assert RUST_TIMESTAMP.fullmatch(message["timestamp"]), message["timestamp"]


# Rust writes, Django reads ----------------------------------------------------------------------


@pytest.mark.parametrize("max_messages", [50, None])
def test_a_row_inserted_by_the_rust_service_is_read_by_get(rust, max_messages):
    session_id = uuid.uuid4()
    stored = rust_context(max_messages=max_messages)
    rust.save(str(session_id), "insurance_claims", TASK, "Classified as car", stored)
    found = DatabaseSessionStorage().get(session_id)
    assert found is not None
    assert found.id == session_id
    assert (found.graph_id, found.current_task_id, found.status_message) == (
        "insurance_claims",
        TASK,
        "Classified as car",
    )
    assert found.context.to_dict() == stored
    assert found.context.max_messages == max_messages
    assert found.context.get("claim_details")["estimated_cost"] == 150.0
    assert [m.role for m in found.context.get_all_messages()] == list(MessageRole)
    assert found.version == 0
    assert found.created_at is not None
    assert found.created_at == found.updated_at


def test_a_rust_row_with_a_null_status_message_reads_as_none(rust):
    session_id = str(uuid.uuid4())
    rust.save(session_id, "default", "completed", None, rust_context())
    found = DatabaseSessionStorage().get(session_id)
    assert found is not None
    assert found.status_message is None


def test_an_upper_case_id_written_by_rust_is_found_by_its_lower_case_form(rust):
    session_id = uuid.uuid4()
    rust.save(str(session_id).upper(), "g", "t", None, rust_context())
    found = DatabaseSessionStorage().get(str(session_id))
    assert found is not None
    assert found.id == session_id


def test_the_seed_example_context_written_by_rust_is_read_without_loss(rust):
    session_id = str(uuid.uuid4())
    rust.save(session_id, "insurance_claims", "final_summary", None, json.loads(SEED_EXAMPLE_JSON))
    found = DatabaseSessionStorage().get(session_id)
    assert found is not None
    assert found.context.to_dict() == json.loads(SEED_EXAMPLE_JSON)


def test_a_rust_save_over_a_django_row_keeps_created_at_and_is_read_back(rust):
    storage = DatabaseSessionStorage()
    session = Session(graph_id="g", current_task_id="start", context=Context())
    storage.save(session)
    rust.save(str(session.id), "g", "next", "from rust", rust_context())
    found = storage.get(session.id)
    assert found is not None
    assert found.created_at == session.created_at
    assert (found.current_task_id, found.status_message) == ("next", "from rust")
    assert found.context.to_dict() == rust_context()
    # graph-flow 0.5 does not know the version column: its save leaves it as it was.
    assert found.version == 1


# Django writes, Rust reads ----------------------------------------------------------------------


def test_a_django_save_is_read_by_the_rust_services_select_and_parses(rust):
    ctx = Context()
    ctx.set("insurance_type", "apartment")
    ctx.set("claim_decision", {"approved": True, "decision_reason": "under $1000"})
    ctx.add_user_message("my window broke")
    ctx.add_assistant_message("Sorry to hear that.")
    ctx.add_system_message("approved")
    session = Session(
        graph_id="insurance_claims", current_task_id=TASK, status_message=None, context=ctx
    )
    DatabaseSessionStorage().save(session)
    row = rust.get(str(session.id))
    assert row is not None
    session_id, graph_id, task, status, context = row
    assert session_id == str(session.id)
    assert (graph_id, task, status) == ("insurance_claims", TASK, None)
    assert_rust_can_read(context)
    assert set(context) == {"data", "chat_history"}
    assert set(context["chat_history"]) == {"messages", "max_messages"}
    assert context["chat_history"]["max_messages"] == 1000
    assert [set(m) for m in context["chat_history"]["messages"]] == [
        {"role", "content", "timestamp"}
    ] * 3
    assert context == ctx.to_dict()


@pytest.mark.parametrize("max_messages", [50, None])
def test_a_rust_session_changed_and_saved_by_django_keeps_its_nanoseconds_and_limit(
    rust, max_messages
):
    session_id = str(uuid.uuid4())
    original = rust_context(max_messages=max_messages)
    rust.save(session_id, "insurance_claims", TASK, "step 1", original)
    storage = DatabaseSessionStorage()
    session = storage.get(session_id)
    assert session is not None
    session.context.add_user_message("it was about $150")
    session.context.set("approval_state", "pending")
    session.current_task_id = "completed"
    storage.save(session)
    row = rust.get(session_id)
    assert row is not None
    context = row[4]
    assert_rust_can_read(context)
    assert context["chat_history"]["messages"][:3] == original["chat_history"]["messages"]
    assert context["chat_history"]["messages"][3]["content"] == "it was about $150"
    assert context["chat_history"]["max_messages"] == max_messages
    assert context["data"] == {**original["data"], "approval_state": "pending"}
    assert row[2] == "completed"


def test_a_message_read_with_an_offset_is_written_back_in_utc_for_rust(rust):
    session_id = str(uuid.uuid4())
    stored = rust_context()
    stored["chat_history"]["messages"][0]["timestamp"] = "2025-06-10T14:34:56.5+02:00"
    rust.save(session_id, "g", "t", None, stored)
    storage = DatabaseSessionStorage()
    session = storage.get(session_id)
    assert session is not None
    storage.save(session)
    row = rust.get(session_id)
    assert row is not None
    assert row[4]["chat_history"]["messages"][0]["timestamp"] == "2025-06-10T12:34:56.5Z"
    assert_rust_can_read(row[4])


def test_rust_delete_removes_a_django_row_and_absent_get_is_none(rust):
    storage = DatabaseSessionStorage()
    session = Session(current_task_id="t")
    storage.save(session)
    rust.delete(str(session.id))
    assert storage.get(session.id) is None
    assert rust.get(str(session.id)) is None
    rust.delete(str(session.id))  # absent: not an error for Rust either
