"""Suite-wide fixtures and the PostgreSQL/SQLite split.

Tests marked ``postgres`` are *deselected* (not skipped) on SQLite runs, so a SQLite run
never reports them as passing; so are those marked ``database_independent``, which the
PostgreSQL pass has already run. A PostgreSQL run that cannot reach its server fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation

from tests.support.chromium import launch_options, watch


def _vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if "postgresql" in engine else "sqlite" if "sqlite" in engine else engine


def pytest_report_header(config: pytest.Config) -> str:
    db = settings.DATABASES["default"]
    return f"graphflow-sessions: database {_vendor()} ({db.get('HOST') or ''} {db.get('NAME')})"


# Last, after pytest-randomly's and pytest-django's orderings.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop on the main thread from the first browser
    # test to the end of the session, where asgiref's async_to_sync refuses to run: browser
    # tests go last (in the order they were given).
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
    if _vendor() == "postgresql":
        return
    selected, deselected = [], []
    for item in items:
        runs_once = item.get_closest_marker("postgres") or item.get_closest_marker(
            "database_independent"
        )
        (deselected if runs_once else selected).append(item)
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


# Browser tests: pytest-playwright's ``page``, on the system Chromium (its fixtures, overridden).
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, **launch_options()}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # New York: the admin shows times in Django's zone, never the browser's (a test sets both).
    viewport = {"width": 1400, "height": 1000}
    return {**browser_context_args, "viewport": viewport, "timezone_id": "America/New_York"}


@pytest.fixture
def watched_page(page: Any, live_server: Any) -> Any:
    """pytest-playwright's page, recording dialogs and off-site requests (``watch``)."""
    return watch(page, live_server.url)
