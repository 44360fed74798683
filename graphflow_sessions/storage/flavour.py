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
    "flavour_of",
    "forget",
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
    """The flavour of the sessions table on the Django ``connection`` (which must be open).

    ``fresh``: read the catalogue even if this connection already knows the answer.
    """
    if connection.vendor != "postgresql":
        return Flavour.UUID_IDS
    raw = connection.connection
    known = None if fresh else _known.get(raw)
    if known is not None:
        return known
    text = id_column_type(connection) in ("text", "character varying")
    flavour = Flavour.TEXT_IDS if text else Flavour.UUID_IDS
    _known[raw] = flavour
    return flavour


def id_for_table(connection: Any, value: Any) -> SessionId:
    """``value`` as an id of the table on the Django ``connection`` (see ``ids.py``). A UUID,
    or its canonical text, is the same id on either table and asks nothing; other text is
    read against the table as it is now: the connection's answer, read again before text is
    refused or normalised as a 0.5 table would."""
    if not isinstance(value, str) or is_canonical_uuid_text(value):
        return parse_session_id(value)
    check_text_id(value)  # what no table holds fails before the database is asked
    text_ids = flavour_of(connection) is Flavour.TEXT_IDS
    if not text_ids:
        text_ids = flavour_of(connection, fresh=True) is Flavour.TEXT_IDS
    return parse_session_id(value, text_ids=text_ids)


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
        _known.pop(raw, None)


def is_stale_statement(exc: DatabaseError) -> bool:
    """Whether the database refused a statement because the id column changed type."""
    state = getattr(exc.__cause__, "sqlstate", None) or getattr(exc.__cause__, "pgcode", None)
    if state not in _STALE_STATES:
        return False
    return state != "0A000" or "cached plan must not change result type" in str(exc)
