"""The session list: columns, order, filters, fixed query counts, no context, no COUNT(*)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.utils import ConnectionDoesNotExist
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from graphflow_sessions.models import Session
from tests.support.admin import (
    BASE_TIME,
    RUST_TASK,
    chat_context,
    insert_raw,
    make_session,
    rust_context_json,
)

pytestmark = pytest.mark.django_db

LIST_URL = "admin:graphflow_sessions_session_changelist"


def _list(client, **params):
    response = client.get(reverse(LIST_URL), params)
    assert response.status_code == 200
    return response


def _shown_ids(response) -> list[str]:
    return [str(obj.pk) for obj in response.context["cl"].result_list]


def _sessions_selecting_context(queries) -> list[str]:
    # The context column as a selected value, not inside a JSON function.
    selected = re.compile(r'(SELECT|,)\s*"sessions"\."context"\s*(,|FROM)')
    return [q["sql"] for q in queries if selected.search(q["sql"])]


def test_list_shows_each_column(admin_client):
    session = make_session(
        graph_id="claims",
        task=RUST_TASK,
        status="Waiting for the customer to describe the damage " * 3,
        context=chat_context(4),
    )
    html = _list(admin_client).content.decode()
    full = str(session.pk)
    assert f'<code class="gfs-id" title="{full}">{full[:8]}</code>' in html
    assert "claims" in html
    # The task's last part, the whole path on hover.
    assert (
        f'<span class="gfs-task gfs-clamp" title="{RUST_TASK}">InitialClaimQueryTask</span>' in html
    )
    assert 'title="Waiting for the customer to describe the damage Waiting' in html
    assert ">Waiting for the customer to describe the damage Waiting for…</span>" in html
    assert '<td class="field-messages_count">4</td>' in html
    assert 'gfs-role-assistant">Assistant</span>' in html
    assert "message 4" in html


def test_each_rows_checkbox_is_the_element_djangos_own_renders(admin_client):
    from django.contrib import admin

    session = make_session(graph_id="claims", context=chat_context(1))
    html = _list(admin_client).content.decode()
    model_admin = admin.site.get_model_admin(Session)
    ours = model_admin.action_checkbox(session)
    assert ours == admin.ModelAdmin.action_checkbox(model_admin, session)
    assert f'<td class="action-checkbox">{ours}</td>' in html
    assert f'value="{session.pk}"' in ours


@pytest.mark.parametrize("params", [{}, {"graph_id": "cl<a>ims", "o": "-6"}])
def test_each_row_is_the_row_djangos_own_list_writes(admin_client, params):
    from django.contrib.admin.templatetags.admin_list import results

    from graphflow_sessions.admin.rows import session_results

    make_session(
        graph_id="cl<a>ims",
        task=RUST_TASK,
        status='Said "<b>hi</b>" & left',
        context=chat_context(3),
    )
    make_session(graph_id="cl<a>ims", task="plain", status=None, context=chat_context(0))
    insert_raw({"data": 1, "chat_history": {"messages": "not a list"}}, graph_id="cl<a>ims")
    response = _list(admin_client, **params)
    cl = response.context["cl"]
    ours = [list(row) for row in session_results(cl)]
    djangos = [list(row) for row in results(cl)]
    assert len(ours) == 3
    assert ours == djangos
    html = response.content.decode()
    assert all(cell in html for row in ours for cell in row)
    # The link keeps the list's filters, as Django's does.
    assert ("_changelist_filters=graph_id" in ours[0][1]) == bool(params)


def test_list_shows_most_recently_updated_first(admin_client):
    old = make_session(updated_at=BASE_TIME)
    new = make_session(updated_at=BASE_TIME + timedelta(days=2))
    middle = make_session(updated_at=BASE_TIME + timedelta(days=1))
    assert _shown_ids(_list(admin_client)) == [str(new.pk), str(middle.pk), str(old.pk)]


def test_list_never_loads_the_context_column(admin_client):
    big = chat_context(2, data={"blob": "x" * 300_000})
    big.add_message("User", "y" * 50_000)
    for _ in range(3):
        make_session(context=big)
    with CaptureQueriesContext(connection) as queries:
        response = _list(admin_client)
    assert _sessions_selecting_context(queries.captured_queries) == []
    assert all("context" in obj.get_deferred_fields() for obj in response.context["cl"].result_list)
    # The preview is cut by the database, so the page does not carry the 50,000 characters.
    assert len(response.content) < 100_000


def _query_count(client, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        _list(client, **(params or {}))
    return len(queries.captured_queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"graph_id": "claims"}, {"current_task_id": "ask"}, {"updated_at__year": "2026"}],
    ids=["plain", "graph filter", "task filter", "date drill-down"],
)
def test_list_query_count_does_not_grow_with_rows(admin_client, params):
    for _ in range(3):
        make_session(graph_id="claims")
    few = _query_count(admin_client, params)
    for _ in range(40):
        make_session(graph_id="claims", context=chat_context(30))
    assert _query_count(admin_client, params) == few
    # session + user, 2 filter choices, count estimate, bounded count, page, summaries,
    # date range: nine on PostgreSQL (eight on SQLite, which has no estimate to read; eight
    # on a large PostgreSQL table too, where the estimate replaces the count).
    assert few <= 9


def test_id_prefix_search_query_count_does_not_grow_with_rows(admin_client):
    first = make_session()
    few = _query_count(admin_client, {"q": str(first.pk)[:8]})
    for _ in range(40):
        make_session()
    assert _query_count(admin_client, {"q": str(first.pk)[:8]}) == few


@pytest.mark.postgres
def test_unfiltered_list_of_a_large_table_reads_the_row_estimate_instead_of_counting(
    admin_client,
):
    for _ in range(12):
        make_session()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sessions")
    with (
        override_settings(GRAPHFLOW_SESSIONS={"ADMIN_COUNT_LIMIT": 5}),
        CaptureQueriesContext(connection) as queries,
    ):
        response = _list(admin_client)
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert "about 12 sessions (estimated)" in response.content.decode()


def test_filtered_list_counts_only_up_to_the_limit(admin_client):
    for _ in range(8):
        make_session(graph_id="busy")
    with (
        override_settings(GRAPHFLOW_SESSIONS={"ADMIN_COUNT_LIMIT": 5}),
        CaptureQueriesContext(connection) as queries,
    ):
        response = _list(admin_client, graph_id="busy")
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 6" in counts[0]
    assert "more than 5 sessions" in response.content.decode()


def test_small_lists_show_the_exact_count(admin_client):
    make_session()
    make_session()
    assert "2 sessions" in _list(admin_client).content.decode()


def test_graph_and_task_filters_offer_the_distinct_values_and_narrow_the_list(admin_client):
    claims = make_session(graph_id="claims", task="ask")
    make_session(graph_id="support", task="answer")
    make_session(graph_id="support", task="ask")
    response = _list(admin_client)
    specs = {spec.title: spec for spec in response.context["cl"].filter_specs}
    assert [c for c, _ in specs["graph"].lookup_choices] == ["claims", "support"]
    assert [c for c, _ in specs["current task"].lookup_choices] == ["answer", "ask"]
    assert _shown_ids(_list(admin_client, graph_id="claims")) == [str(claims.pk)]
    assert len(_shown_ids(_list(admin_client, current_task_id="ask"))) == 2
    assert _shown_ids(_list(admin_client, graph_id="claims", current_task_id="answer")) == []


def test_a_filter_value_from_the_url_filters_even_when_not_offered(admin_client):
    make_session(graph_id="claims")
    assert _shown_ids(_list(admin_client, graph_id="not-a-graph")) == []


def test_created_date_filter_and_date_drill_down(admin_client):
    march = make_session(created_at=BASE_TIME, updated_at=BASE_TIME)
    april = make_session(
        created_at=BASE_TIME + timedelta(days=31), updated_at=BASE_TIME + timedelta(days=31)
    )
    response = _list(admin_client)
    html = response.content.decode()
    # Both in 2026, so the drill-down starts at months: March and April.
    assert "updated_at__month=3" in html and "updated_at__month=4" in html
    assert _shown_ids(_list(admin_client, updated_at__year=2026, updated_at__month=4)) == [
        str(april.pk)
    ]
    since = (BASE_TIME - timedelta(days=1)).isoformat()
    until = (BASE_TIME + timedelta(days=1)).isoformat()
    assert _shown_ids(_list(admin_client, created_at__gte=since, created_at__lt=until)) == [
        str(march.pk)
    ]


def test_rust_written_and_contract_breaking_rows_do_not_break_the_list(admin_client):
    rust = insert_raw(rust_context_json())
    insert_raw({"data": 1, "chat_history": {"messages": "not a list"}})
    insert_raw({"chat_history": {"messages": [1, None, {"role": "Robot"}]}})
    insert_raw("only a string")
    insert_raw([1, 2, 3])
    response = _list(admin_client)
    rows = {str(obj.pk): obj for obj in response.context["cl"].result_list}
    assert len(rows) == 5
    assert rows[str(rust)].message_count == 2
    assert rows[str(rust)].last_message_preview == "Sorry to hear that. What is the damage?"
    html = response.content.decode()
    assert html.count('<td class="field-messages_count">?</td>') == 3


def test_list_is_sorted_by_updated_or_created_on_request(admin_client):
    a = make_session(created_at=BASE_TIME, updated_at=BASE_TIME + timedelta(days=5))
    b = make_session(created_at=BASE_TIME + timedelta(days=1), updated_at=BASE_TIME)
    cl = _list(admin_client).context["cl"]
    created_index = list(cl.list_display).index("created")
    assert _shown_ids(_list(admin_client, o=f"-{created_index}")) == [str(b.pk), str(a.pk)]
    assert Session.objects.count() == 2


def test_list_reads_the_list_database_and_the_session_page_the_primary(admin_client):
    session = make_session()
    # An alias that does not exist proves which reads ask for it.
    with override_settings(GRAPHFLOW_SESSIONS={"REPLICA_DATABASE": "no_such_replica"}):
        with pytest.raises(ConnectionDoesNotExist):
            admin_client.get(reverse(LIST_URL))
        change = reverse("admin:graphflow_sessions_session_change", args=[session.pk])
        assert admin_client.get(change).status_code == 200


def test_list_runs_no_distinct_or_full_count_scans(admin_client):
    make_session(created_at=BASE_TIME, updated_at=BASE_TIME)
    make_session(updated_at=BASE_TIME + timedelta(days=400))
    for params in ({}, {"updated_at__year": "2026"}, {"updated_at__year": "2027"}):
        with CaptureQueriesContext(connection) as queries:
            html = _list(admin_client, **params).content.decode()
        sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
        assert "DISTINCT" not in sql or connection.vendor == "sqlite"  # SQLite's filter choices
        assert "DATE_TRUNC" not in sql and "DJANGO_DATETIME_TRUNC" not in sql
    # Two years apart: the drill-down offers both years (and the one between).
    html = _list(admin_client).content.decode()
    assert all(f"updated_at__year={year}" in html for year in (2026, 2027))


@pytest.mark.parametrize(
    "params",
    [
        {"graph_id": "\x00"},
        {"graph_id__exact": "\x00"},
        {"current_task_id": "\x00"},
        {"status_message__contains": "a\x00b"},
        {"graph_id__in": "claims,\x00"},
    ],
)
def test_a_filter_value_with_a_nul_character_is_an_admin_error_not_a_crash(admin_client, params):
    make_session(graph_id="claims")
    response = admin_client.get(reverse(LIST_URL), params)
    # The admin's answer to a filter value the database cannot compare: back to the list
    # with its error flag, as for any other invalid lookup.
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert _list(admin_client, e="1").context["cl"].result_count == 1


@pytest.mark.parametrize(
    ("task", "shown"),
    [
        (RUST_TASK, "InitialClaimQueryTask"),
        ("workflows/claims/collect_details", "collect_details"),
        ("crate::flows/step", "step"),
        ("plain", "plain"),
        ("ends::", "ends::"),
    ],
)
def test_the_list_shows_a_task_paths_last_part_and_the_whole_on_hover(admin_client, task, shown):
    make_session(task=task)
    html = _list(admin_client).content.decode()
    assert f'<span class="gfs-task gfs-clamp" title="{task}">{shown}</span>' in html


def test_list_and_session_page_write_times_the_same_way_in_the_viewers_zone(admin_client):
    session = make_session(created_at=BASE_TIME, updated_at=BASE_TIME + timedelta(hours=1))
    expected = (
        '<time class="gfs-time" datetime="2026-03-01T13:00:00.000Z" '
        'title="2026-03-01 22:00:00 JST (UTC+0900) · 2026-03-01T13:00:00.000Z UTC">'
        '<span class="gfs-day">2026-03-01</span> 22:00</time>'
    )
    with override_settings(TIME_ZONE="Asia/Tokyo"):
        listed = _list(admin_client).content.decode()
        page = admin_client.get(
            reverse("admin:graphflow_sessions_session_change", args=[session.pk])
        ).content.decode()
    assert f'<td class="field-updated">{expected}</td>' in listed
    assert expected in page  # the bookkeeping fields
