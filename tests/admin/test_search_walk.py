"""A search for a common word walks the list in its order, checking each session: the
admin's count and date drill-down read it that way too, never checking every session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from graphflow_sessions.admin import SessionAdmin
from graphflow_sessions.models import Session
from graphflow_sessions.search import postgres
from graphflow_sessions.search.sessions import search_sessions
from tests.support.admin import BASE_TIME, chat_context, make_session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

LIST_URL = "admin:graphflow_sessions_session_changelist"


@pytest.fixture
def common_words(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every word counts as common (a test table has no statistics that would say so).
    monkeypatch.setattr(postgres, "COMMON_SHARE", 0.0)


@pytest.fixture
def two_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SessionAdmin, "list_per_page", 2)


def _refund_sessions(count: int) -> list[Session]:
    return [
        make_session(
            context=chat_context(1, data={"note": "refund"}),
            updated_at=BASE_TIME + timedelta(days=400 * n),
        )
        for n in range(count)
    ]


@pytest.mark.usefixtures("common_words", "two_per_page")
def test_a_walked_search_is_counted_in_list_order_up_to_the_next_page(admin_client):
    sessions = _refund_sessions(7)
    make_session(context=chat_context(1, data={"note": "other"}))
    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get(reverse(LIST_URL), {"q": "refund"})
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert "more than 4 sessions" in first.content.decode()
    assert first.context["cl"].paginator.num_pages == 3
    newest = [str(s.pk) for s in reversed(sessions)]
    assert [str(o.pk) for o in first.context["cl"].result_list] == newest[:2]
    last = admin_client.get(reverse(LIST_URL), {"q": "refund", "p": 4})
    assert "7 sessions" in last.content.decode()
    assert [str(o.pk) for o in last.context["cl"].result_list] == newest[6:]
    bad_page = admin_client.get(reverse(LIST_URL), {"q": "refund", "p": "x"})
    assert bad_page.status_code == 200


@pytest.mark.usefixtures("common_words")
def test_a_walked_searchs_date_range_is_read_from_the_date_index_ends(admin_client):
    _refund_sessions(3)  # 2026, 2027, 2028 (BASE_TIME + 0, 400, 800 days)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse(LIST_URL), {"q": "refund"})
    html = response.content.decode()
    for year in ("2026", "2027", "2028"):
        assert f"updated_at__year={year}" in html
    ranges = [q["sql"] for q in queries.captured_queries if 'MIN("sessions"' in q["sql"]]
    # The bare column: PostgreSQL reads each end of the updated_at index until a match.
    assert ranges and all("COALESCE" not in sql for sql in ranges)


def test_a_rare_words_date_range_is_aggregated_over_the_sessions_found(admin_client):
    _refund_sessions(2)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(reverse(LIST_URL), {"q": "refund"})
    ranges = [q["sql"] for q in queries.captured_queries if 'MIN(COALESCE("sessions"' in q["sql"]]
    assert ranges


@pytest.mark.usefixtures("common_words")
def test_a_walked_search_checks_each_session_and_never_hashes_a_side_table():
    # Without OFFSET 0 in its EXISTS checks PostgreSQL chose to hash every matching row of
    # the side tables first on a table this size: at a million sessions and a common word,
    # a second per page instead of a few milliseconds.
    for n in range(300):
        make_session(context=chat_context(2, data={"note": f"refund {n}"}))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sessions")
        cursor.execute("ANALYZE gfs_search_message")
        cursor.execute("ANALYZE gfs_search_session")
    search = search_sessions(Session.objects.order_by("-updated_at"), "refund")
    assert search.walks_list
    statement, params = search.queryset.values_list("pk", flat=True).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "SubPlan" in plan and "hashed" not in plan
