"""The admin overview: every number against a hand-computed fixture, its links, who may see
it, its cache, escaping, and a fixed number of queries on a table estimated at 2,000,000."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from graphflow_sessions.models import Session
from graphflow_sessions.retention import prune_sessions
from tests.support.admin import (
    RUST_TASK,
    XSS_IMG,
    XSS_SCRIPT,
    chat_context,
    insert_raw,
    make_session,
)

pytestmark = pytest.mark.django_db

OVERVIEW_URL = "admin:graphflow_sessions_session_overview"
LIST_URL = "admin:graphflow_sessions_session_changelist"

FINISHED = {"claims": ["done"]}
RETENTION = {"RETENTION_DAYS": 30, "RETENTION_DAYS_BY_GRAPH": {"claims": 7, "raw": None}}


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.GRAPHFLOW_SESSIONS = {
        "ADMIN_OVERVIEW_CACHE_SECONDS": 0,
        "ADMIN_OVERVIEW_FINISHED_TASKS": FINISHED,
        **RETENTION,
    }


def _history(messages: int, max_messages: int | None) -> dict:
    """A raw context, so a history may be longer than its limit (no trim on append)."""
    return {
        "data": {},
        "chat_history": {
            "messages": [
                {"role": "User", "content": f"m{i}", "timestamp": "2026-03-01T12:00:00Z"}
                for i in range(messages)
            ],
            "max_messages": max_messages,
        },
    }


def _stamp(session_id, *, created: datetime | None, updated: datetime | None) -> None:
    Session.objects.filter(pk=session_id).update(created_at=created, updated_at=updated)


class Fixture:
    """Nine sessions; ``c``/``u`` are how long ago each was created/updated."""

    def __init__(self) -> None:
        self.now = now = timezone.now()
        hour, day = timedelta(hours=1), timedelta(days=1)
        rows = {
            "s1": ("claims", "ask", hour, 0.5 * hour, _history(3, None)),
            "s2": ("claims", "ask", 2 * day, 5 * hour, _history(12, 13)),
            "s3": ("claims", "ask", 3 * day, 3 * day, _history(0, 10)),
            "s4": ("claims", "review", 40 * day, 10 * day, _history(60, 50)),
            "s5": ("claims", "done", 5 * day, 2 * hour, _history(5, 5)),
            "s6": ("support", "answer", 40 * day, 40 * day, _history(1, None)),
            "s7": ("support", "answer", 10 * hour, hour / 3, _history(9, 100)),
            "s8": ("raw", RUST_TASK, timedelta(0), timedelta(0), None),
            "s9": ("support", "answer", None, None, _history(2, None)),
        }
        self.created: dict[str, datetime | None] = {}
        self.updated: dict[str, datetime | None] = {}
        self.ids = {}
        for name, (graph, task, created_ago, updated_ago, context) in rows.items():
            if context is None:  # a history that is not a list: breaks the contract
                context = {"data": {}, "chat_history": {"messages": 3}}
            session_id = insert_raw(context, graph_id=graph, task=task)
            created = None if created_ago is None else now - created_ago
            updated = None if updated_ago is None else now - updated_ago
            _stamp(session_id, created=created, updated=updated)
            self.ids[name] = session_id
            self.created[name], self.updated[name] = created, updated

    def per_day(self, stamps: dict[str, datetime | None], days: int) -> list[int]:
        today = timezone.localdate(self.now)
        dates = Counter(timezone.localdate(moment) for moment in stamps.values() if moment)
        return [dates[today - timedelta(days=offset)] for offset in range(days - 1, -1, -1)]


@pytest.fixture
def fixture() -> Fixture:
    return Fixture()


def _overview(client, **params):
    response = client.get(reverse(OVERVIEW_URL), params)
    assert response.status_code == 200, response.content[:500]
    return response


def _graph(response, graph_id):
    (entry,) = [g for g in response.context["graphs"] if g["graph"].graph_id == graph_id]
    return entry


def _waiting(entry) -> dict[str, tuple[int, list[int], int]]:
    return {
        row["task"].task_id: (
            row["task"].total,
            [bucket["count"] for bucket in row["buckets"]],
            row["task"].unknown,
        )
        for row in entry["waiting"]
    }


def _row_bytes() -> dict[str, int]:
    """Each row's stored bytes, summed column by column by PostgreSQL itself."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, pg_column_size(id) + pg_column_size(graph_id) "
            "+ pg_column_size(current_task_id) + COALESCE(pg_column_size(status_message), 0) "
            "+ pg_column_size(context) + COALESCE(pg_column_size(created_at), 0) "
            "+ COALESCE(pg_column_size(updated_at), 0) + pg_column_size(version) FROM sessions"
        )
        return dict(cursor.fetchall())


def test_sessions_started_and_updated_per_day(admin_client, fixture):
    for days in (30, 90):
        overview = _overview(admin_client, days=days).context["overview"]
        assert overview.days == days
        assert [d.sessions for d in overview.started] == fixture.per_day(
            {k: v for k, v in fixture.created.items() if k not in ("s4", "s6")}
            if days == 30
            else fixture.created,
            days,
        )
        assert [d.sessions for d in overview.updated] == fixture.per_day(
            {k: v for k, v in fixture.updated.items() if k != "s6"}
            if days == 30
            else fixture.updated,
            days,
        )
        assert overview.started[-1].day == timezone.localdate(fixture.now)
        assert overview.sessions == 9


def test_an_unknown_days_choice_shows_30_days(admin_client, fixture):
    assert _overview(admin_client, days="7").context["overview"].days == 30
    assert _overview(admin_client, days="x").context["overview"].days == 30


def test_where_sessions_wait_per_graph_task_and_idle_time(admin_client, fixture):
    response = _overview(admin_client)
    assert [g["graph"].graph_id for g in response.context["graphs"]] == ["claims", "support", "raw"]
    claims = _graph(response, "claims")
    assert (claims["graph"].sessions, claims["graph"].in_progress, claims["graph"].finished) == (
        5,
        4,
        1,
    )
    # Buckets: under 1 h, 1 h - 1 day, 1 - 7 days, over 7 days; then NULL updated_at.
    assert _waiting(claims) == {"ask": (3, [1, 1, 1, 0], 0), "review": (1, [0, 0, 0, 1], 0)}
    assert [(row["task"].task_id, row["task"].total) for row in claims["done"]] == [("done", 1)]
    support = _graph(response, "support")
    assert (support["graph"].sessions, support["graph"].finished) == (3, 0)
    assert _waiting(support) == {"answer": (3, [1, 0, 0, 1], 1)}
    assert _waiting(_graph(response, "raw")) == {RUST_TASK: (1, [1, 0, 0, 0], 0)}
    html = response.content.decode()
    assert 'class="gfs-graph-finished">1</span> finished' in html


def test_without_finished_tasks_every_session_waits(admin_client, settings, fixture):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_OVERVIEW_CACHE_SECONDS": 0}
    response = _overview(admin_client)
    claims = _graph(response, "claims")
    assert (claims["graph"].in_progress, claims["graph"].finished, claims["done"]) == (5, 0, [])
    assert _waiting(claims)["done"] == (1, [0, 1, 0, 0], 0)
    assert "No task is configured as finished" in response.content.decode()


def finished_when_named_done(graph_id: str, task_id: str) -> bool:
    return task_id.endswith("done") or graph_id == "raw"


def test_finished_tasks_from_a_dotted_path(admin_client, settings, fixture):
    settings.GRAPHFLOW_SESSIONS = {
        "ADMIN_OVERVIEW_CACHE_SECONDS": 0,
        "ADMIN_OVERVIEW_FINISHED_TASKS": f"{__name__}.finished_when_named_done",
    }
    response = _overview(admin_client)
    assert _graph(response, "claims")["graph"].finished == 1
    assert _graph(response, "raw")["graph"].finished == 1
    assert _graph(response, "support")["graph"].finished == 0


def test_finished_tasks_for_every_graph(admin_client, settings, fixture):
    settings.GRAPHFLOW_SESSIONS = {
        "ADMIN_OVERVIEW_CACHE_SECONDS": 0,
        "ADMIN_OVERVIEW_FINISHED_TASKS": {"*": ["answer"]},
    }
    response = _overview(admin_client)
    assert _graph(response, "support")["graph"].finished == 3
    assert _graph(response, "claims")["graph"].finished == 0


def test_finished_tasks_of_the_wrong_type_say_what_is_expected(admin_client, settings, fixture):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_OVERVIEW_FINISHED_TASKS": ["done"]}
    with pytest.raises(ValueError, match=r"must be a dict \{graph_id: \[task_id, \.\.\.\]\}"):
        admin_client.get(reverse(OVERVIEW_URL))


def test_each_wait_link_lists_exactly_the_sessions_it_counts(admin_client, fixture):
    response = _overview(admin_client)
    expected = {
        ("claims", "ask", 0): {"s1"},
        ("claims", "ask", 1): {"s2"},
        ("claims", "ask", 2): {"s3"},
        ("claims", "review", 3): {"s4"},
        ("support", "answer", 0): {"s7"},
        ("support", "answer", 3): {"s6"},
        ("raw", RUST_TASK, 0): {"s8"},
    }
    seen = {}
    for entry in response.context["graphs"]:
        for row in entry["waiting"]:
            for index, bucket in enumerate(row["buckets"]):
                if bucket["count"]:
                    seen[(entry["graph"].graph_id, row["task"].task_id, index)] = bucket["url"]
            if row["task"].unknown:
                shown = admin_client.get(row["unknown_url"]).context["cl"].result_list
                assert {str(s.pk) for s in shown} == {str(fixture.ids["s9"])}
    assert set(seen) == set(expected)
    for key, url in seen.items():
        assert url.startswith(reverse(LIST_URL) + "?")
        shown = admin_client.get(url).context["cl"].result_list
        assert {str(s.pk) for s in shown} == {str(fixture.ids[n]) for n in expected[key]}, key
    # The same links are on the page, as bars and as numbers.
    html = response.content.decode()
    for url in seen.values():
        assert html.count(f'href="{url.replace("&", "&amp;")}"') == 2


def test_each_age_link_lists_exactly_the_rows_it_counts(admin_client, fixture):
    by_age = _overview(admin_client).context["by_age"]
    expected = {"day": {"s1", "s2", "s5", "s7", "s8"}, "week": {"s3"}, "month": {"s4"}}
    expected["quarter"] = {"s6"}
    for entry in by_age:
        names = expected.get(entry["row"].key, set())
        assert entry["row"].rows == len(names)
        shown = admin_client.get(entry["url"]).context["cl"].result_list
        assert {str(s.pk) for s in shown} == {str(fixture.ids[n]) for n in names}


@pytest.mark.postgres
def test_a_sample_is_taken_only_of_one_select_from_the_table():
    from graphflow_sessions.storage import sql

    statement = 'SELECT 1 FROM "sessions" WHERE "sessions"."graph_id" = %s'
    assert sql.table_sample(connection, statement, 5) == (
        'SELECT 1 FROM "sessions" TABLESAMPLE SYSTEM (5.0000) REPEATABLE (0) '
        'WHERE "sessions"."graph_id" = %s'
    )
    with pytest.raises(ValueError, match="one SELECT from the sessions table"):
        sql.table_sample(
            connection, 'SELECT 1 FROM "sessions" WHERE 1 IN (SELECT 1 FROM "sessions")', 5
        )
    with pytest.raises(ValueError, match="one SELECT from the sessions table"):
        sql.table_sample(connection, "SELECT 1", 5)


def test_message_volume(admin_client, fixture):
    history = _overview(admin_client).context["overview"].history
    assert (history.sampled, history.complete) == (9, True)
    assert history.lengths == {
        "0": 1,
        "1-9": 5,
        "10-49": 1,
        "50-99": 1,
        "100-499": 0,
        "500-999": 0,
        "1000+": 0,
    }
    assert history.unreadable == 1
    assert (history.limited, history.near_limit, history.over_limit) == (5, 2, 1)


def test_message_volume_reads_only_the_newest_sessions(admin_client, settings, fixture):
    Session.objects.filter(pk=fixture.ids["s9"]).delete()  # NULL updated_at sorts apart
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_OVERVIEW_CACHE_SECONDS": 0, "ADMIN_OVERVIEW_SAMPLE": 3}
    response = _overview(admin_client)
    history = response.context["overview"].history
    # s8 (now, unreadable), s7 (9 of 100), s1 (3, unbounded).
    assert (history.sampled, history.complete) == (3, False)
    assert history.lengths["1-9"] == 2 and sum(history.lengths.values()) == 2
    assert (history.unreadable, history.limited, history.near_limit) == (1, 1, 0)
    assert "the 3 most recently updated sessions" in response.content.decode()


def test_rows_by_age_and_the_prune_preview(admin_client, fixture, on_postgres):
    response = _overview(admin_client)
    storage = response.context["overview"].storage
    by_age = {row.key: row.rows for row in storage.by_age}
    assert by_age == {"day": 5, "week": 1, "month": 1, "quarter": 1, "year": 0, "older": 0}
    assert storage.unknown_age_rows == 1
    prune = [(p.rule, p.rows) for p in storage.prune]
    assert prune == [
        ("graph 'claims', not updated for 1w", 1),
        ("graphs other than 'claims', 'raw', not updated for 30d", 1),
    ]
    # The same rules and counts as the command's dry run.
    dry_run = prune_sessions(dry_run=True)
    assert [(rule.describe(), count) for rule, _, count in dry_run.rules] == prune
    assert Session.objects.count() == 9  # a preview deletes nothing
    html = response.content.decode()
    if on_postgres:
        sizes = _row_bytes()
        name = {str(v): k for k, v in fixture.ids.items()}
        by_name = {name[pk]: size for pk, size in sizes.items()}
        bytes_by_age = {row.key: row.bytes for row in storage.by_age}
        assert bytes_by_age == {
            "day": sum(by_name[n] for n in ("s1", "s2", "s5", "s7", "s8")),
            "week": by_name["s3"],
            "month": by_name["s4"],
            "quarter": by_name["s6"],
            "year": 0,
            "older": 0,
        }
        assert storage.unknown_age_bytes == by_name["s9"]
        assert [p.bytes for p in storage.prune] == [by_name["s4"], by_name["s6"]]
        assert "are shown on PostgreSQL only" not in html
    else:
        assert all(row.bytes is None for row in storage.by_age)
        assert "are shown on PostgreSQL only" in html


def test_a_max_messages_that_is_not_a_number_is_no_limit(admin_client):
    insert_raw(_history(3, None) | {"chat_history": {"messages": [], "max_messages": "ten"}})
    insert_raw(_history(4, 4))
    history = _overview(admin_client).context["overview"].history
    assert (history.limited, history.near_limit, history.over_limit) == (1, 1, 0)
    assert history.lengths["0"] == 1 and history.lengths["1-9"] == 1


def test_without_retention_the_preview_says_nothing_would_be_deleted(
    admin_client, settings, fixture
):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_OVERVIEW_CACHE_SECONDS": 0}
    response = _overview(admin_client)
    assert response.context["overview"].storage.prune == []
    assert "pruning would delete nothing" in response.content.decode()


@pytest.mark.postgres
def test_table_sizes_and_the_largest_sessions(admin_client, fixture):
    big = make_session(graph_id="claims", task="ask", context=chat_context(400))
    response = _overview(admin_client)
    storage = response.context["overview"].storage
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size('sessions'), pg_total_relation_size(reltoastrelid), "
            "pg_indexes_size('sessions'), pg_total_relation_size('sessions') "
            "FROM pg_class WHERE oid = 'sessions'::regclass"
        )
        heap, toast, indexes, total = cursor.fetchone()
    assert (storage.table_bytes, storage.toast_bytes, storage.index_bytes) == (heap, toast, indexes)
    assert storage.total_bytes == total
    assert storage.toast_bytes > 0  # 400 messages do not fit in a row
    sizes = _row_bytes()
    expected = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [(str(s.pk), s.bytes) for s in storage.largest] == expected
    assert str(storage.largest[0].pk) == str(big.pk)
    change = reverse("admin:graphflow_sessions_session_change", args=[big.pk])
    assert f'href="{change}"' in response.content.decode()


@pytest.mark.postgres
def test_a_fixed_number_of_queries_on_a_table_estimated_at_two_million_rows(admin_client):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            _overview(admin_client)
        return len(queries.captured_queries)

    make_session()
    few = count_queries()
    for index in range(30):
        make_session(graph_id=f"g{index % 7}", task=f"t{index % 5}")
    with connection.cursor() as cursor:
        # A superuser may set the planner's estimate; the test's transaction rolls it back.
        cursor.execute("UPDATE pg_class SET reltuples = 2000000 WHERE oid = 'sessions'::regclass")
    with CaptureQueriesContext(connection) as queries:
        response = _overview(admin_client)
    assert len(queries.captured_queries) == few
    overview_queries = [q["sql"] for q in queries.captured_queries if "sessions" in q["sql"]]
    assert len(overview_queries) == 7
    # Nothing reads the context column itself except the bounded message-volume sample.
    whole_context = re.compile(r'(SELECT|,)\s*"sessions"\."context"\s*(,|FROM)')
    assert not any(whole_context.search(sql) for sql in overview_queries)
    assert response.context["overview"].estimated_rows == 2_000_000
    assert '<td class="gfs-estimate">2000000</td>' in response.content.decode()


def test_the_numbers_are_cached_and_say_as_of_when(admin_client, settings, fixture):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_OVERVIEW_CACHE_SECONDS": 300}
    first = _overview(admin_client)
    assert first.context["overview"].sessions == 9
    make_session()
    with CaptureQueriesContext(connection) as queries:
        cached = _overview(admin_client)
    assert cached.context["overview"].sessions == 9
    assert cached.context["overview"].as_of == first.context["overview"].as_of
    assert not [q for q in queries.captured_queries if "sessions" in q["sql"]]
    html = cached.content.decode()
    assert "Numbers as of" in html and ", kept for 300 seconds." in html
    assert 'href="?days=30&amp;refresh=1"' in html
    assert _overview(admin_client, days=30, refresh=1).context["overview"].sessions == 10
    assert _overview(admin_client).context["overview"].sessions == 10


def test_hostile_graph_and_task_names_are_escaped(admin_client):
    for _ in range(2):
        make_session(graph_id=XSS_SCRIPT, task=XSS_IMG)
    html = _overview(admin_client).content.decode()
    assert XSS_SCRIPT not in html and XSS_IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.split('id="content-main"')[1]


def test_staff_need_the_view_permission(client, django_user_model, fixture):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(reverse(OVERVIEW_URL)).status_code == 403
    user.user_permissions.add(
        Permission.objects.get(
            codename="view_session", content_type__app_label="graphflow_sessions"
        )
    )
    assert client.get(reverse(OVERVIEW_URL)).status_code == 200


def test_non_staff_and_anonymous_users_are_sent_to_log_in(client, django_user_model):
    response = client.get(reverse(OVERVIEW_URL))
    assert response.status_code == 302 and "/login/" in response["Location"]
    user = django_user_model.objects.create_user("someone", password="pw")
    client.force_login(user)
    response = client.get(reverse(OVERVIEW_URL))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_list_and_the_app_index_link_to_the_overview(admin_client):
    url = reverse(OVERVIEW_URL)
    assert f'href="{url}"' in admin_client.get(reverse(LIST_URL)).content.decode()
    app_index = reverse("admin:app_list", args=["graphflow_sessions"])
    assert f'href="{url}"' in admin_client.get(app_index).content.decode()


def test_an_empty_table(admin_client):
    response = _overview(admin_client)
    overview = response.context["overview"]
    assert overview.sessions == 0 and overview.graphs == []
    assert all(day.sessions == 0 for day in overview.started)
    assert "No sessions yet." in response.content.decode()


@pytest.mark.postgres
def test_above_the_scan_limit_counts_are_estimated_from_a_sample(admin_client, settings):
    from benchmarks.loader import load_sessions

    load_sessions("default", 3000, 300)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sessions")
    settings.GRAPHFLOW_SESSIONS = {
        "ADMIN_OVERVIEW_CACHE_SECONDS": 0,
        "ADMIN_OVERVIEW_SCAN_LIMIT": 600,
    }
    with CaptureQueriesContext(connection) as queries:
        response = _overview(admin_client, days=90)
    overview = response.context["overview"]
    sampled = [q["sql"] for q in queries.captured_queries if "TABLESAMPLE SYSTEM" in q["sql"]]
    assert len(sampled) == 5  # every counting query; not the catalogue nor the history sample
    assert overview.sampled_rows is not None and 0 < overview.sampled_rows < 3000
    assert 3000 * 0.65 < overview.sessions < 3000 * 1.35
    true_recent = Session.objects.filter(
        updated_at__gte=overview.as_of - timedelta(days=90)
    ).count()
    estimated_recent = sum(day.sessions for day in overview.updated)
    assert true_recent * 0.6 < estimated_recent < true_recent * 1.4
    assert "estimated from a sample of" in response.content.decode()
    # The same pages each time: the numbers do not jump between views.
    again = _overview(admin_client, days=90).context["overview"]
    assert (again.sessions, again.sampled_rows) == (overview.sessions, overview.sampled_rows)
