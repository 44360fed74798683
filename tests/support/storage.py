"""A ``storage`` fixture for tests that run each operation in autocommit: the database
backend (a ``transaction=True`` test) and the in-memory one.

    from tests.support.storage import autocommit_storage  # noqa: F401 (the storage fixture)
"""

from __future__ import annotations

import pytest

from graphflow_sessions.storage import (
    DatabaseSessionStorage,
    InMemorySessionStorage,
    SessionStorage,
)


@pytest.fixture(
    name="storage",
    params=[
        pytest.param(
            "database",
            marks=pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"]),
        ),
        "memory",
    ],
)
def autocommit_storage(request: pytest.FixtureRequest) -> SessionStorage:
    return DatabaseSessionStorage() if request.param == "database" else InMemorySessionStorage()
