"""The one entry point: which search answers what was typed, and how complete it is."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import override_settings

from graphflow_sessions.models import Session
from graphflow_sessions.search.sessions import SearchScope, matching_messages, search_sessions
from tests.support.admin import chat_context, make_session
from tests.support.search import without_search_index  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def _ids(search) -> set[str]:
    return {str(pk) for pk in search.queryset.values_list("pk", flat=True)}


def test_an_id_is_looked_up_in_the_whole_table():
    session = make_session()
    search = search_sessions(Session.objects.all(), f"  {session.pk}  ")
    assert _ids(search) == {str(session.pk)}
    assert search.complete and search.scope is SearchScope.ALL and search.scope_header == "all"


@pytest.mark.usefixtures("without_search_index")
def test_words_without_an_index_search_the_newest_window_and_say_so():
    found = make_session(context=chat_context(1, data={"w": "needle"}))
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": 500}):
        search = search_sessions(Session.objects.all(), "needle")
    assert _ids(search) == {str(found.pk)}
    assert not search.complete
    assert search.scope is SearchScope.NEWEST and search.scope_header == "newest=500"
    assert "500 most recently updated sessions" in search.describe()


@pytest.mark.usefixtures("without_search_index")
def test_an_unbounded_window_is_complete():
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_SEARCH_WINDOW": None}):
        search = search_sessions(Session.objects.all(), "needle")
    assert search.complete and search.scope_header == "all"


def test_empty_text_or_no_terms_keep_the_queryset():
    make_session()
    for text in ("", "   ", '""', "*"):
        search = search_sessions(Session.objects.all(), text)
        assert search.complete and search.queryset.count() == 1


def test_the_search_keeps_the_callers_filters_and_ordering():
    make_session(graph_id="a", context=chat_context(1, data={"w": "needle"}))
    kept = make_session(graph_id="b", context=chat_context(1, data={"w": "needle"}))
    queryset = Session.objects.filter(graph_id="b").order_by("-updated_at")
    search = search_sessions(queryset, "needle")
    assert _ids(search) == {str(kept.pk)}
    assert search.queryset.query.order_by == ("-updated_at",)


def test_matching_messages_are_positions_in_the_current_history():
    context = chat_context(0, max_messages=3)
    for text in ("needle old", "hay", "Needle", "hay", "NÉEDLE new"):
        context.add_message("User", text)  # the first two are trimmed away
    session = make_session(context=context)
    assert matching_messages(session, "needle") == [0, 2]
    assert matching_messages(session, "hay needle") == [0, 1, 2]
    assert matching_messages(session, "") == []


@pytest.mark.django_db(transaction=True)
def test_a_search_may_be_the_first_thing_a_connection_does():
    # A management command or a new thread: Django opens its connection on first use.
    session = make_session(context=chat_context(1, data={"w": "needle"}))
    connection.close()
    assert _ids(search_sessions(Session.objects.all(), str(session.pk)[:8])) == {str(session.pk)}
    connection.close()
    assert str(session.pk) in _ids(search_sessions(Session.objects.all(), "needle"))
