"""The search index in tests: leave it out for a test (the window search then answers), or
mark it as still being filled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from graphflow_sessions.models import Session
from graphflow_sessions.search import postgres


@pytest.fixture
def without_search_index(db: Any) -> Iterator[None]:
    """The PostgreSQL index dropped for the test (nothing to do on SQLite, which has none)."""
    installed = postgres.index_installed("default")
    if installed:
        postgres.uninstall(connection)
    yield
    # Inside the test's transaction the drop is rolled back with it; a transactional test
    # commits it, so put the index back (on an empty table, so complete).
    if installed and not connection.in_atomic_block:
        Session.objects.all().delete()
        postgres.install(connection)


def mark_index_incomplete() -> None:
    """As if ``graphflow_sessions_index`` had not finished filling the index."""
    with connection.cursor() as cursor:
        postgres.mark_progress(cursor, None, False)
