"""Sessions in their own database (run by tests/storage/test_routing.py under settings_multidb).

Not collected by the main suite (the name does not start with ``test_``): these cases need
the ``sessions`` alias that only tests.settings_multidb defines.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.retention import prune_sessions
from graphflow_sessions.routers import list_database, sessions_database
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.transfer import import_sessions, iter_export_lines

pytestmark = pytest.mark.django_db(databases=["default", "sessions"])


def count_rows(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sessions")
        return int(cursor.fetchone()[0])


def new_session() -> Session:
    return Session(graph_id="claims", current_task_id="start", context=Context())


def test_the_settings_name_the_sessions_alias() -> None:
    assert (sessions_database(), list_database()) == ("sessions", "sessions")


def test_the_table_is_migrated_into_the_sessions_database_only() -> None:
    assert "sessions" in connections["sessions"].introspection.table_names()
    assert "sessions" not in connections["default"].introspection.table_names()
    # Other apps are not the router's business (it answers None for them): a project that
    # wants them kept off the sessions database migrates only this app there.


def test_the_storage_writes_and_reads_the_sessions_database() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()

    storage.save(session)

    assert storage.using == "sessions"
    assert count_rows("sessions") == 1
    assert storage.get(session.id) is not None
    assert storage.delete(session.id) is True
    assert count_rows("sessions") == 0


def test_the_orm_is_routed_to_the_sessions_database() -> None:
    created = Session.objects.create(graph_id="claims", current_task_id="start")

    assert created._state.db == "sessions"
    assert Session.objects.get(id=created.id).current_task_id == "start"
    assert count_rows("sessions") == 1


def test_prune_export_and_import_use_the_sessions_database() -> None:
    storage = DatabaseSessionStorage()
    kept, stale = new_session(), new_session()
    storage.save(kept)
    storage.save(stale)
    Session.objects.filter(id=stale.id).update(updated_at=timezone.now() - timedelta(days=9))

    assert prune_sessions(timedelta(days=7)).deleted == 1
    lines = list(iter_export_lines())
    assert [json.loads(line)["id"] for line in lines] == [str(kept.id)]
    Session.objects.all().delete()
    assert import_sessions(lines).created == 1
    assert count_rows("sessions") == 1


def test_the_commands_use_the_sessions_database() -> None:
    DatabaseSessionStorage().save(new_session())
    out = StringIO()

    call_command("graphflow_sessions_export", stdout=out, stderr=StringIO())

    assert len(out.getvalue().splitlines()) == 1
