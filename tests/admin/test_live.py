"""The live transcript's endpoint: 304 while nothing changed, only the new messages otherwise,
the change page's permission checks, hostile text escaped, a history that shrank."""

from __future__ import annotations

import html as html_lib
import re
import uuid

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from graphflow_sessions.admin import SessionAdmin
from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.routers import sessions_database
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.admin import XSS_IMG, XSS_SCRIPT, chat_context, make_session, staff_user

pytestmark = pytest.mark.django_db

LIVE_ATTRIBUTES = re.compile(r'data-live-(url|first|after|anchor|etag|append|poll)="([^"]*)"')


def _live_state(client, session_id, *, HTTP_ACCEPT_LANGUAGE="en", **params) -> dict[str, str]:
    """The data-live-* attributes of the session page (what transcript.js starts from)."""
    url = reverse("admin:graphflow_sessions_session_change", args=[session_id])
    page = client.get(url, params, HTTP_ACCEPT_LANGUAGE=HTTP_ACCEPT_LANGUAGE).content.decode()
    return {name: html_lib.unescape(value) for name, value in LIVE_ATTRIBUTES.findall(page)}


def _poll(client, state, *, etag=None, **params):
    query = {
        "first": state["first"],
        "after": state["after"],
        "anchor": state["anchor"],
        "append": "1" if state["append"] == "true" else "0",
    }
    headers = {} if etag is None else {"HTTP_IF_NONE_MATCH": etag}
    return client.get(state["url"], {**query, **params}, **headers)


def _append(session_id, *messages: tuple[str, str]) -> None:
    """Add messages through the storage, as another writer would."""
    storage = DatabaseSessionStorage(using=sessions_database())
    session = storage.get(str(session_id))
    for role, content in messages:
        session.context.add_message(role, content)
    storage.save(session)


def _numbers(fragment: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-number="(\d+)"', fragment)]


def test_the_page_hands_the_script_its_position_and_etag(admin_client):
    session = make_session(context=chat_context(3))
    state = _live_state(admin_client, session.pk)
    assert state["url"] == reverse("admin:graphflow_sessions_session_live", args=[session.pk])
    assert state["after"] == "3"
    assert state["append"] == "true"
    assert state["etag"] == f'"{session.version}.' + state["etag"].split(".", 1)[1]


def test_an_unchanged_session_answers_304_without_reading_the_context(admin_client):
    session = make_session(context=chat_context(50))
    state = _live_state(admin_client, session.pk)
    with CaptureQueriesContext(connection) as queries:
        response = _poll(admin_client, state, etag=state["etag"])
    assert response.status_code == 304
    assert response["ETag"] == state["etag"]
    session_queries = [q["sql"] for q in queries if '"sessions"' in q["sql"]]
    assert len(session_queries) == 1
    assert "context" not in session_queries[0].split("FROM")[0]


def test_new_messages_come_alone_and_marked_new(admin_client):
    session = make_session(context=chat_context(250))
    state = _live_state(admin_client, session.pk, transcript_page="last")
    assert state["append"] == "true"
    _append(session.pk, ("User", "is it done yet?"), ("Assistant", "Yes, approved."))

    response = _poll(admin_client, state, etag=state["etag"])
    assert response.status_code == 200
    answer = response.json()
    assert _numbers(answer["html"]) == [251, 252]
    assert answer["html"].count('class="gfs-message gfs-role-user gfs-new"') == 1
    assert "Yes, approved." in answer["html"]
    assert "message 250" not in answer["html"]  # the history is not sent again
    assert (answer["total"], answer["after"], answer["new"], answer["more"]) == (252, 252, 2, False)
    assert answer["notice"] == "2 new messages."
    assert answer["summary"] == "Messages 201–252 of 252, oldest first."
    assert response["ETag"] != state["etag"]
    assert "no-store" in response["Cache-Control"]

    # From the new position and ETag nothing more is new.
    after = {**state, "after": str(answer["after"]), "anchor": answer["anchor"]}
    assert _poll(admin_client, after, etag=response["ETag"]).status_code == 304
    again = _poll(admin_client, after).json()
    assert (again["html"], again["new"]) == ("", 0)


def test_a_long_way_behind_comes_in_batches(admin_client, settings):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_TRANSCRIPT_PAGE_SIZE": 10}
    session = make_session(context=chat_context(5))
    state = _live_state(admin_client, session.pk)
    _append(session.pk, *[("User", f"late {n}") for n in range(25)])
    first = _poll(admin_client, state).json()
    assert _numbers(first["html"]) == list(range(6, 16))
    assert first["more"] is True
    assert first["summary"] == "Messages 1–15 of 30, oldest first."
    second = _poll(admin_client, {**state, "after": first["after"], "anchor": first["anchor"]})
    assert _numbers(second.json()["html"]) == list(range(16, 26))


def test_hostile_message_text_is_escaped(admin_client):
    session = make_session(context=chat_context(1))
    state = _live_state(admin_client, session.pk)
    _append(session.pk, ("User", f"{XSS_SCRIPT} and {XSS_IMG}"))
    fragment = _poll(admin_client, state).json()["html"]
    assert "<script>" not in fragment and "<img" not in fragment
    assert "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(1)&gt;" in (
        fragment
    )


def test_an_older_page_gets_a_count_and_no_messages(admin_client, settings):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_TRANSCRIPT_PAGE_SIZE": 10}
    session = make_session(context=chat_context(30))
    state = _live_state(admin_client, session.pk, transcript_page="1")
    assert (state["append"], state["after"]) == ("false", "30")
    _append(session.pk, ("User", "one"), ("User", "two"), ("User", "three"))
    answer = _poll(admin_client, state).json()
    assert (answer["total"], answer["new"]) == (33, 3)
    assert "html" not in answer
    assert answer["notice"] == "3 new messages since this page was loaded."


def test_a_full_bounded_history_moves_the_page_up_and_appends(admin_client):
    # At its max_messages a history drops its oldest message for every new one, so the
    # page's last message is no longer where the page saw it, but a few places earlier.
    session = make_session(context=chat_context(6, max_messages=6))
    state = _live_state(admin_client, session.pk)
    _append(session.pk, ("User", "pushes message 1 out"), ("Assistant", "and message 2"))

    answer = _poll(admin_client, state).json()

    assert "reload" not in answer
    assert (answer["shift"], answer["first"], answer["total"], answer["after"]) == (2, 1, 6, 6)
    assert _numbers(answer["html"]) == [5, 6]
    assert "pushes message 1 out" in answer["html"] and "and message 2" in answer["html"]
    assert answer["summary"] == "Messages 1–6 of 6, oldest first."
    moved = {**state, "after": str(answer["after"]), "anchor": answer["anchor"]}
    assert _poll(admin_client, moved).json()["new"] == 0


def test_a_trim_that_kept_the_last_known_message_only_moves_the_page_up(admin_client):
    session = make_session(context=chat_context(6))
    state = _live_state(admin_client, session.pk)
    storage = DatabaseSessionStorage(using=sessions_database())
    stored = storage.get(str(session.pk))
    trimmed = stored.context.to_dict()
    trimmed["chat_history"]["messages"] = trimmed["chat_history"]["messages"][2:]
    stored.context = Context.from_dict(trimmed)  # the newest four, exactly as they were
    storage.save(stored)

    answer = _poll(admin_client, state).json()

    assert (answer["shift"], answer["new"], answer["after"], answer["html"]) == (2, 0, 4, "")
    assert answer["summary"] == "Messages 1–4 of 4, oldest first."


@pytest.mark.parametrize("how", ["cleared", "rewritten"])
def test_a_history_that_shrank_or_changed_asks_for_a_reload(admin_client, how):
    session = make_session(context=chat_context(6))
    state = _live_state(admin_client, session.pk)
    storage = DatabaseSessionStorage(using=sessions_database())
    stored = storage.get(str(session.pk))
    if how == "cleared":
        stored.context.clear_chat_history()
    else:  # the same length and more, but message 6 is not what the page shows
        stored.context = chat_context(5)
        for content in ("edited", "message 7", "message 8"):
            stored.context.add_message("User", content)
    storage.save(stored)
    answer = _poll(admin_client, state).json()
    assert answer["reload"] is True
    assert "changed" in answer["notice"]
    assert "html" not in answer


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"after": "x"}, "after must be a whole number"),
        ({"after": "-1"}, "after must be between 0"),
        ({"after": str(2**40)}, "after must be between 0"),
        ({"after": "2", "anchor": "nope"}, "anchor must be the digest"),
        ({"after": "0", "first": "one"}, "first must be a whole number"),
    ],
)
def test_bad_poll_parameters_say_what_is_wrong(admin_client, params, error):
    session = make_session()
    url = reverse("admin:graphflow_sessions_session_live", args=[session.pk])
    response = admin_client.get(url, params)
    assert response.status_code == 400
    assert error in response.json()["error"]


def test_a_missing_session_is_404(admin_client):
    session = make_session()
    state = _live_state(admin_client, session.pk)
    Session.objects.filter(pk=session.pk).delete()
    assert _poll(admin_client, state).status_code == 404
    url = reverse("admin:graphflow_sessions_session_live", args=[uuid.uuid4()])
    assert admin_client.get(url, {"after": "0"}).status_code == 404


def test_without_the_view_permission_the_endpoint_is_forbidden(client):
    session = make_session()
    url = reverse("admin:graphflow_sessions_session_live", args=[session.pk])
    assert client.get(url, {"after": "0"}).status_code == 302  # anonymous: to the login page
    client.force_login(staff_user())
    assert client.get(url, {"after": "0"}).status_code == 403
    client.force_login(staff_user("view_session", username="viewer"))
    assert client.get(url, {"after": "0"}).status_code == 200


class OwnGraphAdmin(SessionAdmin):
    """Scoped as a project would: a user sees only the graph named after them, and may
    not view sessions whose status says they are private."""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(graph_id=request.user.username)

    def has_view_permission(self, request, obj=None):
        private = obj is not None and obj.status_message == "private"
        return super().has_view_permission(request, obj) and not private


def test_sessions_the_user_cannot_see_are_not_found_or_forbidden():
    user = staff_user("view_session")
    theirs = make_session(graph_id="staff")
    private = make_session(graph_id="staff", status="private")
    other = make_session(graph_id="someone-else")
    scoped = OwnGraphAdmin(Session, admin.AdminSite())

    def poll(session):
        request = RequestFactory().get("/", {"after": "0"})
        request.user = user
        return scoped.live_view(request, str(session.pk))

    assert poll(theirs).status_code == 200
    with pytest.raises(Http404):
        poll(other)
    with pytest.raises(PermissionDenied):
        poll(private)


def test_the_page_writes_its_numbers_unlocalized_for_the_script(admin_client, settings):
    settings.USE_THOUSAND_SEPARATOR = True
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_LIVE_POLL_SECONDS": (0.5, 12.5)}
    session = make_session(context=chat_context(1234))
    # German writes 0,5 and 1.234; the script and the poll need 0.5 and 1234.
    state = _live_state(admin_client, session.pk, HTTP_ACCEPT_LANGUAGE="de")
    assert (state["poll"], state["after"]) == ("0.5 12.5", "1234")
    assert _poll(admin_client, state).status_code == 200


def test_polls_never_come_faster_than_a_quarter_second(admin_client, settings):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_LIVE_POLL_SECONDS": (0, 0)}
    session = make_session()
    assert _live_state(admin_client, session.pk)["poll"] == "0.25 0.25"


def test_live_transcripts_can_be_turned_off(admin_client):
    session = make_session()
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_LIVE_POLL_SECONDS": None}):
        assert _live_state(admin_client, session.pk) == {}
