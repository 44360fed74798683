"""Count what really goes to the database, below Django: round trips on PostgreSQL, statements
on SQLite.

Django's ``CaptureQueriesContext`` only sees what passes through its cursor; the BEGIN and
COMMIT a driver sends on its own would be invisible to it. Here PostgreSQL's client library
traces every protocol message (libpq's PQtrace), and a round trip is each message that makes
the server answer (a simple ``Query``, or the ``Sync`` closing an extended-protocol batch).
SQLite has no network; its trace callback reports every statement the engine runs, BEGIN and
COMMIT included.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connections


@dataclass
class Trace:
    statements: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def count_round_trips(using: str = "default") -> Iterator[Trace]:
    connection = connections[using]
    connection.ensure_connection()
    trace = Trace()
    if connection.vendor == "postgresql":
        from psycopg.pq import Trace as Flags

        pgconn = connection.connection.pgconn
        with tempfile.TemporaryFile("w+") as log:
            pgconn.trace(log.fileno())
            pgconn.set_trace_flags(Flags.SUPPRESS_TIMESTAMPS)
            try:
                yield trace
            finally:
                pgconn.untrace()
                log.flush()
                os.fsync(log.fileno())
                log.seek(0)
                for line in log:
                    parts = line.rstrip("\n").split("\t")
                    # Frontend messages: "F <length> <type> <payload...>"
                    if len(parts) >= 3 and parts[0] == "F" and parts[2] in ("Query", "Sync"):
                        trace.statements.append("\t".join(parts[2:]))
    elif connection.vendor == "sqlite":
        raw = connection.connection
        raw.set_trace_callback(trace.statements.append)
        try:
            yield trace
        finally:
            raw.set_trace_callback(None)
    else:  # pragma: no cover - the suite runs on PostgreSQL and SQLite
        raise NotImplementedError(connection.vendor)
