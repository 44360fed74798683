"""The storage behind PgBouncer in transaction pooling mode (Debian's pgbouncer, started here).

Django settings for an alias behind PgBouncer in transaction mode:
``DISABLE_SERVER_SIDE_CURSORS = True`` (a cursor cannot outlive the transaction that owns
its server connection) and ``OPTIONS = {"prepare_threshold": None}`` (psycopg 3 prepares a
statement on one server connection after five runs; the next transaction may get another
server connection, where it does not exist; PgBouncer before 1.21 cannot track them). The
storage's own statements need nothing: it prepares them only on direct connections.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import SessionConflict
from graphflow_sessions.models import Session
from graphflow_sessions.retention import prune_sessions
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.storage import executor as prepared
from graphflow_sessions.transfer import iter_export_lines
from tests.support.databases import database_alias, postgres
from tests.support.pgbouncer import pgbouncer
from tests.support.processes import query, wait_for

BOUNCER = "gfs_pgbouncer"

# The alias is listed so that Django's test case lets the tests connect through it.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", BOUNCER]),
]


@pytest.fixture(scope="module", autouse=True)
def bouncer_port(django_db_setup: Any) -> Iterator[int]:
    # Module scope: the alias must exist before each test case checks its databases.
    default = connections["default"].settings_dict
    with (
        pgbouncer(upstream_port=int(default.get("PORT") or 5432), pool_size=2) as port,
        database_alias(
            BOUNCER,
            # pytest-django's test database, reached through PgBouncer.
            **postgres(
                port,
                default["NAME"],
                DISABLE_SERVER_SIDE_CURSORS=True,
                OPTIONS={"prepare_threshold": None},
            ),
        ),
    ):
        yield port


@pytest.fixture
def through_bouncer() -> DatabaseSessionStorage:
    return DatabaseSessionStorage(using=BOUNCER)


def pool_stats(port: int) -> dict[str, Any]:
    """PgBouncer's own view of the test database's pool (its admin console)."""
    name = connections["default"].settings_dict["NAME"]
    # SHOW POOLS: database, user, cl_active, ..., pool_mode (the last column).
    pools = [row for row in query(port, "SHOW POOLS", "pgbouncer") if row[0] == name]
    # SHOW STATS: database, total_xact_count, ...
    stats = [row for row in query(port, "SHOW STATS", "pgbouncer") if row[0] == name]
    return {
        "pool_mode": pools[0][-1] if pools else None,
        "transactions": int(stats[0][1]) if stats else 0,
    }


def new_session() -> Session:
    session = Session(graph_id="claims", current_task_id="start", context=Context())
    session.context.add_user_message("hello through the pooler")
    return session


def test_save_get_and_delete_work_through_pgbouncer_in_transaction_mode(
    through_bouncer: DatabaseSessionStorage, bouncer_port: int
) -> None:
    before = pool_stats(bouncer_port)["transactions"]
    ids = []
    for round_ in range(12):  # more than psycopg's prepare threshold of 5
        session = new_session()
        session.context.set("round", round_)
        through_bouncer.save(session)
        loaded = through_bouncer.get(session.id)
        assert loaded is not None and loaded.context.get("round") == round_
        ids.append(session.id)
    for session_id in ids[:6]:
        assert through_bouncer.delete(session_id) is True
        assert through_bouncer.get(session_id) is None

    # PgBouncer publishes its counters once per stats_period (1 s here).
    wait_for(
        "PgBouncer to count the transactions",
        lambda: pool_stats(bouncer_port)["transactions"] - before >= 12 * 2 + 6 * 2,
        timeout=10,
    )
    assert pool_stats(bouncer_port)["pool_mode"] == "transaction"
    # PgBouncer announces a backend of its own making: the connection is not direct, so the
    # storage prepared nothing (PREPARED_STATEMENTS "auto", the default).
    pgconn = connections[BOUNCER].connection
    assert prepared.is_direct(pgconn) is False
    assert pgconn.prepare_threshold is None
    # What went through PgBouncer is what the direct connection sees.
    assert set(Session.objects.values_list("id", flat=True)) == set(ids[6:])


def test_optimistic_locking_works_through_pgbouncer(
    through_bouncer: DatabaseSessionStorage,
) -> None:
    session = new_session()
    through_bouncer.save(session)
    stale_copy = through_bouncer.get(session.id)
    fresh_copy = through_bouncer.get(session.id)
    assert stale_copy is not None and fresh_copy is not None
    through_bouncer.save(fresh_copy, expected_version=fresh_copy.version)

    with pytest.raises(SessionConflict) as raised:
        through_bouncer.save(stale_copy, expected_version=stale_copy.version)

    assert (raised.value.expected_version, raised.value.actual_version) == (1, 2)


def test_threads_share_two_server_connections_through_pgbouncer(
    through_bouncer: DatabaseSessionStorage,
) -> None:
    errors: list[BaseException] = []
    saved: list[uuid.UUID] = []

    def work() -> None:
        try:
            for _ in range(15):
                session = new_session()
                through_bouncer.save(session)
                loaded = through_bouncer.get(session.id)
                assert loaded is not None
                loaded.context.add_assistant_message("ok")
                through_bouncer.save(loaded, expected_version=loaded.version)
                saved.append(session.id)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(saved) == 75
    assert Session.objects.filter(version=2).count() == 75


def test_prune_and_export_work_through_pgbouncer(
    through_bouncer: DatabaseSessionStorage,
) -> None:
    kept = new_session()
    through_bouncer.save(kept)
    for _ in range(7):
        stale = new_session()
        through_bouncer.save(stale)
        Session.objects.filter(id=stale.id).update(updated_at=timezone.now() - timedelta(days=9))

    result = prune_sessions(timedelta(days=7), batch_size=3, using=BOUNCER)
    lines = list(iter_export_lines(using=BOUNCER, chunk_size=1))

    assert (result.deleted, result.batches) == (7, 3)
    assert [line.split('"')[3] for line in lines] == [str(kept.id)]
