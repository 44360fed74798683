"""Add a Django database alias for the length of a block (a server started by a fixture)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


@contextlib.contextmanager
def database_alias(alias: str, **settings: Any) -> Iterator[None]:
    """``connections[alias]`` exists inside the block, configured with Django's defaults.

    The alias is removed (and its connection closed) on exit, before a test case tears
    down, so Django's per-test database guards never see it.
    """
    configured = connections.configure_settings(
        {DEFAULT_DB_ALIAS: copy.deepcopy(connections.settings[DEFAULT_DB_ALIAS]), alias: settings}
    )[alias]
    connections.settings[alias] = configured
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):
            connections[alias].close()
        with contextlib.suppress(AttributeError):
            del connections[alias]
        del connections.settings[alias]


def postgres(port: int, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "USER": "postgres",
        "NAME": name,
        **extra,
    }
