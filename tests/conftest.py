"""Suite-wide fixtures and the PostgreSQL/SQLite split.

Tests marked ``postgres`` are *deselected* (not skipped) on SQLite runs, so a SQLite run
never reports them as passing. A PostgreSQL run that cannot reach its server fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils import translation


def _vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if "postgresql" in engine else "sqlite" if "sqlite" in engine else engine


def pytest_report_header(config: pytest.Config) -> str:
    db = settings.DATABASES["default"]
    return f"graphflow-sessions: database {_vendor()} ({db.get('HOST') or ''} {db.get('NAME')})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _vendor() == "postgresql":
        return
    selected, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("postgres") else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture
def on_postgres() -> bool:
    return _vendor() == "postgresql"


@pytest.fixture(params=["msgspec", "json-only"])
def with_and_without_msgspec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with msgspec (the postgres extra installs it) and as without it."""
    from graphflow_sessions.contract import codec

    assert codec.MSGSPEC_INSTALLED
    if request.param == "json-only":
        with codec.without_msgspec():
            yield str(request.param)
    else:
        yield str(request.param)


@pytest.fixture
def fresh_connection() -> Iterator[None]:
    """A new database connection for the test, closed again after it (transaction=True
    tests only): what happens on a connection's first statements is then observable."""
    from django.db import connection

    connection.close()
    yield
    connection.close()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Each test starts and ends in LANGUAGE_CODE: LocaleMiddleware activates a request's
    Accept-Language in the thread and leaves it active after the test client returns."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
