"""Suite-wide fixtures and the PostgreSQL/SQLite split.

Tests marked ``postgres`` are *deselected* (not skipped) on SQLite runs, so a SQLite run
never reports them as passing; so are those marked ``database_independent``, which the
PostgreSQL pass has already run. A PostgreSQL run that cannot reach its server fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

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


# Every hypothesis test: a bounded number of examples (hypothesis's default, where a test
# sets none), the same ones every run, so that a failure reproduces in CI and locally;
# HYPOTHESIS_PROFILE=explore draws new ones, ten times as many.
hypothesis_settings.register_profile(
    "graphflow",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
hypothesis_settings.register_profile(
    "explore",
    parent=hypothesis_settings.get_profile("graphflow"),
    max_examples=1000,
    derandomize=False,
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "graphflow"))

_FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def report_figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a figure the test measured (docs/reliability.md quotes them): pytest prints
    them in a "figures" section at the end of the run, with or without ``-s``."""

    def report(line: str) -> None:
        request.config.stash.setdefault(_FIGURES, []).append(f"{request.node.nodeid}: {line}")

    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, [])
    if figures:
        terminalreporter.section("figures")
        for line in figures:
            terminalreporter.write_line(line)


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


@pytest.fixture(autouse=True)
def empty_caches() -> Iterator[None]:
    """Each test starts with empty caches: the local-memory cache lives as long as the test
    process, and what one test cached (an overview's numbers, say) outlives its database."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield


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
