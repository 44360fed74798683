"""graph-flow 0.6+'s table (text ids) as well as 0.5's (uuid ids), detected, not configured.

A 0.6+ service converts the table in place on every connect; these tests do what it does
(its own statements, tests/support/graph_flow.py) and hold storage, ORM, API and admin to
working on the result, including while connections hold statements prepared before.
"""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.urls import reverse

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import InvalidSessionId, SessionTableChanged
from graphflow_sessions.ids import quote_id
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.storage.flavour import Flavour, flavour_of
from tests.support.text_table import raw_connection, text_ids_committed, text_ids_in_transaction

pytestmark = pytest.mark.postgres

STRANGE_IDS = [
    "session_001",
    "user_123",
    "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",  # upper case: not the lower-case one's row
    "claims/2026/07",
    "what? #1",
    "v1.2 release",
    "€ und 😀",
    "x" * 2_600,
]


def new_session(session_id: Any = None, text: str = "hello") -> Session:
    context = Context()
    context.add_user_message(text)
    return Session(
        id=uuid.uuid4() if session_id is None else session_id,
        graph_id="g",
        current_task_id="t",
        context=context,
    )


@pytest.fixture
def text_table() -> Any:
    with text_ids_in_transaction():
        yield


@pytest.mark.django_db
def test_the_flavour_is_read_from_the_table(text_table: Any) -> None:
    assert flavour_of(connection, fresh=True) is Flavour.TEXT_IDS


@pytest.mark.django_db
def test_a_fresh_table_has_graph_flow_05s_uuid_ids() -> None:
    assert flavour_of(connection, fresh=True) is Flavour.UUID_IDS


@pytest.mark.django_db
@pytest.mark.parametrize("session_id", STRANGE_IDS, ids=lambda v: v[:20])
def test_any_text_id_is_saved_read_and_deleted_on_a_text_table(
    text_table: Any, session_id: str
) -> None:
    storage = DatabaseSessionStorage()
    session = new_session(session_id)
    storage.save(session)
    found = storage.get(session_id)
    assert found is not None
    assert found.id == session_id and found.context == session.context
    assert storage.delete(session_id) is True
    assert storage.get(session_id) is None


@pytest.mark.django_db
def test_on_a_text_table_upper_case_uuid_text_is_another_id(text_table: Any) -> None:
    storage = DatabaseSessionStorage()
    lower = uuid.uuid4()
    storage.save(new_session(lower, "lower"))
    storage.save(new_session(str(lower).upper(), "upper"))
    assert storage.get(lower).context.get_all_messages()[0].content == "lower"  # type: ignore[union-attr]
    upper = storage.get(str(lower).upper())
    assert upper is not None and upper.context.get_all_messages()[0].content == "upper"
    assert Session.objects.count() == 2


@pytest.mark.django_db
def test_a_uuid_is_written_as_its_canonical_text(text_table: Any) -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    storage.save(session)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM sessions")
        assert cursor.fetchone()[0] == str(session.id)
    assert storage.get(str(session.id)) is not None
    assert isinstance(Session.objects.get().id, uuid.UUID)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty"),
        ("a\x00b", "NUL"),
        ("a\ud800b", "surrogate"),
        ("y" * 2_601, "bytes"),
        ("é" * 1_301, "bytes"),  # 2,602 bytes of UTF-8
    ],
)
def test_what_a_text_key_cannot_hold_is_an_invalid_id_not_a_database_error(
    text_table: Any, bad: str, why: str
) -> None:
    storage = DatabaseSessionStorage()
    for operation in (
        lambda: storage.save(new_session(bad)),
        lambda: storage.get(bad),
        lambda: storage.delete(bad),
    ):
        with pytest.raises(InvalidSessionId, match=why):
            operation()
    assert Session.objects.count() == 0  # the transaction is still usable


@pytest.mark.django_db
def test_on_a_uuid_table_a_text_id_is_invalid_and_the_transaction_goes_on() -> None:
    storage = DatabaseSessionStorage()
    with transaction.atomic():
        with pytest.raises(InvalidSessionId, match="uuid ids"):
            storage.save(new_session("session_001"))
        session = new_session()
        storage.save(session)  # no statement failed
    assert storage.get(session.id) is not None


@pytest.mark.django_db
def test_orm_queries_work_on_a_text_table(text_table: Any) -> None:
    storage = DatabaseSessionStorage()
    plain = new_session()
    storage.save(plain)
    storage.save(new_session("session_001"))
    assert Session.objects.get(pk="session_001").id == "session_001"
    assert list(Session.objects.filter(id__in=[plain.id]).values_list("id", flat=True)) == [
        plain.id
    ]
    created = Session.objects.create(id="made_by_orm", graph_id="g", current_task_id="t")
    assert created.version == 1
    assert storage.get("made_by_orm") is not None


# A 0.6+ service converts the table while connections hold statements prepared before ----------


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_a_conversion_under_a_running_process_is_noticed_and_the_operation_goes_on() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    for _ in range(3):  # prepared on this connection by now
        storage.save(session)
        assert storage.get(session.id) is not None
    with text_ids_committed():
        found = storage.get(session.id)  # retried once, planned anew
        assert found is not None and found.version == 3
        storage.save(found)
        storage.save(new_session("session_001"))
        assert storage.get("session_001") is not None
        assert storage.delete("session_001") is True


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_inside_a_transaction_the_change_is_a_clear_error_and_the_next_transaction_works() -> None:
    storage = DatabaseSessionStorage()
    session = new_session()
    for _ in range(3):
        storage.save(session)
        storage.get(session.id)
    with text_ids_committed():
        with (
            pytest.raises(SessionTableChanged, match="changed under this transaction"),
            transaction.atomic(),
        ):
            storage.get(session.id)
        with transaction.atomic():
            found = storage.get(session.id)
            assert found is not None
            storage.save(found)
        assert storage.get(session.id).version == 4  # type: ignore[union-attr]


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_a_delete_and_a_save_after_the_conversion_also_carry_on() -> None:
    storage = DatabaseSessionStorage()
    kept, gone = new_session(), new_session()
    for _ in range(3):
        storage.save(kept)
        storage.save(gone)
        storage.delete(uuid.uuid4())
    with text_ids_committed():
        assert storage.delete(gone.id) is True
        storage.save(kept)
        assert storage.get(kept.id).version == 4  # type: ignore[union-attr]


# The API and the admin reach every id -----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("session_id", STRANGE_IDS[:7], ids=lambda v: v[:20])
def test_the_api_reads_and_appends_to_any_text_id(text_table: Any, session_id: str) -> None:
    pytest.importorskip("rest_framework")
    from tests.support.api import client_for, user

    DatabaseSessionStorage().save(new_session(session_id))
    client = client_for(user("staff", staff=True))
    path = f"/api/sessions/{urllib.parse.quote(quote_id(session_id), safe='')}/"
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert response.json()["id"] == session_id
    added = client.post(
        path + "messages/", {"role": "Assistant", "content": "noted"}, format="json"
    )
    assert added.status_code in (200, 201), added.content
    messages = client.get(path + "messages/").json()
    assert [m["content"] for m in messages["results"]] == ["hello", "noted"]
    data = client.patch(path + "data/", {"k": 1}, format="json")
    assert data.status_code == 200, data.content


@pytest.mark.django_db
def test_the_api_creates_a_session_under_a_text_id_and_says_where(text_table: Any) -> None:
    pytest.importorskip("rest_framework")
    from tests.support.api import client_for, user

    client = client_for(user("staff", staff=True))
    response = client.post(
        "/api/sessions/",
        {"id": "claims/7", "graph_id": "g", "current_task_id": "t"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response["Location"].endswith("/api/sessions/claims~2F7/")
    assert client.get("/api/sessions/claims~2F7/").json()["id"] == "claims/7"
    assert quote_id("session_001") == "session_001"


@pytest.mark.django_db
def test_the_admin_lists_and_opens_any_text_id(text_table: Any, admin_client: Any) -> None:
    storage = DatabaseSessionStorage()
    plain = new_session()
    storage.save(plain)
    for session_id in STRANGE_IDS[:7]:
        storage.save(new_session(session_id, f"in {session_id}"))
    listing = admin_client.get(reverse("admin:graphflow_sessions_session_changelist"))
    assert listing.status_code == 200
    for session_id in [plain.id, *STRANGE_IDS[:7]]:
        from django.contrib.admin.utils import quote

        page = admin_client.get(
            reverse("admin:graphflow_sessions_session_change", args=[quote(str(session_id))])
        )
        assert page.status_code == 200, session_id


def test_quoted_ids_name_one_url_segment_and_uuids_stay_as_they_are() -> None:
    from graphflow_sessions.ids import unquote_id

    some = uuid.uuid4()
    assert quote_id(some) == str(some)
    for session_id in STRANGE_IDS:
        quoted = quote_id(session_id)
        assert "/" not in quoted and "." not in quoted
        assert unquote_id(quoted) == session_id


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_another_connection_sees_the_text_table_it_is_told_about() -> None:
    with text_ids_committed(), raw_connection(autocommit=True) as other:
        other.execute(
            "INSERT INTO sessions (id, graph_id, current_task_id, context) VALUES "
            "('session_042', 'g', 't', '{\"data\": {}, \"chat_history\": {\"messages\": []}}')"
        )
        found = DatabaseSessionStorage().get("session_042")
        assert found is not None and found.version == 0


@pytest.mark.django_db
def test_the_system_check_reports_which_table_it_found() -> None:
    from graphflow_sessions.checks import check_table_flavour

    (before,) = check_table_flavour(databases=["default"])
    assert before.id == "graphflow_sessions.I001" and "0.5's uuid ids" in before.msg
    with text_ids_in_transaction():
        (after,) = check_table_flavour(databases=["default"])
    assert "0.6+'s text ids" in after.msg
    assert check_table_flavour(databases=[]) == []  # only with check --database


@pytest.mark.django_db
def test_the_admin_search_finds_a_text_id_and_a_uuid_prefix(
    text_table: Any, admin_client: Any
) -> None:
    storage = DatabaseSessionStorage()
    plain = new_session()
    storage.save(plain)
    storage.save(new_session("session_001", "first"))
    storage.save(new_session("session_002", "second"))
    url = reverse("admin:graphflow_sessions_session_changelist")
    page = admin_client.get(url, {"q": "session_001"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    prefix = admin_client.get(url, {"q": str(plain.id)[:8]})
    assert [row.pk for row in prefix.context["cl"].result_list] == [plain.id]


@pytest.mark.django_db
def test_export_and_import_keep_text_ids(text_table: Any) -> None:
    import io

    from graphflow_sessions.transfer import export_sessions, import_sessions

    storage = DatabaseSessionStorage()
    for session_id in ("session_001", "claims/7", str(uuid.uuid4())):
        storage.save(new_session(session_id))
    out = io.StringIO()
    assert export_sessions(out) == 3
    Session.objects.all().delete()
    result = import_sessions(out.getvalue().splitlines())
    assert (result.created, result.errors) == (3, [])
    assert storage.get("claims/7") is not None


@pytest.mark.django_db
def test_pruning_and_trimming_work_on_a_text_table(text_table: Any) -> None:
    from datetime import timedelta

    from graphflow_sessions.retention import prune_sessions, trim_chat_histories

    storage = DatabaseSessionStorage()
    old = new_session("old_one")
    storage.save(old)
    Session.objects.filter(pk="old_one").update(
        updated_at=Session.objects.get(pk="old_one").updated_at - timedelta(days=40)
    )
    history = Context(max_messages=None)
    history.add_user_message("one")
    history.add_user_message("two")
    over_its_limit = history.to_dict()
    over_its_limit["chat_history"]["max_messages"] = 1  # as a writer that never trims left it
    storage.save(Session(id="long_one", graph_id="g", current_task_id="t", context=over_its_limit))
    assert trim_chat_histories().trimmed == 1
    assert storage.get("long_one").context.chat_history_len() == 1  # type: ignore[union-attr]
    assert prune_sessions(timedelta(days=30)).deleted == 1
    assert storage.get("old_one") is None and storage.get("long_one") is not None
