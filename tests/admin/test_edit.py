"""Editing with ADMIN_ALLOW_EDITS: the context is validated by the contract; errors save nothing."""

from __future__ import annotations

import json

import pytest
from django.test.utils import override_settings
from django.urls import reverse

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from tests.support.admin import chat_context, insert_raw, make_session

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("edits_allowed"),
]


@pytest.fixture
def edits_allowed():
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_ALLOW_EDITS": True}):
        yield


def _change_url(session_id) -> str:
    return reverse("admin:graphflow_sessions_session_change", args=[session_id])


def _post(client, session, context_json, **fields):
    data = {
        "graph_id": session.graph_id,
        "current_task_id": session.current_task_id,
        "status_message": session.status_message or "",
        "context_json": context_json,
        "expected_version": session.version,
        "_save": "Save",
    }
    data.update(fields)
    return client.post(_change_url(session.pk), data)


def _stored(session) -> tuple:
    row = Session.objects.get(pk=session.pk)
    return row.graph_id, row.current_task_id, row.raw_context, row.version, row.updated_at


def test_change_form_shows_the_context_as_editable_json(admin_client):
    session = make_session(context=chat_context(2))
    html = admin_client.get(_change_url(session.pk)).content.decode()
    assert 'name="context_json"' in html
    assert "&quot;chat_history&quot;" in html
    assert 'name="_save"' in html


def test_a_valid_edit_is_saved_and_moves_the_version(admin_client):
    session = make_session(graph_id="claims", context=chat_context(1))
    context = chat_context(1, data={"approval_state": "completed"})
    response = _post(admin_client, session, json.dumps(context.to_dict()), current_task_id="final")
    assert response.status_code == 302
    stored = Session.objects.get(pk=session.pk)
    assert stored.current_task_id == "final"
    assert stored.context.get("approval_state") == "completed"
    assert stored.version == session.version + 1


@pytest.mark.parametrize(
    ("context_json", "message"),
    [
        (
            '{"data": {}, "chat_history": {"messages": [{"role": "user", "content": "hi", '
            '"timestamp": "2026-01-01T00:00:00Z"}]}}',
            "chat_history.messages[0].role",
        ),
        ('{"data": {"x": NaN}, "chat_history": {"messages": []}}', "NaN"),
        ('{"data": {"x": "nul\\u0000"}, "chat_history": {"messages": []}}', "NUL"),
        ('{"data": {}}', "chat_history: required field is missing"),
        ("{not json", "not valid JSON"),
        (
            '{"data": {"n": [0, 18446744073709551616]}, "chat_history": {"messages": []}}',
            "data.n[1]: the integer 18446744073709551616 does not fit 64 bits",
        ),
        (
            '{"data": {"n": 1%s}, "chat_history": {"messages": []}}' % ("0" * 400),
            "out of the range graph-flow&#x27;s reader (serde_json) can read",
        ),
        (
            '{"data": {}, "chat_history": {"messages": [], "max_messages": 18446744073709551616}}',
            "chat_history.max_messages: expected an integer from 0 to 18446744073709551615",
        ),
    ],
    ids=[
        "lower-case role",
        "NaN",
        "NUL",
        "no chat_history",
        "not JSON",
        "an integer beyond 64 bits",
        "a number beyond floats",
        "a history limit beyond 64 bits",
    ],
)
def test_an_invalid_context_shows_the_error_and_saves_nothing(admin_client, context_json, message):
    session = make_session(graph_id="claims", context=chat_context(2))
    before = _stored(session)
    response = _post(admin_client, session, context_json, graph_id="changed")
    assert response.status_code == 200
    html = response.content.decode()
    assert "The context does not follow the graph-flow contract" in html
    assert message in html
    assert _stored(session) == before


def test_a_big_float_stored_as_an_integer_can_be_saved_again(admin_client):
    session = make_session(context=chat_context(1, data={"n": 1e30}))
    # As PostgreSQL prints it back, and as the form shows it.
    context_json = json.dumps(chat_context(1, data={"n": 10**30}).to_dict())
    response = _post(admin_client, session, context_json, current_task_id="next")
    assert response.status_code == 302
    assert Session.objects.get(pk=session.pk).context.get("n") == 10**30


def test_a_context_over_the_size_limit_is_refused(admin_client):
    session = make_session(context=chat_context(1))
    before = _stored(session)
    big = chat_context(1, data={"blob": "x" * 5_000})
    with override_settings(
        GRAPHFLOW_SESSIONS={"ADMIN_ALLOW_EDITS": True, "MAX_CONTEXT_BYTES": 1_000}
    ):
        response = _post(admin_client, session, json.dumps(big.to_dict()))
    assert response.status_code == 200
    assert "over the limit" in response.content.decode()
    assert _stored(session) == before


def test_saving_over_a_newer_version_is_refused(admin_client):
    session = make_session(context=chat_context(1))
    moved_on = Session.objects.get(pk=session.pk)
    moved_on.current_task_id = "moved_on"
    moved_on.save()
    response = _post(admin_client, session, json.dumps(chat_context(5).to_dict()))
    assert response.status_code == 200
    assert "was saved by someone else" in response.content.decode()
    assert Session.objects.get(pk=session.pk).current_task_id == "moved_on"


def test_a_stored_context_that_breaks_the_contract_can_be_repaired(admin_client):
    session_id = insert_raw({"data": {}, "chat_history": {"messages": [{"role": "robot"}]}})
    session = Session.objects.get(pk=session_id)
    html = admin_client.get(_change_url(session_id)).content.decode()
    assert "&quot;robot&quot;" in html and "gfs-notice" in html
    repaired = Context()
    repaired.add_user_message("fixed")
    assert _post(admin_client, session, json.dumps(repaired.to_dict())).status_code == 302
    assert Session.objects.get(pk=session_id).context == repaired


def test_sessions_can_be_added_when_edits_are_allowed(admin_client):
    context = chat_context(1, data={"source": "admin"})
    response = admin_client.post(
        reverse("admin:graphflow_sessions_session_add"),
        {
            "graph_id": "claims",
            "current_task_id": "ask",
            "status_message": "",
            "context_json": json.dumps(context.to_dict()),
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    stored = Session.objects.get()
    assert stored.context == context and stored.status_message is None


@pytest.mark.parametrize("field", ["graph_id", "current_task_id"])
def test_an_id_over_the_indexed_length_is_a_form_error_and_saves_nothing(admin_client, field):
    session = make_session(context=chat_context(1))
    before = _stored(session)
    context = json.dumps(session.context.to_dict())
    response = _post(admin_client, session, context, **{field: "".join(["ab"] * 300)})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert "at most 512 characters (it has 600)" in errors[field][0]
    assert _stored(session) == before
