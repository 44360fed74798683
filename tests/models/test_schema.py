"""The ``sessions`` table is graph-flow's table exactly, plus graph-flow 0.6's ``version``.

On PostgreSQL the seed's own CREATE TABLE statement (copied from the seed document into
tests/support/graph_flow.py, not imported from the app) builds a reference table in a scratch
schema, and the two are compared through ``information_schema``: columns, types, nullability,
defaults, keys.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from graphflow_sessions.models import Session
from graphflow_sessions.storage.sql import graph_flow_create_table
from tests.support.graph_flow import SEED_STATEMENT

SEED_CREATE_TABLE = graph_flow_create_table("sessions")

pytestmark = pytest.mark.django_db

SEED_COLUMNS = [
    # name, data_type, is_nullable, column_default
    ("id", "uuid", "NO", None),
    ("graph_id", "text", "NO", None),
    ("current_task_id", "text", "NO", None),
    ("status_message", "text", "YES", None),
    ("context", "jsonb", "NO", None),
    ("created_at", "timestamp with time zone", "YES", "now()"),
    ("updated_at", "timestamp with time zone", "YES", "now()"),
]


def columns(schema: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'sessions' ORDER BY ordinal_position",
            [schema],
        )
        return cursor.fetchall()


def constraints(schema: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tc.constraint_type, tc.constraint_name, kcu.column_name "
            "FROM information_schema.table_constraints tc "
            "LEFT JOIN information_schema.key_column_usage kcu "
            "  ON kcu.constraint_schema = tc.constraint_schema "
            " AND kcu.constraint_name = tc.constraint_name "
            "WHERE tc.table_schema = %s AND tc.table_name = 'sessions' "
            "  AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY', 'CHECK') "
            "  AND tc.constraint_name NOT LIKE '%%_not_null' "
            "ORDER BY 1, 2, 3",
            [schema],
        )
        return cursor.fetchall()


@pytest.fixture
def seed_reference_schema() -> str:
    """A scratch schema holding a table made by the seed's statement (rolled back after)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA gfs_seed_reference")
        cursor.execute("SET LOCAL search_path TO gfs_seed_reference")
        cursor.execute(SEED_STATEMENT)
        cursor.execute("SET LOCAL search_path TO DEFAULT")
    return "gfs_seed_reference"


def test_the_migration_runs_the_seeds_statement_verbatim():
    assert " ".join(SEED_CREATE_TABLE.split()) == " ".join(SEED_STATEMENT.rstrip(";").split())


@pytest.mark.postgres
def test_the_table_matches_a_table_made_by_the_seeds_statement(seed_reference_schema):
    ours = columns("public")
    seed = columns(seed_reference_schema)
    assert seed == SEED_COLUMNS
    assert [column for column in ours if column[0] != "version"] == seed


@pytest.mark.postgres
def test_the_version_column_is_bigint_not_null_default_0_after_the_seeds_columns():
    assert columns("public")[-1] == ("version", "bigint", "NO", "0")
    assert len(columns("public")) == len(SEED_COLUMNS) + 1


@pytest.mark.postgres
def test_the_only_key_is_the_seeds_primary_key_on_id(seed_reference_schema):
    assert constraints("public") == [("PRIMARY KEY", "sessions_pkey", "id")]
    assert constraints("public") == constraints(seed_reference_schema)


@pytest.mark.postgres
def test_the_named_indexes_exist_including_the_gin_index_on_context_data():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' AND tablename = 'sessions'"
        )
        indexes = dict(cursor.fetchall())
    assert set(indexes) >= {
        "sessions_pkey",
        "gfs_updated_id_idx",
        "gfs_graph_prefix_updated_idx",
        "gfs_task_prefix_updated_idx",
        "gfs_created_idx",
        "gfs_context_data_gin",
    }
    assert (
        "USING gin (((context -> 'data'::text)) jsonb_path_ops)"
        in (indexes["gfs_context_data_gin"])
    )


@pytest.mark.postgres
def test_a_row_inserted_with_only_the_seeds_columns_gets_the_database_defaults():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sessions (id, graph_id, current_task_id, context) "
            "VALUES (gen_random_uuid(), 'g', 't', '{}'::jsonb) "
            "RETURNING created_at = now(), updated_at = now(), version, status_message"
        )
        assert cursor.fetchone() == (True, True, 0, None)


def test_the_columns_and_their_nullability_on_this_database():
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, "sessions")
    assert [(column.name, bool(column.null_ok)) for column in description] == [
        ("id", False),
        ("graph_id", False),
        ("current_task_id", False),
        ("status_message", True),
        ("context", False),
        ("created_at", True),
        ("updated_at", True),
        ("version", False),
    ]
    with connection.cursor() as cursor:
        assert connection.introspection.get_primary_key_columns(cursor, "sessions") == ["id"]


def test_the_model_maps_to_the_sessions_table_with_the_seeds_column_names():
    assert Session._meta.db_table == "sessions"
    assert [field.column for field in Session._meta.concrete_fields] == [
        name for name, *_ in SEED_COLUMNS
    ] + ["version"]
    assert Session._meta.pk.name == "id"
