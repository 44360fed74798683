"""Suite-wide fixtures and the PostgreSQL/SQLite split.

Tests marked ``postgres`` are *deselected* (not skipped) on SQLite runs, so a SQLite run
never reports them as passing. A PostgreSQL run that cannot reach its server fails.
"""

from __future__ import annotations

import pytest
from django.conf import settings


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
