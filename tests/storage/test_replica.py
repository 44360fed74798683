"""Against a real streaming replica: list-style reads go to it, everything else to the primary.

The fixture makes a primary cluster and a replica of it with pg_basebackup (tests/support),
adds them as the aliases ``gfs_primary`` and ``gfs_replica``, and migrates the primary
through the router. To prove where each read goes, the tests pause WAL replay on the
replica, so it really lags: a read that still sees the new row came from the primary.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.retention import prune_sessions
from graphflow_sessions.routers import list_database, sessions_database
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.transfer import iter_export_lines
from tests.support.replica import ReplicaPair, routed_replica, routed_settings

pytestmark = pytest.mark.postgres

PRIMARY, REPLICA = "gfs_primary", "gfs_replica"
SETTINGS = routed_settings(PRIMARY, REPLICA)


@pytest.fixture(scope="module")
def pair(django_db_blocker: Any) -> Iterator[ReplicaPair]:
    with django_db_blocker.unblock(), routed_replica(PRIMARY, REPLICA) as pair:
        yield pair


@pytest.fixture
def routed(pair: ReplicaPair, django_db_blocker: Any) -> Iterator[ReplicaPair]:
    with django_db_blocker.unblock(), override_settings(**SETTINGS):
        yield pair
        Session.objects.using(PRIMARY).all().delete()


def new_session(task: str = "start") -> Session:
    session = Session(graph_id="claims", current_task_id=task, context=Context())
    session.context.add_user_message("hello")
    return session


def in_recovery(alias: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return bool(cursor.fetchone()[0])


def test_the_replica_is_a_read_only_standby_streaming_from_the_primary(
    routed: ReplicaPair,
) -> None:
    assert in_recovery(REPLICA)
    assert not in_recovery(PRIMARY)
    assert (list_database(), sessions_database()) == (REPLICA, PRIMARY)
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'graphflow_sessions'")
        assert cursor.fetchone()[0] >= 3  # the router migrated the primary; WAL carried it


def test_a_saved_session_is_read_back_from_the_primary_while_the_replica_lags(
    routed: ReplicaPair,
) -> None:
    storage = DatabaseSessionStorage()
    with routed.replay_paused():
        session = new_session()
        storage.save(session)

        loaded = storage.get(session.id)
        assert loaded is not None and loaded.version == 1
        assert Session.objects.filter(id=session.id).exists()  # ORM reads: the router's primary
        assert not Session.objects.using(list_database()).filter(id=session.id).exists()

    routed.wait_for_replay()
    assert Session.objects.using(list_database()).filter(id=session.id).exists()


def test_save_then_get_is_never_stale(routed: ReplicaPair) -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    routed.wait_for_replay()

    with routed.replay_paused():
        for step in range(2, 6):
            current = storage.get(session.id)
            assert current is not None
            current.current_task_id = f"step {step}"
            storage.save(current, expected_version=current.version)
            reread = storage.get(session.id)
            assert reread is not None
            assert (reread.version, reread.current_task_id) == (step, f"step {step}")
        on_replica = Session.objects.using(list_database()).get(id=session.id)
        assert (on_replica.version, on_replica.current_task_id) == (1, "start")


def test_export_reads_from_the_replica(routed: ReplicaPair) -> None:
    storage = DatabaseSessionStorage()
    replicated = new_session()
    storage.save(replicated)
    routed.wait_for_replay()

    with routed.replay_paused():
        not_yet = new_session()
        storage.save(not_yet)
        ids = [line.split('"')[3] for line in iter_export_lines()]

    assert ids == [str(replicated.id)]


def test_writes_through_the_router_and_prune_go_to_the_primary(routed: ReplicaPair) -> None:
    created = Session.objects.create(graph_id="claims", current_task_id="start")
    stale = new_session()
    DatabaseSessionStorage().save(stale)
    Session.objects.filter(id=stale.id).update(updated_at=timezone.now() - timedelta(days=40))

    result = prune_sessions(timedelta(days=30))

    assert result.deleted == 1
    assert list(Session.objects.using(PRIMARY).values_list("id", flat=True)) == [created.id]


def test_the_export_command_defaults_to_the_replica(routed: ReplicaPair) -> None:
    with routed.replay_paused():
        DatabaseSessionStorage().save(new_session())
        out = StringIO()
        call_command("graphflow_sessions_export", stdout=out, stderr=StringIO())
        direct = StringIO()
        call_command(
            "graphflow_sessions_export", "--database", PRIMARY, stdout=direct, stderr=StringIO()
        )

    assert out.getvalue() == ""
    assert uuid.UUID(direct.getvalue().split('"')[3])
