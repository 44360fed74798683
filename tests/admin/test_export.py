"""Exports: selected sessions as JSON / JSON Lines in the stored shape; one transcript as
Markdown or plain text."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.support.admin import chat_context, insert_raw, make_session, rust_context_json

pytestmark = pytest.mark.django_db

LIST_URL = "admin:graphflow_sessions_session_changelist"
FIELDS = {
    "id",
    "graph_id",
    "current_task_id",
    "status_message",
    "context",
    "created_at",
    "updated_at",
    "version",
}


def _action(client, action: str, ids) -> object:
    return client.post(
        reverse(LIST_URL), {"action": action, "_selected_action": [str(i) for i in ids]}
    )


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_export_json_writes_the_stored_shape_of_the_selected_sessions(admin_client):
    chosen = make_session(graph_id="claims", status="done", context=chat_context(3))
    rust = insert_raw(rust_context_json())
    make_session(graph_id="not-chosen")
    response = _action(admin_client, "export_json", [chosen.pk, rust])
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="sessions-')
    rows = {row["id"]: row for row in json.loads(_body(response))}
    assert set(rows) == {str(chosen.pk), str(rust)}
    assert set(rows[str(chosen.pk)]) == FIELDS
    assert rows[str(chosen.pk)]["context"] == chat_context(3).to_dict()
    assert rows[str(chosen.pk)]["status_message"] == "done"
    assert rows[str(rust)]["context"] == rust_context_json()


def test_export_json_lines_writes_one_session_a_line(admin_client):
    sessions = [make_session(context=chat_context(n)) for n in range(3)]
    broken = insert_raw({"chat_history": "broken"})
    response = _action(admin_client, "export_json_lines", [*(s.pk for s in sessions), broken])
    lines = _body(response).decode().splitlines()
    assert len(lines) == 4
    rows = [json.loads(line) for line in lines]
    assert {row["id"] for row in rows} == {*(str(s.pk) for s in sessions), str(broken)}
    assert {"chat_history": "broken"} in [row["context"] for row in rows]


def test_transcript_as_markdown_quotes_each_message_in_order(admin_client):
    context = chat_context(2)
    context.add_message("System", "# not a heading\nsecond line")
    session = make_session(context=context, status="ok")
    url = reverse("admin:graphflow_sessions_session_transcript", args=[session.pk, "md"])
    response = admin_client.get(url)
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith(f"# Session {session.pk}\n")
    assert "- **Messages:** 3" in text
    assert text.index("## 1. User") < text.index("## 2. Assistant") < text.index("## 3. System")
    assert "> # not a heading\n> second line\n" in text


def test_transcript_as_plain_text_indents_each_message(admin_client):
    session_id = insert_raw(rust_context_json())
    url = reverse("admin:graphflow_sessions_session_transcript", args=[session_id, "txt"])
    text = admin_client.get(url).content.decode()
    assert (
        "[1] 2025-06-10T12:34:56.123456789Z User:\n    My car was hit\n    while parked.\n" in text
    )
    assert "Max messages: no limit" in text


def test_transcript_actions_export_exactly_one_session(admin_client):
    one, two = make_session(), make_session()
    response = _action(admin_client, "export_markdown", [one.pk])
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:graphflow_sessions_session_transcript", args=[one.pk, "md"]
    )
    refused = _action(admin_client, "export_text", [one.pk, two.pk])
    assert refused.status_code == 302
    assert refused["Location"].endswith(reverse(LIST_URL))


def test_transcript_of_a_broken_context_redirects_with_an_error(admin_client):
    session_id = insert_raw({"data": {}, "chat_history": {"messages": 7}})
    url = reverse("admin:graphflow_sessions_session_transcript", args=[session_id, "md"])
    response = admin_client.get(url, follow=True)
    assert "breaks the graph-flow contract" in response.content.decode()


def test_an_admin_json_lines_export_is_read_back_by_the_import(admin_client):
    from graphflow_sessions.models import Session
    from graphflow_sessions.transfer import EXPORT_FIELDS, import_sessions

    sessions = [make_session(context=chat_context(n)) for n in range(3)]
    before = {row["id"]: row for row in Session.objects.values(*EXPORT_FIELDS)}
    response = _action(admin_client, "export_json_lines", [s.pk for s in sessions])
    lines = _body(response).decode().splitlines()
    Session.objects.all().delete()

    result = import_sessions(lines)

    assert result.errors == []
    assert {row["id"]: row for row in Session.objects.values(*EXPORT_FIELDS)} == before


def test_an_admin_json_lines_export_is_what_the_export_command_writes(admin_client):
    from graphflow_sessions.transfer import iter_export_lines

    sessions = [make_session(context=chat_context(n)) for n in range(3)]
    raw = insert_raw(rust_context_json())

    response = _action(admin_client, "export_json_lines", [*(s.pk for s in sessions), raw])

    assert _body(response).decode() == "".join(iter_export_lines())
