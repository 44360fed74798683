"""The index follows the Rust service's own statements, on graph-flow 0.5's uuid table and on
0.6's text-id table, without the service knowing the index exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg.types.json import Jsonb
from psycopg.types.string import StrDumper

from graphflow_sessions.models import Session
from graphflow_sessions.search import postgres
from graphflow_sessions.search.terms import parse_query
from tests.support.graph_flow import GRAPH_FLOW_06_SAVE
from tests.support.rust_sql import RUST_DELETE, RUST_INSERT
from tests.support.text_table import text_ids_in_transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TASK = "insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask"


def rust_context(*contents: str, max_messages: int | None = 50, **data: Any) -> dict[str, Any]:
    return {
        "data": data,
        "chat_history": {
            "messages": [
                {
                    "role": "User" if n % 2 == 0 else "Assistant",
                    "content": content,
                    "timestamp": f"2025-06-10T12:34:{n:02d}.123456789Z",
                }
                for n, content in enumerate(contents)
            ],
            "max_messages": max_messages,
        },
    }


@pytest.fixture
def rust() -> Iterator[psycopg.RawCursor[Any]]:
    connection.ensure_connection()
    cursor = psycopg.RawCursor(connection.connection)
    cursor.adapters.register_dumper(str, StrDumper)  # sqlx binds a String as text
    yield cursor
    cursor.close()


def found(text: str) -> set[str]:
    matches = postgres.filter_sessions(Session.objects.all(), parse_query(text)).queryset
    return {str(pk) for pk in matches.values_list("pk", flat=True)}


def test_the_rust_upsert_insert_update_and_delete_are_followed(rust: Any) -> None:
    session_id = "5d3c3a4e-4b8f-4f57-9d0e-1f2a3b4c5d6e"
    rust.execute(RUST_INSERT, [session_id, "claims", TASK, None, Jsonb(rust_context("hello"))])
    assert found("hello initialclaimquerytask") == {session_id}
    history = ["hello", "my windscreen cracked"]
    rust.execute(
        RUST_INSERT,
        [session_id, "claims", TASK, "classifying", Jsonb(rust_context(*history, kind="car"))],
    )
    assert found("windscreen car classifying") == {session_id}
    rust.execute(RUST_DELETE, [session_id])
    assert found("hello") == set()


def test_a_rust_session_trimmed_at_its_max_messages_forgets_the_oldest(rust: Any) -> None:
    session_id = "0b9e1c7a-3a52-4e1f-8f60-9a7d5c4b3a21"
    history = [f"turn{n}" for n in range(4)]
    rust.execute(
        RUST_INSERT, [session_id, "g", TASK, None, Jsonb(rust_context(*history, max_messages=4))]
    )
    # graph-flow appended one and dropped the oldest: the history is one message further on.
    history = history[1:] + ["turn4"]
    rust.execute(
        RUST_INSERT, [session_id, "g", TASK, None, Jsonb(rust_context(*history, max_messages=4))]
    )
    assert found("turn0") == set()
    assert found("turn4") == {session_id}
    query = parse_query("turn1 turn4")
    assert postgres.message_positions("default", session_id, query) == [0, 3]


def test_the_graph_flow_06_text_id_table_is_searched_by_its_own_ids(rust: Any) -> None:
    with text_ids_in_transaction():
        rust.execute(
            GRAPH_FLOW_06_SAVE,
            ["session_001", "g", TASK, None, Jsonb(rust_context("Ärger mit dem Auto")), 0],
        )
        rust.execute(
            GRAPH_FLOW_06_SAVE,
            [
                "session_001",
                "g",
                TASK,
                None,
                Jsonb(rust_context("Ärger mit dem Auto", "Wir helfen gern")),
                1,
            ],
        )
        assert found("arger helfen") == {"session_001"}
        assert postgres.message_positions("default", "session_001", parse_query("gern")) == [1]


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_a_connection_that_saved_before_the_ids_became_text_keeps_indexing() -> None:
    from graphflow_sessions.storage import DatabaseSessionStorage
    from tests.support.admin import BASE_TIME, make_session
    from tests.support.text_table import text_ids_committed

    storage = DatabaseSessionStorage()
    session = make_session()
    for n in range(3):  # the trigger's plans now hold the uuid type, in this connection
        session.context.add_message("User", f"before{n}", BASE_TIME)
        storage.save(session)
    with text_ids_committed():  # converted by another connection, as a 0.6 service does
        found_again = storage.get(session.id)
        assert found_again is not None
        found_again.context.add_message("User", "after the conversion", BASE_TIME)
        storage.save(found_again)
        assert found("before2 conversion") == {str(session.id)}
