"""Migration 0006: a database that installed the search index's first release gets this
release's functions and triggers; elsewhere it does nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from graphflow_sessions.models import Session
from graphflow_sessions.search import postgres
from graphflow_sessions.search.terms import parse_query
from tests.support.admin import BASE_TIME, make_session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BEFORE, AFTER = (
    ("graphflow_sessions", "0005_long_text_indexes"),
    ("graphflow_sessions", "0006_search_functions"),
)

# What the first release left: one trigger for inserts, updates and deletes, a function
# since removed, one whose parameter was named differently, and stale function bodies.
FIRST_RELEASE = [
    "DROP TRIGGER gfs_search_insert ON sessions",
    "DROP TRIGGER gfs_search_update ON sessions",
    "DROP TRIGGER gfs_search_delete ON sessions",
    "CREATE TRIGGER gfs_search_change AFTER INSERT OR DELETE OR UPDATE ON sessions "
    "FOR EACH ROW EXECUTE FUNCTION gfs_search_on_change()",
    "CREATE FUNCTION gfs_search_forget(sid text) RETURNS void LANGUAGE sql AS "
    "'DELETE FROM gfs_search_session WHERE session_id = sid'",
    "DROP FUNCTION gfs_search_add_messages(text, jsonb, integer, integer, bigint)",
    "CREATE FUNCTION gfs_search_add_messages(sid text, msgs jsonb, first integer, "
    "last integer, head bigint) RETURNS void LANGUAGE sql AS 'SELECT'",
    "CREATE OR REPLACE FUNCTION gfs_search_text(t text) RETURNS text LANGUAGE sql "
    "IMMUTABLE AS 'SELECT ''stale'''",
]


def triggers() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'sessions'::regclass "
            "AND NOT tgisinternal"
        )
        return {str(row[0]) for row in cursor.fetchall()}


def found(text: str) -> set[Any]:
    matches = postgres.filter_sessions(Session.objects.all(), parse_query(text)).queryset
    return set(matches.values_list("pk", flat=True))


def test_0006_replaces_the_first_releases_functions_and_trigger_where_installed() -> None:
    MigrationExecutor(connection).migrate([BEFORE])
    with connection.cursor() as cursor:
        for statement in FIRST_RELEASE:
            cursor.execute(statement)
    assert triggers() == {"gfs_search_change", "gfs_search_truncate"}
    assert postgres.index_installed("default")  # the first release's trigger counts
    MigrationExecutor(connection).migrate([AFTER])
    assert triggers() == {
        "gfs_search_insert",
        "gfs_search_update",
        "gfs_search_delete",
        "gfs_search_truncate",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regprocedure('gfs_search_forget(text)'), gfs_search_text('Müller')"
        )
        assert cursor.fetchone() == (None, "muller")
    session = make_session()
    session.context.add_message("User", "upgraded aardwolf", BASE_TIME)
    session.save()
    assert found("aardwolf") == {session.pk}
    session.delete()
    assert found("aardwolf") == set()


def test_0006_does_nothing_where_the_index_is_not_installed() -> None:
    MigrationExecutor(connection).migrate([BEFORE])
    postgres.uninstall(connection)
    MigrationExecutor(connection).migrate([AFTER])
    assert not postgres.index_installed("default")
    assert triggers() == set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('gfs_search_session')")
        assert cursor.fetchone()[0] is None
