"""A search request bounded in time on the database, cancelled there when it gives up.

A search may read contexts (the window search) or large index entries; a browser that gives
up does not stop a query, so the database itself must. Every query a search request runs
goes inside ``bounded(using)``: one transaction with ``statement_timeout`` set for it alone
(``set_config(..., is_local => true)``, the ``SET LOCAL`` that PgBouncer's transaction mode
also keeps to one client), so PostgreSQL cancels a statement past ``SEARCH_TIMEOUT`` and
frees its memory. On SQLite a progress handler interrupts the statement at the deadline.
Either way the caller gets ``SearchTimedOut``, never a database error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connections, transaction

from ..conf import app_settings
from ..exceptions import SearchTimedOut

#: SQLite virtual machine instructions between two looks at the clock.
_SQLITE_CHECK_EVERY = 10_000
_QUERY_CANCELED = "57014"


def search_timeout() -> float | None:
    value = app_settings.SEARCH_TIMEOUT
    return None if value is None else float(value)


@contextmanager
def bounded(using: str) -> Iterator[None]:
    """Run the block's queries on ``using`` in one transaction that the database stops
    after ``SEARCH_TIMEOUT`` seconds, raising ``SearchTimedOut``."""
    seconds = search_timeout()
    if seconds is None:
        yield
        return
    connection = connections[using]
    deadline_passed = False
    try:
        with transaction.atomic(using=using):
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT current_setting('statement_timeout'), "
                        "set_config('statement_timeout', %s, true)",
                        [f"{max(int(seconds * 1000), 1)}ms"],
                    )
                    (previous, _) = cursor.fetchone()
                yield
                # Inside an outer transaction the setting would outlive the block: put back.
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
            elif connection.vendor == "sqlite":
                deadline = time.monotonic() + seconds

                def past_deadline() -> int:
                    nonlocal deadline_passed
                    deadline_passed = time.monotonic() > deadline
                    return int(deadline_passed)  # non-zero interrupts the statement

                raw = connection.connection
                raw.set_progress_handler(past_deadline, _SQLITE_CHECK_EVERY)
                try:
                    yield
                finally:
                    raw.set_progress_handler(None, _SQLITE_CHECK_EVERY)
            else:
                yield
    except OperationalError as exc:
        cancelled = getattr(exc.__cause__, "sqlstate", None) == _QUERY_CANCELED
        if cancelled or deadline_passed:
            raise SearchTimedOut(seconds) from exc
        raise
