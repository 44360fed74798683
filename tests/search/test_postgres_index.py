"""The PostgreSQL search index: kept by the database's triggers for every kind of edit, by any
writer (the Rust service's own SQL included), and queried as people type."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.search import postgres
from graphflow_sessions.search.terms import parse_query
from tests.support.admin import BASE_TIME, chat_context, make_session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Before the fixture below changes it.
COMMON_SHARE = postgres.COMMON_SHARE


@pytest.fixture(autouse=True, params=["from the index", "walking the list"])
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every search both ways filter_sessions can take: the rarest term from the GIN index
    (what a test table's missing statistics give), or every term checked per session (what
    common words get)."""
    if request.param == "walking the list":
        monkeypatch.setattr(postgres, "COMMON_SHARE", 0.0)
    return str(request.param)


def found(text: str, queryset: Any = None) -> set[Any]:
    queryset = Session.objects.all() if queryset is None else queryset
    return set(
        postgres.filter_sessions(queryset, parse_query(text)).queryset.values_list("pk", flat=True)
    )


def said(*contents: str, max_messages: int | None = None, **data: Any) -> Context:
    context = Context(max_messages=max_messages)
    for n, content in enumerate(contents):
        context.add_message("User" if n % 2 == 0 else "Assistant", content, BASE_TIME)
    for key, value in data.items():
        context.set(key, value)
    return context


def message_rows(session_id: Any) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.seq - s.head, m.doc::text FROM gfs_search_message m "
            "JOIN gfs_search_session s USING (session_id) WHERE m.session_id = %s ORDER BY m.seq",
            [str(session_id)],
        )
        return [(int(p), str(doc)) for p, doc in cursor.fetchall()]


def test_the_migration_installs_the_index_on_an_empty_table_as_complete() -> None:
    assert postgres.index_installed("default")
    assert postgres.index_complete("default")


def test_every_word_must_occur_somewhere_in_the_session() -> None:
    both = make_session(context=said("my car was hit", "what is the damage?"))
    one = make_session(context=said("my car is fine"))
    assert found("car damage") == {both.pk}
    assert found("car") == {both.pk, one.pk}
    assert found("absentword") == set()


def test_graph_task_status_and_data_values_are_searched_but_not_keys_or_roles() -> None:
    session = make_session(
        graph_id="insurance",
        task="collect_details",
        status="waiting for photos",
        context=said("hello", claim={"description": "broken windscreen", "cost": 150}),
    )
    assert found("insurance") == {session.pk}
    assert found("photos windscreen hello") == {session.pk}
    assert found("description") == set()  # a key
    assert found("user") == set()  # a role
    assert found("150") == set()  # numbers are not text the data says


def test_case_and_accents_are_ignored_in_both_directions() -> None:
    session = make_session(context=said("Herr Müller called about the CAFÉ"))
    assert found("muller") == {session.pk}
    assert found("MÜLLER café") == {session.pk}
    plain = make_session(context=said("Muller again"))
    assert found("Müller") == {session.pk, plain.pk}


def test_cyrillic_words_are_found_case_insensitively() -> None:
    session = make_session(context=said("Здравствуйте, МОЯ машина сломалась"))
    assert found("машина") == {session.pk}
    assert found("моя") == {session.pk}


def test_cjk_written_without_spaces_is_found_by_any_substring_of_two_or_more() -> None:
    session = make_session(context=said("私は東京都に住んでいます"))
    other = make_session(context=said("京都に行きました"))
    assert found("東京") == {session.pk}
    assert found("京都") == {session.pk, other.pk}
    assert found("住んで") == {session.pk}
    assert found("東京都に住") == {session.pk}
    assert found("東都") == set()  # the characters are not next to each other


def test_a_prefix_matches_words_starting_with_it() -> None:
    session = make_session(context=said("the quokka smiled"))
    assert found("quok*") == {session.pk}
    assert found("quokka*") == {session.pk}
    assert found("uokk*") == set()


def test_a_phrase_needs_its_words_in_order_within_one_message() -> None:
    session = make_session(context=said("please refund my policy", "policy refund later"))
    split = make_session(context=said("refund", "policy"))
    assert found('"refund my policy"') == {session.pk}
    assert found('"policy refund"') == {session.pk}
    assert found('"refund policy"') == set()
    assert found("refund policy") == {session.pk, split.pk}


def test_a_phrase_does_not_run_from_one_field_into_the_next() -> None:
    session = make_session(graph_id="alpha", task="beta", context=said("x"))
    assert found("alpha beta") == {session.pk}
    assert found('"alpha beta"') == set()


def test_the_queryset_keeps_its_filters_and_order() -> None:
    older = make_session(graph_id="a", context=said("refund"), updated_at=BASE_TIME)
    newer = make_session(
        graph_id="a", context=said("refund"), updated_at=BASE_TIME + timedelta(hours=1)
    )
    make_session(graph_id="b", context=said("refund"))
    queryset = Session.objects.filter(graph_id="a").order_by("-updated_at")
    result = postgres.filter_sessions(queryset, parse_query("refund")).queryset
    assert list(result.values_list("pk", flat=True)) == [newer.pk, older.pk]


def test_a_query_of_punctuation_only_matches_nothing() -> None:
    make_session(context=said("hello"))
    assert found("--- !!") == set()


def test_an_appended_message_is_found_and_only_it_is_tokenized() -> None:
    session = make_session(context=said("first words", "second words"))
    before = message_rows(session.pk)
    session.context.add_message("User", "brand new zebra", BASE_TIME)
    session.save()
    assert found("zebra") == {session.pk}
    after = message_rows(session.pk)
    assert after[:2] == before  # the earlier rows untouched, same positions
    assert [p for p, _ in after] == [0, 1, 2]


def test_messages_trimmed_by_max_messages_stop_matching() -> None:
    session = make_session(context=said("oldest aardvark", "middle", max_messages=2))
    session.context.add_message("User", "newest", BASE_TIME)
    session.save()
    assert session.context.chat_history_len() == 2
    assert found("aardvark") == set()
    assert found("middle newest") == {session.pk}
    query = parse_query("middle newest")
    assert postgres.message_positions("default", session.pk, query) == [0, 1]


def test_clear_chat_history_removes_every_message_from_the_index() -> None:
    session = make_session(context=said("forget this secret", keep="remembered"))
    session.context.clear_chat_history()
    session.save()
    assert found("secret") == set()
    assert found("remembered") == {session.pk}
    assert message_rows(session.pk) == []


def test_a_changed_data_value_matches_its_new_text_only() -> None:
    session = make_session(context=said("hi", insurance_type="apartment"))
    session.context.set("insurance_type", "car")
    session.save()
    assert found("apartment") == set()
    assert found("car") == {session.pk}


def test_a_deleted_session_disappears_with_its_index_rows() -> None:
    session = make_session(context=said("vanishing act"))
    session.delete()
    assert found("vanishing") == set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM gfs_search_message) + "
            "(SELECT count(*) FROM gfs_search_session)"
        )
        assert cursor.fetchone()[0] == 0


def test_message_positions_are_those_of_the_messages_with_any_term() -> None:
    session = make_session(context=said("alpha", "nothing", "beta gamma", "alpha beta"))
    assert postgres.message_positions("default", session.pk, parse_query("alpha beta")) == [
        0,
        2,
        3,
    ]
    assert postgres.message_positions("default", session.pk, parse_query('"beta gamma"')) == [2]


def test_a_rewrite_in_the_middle_that_keeps_the_ends_is_repaired_by_verify() -> None:
    from django.core.management import call_command

    session = make_session(context=said("start", "the original middle", "end"))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions SET context = jsonb_set(context, "
            "'{chat_history,messages,1,content}', '\"the rewritten middle\"') WHERE id = %s",
            [session.pk],
        )
    assert found("rewritten") == set()  # not seen by the incremental path
    call_command("graphflow_sessions_index", "--verify", verbosity=0)
    assert found("rewritten") == {session.pk}
    assert found("original") == set()


def test_a_history_rewritten_at_its_end_is_reindexed_at_once() -> None:
    session = make_session(context=chat_context(5))
    replacement = {
        "role": "User",
        "content": "replacement walrus",
        "timestamp": "2026-01-01T00:00:00Z",
    }
    with connection.cursor() as cursor:
        # The last two messages replaced by another: the old last one is nowhere now.
        cursor.execute(
            "UPDATE sessions SET context = jsonb_set(context, '{chat_history,messages}', "
            "((context #> '{chat_history,messages}') - 4 - 3) || %s::jsonb) WHERE id = %s",
            [json.dumps([replacement]), session.pk],
        )
    assert found("walrus") == {session.pk}
    assert [p for p, _ in message_rows(session.pk)] == [0, 1, 2, 3]


def test_rows_written_with_plain_sql_are_indexed_by_the_triggers() -> None:
    session_id = uuid.uuid4()
    context = {
        "data": {"note": "hand written"},
        "chat_history": {
            "messages": [
                {
                    "role": "User",
                    "content": "psql typed",
                    "timestamp": "2025-06-10T12:34:56.123456789Z",
                }
            ],
            "max_messages": None,
        },
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context) "
            "VALUES (%s, 'g', 't', NULL, %s::jsonb)",
            [str(session_id), json.dumps(context)],
        )
        cursor.execute("UPDATE sessions SET context = context - 'data' || '{\"data\": {}}'")
    assert found("typed") == {session_id}
    assert found("hand") == set()


def test_truncating_the_table_empties_the_index() -> None:
    make_session(context=said("gone soon"))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sessions")
        cursor.execute("SELECT count(*) FROM gfs_search_message")
        assert cursor.fetchone()[0] == 0


def test_a_word_the_statistics_call_common_is_told_apart_from_a_rare_one() -> None:
    for n in range(160):
        make_session(context=said(f"the usual greeting number{n}", "the same again"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE gfs_search_message")
    common, rare, prefix = postgres.compile_terms(connection, parse_query("usual number7 gree*"))
    assert common.share > COMMON_SHARE
    assert rare.share < COMMON_SHARE  # one message of 320
    assert prefix.share > COMMON_SHARE  # "greeting" starts with it
    assert len(found("usual number7")) == 1


def test_a_phrase_is_looked_up_by_its_rare_words_and_then_checked_whole(strategy: str) -> None:
    sessions = [
        make_session(context=said(f"the usual greeting number{n}", "the same again"))
        for n in range(300)
    ]
    backwards = make_session(context=said("number7 greeting usual"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE gfs_search_message")
    text = '"usual greeting number7"'
    (phrase,) = postgres.compile_terms(connection, parse_query(text))
    assert phrase.tsquery == "'usual' <-> 'greeting' <-> 'number7'"
    assert found(text) == {sessions[7].pk}
    assert found('"number7 greeting usual"') == {backwards.pk}
    assert found('"greeting number7 usual"') == set()
    if strategy == "walking the list":
        assert phrase.lookup is None  # every word counts as common
        return
    # "usual" and "greeting" are in half the messages: the index is asked for the rare word.
    assert phrase.lookup == "'number7'"
    statement, params = postgres.filter_sessions(
        Session.objects.all(), parse_query(text)
    ).queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {statement}", params)
        conditions = [row[0] for row in cursor.fetchall() if "Index Cond" in row[0]]
    looked_up = [line for line in conditions if "@@" in line]
    assert looked_up and all("number7" in line and "usual" not in line for line in looked_up)


@pytest.mark.parametrize(
    "stored",
    [
        '"a string"',
        "[1, 2]",
        '{"chat_history": 5, "data": []}',
        '{"chat_history": {"messages": [{"role": "User"}, "text", 7, null]}, "data": {}}',
    ],
)
def test_a_context_of_another_shape_never_fails_the_write(stored: str) -> None:
    session_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context) "
            "VALUES (%s, 'oddgraph', 't', NULL, %s::jsonb)",
            [str(session_id), stored],
        )
    assert found("oddgraph") == {session_id}
    assert all(doc == "" for _, doc in message_rows(session_id))


def test_an_update_that_fails_after_the_trigger_leaves_the_index_as_it_was() -> None:
    from django.db import IntegrityError, transaction

    session = make_session(context=said("kept words"))
    context = said("kept words", "ghostly addition")
    # The trigger indexes an update before it is stored; the NOT NULL check after it fails,
    # and the statement's index writes go with it.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions SET context = %s::jsonb, graph_id = NULL WHERE id = %s",
            [context.to_json(), session.pk],
        )
    assert found("ghostly") == set()
    assert found("kept") == {session.pk}
    assert [p for p, _ in message_rows(session.pk)] == [0]


def test_an_update_of_other_columns_keeps_the_index_of_the_stored_context() -> None:
    session = make_session(context=said("stored history"), status="before")
    with connection.cursor() as cursor:
        # NEW.context is the stored (toasted) value here, not one the writer sent.
        cursor.execute(
            "UPDATE sessions SET status_message = 'after', version = version + 1 WHERE id = %s",
            [session.pk],
        )
    assert found("stored after") == {session.pk}
    assert found("before") == set()
    assert [p for p, _ in message_rows(session.pk)] == [0]


def test_a_statement_deleting_many_sessions_drops_each_ones_index_rows() -> None:
    doomed = [make_session(graph_id="doomed", context=said(f"bulk{n} gone")) for n in range(3)]
    kept = make_session(graph_id="kept", context=said("bulk survivor"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sessions WHERE graph_id = 'doomed'")
        cursor.execute("DELETE FROM sessions WHERE graph_id = 'nothing'")  # no rows at all
        cursor.execute(
            "SELECT count(*) FROM gfs_search_message WHERE session_id = ANY(%s)",
            [[str(s.pk) for s in doomed]],
        )
        assert cursor.fetchone()[0] == 0
    assert found("bulk") == {kept.pk}


def test_a_long_history_appended_to_is_indexed_as_before() -> None:
    # Stored compressed in TOAST: the save's trigger reads the new value in memory, and the
    # appended message lands after the stored ones.
    session = make_session(context=chat_context(400))
    session.context.add_message("User", "needle at the end", BASE_TIME)
    session.save()
    rows = message_rows(session.pk)
    assert [p for p, _ in rows] == list(range(401))
    assert "needle" in rows[-1][1]
    assert postgres.message_positions("default", session.pk, parse_query("needle")) == [400]
