"""The example project end to end over HTTP: a customer files claims through ``POST /execute``,
then the session and its transcript are found through the storage, the admin and the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from example_project.claims.tasks import FinalSummaryTask, SmartClaimValidatorTask
from graphflow_sessions.models import Session
from graphflow_sessions.storage import PostgresSessionStorage

pytestmark = [pytest.mark.django_db, pytest.mark.urls("example_project.urls")]

UNKNOWN_ID = "6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e11"


def execute(client: Client, content: Any, session_id: Any = None) -> Any:
    body: dict[str, Any] = {"content": content}
    if session_id is not None:
        body["session_id"] = session_id
    return client.post("/execute", json.dumps(body), content_type="application/json")


def converse(client: Client, *turns: str) -> tuple[str, list[dict[str, Any]]]:
    session_id = None
    answers = []
    for text in turns:
        response = execute(client, text, session_id)
        assert response.status_code == 200, response.content
        answer = response.json()
        assert set(answer) == {"session_id", "response", "status"}
        session_id = answer["session_id"]
        answers.append(answer)
    assert session_id is not None
    return session_id, answers


CAR_STORY = "Someone rear-ended my car at a red light and the bumper is smashed"
FLAT_STORY = "A pipe burst under the kitchen sink in my apartment and flooded the floor"


def file_car_claim(client: Client) -> tuple[str, list[dict[str, Any]]]:
    return converse(
        client, "Hi, I need to file a claim", CAR_STORY, "The body shop quoted $640", "yes"
    )


def test_a_claim_under_1000_is_approved_over_http_and_kept_in_storage(client: Client) -> None:
    session_id, answers = file_car_claim(client)

    assert [a["status"] for a in answers] == ["Paused", "WaitingForInput", "Paused", "Completed"]
    assert "auto-approved" in answers[2]["response"]
    assert "Decision: approved" in answers[3]["response"]

    # The storage: the session, where the workflow left it, with the whole transcript.
    session = PostgresSessionStorage().get(session_id)
    assert session is not None
    assert session.graph_id == "insurance_claims"
    assert session.current_task_id == FinalSummaryTask.task_id
    assert session.context.get("claim_decision")["approved"] is True
    transcript = [(m.role.value, m.content) for m in session.context.get_all_messages()]
    assert transcript[0] == ("User", "Hi, I need to file a claim")
    assert ("User", CAR_STORY) in transcript
    assert transcript[-1] == ("Assistant", answers[3]["response"])
    assert session.version == 4  # one save per /execute

    # GET /session/<id>: graph-flow's Session JSON.
    detail = client.get(f"/session/{session_id}")
    assert detail.status_code == 200
    body = detail.json()
    assert set(body) == {"id", "graph_id", "current_task_id", "status_message", "context"}
    assert body["context"] == session.context.to_dict()


def test_the_admin_finds_the_claim_and_shows_its_transcript(
    client: Client, admin_client: Client
) -> None:
    session_id, _ = file_car_claim(client)

    change_url = reverse("admin:graphflow_sessions_session_change", args=[session_id])
    listing = admin_client.get(
        reverse("admin:graphflow_sessions_session_changelist"), {"q": session_id}
    )
    assert listing.status_code == 200
    assert change_url in listing.content.decode()
    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert escape(CAR_STORY) in page.content.decode()


def test_the_api_serves_the_claim_and_its_transcript(client: Client, admin_client: Client) -> None:
    pytest.importorskip("rest_framework", reason="the drf extra is not installed in this run")
    session_id, _ = file_car_claim(client)

    api = admin_client.get(f"/api/sessions/{session_id}/")
    assert api.status_code == 200, api.content
    assert api.json()["id"] == session_id
    messages = admin_client.get(f"/api/sessions/{session_id}/messages/")
    assert messages.status_code == 200, messages.content
    assert CAR_STORY in json.dumps(messages.json())
    assert client.get(f"/api/sessions/{session_id}/").status_code in (401, 403)


def test_a_claim_over_1000_is_not_auto_approved_and_waits_for_a_reviewer(
    client: Client,
) -> None:
    session_id, answers = converse(
        client, FLAT_STORY, "It happened last night, the cabinets are soaked", "About $2,400"
    )

    assert answers[-1]["status"] == "WaitingForInput"
    assert "requires approval" in answers[-1]["response"]
    waiting = client.get(f"/session/{session_id}").json()
    assert waiting["current_task_id"] == SmartClaimValidatorTask.task_id
    assert waiting["context"]["data"]["approval_state"] == "pending"
    assert "claim_decision" not in waiting["context"]["data"]

    approved = execute(client, "approved", session_id).json()

    assert approved["status"] == "Completed"
    data = client.get(f"/session/{session_id}").json()["context"]["data"]
    assert data["claim_decision"]["approved"] is True
    assert data["claim_decision"]["decision_reason"] == "Claim approved by manual review"


def test_execute_needs_no_csrf_token_but_the_admin_still_does(admin_user: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert execute(strict, "Hello").status_code == 200

    strict.force_login(admin_user)
    logout = strict.post(reverse("admin:logout"))
    assert logout.status_code == 403


def test_an_unknown_session_is_a_404_with_a_json_error(client: Client) -> None:
    for response in (execute(client, "hello", UNKNOWN_ID), client.get(f"/session/{UNKNOWN_ID}")):
        assert response.status_code == 404
        assert response.json() == {"error": "Session not found", "session_id": UNKNOWN_ID}
    assert Session.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ('["content"]', "must be a JSON object"),
        ("{}", '"content" is required'),
        ('{"content": "   "}', '"content" is required'),
        ('{"content": 42}', '"content" is required'),
        ('{"content": "hi", "session_id": 7}', '"session_id" must be a string'),
        ('{"content": "hi", "session_id": "not-a-uuid"}', "invalid session id 'not-a-uuid'"),
        ('{"content": "nul \\u0000 here"}', "NUL character"),
    ],
)
def test_bad_execute_bodies_get_a_400_that_says_what_is_wrong(
    client: Client, body: str | bytes, message: str
) -> None:
    response = client.post("/execute", body, content_type="application/json")

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Session.objects.count() == 0


def test_a_session_of_another_workflow_is_a_409_and_is_left_alone(client: Client) -> None:
    other = Session(graph_id="support_bot", current_task_id="answer")
    PostgresSessionStorage().save(other)

    response = execute(client, "hello", str(other.id))

    assert response.status_code == 409
    assert "belongs to graph 'support_bot'" in response.json()["error"]
    other.refresh_from_db()
    assert (other.version, other.context.is_chat_history_empty()) == (1, True)


def test_a_malformed_id_in_the_session_url_is_a_400_with_a_json_error(client: Client) -> None:
    response = client.get("/session/12345")

    assert response.status_code == 400
    assert "invalid session id '12345'" in response.json()["error"]


def test_wrong_methods_get_a_405_naming_the_right_one(client: Client) -> None:
    wrong_get = client.get("/execute")
    wrong_post = client.post(f"/session/{UNKNOWN_ID}")

    assert (wrong_get.status_code, wrong_get["Allow"]) == (405, "POST")
    assert (wrong_post.status_code, wrong_post["Allow"]) == (405, "GET")
    assert "use POST" in wrong_get.json()["error"]


def test_health_answers_ok(client: Client) -> None:
    response = client.get("/health")

    assert (response.status_code, response.content) == (200, b"OK")


@pytest.mark.postgres
def test_the_example_files_a_claim_on_graph_flow_06s_text_id_table(client: Client) -> None:
    from tests.support.text_table import text_ids_in_transaction

    with text_ids_in_transaction():
        session_id, answers = file_car_claim(client)
        assert answers[-1]["status"] == "Completed"
        session = PostgresSessionStorage().get(session_id)
        assert session is not None and session.version == 4
        assert client.get(f"/session/{session_id}").json()["id"] == session_id
