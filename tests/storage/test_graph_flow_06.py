"""graph-flow 0.6's versioned SQL and ours, side by side on its table, and the clock rule
graph-flow 0.5.1's save depends on.

The other writer runs graph-flow's own statements (tests/support/graph_flow.py) on a
connection of its own, with text-typed parameters as sqlx binds a ``String``.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.utils import timezone
from psycopg.types.json import Jsonb

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import SessionConflict
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.graph_flow import GRAPH_FLOW_051_SAVE, GRAPH_FLOW_06_GET, GRAPH_FLOW_06_SAVE
from tests.support.text_table import raw_connection, text_ids_committed

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"]),
]

CONTEXT = {"data": {"k": "rust"}, "chat_history": {"messages": [], "max_messages": 1000}}


def positional(statement: str) -> str:
    """graph-flow's ``$n`` placeholders as psycopg's, keeping the parameters' order."""
    for number in range(9, 0, -1):
        statement = statement.replace(f"${number}", f"%(p{number})s")
    return statement


class GraphFlowService:
    """A graph-flow service's storage statements on its own connection."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def save_06(self, session_id: str, version: int, task: str = "rust_task") -> int:
        """graph-flow 0.6's save from ``version``; the rows it changed (0: a conflict)."""
        params = {
            "p1": session_id,
            "p2": "g",
            "p3": task,
            "p4": None,
            "p5": Jsonb(CONTEXT),
            "p6": version,
        }
        cursor = self.raw.execute(positional(GRAPH_FLOW_06_SAVE), params, prepare=True)
        return cursor.rowcount

    def get_06(self, session_id: str) -> tuple[Any, ...] | None:
        cursor = self.raw.execute(positional(GRAPH_FLOW_06_GET), {"p1": session_id})
        return cursor.fetchone()

    def save_051(self, session_id: str, task: str) -> None:
        params = {"p1": session_id, "p2": "g", "p3": task, "p4": None, "p5": Jsonb(CONTEXT)}
        self.raw.execute(positional(GRAPH_FLOW_051_SAVE), params, prepare=True)


@pytest.fixture
def service() -> Any:
    with text_ids_committed(), raw_connection(autocommit=True) as raw:
        yield GraphFlowService(raw)


def ours(session_id: Any = None) -> Session:
    context = Context()
    context.add_user_message("from django")
    return Session(
        id=session_id or uuid.uuid4(), graph_id="g", current_task_id="t", context=context
    )


def test_a_new_row_gets_the_same_first_version_from_either_writer(
    service: GraphFlowService,
) -> None:
    assert service.save_06("from_rust", 0) == 1
    session = ours("from_django")
    DatabaseSessionStorage().save(session)
    assert service.get_06("from_rust")[5] == 1  # type: ignore[index]
    assert session.version == 1 == service.get_06("from_django")[5]  # type: ignore[index]
    created = Session.objects.create(id="from_orm", graph_id="g", current_task_id="t")
    assert created.version == 1


def test_each_side_refuses_the_others_stale_write_and_accepts_a_current_one(
    service: GraphFlowService,
) -> None:
    storage = DatabaseSessionStorage()
    session = ours("shared")
    storage.save(session)  # version 1
    read_by_rust = 1
    storage.save(session, expected_version=1)  # ours moves it to 2
    assert service.save_06("shared", read_by_rust) == 0  # Rust's stale write: refused
    assert service.save_06("shared", 2) == 1  # from the current version: accepted (3)
    with pytest.raises(SessionConflict) as caught:
        storage.save(session, expected_version=2)  # ours is stale now
    assert (caught.value.expected_version, caught.value.actual_version) == (2, 3)
    found = storage.get("shared")
    assert found is not None and found.current_task_id == "rust_task" and found.version == 3
    storage.save(found, expected_version=3)
    assert storage.get("shared").version == 4  # type: ignore[union-attr]


def test_a_plain_save_stays_last_write_wins(service: GraphFlowService) -> None:
    storage = DatabaseSessionStorage()
    session = ours("plain")
    storage.save(session)
    assert service.save_06("plain", 1) == 1
    storage.save(session)  # no expected version: overwrites, as graph-flow's plain save
    found = storage.get("plain")
    assert found is not None and found.current_task_id == "t" and found.version == 3


# The database's clock, always ----------------------------------------------------------------


@pytest.fixture
def clock_an_hour_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: ahead)


@pytest.mark.usefixtures("clock_an_hour_ahead")
def test_with_the_application_clock_ahead_a_051_save_right_after_ours_still_lands() -> None:
    with raw_connection(autocommit=True) as raw:
        rust = GraphFlowService(raw)
        writers = {
            "storage": lambda s: DatabaseSessionStorage().save(s),
            "orm create": lambda s: s.save(),
            "orm save": lambda s: (s.save(), s.save()),
            "orm update_fields": lambda s: (s.save(), s.save(update_fields=["status_message"])),
        }
        for name, write in writers.items():
            session = ours()
            write(session)
            rust.save_051(str(session.id), f"rust after {name}")
            assert Session.objects.get(pk=session.id).current_task_id == f"rust after {name}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("clock_an_hour_ahead")
def test_with_the_application_clock_ahead_an_admin_edit_is_stamped_by_the_database(
    client: Any,
) -> None:
    from django.contrib.auth.models import User
    from django.test.utils import override_settings
    from django.urls import reverse

    session = ours()
    DatabaseSessionStorage().save(session)
    admin = User.objects.create_superuser("admin", "a@example.com", "x")
    client.force_login(admin)
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_ALLOW_EDITS": True}):
        response = client.post(
            reverse("admin:graphflow_sessions_session_change", args=[session.pk]),
            {
                "graph_id": "g",
                "current_task_id": "edited",
                "status_message": "",
                "context_json": json.dumps(session.context.to_dict()),
                "expected_version": session.version,
                "_save": "Save",
            },
        )
    assert response.status_code == 302, response.content[:2000]
    with raw_connection(autocommit=True) as raw:
        GraphFlowService(raw).save_051(str(session.id), "rust after the admin")
    assert Session.objects.get(pk=session.id).current_task_id == "rust after the admin"
