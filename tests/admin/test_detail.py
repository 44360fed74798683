"""One session in the admin: transcript, pagination, data, raw JSON, notices, permissions."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from graphflow_sessions.models import Session
from tests.support.admin import (
    RUST_TASK,
    chat_context,
    insert_raw,
    make_session,
    rust_context_json,
    staff_user,
)

pytestmark = pytest.mark.django_db


def _change_url(session_id) -> str:
    return reverse("admin:graphflow_sessions_session_change", args=[session_id])


def _page(client, session_id, **params) -> str:
    response = client.get(_change_url(session_id), params)
    assert response.status_code == 200
    return response.content.decode()


def _messages(html: str) -> list[tuple[str, int, str]]:
    """(role, number, content) of each transcript message, in page order."""
    pattern = re.compile(
        r'<li class="gfs-message gfs-role-\w+" data-role="(\w+)" data-number="(\d+)".*?'
        r'<div class="gfs-content">(.*?)</div>',
        re.S,
    )
    return [(role, int(number), content) for role, number, content in pattern.findall(html)]


def test_transcript_shows_messages_in_order_with_distinct_roles(admin_client):
    session = make_session(context=chat_context(12))
    shown = _messages(_page(admin_client, session.pk))
    assert [number for _, number, _ in shown] == list(range(1, 13))
    assert [role for role, _, _ in shown[:3]] == ["User", "Assistant", "User"]
    assert shown[9][0] == "System"
    assert shown[11][2] == "message 12"
    html = _page(admin_client, session.pk)
    for role in ("user", "assistant", "system"):
        assert f'class="gfs-role-badge gfs-role-{role}"' in html


def test_message_newlines_are_kept_and_times_show_local_with_utc_on_hover(admin_client):
    context = chat_context(0)
    context.add_message("User", "line one\nline two", "2026-03-01T12:00:00Z")
    session = make_session(context=context)
    with override_settings(TIME_ZONE="Europe/Paris"), timezone.override("Europe/Paris"):
        html = _page(admin_client, session.pk)
    assert '<div class="gfs-content">line one\nline two</div>' in html
    assert 'datetime="2026-03-01T12:00:00.000Z"' in html
    # 12:00 UTC is 13:00 in Paris in March; the stored text is on hover.
    assert (
        'title="2026-03-01 13:00:00 CET (UTC+0100) · 2026-03-01T12:00:00Z UTC">'
        '<span class="gfs-day">2026-03-01</span> 13:00</time>'
    ) in html


def test_long_transcript_is_paginated_and_newest_is_one_click_away(admin_client):
    session = make_session(context=chat_context(10_000, max_messages=None))
    first = admin_client.get(_change_url(session.pk))
    html = first.content.decode()
    assert len(first.content) < 400_000  # 10,000 messages, one page of 200
    assert [n for _, n, _ in _messages(html)] == list(range(1, 201))
    assert "Messages 1–200 of 10000, oldest first." in html
    newest_link = re.search(r'href="([^"]+)" class="gfs-newest"', html).group(1)
    newest = _page(admin_client, session.pk, **dict([newest_link.split("#")[0][1:].split("=")]))
    assert [n for _, n, _ in _messages(newest)][-1] == 10_000
    assert _messages(newest)[-1][2] == "message 10000"
    assert "Page 50 of 50" in newest


def test_transcript_page_size_follows_the_setting(admin_client):
    session = make_session(context=chat_context(25))
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_TRANSCRIPT_PAGE_SIZE": 10}):
        html = _page(admin_client, session.pk, transcript_page="3")
    assert [n for _, n, _ in _messages(html)] == list(range(21, 26))


def test_current_task_status_and_max_messages_are_shown(admin_client):
    session = make_session(
        task=RUST_TASK, status="Waiting for photos", context=chat_context(2, max_messages=50)
    )
    html = _page(admin_client, session.pk)
    assert '<strong class="gfs-big">insurance_claims_service::<wbr>tasks::<wbr>' in html
    assert '<span class="gfs-big gfs-pre">Waiting for photos</span>' in html
    assert "History limit: the newest 50 messages (max_messages)." in html


def test_data_is_shown_as_pretty_collapsible_json(admin_client):
    data = {"claim_details": {"insurance_type": "car", "estimated_cost": 950}, "retry_count": 2}
    session = make_session(context=chat_context(1, data=data))
    html = _page(admin_client, session.pk)
    assert '<details class="gfs-data-entry" open>' in html
    assert "<code>claim_details</code>" in html
    # Indented, one key a line (PostgreSQL's jsonb may reorder the keys).
    assert "\n  &quot;insurance_type&quot;: &quot;car&quot;" in html
    assert "\n  &quot;estimated_cost&quot;: 950" in html


def test_rust_written_session_displays_correctly(admin_client):
    session_id = insert_raw(rust_context_json())
    html = _page(admin_client, session_id)
    shown = _messages(html)
    assert [(role, n) for role, n, _ in shown] == [("User", 1), ("Assistant", 2)]
    assert shown[0][2] == "My car was hit\nwhile parked."
    assert 'title="2025-06-10 12:34:56 UTC (UTC+0000) · 2025-06-10T12:34:56.123456789Z UTC"' in html
    assert 'datetime="2025-06-10T12:34:56.123Z"' in html
    assert "History limit: none (max_messages is null)." in html
    assert "No data." in html
    assert "initial_claim_query::<wbr>InitialClaimQueryTask" in html
    assert "gfs-notice" not in html


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"data": {}, "chat_history": {"messages": [{"role": "user"}]}}, "messages[0]"),
        ({"data": [], "chat_history": {"messages": []}}, "data: expected an object"),
        ("a bare string", "context: expected an object"),
    ],
)
def test_contract_breaking_context_shows_a_notice_and_the_raw_json(admin_client, stored, expected):
    session_id = insert_raw(stored)
    html = _page(admin_client, session_id)
    assert 'class="gfs-notice" role="alert"' in html
    assert expected in html
    assert '<pre class="gfs-json">' in html
    assert "gfs-transcript" not in html


def test_raw_json_can_be_viewed_and_downloaded_as_stored(admin_client):
    session_id = insert_raw(rust_context_json())
    url = reverse("admin:graphflow_sessions_session_raw", args=[session_id])
    view = admin_client.get(url)
    assert view["Content-Type"] == "application/json; charset=utf-8"
    assert "Content-Disposition" not in view
    assert json.loads(view.content) == rust_context_json()
    download = admin_client.get(url, {"download": "1"})
    assert download["Content-Disposition"] == (
        f'attachment; filename="session-{session_id}-context.json"'
    )
    assert json.loads(download.content) == rust_context_json()


def test_raw_json_of_a_broken_context_is_still_served(admin_client):
    session_id = insert_raw({"chat_history": 5})
    url = reverse("admin:graphflow_sessions_session_raw", args=[session_id])
    assert json.loads(admin_client.get(url).content) == {"chat_history": 5}


def test_detail_page_takes_a_fixed_number_of_queries(admin_client):
    small = make_session(context=chat_context(3))
    large = make_session(context=chat_context(3_000, data={"k": list(range(100))}))
    # Warm the process-wide caches (content types for the history link) that only the first
    # request of a test run fills, so the counts compare the pages, not the test order.
    _page(admin_client, small.pk)
    counts = []
    for session in (small, large):
        with CaptureQueriesContext(connection) as queries:
            _page(admin_client, session.pk)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1] <= 4


def test_sessions_are_read_only_by_default(admin_client):
    session = make_session(graph_id="claims")
    assert admin_client.get(reverse("admin:graphflow_sessions_session_add")).status_code == 403
    html = _page(admin_client, session.pk)
    assert 'name="graph_id"' not in html
    assert 'name="_save"' not in html
    response = admin_client.post(_change_url(session.pk), {"graph_id": "changed"})
    assert response.status_code == 403
    assert Session.objects.get(pk=session.pk).graph_id == "claims"


def test_delete_needs_the_delete_permission(client):
    session = make_session()
    client.force_login(staff_user("view_session"))
    assert client.get(_change_url(session.pk)).status_code == 200
    delete_url = reverse("admin:graphflow_sessions_session_delete", args=[session.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Session.objects.filter(pk=session.pk).exists()


def test_a_user_with_the_delete_permission_can_delete(client):
    session = make_session()
    client.force_login(staff_user("view_session", "delete_session"))
    delete_url = reverse("admin:graphflow_sessions_session_delete", args=[session.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Session.objects.filter(pk=session.pk).exists()


def test_delete_selected_from_the_list(admin_client):
    keep, drop = make_session(), make_session()
    response = admin_client.post(
        reverse("admin:graphflow_sessions_session_changelist"),
        {"action": "delete_selected", "_selected_action": [str(drop.pk)], "post": "yes"},
    )
    assert response.status_code == 302
    assert list(Session.objects.values_list("pk", flat=True)) == [keep.pk]


def test_a_missing_session_redirects_with_a_message(admin_client):
    response = admin_client.get(_change_url("6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e11"))
    assert response.status_code == 302


@pytest.mark.parametrize("session_id", ["not-a-uuid", "6f1c2a4e", "x" * 40])
def test_an_id_no_uuid_table_holds_redirects_like_a_missing_session(admin_client, session_id):
    response = admin_client.get(_change_url(session_id))
    assert response.status_code == 302


@pytest.mark.parametrize(("asked", "first_shown"), [("abc", 1), ("0", 1), ("999", 21), ("2", 11)])
def test_a_transcript_page_out_of_range_shows_the_nearest_page(admin_client, asked, first_shown):
    session = make_session(context=chat_context(25))
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_TRANSCRIPT_PAGE_SIZE": 10}):
        html = _page(admin_client, session.pk, transcript_page=asked)
    assert _messages(html)[0][1] == first_shown
