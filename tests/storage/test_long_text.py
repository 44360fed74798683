"""Long graph and task ids: one limit for our writers on every database, and indexes that
take any row a Rust service writes.

The text is random: PostgreSQL compresses repetitive text before the index sees it, so
"x" * 10_000 fits a btree entry and proves nothing.
"""

from __future__ import annotations

import random
import string
import uuid

import psycopg
import pytest
from django.db import connection
from django.urls import reverse
from psycopg.types.json import Jsonb
from psycopg.types.string import StrDumper

from graphflow_sessions.admin.filters import distinct_values
from graphflow_sessions.exceptions import InvalidSession
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage, sql
from graphflow_sessions.storage.sql import INDEXED_TEXT_CHARS
from tests.support.admin import rust_context_json
from tests.support.rust_sql import RUST_INSERT

pytestmark = pytest.mark.django_db

# Beyond the 2,704 bytes of a btree entry even uncompressed, as ASCII.
ROW_BREAKER = 3_000


def random_text(length: int, seed: int = 18) -> str:
    return "".join(random.Random(seed).choices(string.ascii_letters + string.digits, k=length))


def session(**fields: str) -> Session:
    return Session(id=uuid.uuid4(), **{"graph_id": "claims", "current_task_id": "ask", **fields})


@pytest.mark.parametrize("field", ["graph_id", "current_task_id"])
def test_a_value_over_the_limit_is_refused_naming_the_field_and_the_limit(field: str) -> None:
    too_long = session(**{field: random_text(INDEXED_TEXT_CHARS + 1)})
    with pytest.raises(InvalidSession) as raised:
        DatabaseSessionStorage().save(too_long)
    assert f"{field} is 513 characters long; at most 512 can be stored" in str(raised.value)
    assert not Session.objects.exists()


def test_a_value_at_the_limit_is_stored_and_read_back() -> None:
    storage = DatabaseSessionStorage()
    longest = session(graph_id=random_text(512), current_task_id=random_text(512, seed=2))
    storage.save(longest)
    stored = storage.get(longest.id)
    assert stored is not None
    assert (stored.graph_id, stored.current_task_id) == (longest.graph_id, longest.current_task_id)
    assert Session.objects.filter(graph_id=longest.graph_id).get().pk == longest.id


@pytest.mark.postgres
def test_a_rust_row_with_long_random_ids_is_stored_read_filtered_and_listed(admin_client) -> None:
    graph, task = random_text(ROW_BREAKER), random_text(ROW_BREAKER, seed=3)
    session_id = uuid.uuid4()
    twin = uuid.uuid4()  # its graph shares the first 512 characters: equality still tells
    connection.ensure_connection()
    with psycopg.RawCursor(connection.connection) as cursor:  # graph-flow's statement, as sqlx
        cursor.adapters.register_dumper(str, StrDumper)
        for row_id, row_graph in ((session_id, graph), (twin, graph + "x")):
            cursor.execute(
                RUST_INSERT, [str(row_id), row_graph, task, None, Jsonb(rust_context_json())]
            )
    stored = DatabaseSessionStorage().get(session_id)
    assert stored is not None and (stored.graph_id, stored.current_task_id) == (graph, task)
    assert list(Session.objects.filter(graph_id=graph).values_list("pk", flat=True)) == [session_id]
    assert Session.objects.filter(current_task_id=task).count() == 2
    # The admin lists them, offers the graph by its first 512 characters and filters by it.
    changelist = reverse("admin:graphflow_sessions_session_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert {str(obj.pk) for obj in response.context["cl"].result_list} == {
        str(session_id),
        str(twin),
    }
    assert distinct_values(Session.objects.all(), "graph_id") == [graph[:INDEXED_TEXT_CHARS]]
    filtered = admin_client.get(changelist, {"graph_id": graph[:INDEXED_TEXT_CHARS]})
    assert len(filtered.context["cl"].result_list) == 2
    assert (
        admin_client.get(
            reverse("admin:graphflow_sessions_session_change", args=[session_id])
        ).status_code
        == 200
    )


def plan(statement: str, params: list[object]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table; ask the index
            cursor.execute(f"EXPLAIN {statement}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params)
        return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("field", "index"),
    [
        ("graph_id", "gfs_graph_prefix_updated_idx"),
        ("current_task_id", "gfs_task_prefix_updated_idx"),
    ],
)
def test_equality_filters_and_the_admin_choices_are_served_by_the_prefix_indexes(
    field: str, index: str
) -> None:
    for number in range(20):
        DatabaseSessionStorage().save(session(**{field: f"value-{number % 4}"}))
    newest = Session.objects.filter(**{field: "value-1"}).order_by("-updated_at")[:10]
    statement, params = newest.query.sql_with_params()
    assert index in plan(statement, list(params))
    assert newest.count() == 5
    choices_sql, choices_params = sql.distinct_values(connection, field, 50)
    assert index in plan(choices_sql, choices_params)
    assert distinct_values(Session.objects.all(), field) == [f"value-{n}" for n in range(4)]


@pytest.mark.parametrize(
    ("field", "index"),
    [
        ("graph_id", "gfs_graph_prefix_updated_idx"),
        ("current_task_id", "gfs_task_prefix_updated_idx"),
    ],
)
def test_the_admin_lists_graph_and_task_filters_are_served_by_the_prefix_indexes(
    admin_client, field: str, index: str
) -> None:
    for number in range(20):
        DatabaseSessionStorage().save(session(**{field: f"value-{number % 4}"}))
    response = admin_client.get(
        reverse("admin:graphflow_sessions_session_changelist"), {field: "value-1"}
    )
    listed = response.context["cl"].queryset
    assert listed.count() == 5
    statement, params = listed.order_by("-updated_at")[:10].query.sql_with_params()
    assert index in plan(statement, list(params))


@pytest.mark.parametrize("length", [INDEXED_TEXT_CHARS - 1, INDEXED_TEXT_CHARS])
def test_equality_on_either_side_of_the_prefix_length_finds_only_the_equal_value(
    length: int,
) -> None:
    value = random_text(length, seed=length)
    exact, twin, other = session(), session(), session()
    for row in (exact, twin, other):
        DatabaseSessionStorage().save(row)
    # Another writer's longer values, starting with the same characters (update() writes
    # them as they are, as a Rust service would).
    Session.objects.filter(pk=exact.pk).update(graph_id=value)
    Session.objects.filter(pk=twin.pk).update(graph_id=value + "x")
    Session.objects.filter(pk=other.pk).update(graph_id=value + "x" * 600)
    assert list(Session.objects.filter(graph_id=value).values_list("pk", flat=True)) == [exact.pk]
    assert list(Session.objects.filter(graph_id=value + "x").values_list("pk", flat=True)) == [
        twin.pk
    ]


@pytest.mark.postgres
def test_the_planner_estimates_an_equality_filter_from_the_prefix_index_statistics() -> None:
    # A graph filter beside a search must be estimated as what it is (a quarter of the rows
    # here): taken for a handful, the planner sorted every session a common word matched
    # instead of walking the index in list order.
    Session.objects.bulk_create(session(graph_id=f"graph-{number % 4}") for number in range(400))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sessions")
    statement, params = Session.objects.filter(graph_id="graph-1").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", params)
        estimate = cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
    assert 50 <= estimate <= 200  # 100 match
