"""REST API list pagination: a keyset cursor on (updated_at, id), newest first."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from graphflow_sessions.models import Session
from tests.support.api import APIClient, client_for, make_session, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> APIClient:
    return client_for(user("staff", staff=True))


def walk(client: APIClient, url: str, link: str = "next") -> list[list[str]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        url = body[link]
    return pages


def expected_order() -> list[str]:
    rows = Session.objects.values_list("updated_at", "id")
    nulls = sorted((row for row in rows if row[0] is None), key=lambda r: r[1], reverse=True)
    dated = sorted((row for row in rows if row[0] is not None), reverse=True)
    return [str(row_id) for _, row_id in nulls + dated]


def with_ties(count: int) -> None:
    """``count`` sessions, many sharing one updated_at, written in both timestamp forms."""
    moment = timezone.now() - timedelta(hours=1)
    for _ in range(count):
        make_session()  # the storage writes the database's NOW()
    for index, pk in enumerate(Session.objects.values_list("pk", flat=True)):
        if index % 3:  # two in three get one of two shared timestamps, written by the ORM
            Session.objects.filter(pk=pk).update(updated_at=moment + timedelta(seconds=index % 2))


def test_pages_cover_every_session_once_in_order_even_with_ties(staff: APIClient) -> None:
    with_ties(23)
    pages = walk(staff, "/api/sessions/?page_size=4")
    assert [len(page) for page in pages] == [4, 4, 4, 4, 4, 3]
    assert [row for page in pages for row in page] == expected_order()


def test_previous_links_walk_back_over_the_same_pages(staff: APIClient) -> None:
    with_ties(14)
    forward = walk(staff, "/api/sessions/?page_size=4")
    last = staff.get("/api/sessions/?page_size=4")
    url = last.json()["next"]
    while True:
        body = staff.get(url).json()
        if body["next"] is None:
            break
        url = body["next"]
    backward = walk(staff, url, link="previous")
    assert list(reversed(backward)) == forward
    assert staff.get("/api/sessions/?page_size=4").json()["previous"] is None


def test_paging_is_stable_while_rows_change(staff: APIClient) -> None:
    with_ties(20)
    before = expected_order()
    first = staff.get("/api/sessions/?page_size=5").json()
    seen = [row["id"] for row in first["results"]]
    # Meanwhile: a row further down is saved again (moves to the top), one is deleted,
    # and a new session arrives.
    moved, deleted = before[12], before[15]
    make_session(session_id=uuid.UUID(moved))
    Session.objects.filter(pk=deleted).delete()
    make_session()
    for page in walk(staff, first["next"]):
        seen.extend(page)
    assert len(seen) == len(set(seen))  # nothing twice
    unchanged = [row for row in before if row not in (moved, deleted)]
    assert [row for row in seen if row in unchanged] == unchanged  # nothing skipped, in order


def test_sessions_without_updated_at_come_first_and_are_paged_too(staff: APIClient) -> None:
    with_ties(9)
    nulls = list(Session.objects.values_list("pk", flat=True)[:3])
    Session.objects.filter(pk__in=nulls).update(updated_at=None)
    pages = walk(staff, "/api/sessions/?page_size=2")
    flat = [row for page in pages for row in page]
    assert flat == expected_order()
    assert set(flat[:3]) == {str(pk) for pk in nulls}
    last = staff.get("/api/sessions/?page_size=2")
    url = last.json()["next"]
    while staff.get(url).json()["next"]:
        url = staff.get(url).json()["next"]
    assert [row for page in reversed(walk(staff, url, "previous")) for row in page] == flat


def test_the_page_size_is_capped(staff: APIClient) -> None:
    for _ in range(6):
        make_session()
    with override_settings(GRAPHFLOW_SESSIONS={"API_PAGE_SIZE": 2, "API_MAX_PAGE_SIZE": 4}):
        assert len(staff.get("/api/sessions/").json()["results"]) == 2
        assert len(staff.get("/api/sessions/?page_size=100").json()["results"]) == 4


@pytest.mark.parametrize(
    "query", ["cursor=garbage", "cursor=WyJ4IiwieSIsMF0", "page_size=0", "page_size=x"]
)
def test_a_bad_cursor_or_page_size_is_400(staff: APIClient, query: str) -> None:
    make_session()
    assert staff.get(f"/api/sessions/?{query}").status_code == 400


def test_a_deep_page_costs_the_two_queries_of_the_first(staff: APIClient) -> None:
    # The page (a keyset range, no OFFSET), then the summaries of its rows.
    with_ties(12)
    url: Any = staff.get("/api/sessions/?page_size=3").json()["next"]
    url = staff.get(url).json()["next"]
    with CaptureQueriesContext(connection) as queries:
        assert staff.get(url).status_code == 200
    page, summaries = [q["sql"] for q in queries.captured_queries if '"sessions"' in q["sql"]]
    assert "OFFSET" not in page and "LIMIT 4" in page
    assert "OFFSET" not in summaries.replace("OFFSET 0", "") and "LIMIT" not in summaries


def test_a_cursor_with_an_offset_the_database_refuses_is_answered(staff: APIClient) -> None:
    import base64
    import json

    make_session()
    payload = json.dumps(["0086-11-26T23:49:49+23:09", str(uuid.uuid4()), 0]).encode()
    cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    assert staff.get(f"/api/sessions/?cursor={cursor}").status_code in (200, 400)
