"""Throwaway PostgreSQL databases and roles for tests that need more than the test database.

Names derive from ``DATABASE_URL``'s database (``<name>_<suffix>``), so concurrent runs
against different databases never touch each other's. Everything is dropped afterwards,
even when the test fails. Administration goes through psycopg directly, as the server's
superuser from ``DATABASE_URL``; what is tested goes through the app.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from graphflow_sessions.connect import connected_aliases, disconnect

if TYPE_CHECKING:
    import psycopg


def sql() -> Any:
    """psycopg's ``sql`` module, imported late: SQLite runs may lack psycopg entirely."""
    from psycopg import sql as module

    return module


def base_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise RuntimeError("these tests need DATABASE_URL to name a PostgreSQL database")
    return url


def base_name() -> str:
    return urlsplit(base_url()).path.lstrip("/")


def throwaway_name(suffix: str) -> str:
    return f"{base_name()}_{suffix}"


def url_for(
    database: str, *, user: str | None = None, password: str | None = None, port: int | None = None
) -> str:
    """DATABASE_URL with another database (and optionally user, password, port)."""
    parts = urlsplit(base_url())
    user = user if user is not None else (parts.username or "")
    password = password if password is not None else (parts.password or "")
    credentials = quote(user, safe="")
    if password:
        credentials += ":" + quote(password, safe="")
    host = parts.hostname or ""
    port = port if port is not None else parts.port
    netloc = f"{credentials}@{host}" if credentials else host
    if port:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, "/" + database, "", ""))


@contextlib.contextmanager
def admin(database: str = "postgres") -> Iterator[psycopg.Connection]:
    """An autocommit superuser connection to ``database`` on DATABASE_URL's server."""
    import psycopg

    with psycopg.connect(url_for(database), autocommit=True) as connection:
        yield connection


def drop_database(name: str) -> None:
    with admin() as connection:
        connection.execute(
            sql().SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql().Identifier(name))
        )


def create_database(name: str, *, owner: str | None = None) -> None:
    drop_database(name)
    statement = sql().SQL("CREATE DATABASE {}").format(sql().Identifier(name))
    if owner:
        statement += sql().SQL(" OWNER {}").format(sql().Identifier(owner))
    with admin() as connection:
        connection.execute(statement)


def drop_role(name: str) -> None:
    with admin() as connection:
        connection.execute(sql().SQL("DROP ROLE IF EXISTS {}").format(sql().Identifier(name)))


def create_role(name: str, *, password: str | None = None) -> None:
    """A login role with no privileges beyond PUBLIC's."""
    drop_role(name)
    statement = (
        sql()
        .SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        .format(sql().Identifier(name))
    )
    if password:
        statement += sql().SQL(" PASSWORD {}").format(sql().Literal(password))
    with admin() as connection:
        connection.execute(statement)


def server_connections(database: str) -> int:
    """Server processes connected to ``database`` right now (pg_stat_activity)."""
    with admin() as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]
        ).fetchone()
    assert row is not None
    return int(row[0])


@contextlib.contextmanager
def forgetting_new_aliases() -> Iterator[None]:
    """Disconnect (close pools, drop aliases) whatever ``connect()`` registers inside."""
    before = connected_aliases()
    try:
        yield
    finally:
        for alias in connected_aliases() - before:
            disconnect(alias)
