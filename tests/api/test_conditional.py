"""REST API conditional requests: ETag on reads, If-Match on writes (412), and 428."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from tests.support.api import APIClient, client_for, detail, make_session, stored, user

pytestmark = pytest.mark.django_db

REQUIRE = override_settings(GRAPHFLOW_SESSIONS={"API_REQUIRE_IF_MATCH": True})


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def writes(client: APIClient, session_id: object, **headers: str) -> dict[str, int]:
    """Status of each conditional write (PUT, PATCH, DELETE last so the others see a row)."""
    body = {
        "graph_id": "g",
        "current_task_id": "t",
        "context": {"data": {}, "chat_history": {"messages": []}},
    }
    return {
        "put": client.put(detail(session_id), body, format="json", **headers).status_code,
        "patch": client.patch(
            detail(session_id), {"status_message": "x"}, format="json", **headers
        ).status_code,
        "delete": client.delete(detail(session_id), **headers).status_code,
    }


def test_a_stale_if_match_is_412_on_every_write_and_nothing_changes(staff: APIClient) -> None:
    session = make_session(data={"a": 1})
    stale = staff.get(detail(session.id))["ETag"]
    make_session(session_id=session.id, data={"a": 2})  # another writer moves it on
    assert writes(staff, session.id, HTTP_IF_MATCH=stale) == {
        "put": 412,
        "patch": 412,
        "delete": 412,
    }
    assert stored(session.id).context.data == {"a": 2}
    assert stored(session.id).version == 2


def test_the_current_etag_lets_writes_through(staff: APIClient) -> None:
    session = make_session()
    etag = staff.get(detail(session.id))["ETag"]
    response = staff.patch(
        detail(session.id), {"status_message": "ok"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200
    assert response["ETag"] != etag
    # The ETag a write returns is good for the next write.
    response = staff.delete(detail(session.id), HTTP_IF_MATCH=response["ETag"])
    assert response.status_code == 204


def test_if_match_star_and_lists_are_understood(staff: APIClient) -> None:
    session = make_session()
    etag = staff.get(detail(session.id))["ETag"]
    assert (
        staff.patch(
            detail(session.id), {"status_message": "a"}, format="json", HTTP_IF_MATCH="*"
        ).status_code
        == 200
    )
    etag = staff.get(detail(session.id))["ETag"]
    listed = f'"0.0", {etag}'
    assert (
        staff.patch(
            detail(session.id), {"status_message": "b"}, format="json", HTTP_IF_MATCH=listed
        ).status_code
        == 200
    )


def test_a_weak_etag_never_satisfies_if_match(staff: APIClient) -> None:
    session = make_session()
    etag = staff.get(detail(session.id))["ETag"]
    response = staff.patch(
        detail(session.id), {"status_message": "x"}, format="json", HTTP_IF_MATCH=f"W/{etag}"
    )
    assert response.status_code == 412


def test_if_match_guards_appends_and_data_patches_too(staff: APIClient) -> None:
    session = make_session()
    stale = staff.get(detail(session.id))["ETag"]
    make_session(session_id=session.id)
    appended = staff.post(
        detail(session.id, "messages/"),
        {"role": "User", "content": "x"},
        format="json",
        HTTP_IF_MATCH=stale,
    )
    patched = staff.patch(detail(session.id, "data/"), {"k": 1}, format="json", HTTP_IF_MATCH=stale)
    assert (appended.status_code, patched.status_code) == (412, 412)
    assert stored(session.id).context.data == {}
    assert stored(session.id).context.chat_history_len() == 0


def test_a_required_if_match_missing_is_428(staff: APIClient) -> None:
    session = make_session()
    with REQUIRE:
        assert writes(staff, session.id) == {"put": 428, "patch": 428, "delete": 428}
        assert stored(session.id).version == 1
        etag = staff.get(detail(session.id))["ETag"]
        response = staff.patch(
            detail(session.id), {"status_message": "ok"}, format="json", HTTP_IF_MATCH=etag
        )
        assert response.status_code == 200


def test_an_etag_changes_when_a_writer_without_versions_saves() -> None:
    """graph-flow 0.5 services do not touch ``version``; their NOW() still moves the ETag."""
    from django.db.models.functions import Now

    from graphflow_sessions.models import Session

    staff = client_for(user("staff", staff=True))
    session = make_session()
    before = staff.get(detail(session.id))["ETag"]
    Session.objects.filter(pk=session.id).update(current_task_id="moved", updated_at=Now())
    assert stored(session.id).version == 1
    assert staff.get(detail(session.id))["ETag"] != before
