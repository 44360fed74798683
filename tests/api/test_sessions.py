"""REST API: session create, read, replace, update, delete, and what they refuse."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from graphflow_sessions.models import Session
from tests.support.api import (
    APIClient,
    client_for,
    context_body,
    detail,
    make_session,
    stored,
    user,
)

pytestmark = pytest.mark.django_db

MESSAGE = {"role": "User", "content": "My car was hit", "timestamp": "2026-01-01T00:00:00Z"}


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def test_anonymous_and_non_staff_users_are_refused_by_default() -> None:
    session = make_session()
    anonymous = APIClient()
    member = client_for(user("member"))
    for client in (anonymous, member):
        assert client.get("/api/sessions/").status_code in (401, 403)
        assert client.get(detail(session.id)).status_code in (401, 403)
        created = client.post("/api/sessions/", {"current_task_id": "t"}, format="json")
        assert created.status_code in (401, 403)
    assert Session.objects.count() == 1


def test_create_makes_the_id_and_stores_a_new_context(staff: APIClient) -> None:
    response = staff.post("/api/sessions/", {"current_task_id": "Start"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    session = stored(body["id"])
    assert session.current_task_id == "Start"
    assert session.graph_id == "default"
    assert session.version == 1
    assert body["context"] == {"data": {}, "chat_history": {"messages": [], "max_messages": 1000}}
    assert response["Location"].endswith(f"/api/sessions/{body['id']}/")
    assert response["ETag"] == staff.get(detail(body["id"]))["ETag"]


def test_create_keeps_the_clients_id_and_context(staff: APIClient) -> None:
    session_id = str(uuid.uuid4())
    body = {
        "id": session_id,
        "graph_id": "insurance_claims",
        "current_task_id": "InitialClaimQueryTask",
        "status_message": "waiting",
        "context": context_body({"insurance_type": "car"}, [MESSAGE]),
    }
    response = staff.post("/api/sessions/", body, format="json")
    assert response.status_code == 201, response.content
    session = stored(session_id)
    assert session.context.get("insurance_type") == "car"
    assert session.context.get_all_messages()[0].content == "My car was hit"
    assert session.status_message == "waiting"


def test_create_with_an_existing_id_is_a_conflict_and_overwrites_nothing(staff: APIClient) -> None:
    existing = make_session(data={"keep": True})
    response = staff.post(
        "/api/sessions/", {"id": str(existing.id), "current_task_id": "Other"}, format="json"
    )
    assert response.status_code == 409
    assert stored(existing.id).current_task_id == existing.current_task_id
    assert stored(existing.id).context.get("keep") is True


@pytest.mark.parametrize("bad_id", [False, True, 12345, None, ["x"]])
def test_create_with_an_id_that_is_not_a_string_is_400_and_writes_nothing(
    staff: APIClient, bad_id: Any
) -> None:
    response = staff.post("/api/sessions/", {"id": bad_id, "current_task_id": "t"}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["id"]
    assert Session.objects.count() == 0


@pytest.mark.parametrize(
    "path",
    ["sessions/a.b/data/", "sessions/a.b/messages/", "sessions/x/y/z/", "no-such-endpoint/"],
)
def test_a_path_under_the_api_that_names_no_endpoint_is_the_apis_json_404(
    staff: APIClient, path: str
) -> None:
    for method in ("get", "post", "patch", "delete"):
        response = getattr(staff, method)(f"/api/{path}")
        assert response.status_code == 404, (method, response.status_code)
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == {"detail"}


def test_an_integer_beyond_pythons_digit_limit_is_400_naming_its_key_path(
    staff: APIClient,
) -> None:
    body = '{"current_task_id": "t", "context": {"data": {"v": %s}, "chat_history": {}}}' % (
        "7" * 5000
    )
    response = staff.generic("POST", "/api/sessions/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    detail_text = response.json()["detail"]
    assert "context.data.v: 777777777777...777777 (5000 digits) is out of the range" in detail_text
    assert Session.objects.count() == 0


def test_retrieve_returns_the_whole_session_with_an_etag(staff: APIClient) -> None:
    session = make_session(data={"insurance_type": "car"}, messages=[("User", "hi")])
    response = staff.get(detail(session.id))
    assert response.status_code == 200
    body = response.json()
    assert body["context"] == stored(session.id).context.to_dict()
    assert body["version"] == 1
    assert response["ETag"].startswith('"1.')


def test_retrieve_answers_304_when_if_none_match_names_the_current_state(staff: APIClient) -> None:
    session = make_session()
    etag = staff.get(detail(session.id))["ETag"]
    response = staff.get(detail(session.id), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    make_session(session_id=session.id)  # saved again: the state moved
    assert staff.get(detail(session.id), HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.parametrize("suffix", ["", "messages/", "data/"], ids=["session", "messages", "data"])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e1"])
def test_a_malformed_id_in_the_url_is_404(staff: APIClient, suffix: str, bad_id: str) -> None:
    for method in ("get", "put", "patch", "delete", "post"):
        response = getattr(staff, method)(f"/api/sessions/{bad_id}/{suffix}", {}, format="json")
        assert response.status_code in (404, 405), (method, response.status_code)
    assert staff.get(f"/api/sessions/{bad_id}/{suffix}").status_code == 404


def test_an_unknown_id_is_404_everywhere(staff: APIClient) -> None:
    missing = uuid.uuid4()
    assert staff.get(detail(missing)).status_code == 404
    assert staff.get(detail(missing, "messages/")).status_code == 404
    assert staff.get(detail(missing, "data/")).status_code == 404
    assert staff.patch(detail(missing), {"current_task_id": "x"}, format="json").status_code == 404
    assert staff.delete(detail(missing)).status_code == 404
    assert (
        staff.post(
            detail(missing, "messages/"), {"role": "User", "content": "x"}, format="json"
        ).status_code
        == 404
    )
    assert Session.objects.count() == 0


def test_put_replaces_the_session_and_moves_the_version(staff: APIClient) -> None:
    session = make_session(data={"old": 1})
    body = {
        "graph_id": "g2",
        "current_task_id": "Next",
        "context": context_body({"new": 2}, [MESSAGE]),
    }
    response = staff.put(detail(session.id), body, format="json")
    assert response.status_code == 200, response.content
    after = stored(session.id)
    assert (after.graph_id, after.current_task_id, after.status_message) == ("g2", "Next", None)
    assert after.context.data == {"new": 2}
    assert after.version == 2
    assert response.json()["version"] == 2
    assert response["ETag"] == staff.get(detail(session.id))["ETag"]


def test_put_without_required_fields_is_400_naming_them(staff: APIClient) -> None:
    session = make_session()
    response = staff.put(detail(session.id), {"graph_id": "g"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"current_task_id", "context"}
    assert stored(session.id).version == 1


def test_patch_changes_only_the_fields_sent(staff: APIClient) -> None:
    session = make_session(data={"keep": "me"})
    response = staff.patch(
        detail(session.id), {"current_task_id": "Waiting", "status_message": "ok"}, format="json"
    )
    assert response.status_code == 200, response.content
    after = stored(session.id)
    assert (after.current_task_id, after.status_message) == ("Waiting", "ok")
    assert after.graph_id == session.graph_id
    assert after.context.data == {"keep": "me"}


def test_delete_removes_the_session(staff: APIClient) -> None:
    session = make_session()
    assert staff.delete(detail(session.id)).status_code == 204
    assert not Session.objects.filter(pk=session.id).exists()
    assert staff.get(detail(session.id)).status_code == 404


def test_a_context_breaking_the_contract_is_400_with_the_field_path(staff: APIClient) -> None:
    bad_message = {**MESSAGE, "role": "user"}
    response = staff.post(
        "/api/sessions/",
        {"current_task_id": "t", "context": context_body({}, [MESSAGE, bad_message])},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["context.chat_history.messages[1].role"]
    assert '"User", "Assistant" or "System"' in errors["context.chat_history.messages[1].role"][0]
    assert Session.objects.count() == 0


def test_a_context_without_data_is_400_naming_data(staff: APIClient) -> None:
    response = staff.post(
        "/api/sessions/",
        {"current_task_id": "t", "context": {"chat_history": {"messages": []}}},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["context.data"]


def test_a_nul_character_is_400_and_nothing_is_written(staff: APIClient) -> None:
    session = make_session(data={"a": "clean"})
    response = staff.patch(
        detail(session.id), {"context": context_body({"a": {"b": "x\x00y"}})}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["context.data.a.b"]
    response = staff.patch(detail(session.id), {"current_task_id": "t\x00"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["current_task_id"]
    assert stored(session.id).context.data == {"a": "clean"}
    assert stored(session.id).version == 1


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"n": 2**64}, "context.data.n"),
        ({"a": {"list": [1, 10**400]}}, "context.data.a.list[1]"),
    ],
)
def test_a_number_graph_flow_cannot_read_back_is_400_naming_it_and_nothing_is_written(
    staff: APIClient, data: dict, path: str
) -> None:
    response = staff.post(
        "/api/sessions/", {"current_task_id": "t", "context": context_body(data)}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == [path]
    assert "graph-flow's reader (serde_json)" in response.json()[path][0]
    assert Session.objects.count() == 0


def test_a_history_limit_beyond_64_bits_is_400_naming_it(staff: APIClient) -> None:
    context = {"data": {}, "chat_history": {"messages": [], "max_messages": 2**64}}
    response = staff.post(
        "/api/sessions/", {"current_task_id": "t", "context": context}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["context.chat_history.max_messages"]
    assert Session.objects.count() == 0


def test_a_big_float_read_back_as_an_integer_is_accepted_again(staff: APIClient) -> None:
    response = staff.post(
        "/api/sessions/",
        {"current_task_id": "t", "context": context_body({"n": 1e30})},
        format="json",
    )
    assert response.status_code == 201, response.content
    session_id = response.json()["id"]
    read_back = staff.get(detail(session_id)).json()["context"]
    assert float(read_back["data"]["n"]) == 1e30
    response = staff.patch(
        detail(session_id), {"current_task_id": "next", "context": read_back}, format="json"
    )
    assert response.status_code == 200, response.content
    assert stored(session_id).current_task_id == "next"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400_and_nothing_is_written(staff: APIClient, constant: str) -> None:
    body = '{"current_task_id": "t", "context": {"data": {"x": %s}, "chat_history": {}}}'
    response = staff.generic(
        "POST", "/api/sessions/", body % constant, content_type="application/json"
    )
    assert response.status_code == 400
    assert constant.lstrip("-") in response.json()["detail"]
    assert Session.objects.count() == 0


@pytest.mark.parametrize("text", ["{not json", '{"a": 1', "\xff"])
def test_a_body_that_is_not_json_is_400(staff: APIClient, text: str) -> None:
    response = staff.generic("POST", "/api/sessions/", text, content_type="application/json")
    assert response.status_code == 400
    assert Session.objects.count() == 0


def test_deeply_nested_json_is_400_not_a_crash(staff: APIClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = staff.generic("POST", "/api/sessions/", body, content_type="application/json")
    assert response.status_code == 400


def test_a_body_over_the_limit_is_413_before_it_is_read(staff: APIClient) -> None:
    body = json.dumps({"current_task_id": "t", "context": context_body({"blob": "x" * 5000})})
    with override_settings(GRAPHFLOW_SESSIONS={"API_MAX_BODY_BYTES": 1000}):
        response = staff.generic("POST", "/api/sessions/", body, content_type="application/json")
    assert response.status_code == 413
    assert "API_MAX_BODY_BYTES" in response.json()["detail"]
    assert Session.objects.count() == 0


def test_a_context_over_max_context_bytes_is_413_and_nothing_is_written(staff: APIClient) -> None:
    session = make_session(data={"small": 1})
    with override_settings(GRAPHFLOW_SESSIONS={"MAX_CONTEXT_BYTES": 2000}):
        response = staff.patch(
            detail(session.id), {"context": context_body({"blob": "x" * 3000})}, format="json"
        )
        assert response.status_code == 413
        assert "MAX_CONTEXT_BYTES" in response.json()["detail"]
        created = staff.post(
            "/api/sessions/",
            {"current_task_id": "t", "context": context_body({"blob": "y" * 3000})},
            format="json",
        )
        assert created.status_code == 413
    assert stored(session.id).context.data == {"small": 1}
    assert Session.objects.count() == 1


def test_csrf_is_enforced_for_session_authenticated_writes() -> None:
    session = make_session()
    client = client_for(user("staff", staff=True), enforce_csrf_checks=True)
    refused = client.post("/api/sessions/", {"current_task_id": "t"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert client.delete(detail(session.id)).status_code == 403
    assert Session.objects.count() == 1
    # With the token from the cookie, the same write goes through.
    client.get("/admin/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/sessions/", {"current_task_id": "t"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201


def test_the_list_reads_contexts_only_for_the_page_once_it_is_cut(staff: APIClient) -> None:
    # Summaries annotated on the list query itself were computed, reading the context, for
    # every row the query matched whenever the plan sorted them (a search of a common word).
    for index in range(5):
        make_session(data={"blob": "x" * 1000}, messages=[("User", f"m{index}")] * (index + 1))
    with CaptureQueriesContext(connection) as queries:
        response = staff.get("/api/sessions/", {"page_size": 2})
    assert response.status_code == 200
    session_queries = [q["sql"] for q in queries.captured_queries if '"sessions"' in q["sql"]]
    assert len(session_queries) == 2
    page_query, summary_query = session_queries
    assert "context" not in page_query
    rows = response.json()["results"]
    assert len(rows) == 2
    select_list, where = summary_query.split(" WHERE ", 1)
    # The context only appears inside the summary expression, never as a selected column,
    # and only the page's two sessions are read.
    assert '"sessions"."context"' in select_list
    assert not re.search(r'(SELECT|,)\s*"sessions"\."context"\s*(,|$)', select_list)
    uuid_text = r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}"
    read = sorted(uuid.UUID(found) for found in re.findall(uuid_text, where))
    assert read == sorted(uuid.UUID(row["id"]) for row in rows)
    assert all("context" not in row for row in rows)
    counts = dict(Session.objects.with_summary().values_list("pk", "message_count"))
    assert [row["message_count"] for row in rows] == [counts[uuid.UUID(row["id"])] for row in rows]


def test_the_list_summary_shows_the_last_message(staff: APIClient) -> None:
    session = make_session(messages=[("User", "first"), ("Assistant", "second reply")])
    make_session()  # no messages
    rows = {row["id"]: row for row in staff.get("/api/sessions/").json()["results"]}
    row = rows[str(session.id)]
    last = stored(session.id).context.get_all_messages()[-1]
    assert row["message_count"] == 2
    assert row["last_message_role"] == "Assistant"
    assert row["last_message_preview"] == "second reply"
    assert row["last_message_at"] == last.timestamp_text
    empty = next(r for r in rows.values() if r["id"] != str(session.id))
    assert (empty["message_count"], empty["last_message_at"]) == (0, None)


def test_the_browsable_api_renders_every_endpoint_and_escapes_user_text(staff: APIClient) -> None:
    session = make_session(data={"note": "<script>alert(1)</script>"}, messages=[("User", "hi")])
    for url in (
        "/api/",
        "/api/sessions/",
        detail(session.id),
        detail(session.id, "messages/"),
        detail(session.id, "data/"),
    ):
        response = staff.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html")
        assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content  # shown, escaped
