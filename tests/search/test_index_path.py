"""The entry point on PostgreSQL with the search index: every session searched, the index's
own matching (folding, CJK), and results said to be incomplete while it is being filled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test.utils import override_settings
from django.urls import reverse

from graphflow_sessions.models import Session
from graphflow_sessions.search import postgres
from graphflow_sessions.search.sessions import SearchScope, matching_messages, search_sessions
from tests.support.admin import BASE_TIME, chat_context, insert_raw, make_session
from tests.support.search import mark_index_incomplete

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

LIST_URL = "admin:graphflow_sessions_session_changelist"


def said(*contents: str):
    context = chat_context(0)
    for content in contents:
        context.add_message("User", content)
    return context


def test_the_index_searches_every_session_whatever_the_window():
    assert postgres.index_complete("default")
    old = make_session(context=said("needle in an old chat"), updated_at=BASE_TIME)
    for day in range(1, 4):
        make_session(context=said("hay"), updated_at=BASE_TIME + timedelta(days=day))
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": 1}):
        search = search_sessions(Session.objects.order_by("-updated_at"), "needle")
    assert list(search.queryset.values_list("pk", flat=True)) == [old.pk]
    assert search.complete and search.scope is SearchScope.ALL


def test_while_the_index_is_being_filled_the_results_say_so(admin_client):
    make_session(context=said("needle"))
    mark_index_incomplete()
    search = search_sessions(Session.objects.all(), "needle")
    assert not search.complete and search.scope_header == "indexed"
    page = admin_client.get(reverse(LIST_URL), {"q": "needle"}).content.decode()
    assert "The search index is still being built" in page


def test_the_admin_list_finds_what_only_the_index_can(admin_client):
    muller = make_session(context=said("Herr Müller rief an"))
    tokyo = make_session(context=said("東京都に住んでいます"))
    for text, expected in (("Muller", muller), ("京都", tokyo)):
        response = admin_client.get(reverse(LIST_URL), {"q": text})
        assert [o.pk for o in response.context["cl"].result_list] == [expected.pk]
        assert 'class="gfs-search-notice"' not in response.content.decode()


def test_matching_messages_are_the_indexs_answer():
    # The index matches whole words; the Python scan would also take "category".
    session = make_session(context=said("a category", "the cat", "hay"))
    assert matching_messages(session, "cat") == [1]


def test_a_history_of_non_objects_written_by_raw_sql_is_still_stored():
    # The trigger indexed each message's content; a message that is not an object has none,
    # and its NULL text used to make the trigger refuse the whole write.
    insert_raw({"chat_history": {"messages": ["hello", 3, None, {"content": "needle"}]}})
    found = search_sessions(Session.objects.all(), "needle").queryset
    assert found.count() == 1
    assert search_sessions(Session.objects.all(), "hello").queryset.count() == 0
