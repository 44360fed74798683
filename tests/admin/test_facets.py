"""Facet counts on the session list: off unless ADMIN_SHOW_FACETS, each count bounded."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.admin import make_session

pytestmark = pytest.mark.django_db

LIST_URL = "admin:graphflow_sessions_session_changelist"


@pytest.fixture
def sessions():
    for graph, count in (("claims", 3), ("support", 1)):
        for _ in range(count):
            make_session(graph_id=graph, task="ask")


def test_facets_are_off_by_default(admin_client, sessions):
    html = admin_client.get(reverse(LIST_URL), {"_facets": "True"}).content.decode()
    assert "claims (3)" not in html
    assert "Show counts" not in html


def test_facets_show_counts_when_turned_on(admin_client, settings, sessions):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_SHOW_FACETS": True}
    html = admin_client.get(reverse(LIST_URL)).content.decode()
    assert "Show counts" in html and "claims (3)" not in html
    html = admin_client.get(reverse(LIST_URL), {"_facets": "True"}).content.decode()
    assert "claims (3)" in html and "support (1)" in html and "ask (4)" in html
    # The counts are of the list as filtered by the other filters.
    html = admin_client.get(
        reverse(LIST_URL), {"_facets": "True", "graph_id": "support"}
    ).content.decode()
    assert "ask (1)" in html and "claims (3)" in html


def test_each_facet_is_counted_only_up_to_the_count_limit(admin_client, settings, sessions):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_SHOW_FACETS": True, "ADMIN_COUNT_LIMIT": 2}
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(reverse(LIST_URL), {"_facets": "True"}).content.decode()
    assert "claims (2+)" in html and "support (1)" in html and "ask (2+)" in html
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 3" in sql for sql in counts if "sessions" in sql)
