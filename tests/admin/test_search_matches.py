"""A session page opened from a search: matches marked, counted, and reachable across pages."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test.utils import override_settings
from django.urls import reverse

from tests.support.admin import XSS_SCRIPT, chat_context, make_session

pytestmark = pytest.mark.django_db


def _page(client, session_id, **params) -> str:
    url = reverse("admin:graphflow_sessions_session_change", args=[session_id])
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def _marked_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-number="(\d+)"[^>]*data-match', html)]


def _link(html: str, css_class: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" class="{css_class}"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _session_with(texts: dict[int, str], total: int):
    """A session of ``total`` messages; message number n (1-based) says ``texts[n]``."""
    context = chat_context(0)
    for number in range(1, total + 1):
        context.add_message("User", texts.get(number, f"filler {number}"))
    return make_session(context=context)


def test_the_list_query_carried_to_the_page_marks_the_matches(admin_client):
    session = _session_with({2: "Your claim for the Blue Volvo is approved"}, 3)
    html = _page(admin_client, session.pk, _changelist_filters=urlencode({"q": "volvo"}))
    assert "Blue <mark>Volvo</mark> is approved" in html
    assert _marked_numbers(html) == [2]
    assert "1 message matches “volvo”" in html


def test_q_marks_every_term_ignoring_case_and_accents(admin_client):
    session = _session_with({1: "Herr MÜLLER called", 2: "Müller again, ref QUOKKA-7"}, 3)
    html = _page(admin_client, session.pk, q="muller quok*")
    assert "Herr <mark>MÜLLER</mark> called" in html
    assert "<mark>Müller</mark> again, ref <mark>QUOK</mark>KA-7" in html
    assert "2 messages match “muller quok*”" in html


def test_a_marked_message_is_still_escaped(admin_client):
    session = _session_with({1: f"{XSS_SCRIPT} volvo <b>"}, 1)
    html = _page(admin_client, session.pk, q="script volvo")
    assert (
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; "
        "<mark>volvo</mark> &lt;b&gt;"
    ) in html
    assert XSS_SCRIPT not in html


def test_next_and_previous_match_jump_across_transcript_pages(admin_client):
    session = _session_with({5: "needle one", 15: "needle two", 33: "needle three"}, 45)
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_TRANSCRIPT_PAGE_SIZE": 10}):
        first = _page(admin_client, session.pk, q="needle")
        assert _marked_numbers(first) == [5]
        assert "3 messages match “needle”" in first
        assert '<a href="#message-5" class="gfs-match-here">1 on this page</a>' in first
        assert _link(first, "gfs-previous-match") is None
        next_url = _link(first, "gfs-next-match")
        assert next_url.endswith("#message-15") and "transcript_page=2" in next_url
        assert "q=needle" in next_url

        second = _page(admin_client, session.pk, q="needle", transcript_page="2")
        assert _marked_numbers(second) == [15]
        assert "transcript_page=1" in _link(second, "gfs-previous-match")
        assert _link(second, "gfs-previous-match").endswith("#message-5")
        # Page 3 holds no match: the next one is on page 4.
        assert _link(second, "gfs-next-match").endswith("#message-33")
        assert "transcript_page=4" in _link(second, "gfs-next-match")

        last = _page(admin_client, session.pk, q="needle", transcript_page="4")
        assert _marked_numbers(last) == [33]
        assert _link(last, "gfs-next-match") is None


def test_a_page_opened_from_a_search_starts_at_the_first_match(admin_client):
    session = _session_with({25: "needle"}, 45)
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_TRANSCRIPT_PAGE_SIZE": 10}):
        html = _page(admin_client, session.pk, q="needle")
        assert "Page 3 of 5" in html and _marked_numbers(html) == [25]
        # Without a search the transcript opens at its first page, as before.
        assert "Page 1 of 5" in _page(admin_client, session.pk)


def test_a_search_that_matches_no_message_says_so(admin_client):
    session = _session_with({}, 3)
    html = _page(admin_client, session.pk, q="absent")
    assert "0 messages match “absent”" in html
    assert _marked_numbers(html) == []


def test_an_id_search_marks_nothing(admin_client):
    session = _session_with({1: "6f1c2a4e in a message"}, 1)
    html = _page(admin_client, session.pk, q="6f1c2a4e")
    assert "gfs-match-nav" not in html and "<mark>" not in html
