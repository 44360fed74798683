"""Admin search: whole ids, id prefixes as primary-key ranges, and words in the session."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from graphflow_sessions.search.ids import id_prefix_range
from tests.support.admin import BASE_TIME, chat_context, insert_raw, make_session
from tests.support.search import without_search_index  # noqa: F401 (a fixture)

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
    assert _found(admin_client, "smartclaimvalidator") == {str(task.pk)}
    assert _found(admin_client, "PHOTOS") == {str(status.pk)}


@pytest.mark.django_db
def test_search_finds_text_in_chat_messages_and_data_strings(admin_client):
    chat = chat_context(2)
    chat.add_message("Assistant", "Your claim for the Blue Volvo is approved")
    in_chat = make_session(context=chat)
    in_data = make_session(
        context=chat_context(1, data={"claim": {"vehicle": ["red TESLA"], "cost": "950 EUR"}})
    )
    make_session(context=chat_context(3))
    assert _found(admin_client, "blue volvo") == {str(in_chat.pk)}
    assert _found(admin_client, "tesla") == {str(in_data.pk)}
    assert _found(admin_client, "950") == {str(in_data.pk)}


@pytest.mark.django_db
def test_numbers_and_booleans_in_the_data_are_not_searched(admin_client):
    # Data string values are what is searched: matching numbers meant expanding every
    # element of a data list into a row (minutes and gigabytes for a list of a million).
    make_session(context=chat_context(1, data={"cost": 950, "paid": True, "codes": [4711]}))
    assert _found(admin_client, "950") == set()
    assert _found(admin_client, "true") == set()
    assert _found(admin_client, "4711") == set()


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
@pytest.mark.usefixtures("without_search_index")
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
    assert _found(admin_client, "(.*)") == set()


def _list(client, **params):
    response = client.get(reverse(LIST_URL), params)
    assert response.status_code == 200
    return response


@pytest.mark.django_db
def test_a_prefix_and_a_phrase_are_understood(admin_client):
    chat = chat_context(0)
    chat.add_message("User", "The quokka ate my refund policy")
    chat.add_message("Assistant", "policy about a refund")
    quokka = make_session(context=chat)
    other = chat_context(0)
    other.add_message("User", "refund and then policy")
    make_session(context=other)
    assert _found(admin_client, "quok*") == {str(quokka.pk)}
    assert _found(admin_client, '"refund policy"') == {str(quokka.pk)}
    assert len(_found(admin_client, "refund policy")) == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("without_search_index")
def test_the_list_says_what_the_window_search_looked_at(admin_client):
    make_session(context=chat_context(1, data={"word": "needle"}))
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": 2_000}):
        page = _list(admin_client, q="needle").content.decode()
        assert 'class="gfs-search-notice"' in page
        assert "Only the 2,000 most recently updated sessions of this list" in page
        # An id is looked up in the whole table: nothing to warn about.
        assert 'class="gfs-search-notice"' not in _list(admin_client, q="0" * 8).content.decode()
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": None}):
        assert 'class="gfs-search-notice"' not in _list(admin_client, q="needle").content.decode()


@pytest.mark.django_db
def test_filters_combine_with_the_search(admin_client):
    wanted = make_session(graph_id="claims", context=chat_context(1, data={"w": "needle"}))
    make_session(graph_id="billing", context=chat_context(1, data={"w": "needle"}))
    make_session(graph_id="claims", context=chat_context(1, data={"w": "hay"}))
    response = _list(admin_client, q="needle", graph_id="claims")
    assert [str(obj.pk) for obj in response.context["cl"].result_list] == [str(wanted.pk)]


@pytest.mark.django_db
@pytest.mark.usefixtures("without_search_index")
def test_a_data_list_of_200000_numbers_does_not_slow_the_search(admin_client):
    # The search once expanded every number of the data into a row: ~5 s for this session.
    make_session(context=chat_context(1, data={"a": [1] * 200_000}))
    found = make_session(context=chat_context(1, data={"w": "needle"}))
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": 2}):
        response = _list(admin_client, q="needle")
    assert "gfs_search_error" not in response.context
    assert [str(obj.pk) for obj in response.context["cl"].result_list] == [str(found.pk)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("without_search_index")
def test_a_search_past_its_time_limit_is_stopped_with_a_message(admin_client):
    make_session(context=chat_context(1, data={"a": ["haystack"] * 200_000}))
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": 0.001}):
        response = _list(admin_client, q="needle")
    page = response.content.decode()
    assert "The search took longer than 0.001 seconds and was stopped" in page
    assert list(response.context["cl"].result_list) == []
    # The box keeps the query, and the next page view works.
    assert 'value="needle"' in page
    assert _list(admin_client).status_code == 200
