"""Which of graph-flow's two tables the database holds: uuid ids (0.5) or text ids (0.6+).

Detected, not configured: a 0.6+ service converts the table in place on every connect
(``ALTER TABLE sessions ALTER COLUMN id TYPE TEXT``), so the answer may change under a
running process. It is read from the catalogue once per database connection and kept with
that connection; a statement that fails because the column changed under it
(``is_stale_statement``) makes the connection read it again.

Only ids that are not a UUID's canonical text need the answer (the same canonical text is the
same id on both tables): an upper-case UUID is that UUID on a 0.5 table and another id on a
0.6 table, and ``session_001`` is an id only on a 0.6 table.
"""

from __future__ import annotations

import enum
import weakref
from typing import Any

from django.db import DatabaseError

from ..ids import SessionId, check_text_id, is_canonical_uuid_text, parse_session_id
from . import sql

__all__ = [
    "Flavour",
    "aflavour_of",
    "aid_for_table",
    "flavour_of",
    "forget",
    "id_on_any_table",
    "forget_driver_connection",
    "id_column_type",
    "id_for_table",
    "is_stale_statement",
]


class Flavour(enum.Enum):
    """The table's id column."""

    UUID_IDS = "uuid"  # graph-flow 0.5's table, and Django's own on other databases
    TEXT_IDS = "text"  # graph-flow 0.6+'s table


# Per driver connection: it goes when the connection goes, and a new one asks again.
_known: weakref.WeakKeyDictionary[Any, Flavour] = weakref.WeakKeyDictionary()

# What a statement planned against the other flavour fails with: the operator for the old
# parameter type is gone (42883), a text id sent as a uuid parameter (22P02), or a prepared
# SELECT whose id column changed type (0A000, "cached plan must not change result type").
_STALE_STATES = {"42883", "22P02", "0A000"}


def flavour_of(connection: Any, *, fresh: bool = False) -> Flavour:
    """The flavour of the sessions table on the Django ``connection`` (opened if need be).

    ``fresh``: read the catalogue even if this connection already knows the answer.
    """
    if connection.vendor != "postgresql":
        return Flavour.UUID_IDS
    connection.ensure_connection()  # the answer is kept per driver connection
    raw = connection.connection
    known = None if fresh else _known.get(raw)
    if known is not None:
        return known
    flavour = _known[raw] = _flavour_of_type(id_column_type(connection))
    return flavour


async def aflavour_of(pgconn: Any, query: tuple[str, list[Any]], *, fresh: bool = False) -> Flavour:
    """``flavour_of`` for a psycopg ``AsyncConnection``; ``query``: ``sql.id_column_type``."""
    known = None if fresh else _known.get(pgconn)
    if known is not None:
        return known
    cursor = await pgconn.execute(*query)
    row = await cursor.fetchone()
    flavour = _known[pgconn] = _flavour_of_type(None if row is None else str(row[0]))
    return flavour


def _flavour_of_type(column_type: str | None) -> Flavour:
    text = column_type in ("text", "character varying")
    return Flavour.TEXT_IDS if text else Flavour.UUID_IDS


def id_for_table(connection: Any, value: Any) -> SessionId:
    """``value`` as an id of the table on the Django ``connection`` (see ``ids.py``). A UUID,
    or its canonical text, is the same id on either table and asks nothing; other text is
    read against the table as it is now: the connection's answer, read again before text is
    refused or normalised as a 0.5 table would."""
    known = id_on_any_table(value)
    if known is not None:
        return known
    text_ids = flavour_of(connection) is Flavour.TEXT_IDS
    if not text_ids:
        text_ids = flavour_of(connection, fresh=True) is Flavour.TEXT_IDS
    return parse_session_id(value, text_ids=text_ids)


async def aid_for_table(pgconn: Any, query: tuple[str, list[Any]], value: Any) -> SessionId:
    """``id_for_table`` for a psycopg ``AsyncConnection``; ``query``: ``sql.id_column_type``."""
    known = id_on_any_table(value)
    if known is not None:
        return known
    text_ids = await aflavour_of(pgconn, query) is Flavour.TEXT_IDS
    if not text_ids:
        text_ids = await aflavour_of(pgconn, query, fresh=True) is Flavour.TEXT_IDS
    return parse_session_id(value, text_ids=text_ids)


def id_on_any_table(value: Any) -> SessionId | None:
    """``value`` as an id when it is the same on either table, None when the table decides;
    what no table holds fails here, before the database is asked."""
    if not isinstance(value, str) or is_canonical_uuid_text(value):
        return parse_session_id(value)
    check_text_id(value)
    return None


def id_column_type(connection: Any) -> str | None:
    """The id column's type as PostgreSQL names it (``uuid``, ``text``), None without a table."""
    with connection.cursor() as cursor:
        cursor.execute(*sql.id_column_type(connection))
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def forget(connection: Any) -> None:
    """Make the connection read the flavour again before it next needs it."""
    raw = getattr(connection, "connection", None)
    if raw is not None:
        forget_driver_connection(raw)


def forget_driver_connection(pgconn: Any) -> None:
    """``forget`` for a psycopg connection (an async pool's)."""
    _known.pop(pgconn, None)


def is_stale_statement(exc: DatabaseError) -> bool:
    """Whether the database refused a statement because the id column changed type."""
    state = getattr(exc.__cause__, "sqlstate", None) or getattr(exc.__cause__, "pgcode", None)
    if state not in _STALE_STATES:
        return False
    if state == "22P02":  # a batch save's own conflict is also an invalid input syntax
        return sql.CONFLICT_MARK not in str(exc)
    return state != "0A000" or "cached plan must not change result type" in str(exc)
