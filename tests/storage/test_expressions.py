"""Expressions over the stored context, computed by the database: the trimming ones on any
stored shape, and any of them inside a hand-written statement."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections

from graphflow_sessions.expressions import (
    HistoryOverLimit,
    MessageCount,
    TrimmedHistory,
    expression_sql,
)
from graphflow_sessions.models import Session
from tests.support.admin import insert_raw

pytestmark = pytest.mark.django_db


def stored(messages: int, max_messages: Any) -> dict[str, Any]:
    return {
        "data": {"claim": {"amount": 900}},
        "chat_history": {
            "messages": [
                {"role": "User", "content": f"message {n}", "timestamp": "2026-01-01T00:00:00Z"}
                for n in range(messages)
            ],
            "max_messages": max_messages,
        },
    }


@pytest.mark.postgres
def test_a_history_is_over_its_limit_only_when_a_list_is_longer_than_its_number() -> None:
    rows = {
        insert_raw(stored(5, 2)): True,
        insert_raw(stored(2, 2)): False,
        insert_raw(stored(9, None)): False,
        insert_raw(stored(5, "2")): False,
        insert_raw({"data": {}, "chat_history": {"messages": "many", "max_messages": 1}}): False,
        insert_raw(["not", "an", "object"]): False,
    }

    over = dict(Session.objects.annotate(over=HistoryOverLimit()).values_list("id", "over"))

    assert over == rows
    assert list(Session.objects.filter(HistoryOverLimit()).values_list("id", flat=True)) == [
        session_id for session_id, is_over in rows.items() if is_over
    ]


@pytest.mark.postgres
def test_a_trimmed_history_keeps_the_newest_messages_and_the_rest_of_the_context() -> None:
    five = insert_raw(stored(5, 2))
    to_zero = insert_raw(stored(3, 0))

    trimmed = dict(Session.objects.annotate(t=TrimmedHistory()).values_list("id", "t"))

    assert trimmed[five] == {
        "data": {"claim": {"amount": 900}},
        "chat_history": {
            "messages": stored(5, 2)["chat_history"]["messages"][3:],
            "max_messages": 2,
        },
    }
    assert trimmed[to_zero]["chat_history"] == {"messages": [], "max_messages": 0}


def test_an_expression_in_a_hand_written_statement_names_the_column_by_its_table() -> None:
    session_id = insert_raw(stored(4, None))
    connection = connections["default"]

    sql, params = expression_sql(Session, MessageCount(), "default")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql} FROM sessions WHERE id = %s",
            [*params, Session._meta.pk.get_db_prep_value(session_id, connection)],
        )
        (count,) = cursor.fetchone()

    assert '"sessions"."context"' in sql
    assert count == 4
