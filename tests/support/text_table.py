"""The sessions table as a graph-flow 0.6+ service leaves it: ids converted to text in place."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection, connections

from graphflow_sessions.storage.flavour import forget
from tests.support.graph_flow import GRAPH_FLOW_06_CONNECT

_UUID_TEXT = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def raw_connection(**kwargs: Any) -> psycopg.Connection[Any]:
    """A connection of its own to the test database, as another service has."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        host=settings.get("HOST") or "localhost",
        port=settings.get("PORT") or 5432,
        user=settings.get("USER") or "postgres",
        password=settings.get("PASSWORD") or "",
        **kwargs,
    )


def connect_as_graph_flow_06(cursor: Any) -> None:
    for statement in GRAPH_FLOW_06_CONNECT:
        cursor.execute(statement)


@contextmanager
def text_ids_in_transaction() -> Iterator[None]:
    """Inside a test's transaction: converted now, back at the test's rollback."""
    with connection.cursor() as cursor:
        connect_as_graph_flow_06(cursor)
    try:
        yield
    finally:
        forget(connection)


@contextmanager
def text_ids_committed() -> Iterator[None]:
    """For tests outside a transaction: converted by another connection, as a 0.6 service
    does, and converted back (text ids deleted) afterwards."""
    with raw_connection(autocommit=True) as other:
        connect_as_graph_flow_06(other)
    try:
        yield
    finally:
        restore_uuid_ids()


def restore_uuid_ids() -> None:
    """Back to graph-flow 0.5's table (what the rest of the suite expects): text ids deleted,
    the column converted back, every connection of this process closed so none remembers."""
    with raw_connection(autocommit=True) as other:
        other.execute(f"DELETE FROM sessions WHERE id::text !~ '{_UUID_TEXT}'")
        other.execute("ALTER TABLE sessions ALTER COLUMN id TYPE uuid USING id::uuid")
    for alias in connections:
        connections[alias].close()


def is_uuid_text(value: str) -> bool:
    return re.fullmatch(_UUID_TEXT, value) is not None
