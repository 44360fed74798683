"""REST API against a real streaming replica: the list reads it, everything else the primary.

Uses the replica infrastructure of tests/storage/test_replica.py (tests/support): WAL replay
on the replica is paused so it really lags, and a read that sees a new row came from the
primary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from graphflow_sessions.models import Session
from tests.support.api import APIClient, detail
from tests.support.replica import ReplicaPair, routed_replica, routed_settings

pytestmark = pytest.mark.postgres

PRIMARY, REPLICA = "gfs_api_primary", "gfs_api_replica"
SETTINGS = routed_settings(PRIMARY, REPLICA)


@pytest.fixture(scope="module")
def pair(django_db_blocker: Any) -> Iterator[ReplicaPair]:
    with (
        django_db_blocker.unblock(),
        routed_replica(PRIMARY, REPLICA, primary_port=55472, replica_port=55473) as pair,
    ):
        yield pair


@pytest.fixture
def staff(pair: ReplicaPair, django_db_blocker: Any) -> Iterator[APIClient]:
    with django_db_blocker.unblock(), override_settings(**SETTINGS):
        client = APIClient()
        # An unsaved staff user: this module touches no database but the pair's.
        client.force_authenticate(get_user_model()(username="staff", is_staff=True))
        yield client
        Session.objects.using(PRIMARY).all().delete()


def listed(client: APIClient) -> list[str]:
    return [row["id"] for row in client.get("/api/sessions/").json()["results"]]


def test_the_list_reads_the_replica_and_single_reads_and_writes_the_primary(
    staff: APIClient, pair: ReplicaPair
) -> None:
    with pair.replay_paused():
        created = staff.post("/api/sessions/", {"current_task_id": "start"}, format="json")
        assert created.status_code == 201
        session_id = created.json()["id"]
        # The lagging replica does not have it yet; the primary does.
        assert session_id not in listed(staff)
        assert staff.get(detail(session_id)).status_code == 200
        appended = staff.post(
            detail(session_id, "messages/"), {"role": "User", "content": "hi"}, format="json"
        )
        assert appended.status_code == 201
        messages = staff.get(detail(session_id, "messages/")).json()
        assert [m["content"] for m in messages["results"]] == ["hi"]
        assert staff.get(detail(session_id)).json()["version"] == 2
    pair.wait_for_replay()
    assert session_id in listed(staff)
