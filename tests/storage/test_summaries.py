"""What a list shows of each history, for a page: ``SessionQuerySet.summarize`` gives what
``with_summary`` computes, for any stored shape, reading each context once."""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from graphflow_sessions.expressions import PREVIEW_CHARS
from graphflow_sessions.models import SUMMARY_FIELDS, Session
from tests.support.admin import insert_raw, rust_context_json

pytestmark = pytest.mark.django_db


def history(*contents: str) -> dict[str, Any]:
    return {
        "data": {},
        "chat_history": {
            "messages": [
                {"role": "Assistant", "content": text, "timestamp": "2026-03-01T10:00:00Z"}
                for text in contents
            ],
            "max_messages": None,
        },
    }


def test_summaries_equal_the_annotations_for_every_stored_shape() -> None:
    ids = [
        insert_raw(rust_context_json()),
        insert_raw(history("short", "é" * (PREVIEW_CHARS + 50))),
        insert_raw(history()),
        insert_raw({"data": 1, "chat_history": {"messages": "not a list"}}),
        insert_raw({"chat_history": {"messages": [1, None, {"role": "Robot"}]}}),
        insert_raw("only a string"),
        insert_raw([1, 2, 3]),
    ]
    annotated = {
        row["pk"]: row
        for row in Session.objects.with_summary().values(
            "pk", "message_count", "last_message_role", "last_message_preview"
        )
    }
    rows = list(Session.objects.defer("context").filter(pk__in=ids))
    gone = Session(id=uuid.uuid4())
    Session.objects.summarize([*rows, gone])
    for row in rows:
        expected = annotated[row.pk]
        assert (row.message_count, row.last_message_role, row.last_message_preview) == (
            expected["message_count"],
            expected["last_message_role"],
            expected["last_message_preview"],
        ), row.pk
    by_id = {row.pk: row for row in rows}
    assert by_id[ids[1]].last_message_preview == "é" * PREVIEW_CHARS
    assert by_id[ids[1]].last_message_at == "2026-03-01T10:00:00Z"
    assert by_id[ids[2]].message_count == 0
    assert all(getattr(gone, name) is None for name in SUMMARY_FIELDS)


def _buffers(statement: str, params: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", params)
        top = cursor.fetchone()[0][0]["Plan"]
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


@pytest.mark.postgres
def test_a_summary_reads_a_long_context_once() -> None:
    # Random text does not compress: the context lies in ~130 TOAST pages, read in full by
    # each expression that takes it.
    rng = random.Random(5)
    long_text = "".join(rng.choices(string.ascii_letters, k=1_000_000))
    session_id = insert_raw(history(long_text, "the last one"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size(reltoastrelid) / current_setting('block_size')::int "
            "FROM pg_class WHERE oid = 'sessions'::regclass"
        )
        toast_pages = int(cursor.fetchone()[0])
    assert toast_pages > 100
    row = Session.objects.defer("context").get(pk=session_id)
    with CaptureQueriesContext(connection) as queries:
        Session.objects.summarize([row])
    assert (row.message_count, row.last_message_preview) == (2, "the last one")
    (summary,) = queries.captured_queries
    annotated, params = Session.objects.with_summary().filter(pk=session_id).query.sql_with_params()
    # with_summary reads it four times (twice for the count): the test tells once from more.
    assert _buffers(annotated, params) > 3 * toast_pages
    assert _buffers(summary["sql"], []) < 1.5 * toast_pages
