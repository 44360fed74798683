"""A search is bounded in time on the database and cancelled there when it gives up."""

from __future__ import annotations

import time

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import override_settings

from graphflow_sessions.exceptions import SearchTimedOut
from graphflow_sessions.search.limits import bounded

pytestmark = pytest.mark.django_db(transaction=True)

# A statement that runs for minutes unless stopped.
_SLOW = {
    "postgresql": "SELECT pg_sleep(60)",
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000) "
        "SELECT count(*) FROM n"
    ),
}


def _run(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.fetchall()


def test_a_statement_past_the_limit_is_cancelled_and_reported():
    started = time.monotonic()
    with (
        override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": 0.2}),
        pytest.raises(SearchTimedOut, match="longer than 0.2 s"),
        bounded("default"),
    ):
        _run(_SLOW[connection.vendor])
    assert time.monotonic() - started < 10  # stopped by the database, not after a minute
    _run("SELECT 1")  # the connection is usable afterwards


@pytest.mark.postgres
def test_the_limit_is_set_for_the_block_only():
    def current() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    before = current()
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": 3}):
        with bounded("default"):
            assert current() == "3s"
        assert current() == before
        # Inside a caller's transaction too (a savepoint), the old value comes back.
        with transaction.atomic():
            with bounded("default"):
                assert current() == "3s"
            assert current() == before


@pytest.mark.postgres
def test_other_database_errors_pass_through():
    with (
        override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": 5}),
        pytest.raises(ProgrammingError),
        bounded("default"),
    ):
        _run("SELECT * FROM no_such_table")


def test_no_limit_when_the_setting_is_none():
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": None}), bounded("default"):
        _run("SELECT 1")
