"""Admin search: whole ids, id prefixes as primary-key ranges, and words in the session."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from graphflow_sessions.admin.search import id_prefix_range
from tests.support.admin import BASE_TIME, chat_context, insert_raw, make_session

LIST_URL = "admin:graphflow_sessions_session_changelist"


def _found(client, term: str) -> set[str]:
    response = client.get(reverse(LIST_URL), {"q": term})
    assert response.status_code == 200
    return {str(obj.pk) for obj in response.context["cl"].result_list}


def test_id_prefix_range_spans_every_uuid_with_that_prefix():
    low, high = id_prefix_range("6F1C2A4E-9b")
    assert low == uuid.UUID("6f1c2a4e-9b00-0000-0000-000000000000")
    assert high == uuid.UUID("6f1c2a4e-9bff-ffff-ffff-ffffffffffff")


@pytest.mark.parametrize("term", ["6f1c2a4", "not-hex-at-all", "6f1c2a4e9b1d4c1e8f002b7d0c8a9e11"])
def test_id_prefix_range_refuses_short_non_hex_and_whole_ids(term):
    assert id_prefix_range(term) is None


@pytest.mark.django_db
def test_search_finds_a_session_by_whole_id_in_any_spelling(admin_client):
    target = make_session()
    make_session()
    spellings = [str(target.pk), str(target.pk).upper(), target.pk.hex, f"{{{target.pk}}}"]
    for spelling in spellings:
        assert _found(admin_client, spelling) == {str(target.pk)}


@pytest.mark.django_db
def test_search_by_id_prefix_is_a_primary_key_range(admin_client):
    target = make_session(session_id=uuid.UUID("6f1c2a4e-9b1d-4c1e-8f00-2b7d0c8a9e11"))
    make_session(session_id=uuid.UUID("6f1c2a4f-0000-4000-8000-000000000000"))
    make_session(session_id=uuid.UUID("6f1c2a4d-ffff-4fff-8fff-ffffffffffff"))
    with CaptureQueriesContext(connection) as queries:
        assert _found(admin_client, "6f1c2a4e") == {str(target.pk)}
    page_query = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"]][-1]
    assert '"sessions"."id" >=' in page_query and '"sessions"."id" <=' in page_query
    assert "LIKE" not in page_query.upper()
    assert _found(admin_client, "6f1c2a4e-9b1d") == {str(target.pk)}


@pytest.mark.django_db
def test_search_finds_graph_task_and_status_words_ignoring_case(admin_client):
    graph = make_session(graph_id="InsuranceClaims")
    task = make_session(task="tasks::SmartClaimValidator")
    status = make_session(status="Waiting for photos")
    assert _found(admin_client, "insuranceclaims") == {str(graph.pk)}
    assert _found(admin_client, "smartclaim") == {str(task.pk)}
    assert _found(admin_client, "PHOTOS") == {str(status.pk)}


@pytest.mark.django_db
def test_search_finds_text_in_chat_messages_and_data_values(admin_client):
    chat = chat_context(2)
    chat.add_message("Assistant", "Your claim for the Blue Volvo is approved")
    in_chat = make_session(context=chat)
    in_data = make_session(
        context=chat_context(1, data={"claim": {"vehicle": ["red TESLA"], "cost": 950}})
    )
    make_session(context=chat_context(3))
    assert _found(admin_client, "blue volvo") == {str(in_chat.pk)}
    assert _found(admin_client, "tesla") == {str(in_data.pk)}
    assert _found(admin_client, "950") == {str(in_data.pk)}


@pytest.mark.django_db
def test_search_ignores_keys_roles_and_timestamps(admin_client):
    make_session(context=chat_context(4, data={"vehicle": "car"}))
    assert _found(admin_client, "vehicle") == set()
    assert _found(admin_client, "Assistant") == set()
    assert _found(admin_client, "2026-03-01") == set()


@pytest.mark.django_db
def test_every_word_must_match_somewhere(admin_client):
    both = make_session(graph_id="claims", context=chat_context(1, data={"city": "Lyon"}))
    make_session(graph_id="claims", context=chat_context(1, data={"city": "Paris"}))
    assert _found(admin_client, "claims lyon") == {str(both.pk)}
    assert _found(admin_client, '"message 1" lyon') == {str(both.pk)}


@pytest.mark.django_db
def test_like_wildcards_in_the_search_are_taken_literally(admin_client):
    percent = make_session(context=chat_context(1, data={"discount": "50% off"}))
    make_session(context=chat_context(1, data={"discount": "500 off"}))
    make_session(context=chat_context(1, data={"code": "a_b"}))
    assert _found(admin_client, "50%") == {str(percent.pk)}
    assert _found(admin_client, "0_o") == set()


@pytest.mark.django_db
def test_search_survives_contexts_that_break_the_contract(admin_client):
    insert_raw({"data": "not an object", "chat_history": {"messages": {"content": "x"}}})
    insert_raw({"chat_history": {"messages": ["hello", 3, None]}})
    insert_raw("a bare string")
    good = make_session(context=chat_context(1, data={"needle": "haystack"}))
    assert _found(admin_client, "haystack") == {str(good.pk)}


@pytest.mark.django_db
def test_words_are_searched_in_the_newest_sessions_of_the_filtered_list(admin_client):
    old = make_session(
        graph_id="archive", context=chat_context(1, data={"word": "needle"}), updated_at=BASE_TIME
    )
    newer = [
        make_session(
            graph_id="live",
            context=chat_context(1, data={"word": "needle"}),
            updated_at=BASE_TIME + timedelta(days=1 + index),
        )
        for index in range(2)
    ]
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": 2}):
        assert _found(admin_client, "needle") == {str(s.pk) for s in newer}
        # A filter moves the window: the old session is the newest of its graph.
        response = admin_client.get(reverse(LIST_URL), {"q": "needle", "graph_id": "archive"})
        assert [str(o.pk) for o in response.context["cl"].result_list] == [str(old.pk)]
        # Ids are found wherever they are.
        assert _found(admin_client, str(old.pk)[:8]) == {str(old.pk)}
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": None}):
        assert _found(admin_client, "needle") == {str(old.pk), *(str(s.pk) for s in newer)}


@pytest.mark.django_db
def test_regex_and_json_special_characters_are_taken_literally(admin_client):
    chat = chat_context(0)
    chat.add_message("User", 'Price (USD) is in C:\\temp\\quote"d.txt')
    special = make_session(context=chat)
    make_session(context=chat_context(1, data={"note": "abc"}))
    assert _found(admin_client, "(usd)") == {str(special.pk)}
    assert _found(admin_client, "C:\\temp\\quote") == {str(special.pk)}
    assert _found(admin_client, "a.c") == set()
    assert _found(admin_client, ".*") == set()
