"""REST API access control: configured permissions, the scoping hook, the per-owner recipe."""

from __future__ import annotations

import uuid

import pytest
from django.test.utils import override_settings

from graphflow_sessions.models import Session
from tests.support.api import APIClient, client_for, detail, make_session, stored, user

pytestmark = pytest.mark.django_db

OWNERS = override_settings(
    GRAPHFLOW_SESSIONS={
        "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "API_QUERYSET_HOOK": "graphflow_sessions.rest_framework.ownership.owned_sessions",
        "API_CREATE_HOOK": "graphflow_sessions.rest_framework.ownership.stamp_owner",
    }
)


@pytest.fixture
def alice() -> object:
    return user("alice")


@pytest.fixture
def bob() -> object:
    return user("bob")


def test_configured_permission_classes_let_non_staff_users_in(alice: object) -> None:
    client = client_for(alice)
    assert client.get("/api/sessions/").status_code == 403
    with override_settings(
        GRAPHFLOW_SESSIONS={
            "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]
        }
    ):
        assert client.get("/api/sessions/").status_code == 200
    assert APIClient().get("/api/sessions/").status_code in (401, 403)


@OWNERS
def test_a_user_gets_404_for_another_users_session_on_every_endpoint(
    alice: object, bob: object
) -> None:
    bobs = make_session(data={"owner_id": bob.pk, "secret": "b"})  # type: ignore[attr-defined]
    client = client_for(alice)
    message = {"role": "User", "content": "x"}
    context = {"data": {}, "chat_history": {"messages": []}}
    statuses = {
        "retrieve": client.get(detail(bobs.id)).status_code,
        "put": client.put(
            detail(bobs.id),
            {"graph_id": "g", "current_task_id": "t", "context": context},
            format="json",
        ).status_code,
        "patch": client.patch(detail(bobs.id), {"status_message": "x"}, format="json").status_code,
        "delete": client.delete(detail(bobs.id)).status_code,
        "messages": client.get(detail(bobs.id, "messages/")).status_code,
        "append": client.post(detail(bobs.id, "messages/"), message, format="json").status_code,
        "data": client.get(detail(bobs.id, "data/")).status_code,
        "data patch": client.patch(detail(bobs.id, "data/"), {"k": 1}, format="json").status_code,
    }
    assert statuses == dict.fromkeys(statuses, 404)
    after = stored(bobs.id)
    assert after.version == 1
    assert after.context.data == {"owner_id": bob.pk, "secret": "b"}  # type: ignore[attr-defined]
    # Bob himself reaches it.
    assert client_for(bob).get(detail(bobs.id)).status_code == 200


@OWNERS
def test_a_user_lists_only_their_own_sessions(alice: object, bob: object) -> None:
    mine = {make_session(data={"owner_id": alice.pk}).id for _ in range(3)}  # type: ignore[attr-defined]
    make_session(data={"owner_id": bob.pk})  # type: ignore[attr-defined]
    make_session(data={})
    listed = {row["id"] for row in client_for(alice).get("/api/sessions/").json()["results"]}
    assert listed == {str(session_id) for session_id in mine}
    everything = client_for(user("root", staff=True)).get("/api/sessions/").json()["results"]
    assert len(everything) == 5


@OWNERS
def test_created_sessions_are_stamped_with_their_owner(alice: object, bob: object) -> None:
    client = client_for(alice)
    body = {
        "current_task_id": "t",
        # An attempt to create a session owned by someone else is overridden.
        "context": {"data": {"owner_id": bob.pk}, "chat_history": {"messages": []}},  # type: ignore[attr-defined]
    }
    response = client.post("/api/sessions/", body, format="json")
    assert response.status_code == 201
    assert stored(response.json()["id"]).context.get("owner_id") == alice.pk  # type: ignore[attr-defined]
    assert client.get(detail(response.json()["id"])).status_code == 200


@OWNERS
def test_a_user_cannot_hand_a_session_to_someone_else(alice: object, bob: object) -> None:
    mine = make_session(data={"owner_id": alice.pk, "n": 1})  # type: ignore[attr-defined]
    client = client_for(alice)
    response = client.patch(detail(mine.id, "data/"), {"owner_id": bob.pk}, format="json")  # type: ignore[attr-defined]
    assert response.status_code == 403
    assert stored(mine.id).context.data == {"owner_id": alice.pk, "n": 1}  # type: ignore[attr-defined]
    assert stored(mine.id).version == 1
    assert client.patch(detail(mine.id, "data/"), {"n": 2}, format="json").status_code == 200


def test_a_custom_hook_scopes_by_graph(alice: object) -> None:
    def claims_only(request: object, queryset: object) -> object:
        return queryset.filter(graph_id="claims")  # type: ignore[attr-defined]

    visible = make_session(graph_id="claims")
    hidden = make_session(graph_id="payroll")
    settings = {
        "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "API_QUERYSET_HOOK": claims_only,
    }
    with override_settings(GRAPHFLOW_SESSIONS=settings):
        client = client_for(alice)
        rows = client.get("/api/sessions/").json()["results"]
        assert [row["id"] for row in rows] == [str(visible.id)]
        assert client.get(detail(hidden.id)).status_code == 404
        assert client.delete(detail(hidden.id)).status_code == 404
    assert Session.objects.filter(pk=hidden.id).exists()


@OWNERS
def test_a_user_cannot_tell_a_taken_id_from_a_free_one(alice: object, bob: object) -> None:
    bobs = make_session(data={"owner_id": bob.pk})  # type: ignore[attr-defined]
    client = client_for(alice)
    body = {"current_task_id": "t", "graph_id": "g"}
    taken = client.post("/api/sessions/", {**body, "id": str(bobs.id)}, format="json")
    free = client.post("/api/sessions/", {**body, "id": str(uuid.uuid4())}, format="json")
    # The same answer for both: the id is not the client's to choose.
    assert (taken.status_code, taken.json()) == (free.status_code, free.json())
    assert taken.status_code == 400
    assert "the server chooses the id" in taken.json()["id"][0]
    assert Session.objects.count() == 1
    assert stored(bobs.id).context.data == {"owner_id": bob.pk}  # type: ignore[attr-defined]
    # Without an id the server makes one.
    assert client.post("/api/sessions/", body, format="json").status_code == 201


@OWNERS
def test_staff_still_choose_ids_under_the_ownership_recipe(alice: object) -> None:
    existing = make_session(data={"owner_id": alice.pk})  # type: ignore[attr-defined]
    client = client_for(user("root", staff=True))
    chosen = str(uuid.uuid4())
    body = {"current_task_id": "t"}
    assert client.post("/api/sessions/", {**body, "id": chosen}, format="json").status_code == 201
    assert stored(chosen).graph_id == "default"
    # Staff see every session, so "already exists" tells them nothing new.
    taken = client.post("/api/sessions/", {**body, "id": str(existing.id)}, format="json")
    assert taken.status_code == 409


def test_a_custom_hook_that_hides_sessions_also_withholds_the_choice_of_id(alice: object) -> None:
    def claims_only(request: object, queryset: object) -> object:
        return queryset.filter(graph_id="claims")  # type: ignore[attr-defined]

    hidden = make_session(graph_id="payroll")
    settings = {
        "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "API_QUERYSET_HOOK": claims_only,
    }
    with override_settings(GRAPHFLOW_SESSIONS=settings):
        body = {"id": str(hidden.id), "graph_id": "claims", "current_task_id": "t"}
        response = client_for(alice).post("/api/sessions/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["id"]
