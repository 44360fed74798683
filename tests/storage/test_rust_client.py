"""A compiled graph-flow client (tests/rust_client/) and this app share the table, both ways.

What Rust writes (nanosecond timestamps, emoji, 5,000-message histories, no history limit)
is read by the storage, the admin and the REST API with the same values; what the storage,
the API, the admin edit form and the import write is loaded by graph-flow's own serde types
with no error and the same values, and a Rust re-save after ours loses nothing.

Both ways, for graph-flow 0.5.1 and 0.6 alike, on the suite's own table (0.6 converts it to
text ids on every connect; it is converted back after each test). What is particular to
0.6's connect and conflicts also runs in a database of its own.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage
from graphflow_sessions.transfer import import_sessions
from tests.support.admin import RUST_TASK, insert_raw
from tests.support.rust_client import (
    SESSION_CONFLICT,
    SESSION_NOT_FOUND,
    STORAGE_ERROR,
    RustClient,
    RustClientError,
    rust_client_binary,  # noqa: F401 (the fixture)
)
from tests.support.throwaway import (
    admin,
    create_database,
    drop_database,
    throwaway_name,
    url_for,
)

pytestmark = pytest.mark.postgres

needs_drf = pytest.mark.skipif(
    importlib.util.find_spec("rest_framework") is None, reason="the drf extra is not installed"
)

storage = DatabaseSessionStorage()

# What chrono writes for a DateTime<Utc>: UTC, 0, 3, 6 or 9 fractional digits, Z.
CHRONO_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.(\d{3}|\d{6}|\d{9}))?Z")
TIMESTAMP_PARTS = re.compile(r"(.{19})(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


@pytest.fixture
def rust_05(transactional_db: None, rust_client_binary: Path) -> RustClient:  # noqa: F811
    """graph-flow 0.5.1 on the test database; the test commits, so Rust sees its rows."""
    test_database = connections["default"].settings_dict["NAME"]
    return RustClient(rust_client_binary, url_for(test_database), "0.5")


@pytest.fixture(params=["0.5", "0.6"])
def rust(
    request: pytest.FixtureRequest,
    transactional_db: None,
    rust_client_binary: Path,  # noqa: F811
) -> Iterator[RustClient]:
    """graph-flow 0.5.1, or 0.6 (which converts the table to text ids on every connect), on
    the test database; after 0.6 the table is converted back for the rest of the suite."""
    from tests.support.text_table import restore_uuid_ids

    test_database = connections["default"].settings_dict["NAME"]
    client = RustClient(rust_client_binary, url_for(test_database), request.param)
    client.connect()
    try:
        yield client
    finally:
        if request.param == "0.6":
            restore_uuid_ids()


def versions_moved_by(rust: RustClient) -> int:
    """How much a Rust save moves the version: 0.5.1 does not know the column, 0.6 adds one."""
    return 1 if rust.flavour == "0.6" else 0


@pytest.fixture
def own_database() -> Iterator[str]:
    """A fresh, empty database for the length of a test; its name."""
    name = throwaway_name("rust_client")
    create_database(name)
    try:
        yield name
    finally:
        drop_database(name)


@pytest.fixture
def rust_0_6(own_database: str, rust_client_binary: Path) -> RustClient:  # noqa: F811
    return RustClient(rust_client_binary, url_for(own_database), "0.6")


@pytest.fixture
def rust_0_5_elsewhere(own_database: str, rust_client_binary: Path) -> RustClient:  # noqa: F811
    """graph-flow 0.5.1 on the same throwaway database as ``rust_0_6``."""
    return RustClient(rust_client_binary, url_for(own_database), "0.5")


@pytest.fixture
def staff_api() -> Client:
    account = get_user_model().objects.create_user("rust-staff", is_staff=True)
    client = Client()
    client.force_login(account)
    return client


@pytest.fixture
def edits_allowed() -> Iterator[None]:
    with override_settings(GRAPHFLOW_SESSIONS={"ADMIN_ALLOW_EDITS": True}):
        yield


def instant(text: str) -> tuple[datetime, int]:
    """A timestamp's instant to the nanosecond: (the whole second in UTC, nanoseconds)."""
    parts = TIMESTAMP_PARTS.fullmatch(text)
    assert parts is not None, text
    offset = "+00:00" if parts[3] == "Z" else parts[3]
    second = datetime.fromisoformat(parts[1] + offset).astimezone(timezone.utc)
    return second, int((parts[2] or "").ljust(9, "0"))


def same_messages(ours: list[dict[str, str]], theirs: list[dict[str, str]]) -> bool:
    """The same roles, contents and instants (chrono may write an instant's digits shorter)."""
    return [(m["role"], m["content"], instant(m["timestamp"])) for m in ours] == [
        (m["role"], m["content"], instant(m["timestamp"])) for m in theirs
    ]


def assert_loaded_as_saved(loaded: dict[str, Any] | None, session: Session) -> None:
    """Rust's view of a session (graph-flow's serde, written back out) is ours, value for value."""
    assert loaded is not None
    assert loaded["id"] == str(session.id)
    assert (loaded["graph_id"], loaded["current_task_id"], loaded["status_message"]) == (
        session.graph_id,
        session.current_task_id,
        session.status_message,
    )
    ours = session.context.to_dict()
    assert loaded["context"]["data"] == ours["data"]
    assert loaded["context"]["chat_history"]["max_messages"] == ours["chat_history"]["max_messages"]
    assert same_messages(
        loaded["context"]["chat_history"]["messages"], ours["chat_history"]["messages"]
    )
    for message in loaded["context"]["chat_history"]["messages"]:
        assert CHRONO_TIMESTAMP.fullmatch(message["timestamp"]), message["timestamp"]


def stored(session_id: Any) -> Session:
    found = storage.get(session_id)
    assert found is not None
    return found


def rich_context(*, max_messages: int | None = 50) -> Context:
    """Data of every JSON kind, text beyond the BMP, and whole-second and microsecond times."""
    context = Context(max_messages=max_messages)
    context.set("user_input", "my window broke 🪟💔 — about €900")
    context.set(
        "claim_details",
        {"insurance_type": "apartment", "estimated_cost": 899.95, "additional_info": None},
    )
    context.set("approval_state", "pending")
    context.set("retry_count", 2)
    context.set("largest_i64", 2**63 - 1)
    context.set("ratio", 0.1)
    context.set("flags", [True, False, None, [], {}])
    context.set("text", 'quote " backslash \\ newline \n tab \t 𝄞 日本語')
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    context.add_message("User", "hello 👋", moment)
    context.add_message("Assistant", "What happened?\nTell me.", moment + timedelta(microseconds=1))
    context.add_message("System", "classified", moment + timedelta(seconds=1, microseconds=123457))
    return context


def saved_session(**fields: Any) -> Session:
    session = Session(
        graph_id=fields.pop("graph_id", "insurance_claims"),
        current_task_id=fields.pop("current_task_id", RUST_TASK),
        status_message=fields.pop("status_message", "Waiting for photos 📷"),
        context=fields.pop("context", None) or rich_context(),
        **fields,
    )
    storage.save(session)
    return session


def assert_rust_resave_loses_nothing(rust: RustClient, session_id: Any) -> None:
    """A Rust load-and-save leaves the row as it was: columns, context and its text."""
    before = Session.objects.get(pk=session_id)
    written = rust.resave(session_id)
    assert written.rows_affected == 1  # 0.5.1's save did not silently skip the row
    after = Session.objects.get(pk=session_id)
    assert after.raw_context == before.raw_context
    assert (after.graph_id, after.current_task_id, after.status_message) == (
        before.graph_id,
        before.current_task_id,
        before.status_message,
    )
    assert after.created_at == before.created_at
    assert after.version == before.version + versions_moved_by(rust)
    assert after.updated_at > before.updated_at


def change_page_context(client: Client, session_id: Any) -> Any:
    """The context JSON the admin's change form offers for editing."""
    response = client.get(reverse("admin:graphflow_sessions_session_change", args=[session_id]))
    assert response.status_code == 200
    found = re.search(
        r'<textarea name="context_json"[^>]*>(.*?)</textarea>', response.content.decode(), re.S
    )
    assert found is not None
    return json.loads(html.unescape(found[1]))


# Rust writes, we read ------------------------------------------------------------------------


@pytest.mark.parametrize("max_messages", [None, 50])
def test_a_session_rust_writes_is_read_by_the_storage_with_the_same_values(rust, max_messages):
    session_id = uuid.uuid4()
    written = rust.write_sample(session_id, 12, max_messages)
    assert written.rows_affected == 1
    found = stored(session_id)
    assert found.id == session_id
    assert (found.graph_id, found.current_task_id, found.status_message) == (
        written.session["graph_id"],
        written.session["current_task_id"],
        written.session["status_message"],
    )
    assert "✅" in found.status_message
    # Values and text alike, the nine-digit timestamps included.
    assert found.context.to_dict() == written.session["context"]
    assert found.context.max_messages == max_messages
    assert found.context.get("largest_u64") == 2**64 - 1
    messages = found.context.get_all_messages()
    assert messages[0].timestamp_text == "2025-06-10T12:34:56.123456789Z"
    assert messages[0].timestamp == datetime(2025, 6, 10, 12, 34, 56, 123456, tzinfo=timezone.utc)
    assert "🙂" in messages[0].content
    assert found.version == versions_moved_by(rust)  # 0.6 stores a new row at $6 + 1


def test_a_history_rust_trims_on_append_is_stored_trimmed(rust):
    session_id = uuid.uuid4()
    rust.write_sample(session_id, 3, 2)
    assert [m.content.split(" ")[1] for m in stored(session_id).context.get_all_messages()] == [
        "2",
        "3",
    ]
    rust.append(session_id, "Assistant", "fourth")
    contents = [m.content for m in stored(session_id).context.get_all_messages()]
    assert len(contents) == 2
    assert contents[1] == "fourth"
    assert contents[0].startswith("message 3 ")


def test_a_message_rust_appends_is_read_with_its_nanoseconds(rust):
    session = saved_session()
    written = rust.append(session.id, "User", "it was about €900 🧾")
    assert written.rows_affected == 1
    rust_message = written.session["context"]["chat_history"]["messages"][-1]
    ours = stored(session.id).context.get_all_messages()
    assert len(ours) == 4
    assert ours[-1].to_dict() == rust_message  # chrono's own text, up to nine digits
    assert CHRONO_TIMESTAMP.fullmatch(rust_message["timestamp"])
    assert same_messages(
        [m.to_dict() for m in ours[:3]], session.context.to_dict()["chat_history"]["messages"]
    )


@pytest.mark.usefixtures("edits_allowed")
def test_the_admin_shows_what_rust_wrote_with_the_same_values(rust, admin_client):
    session_id = uuid.uuid4()
    written = rust.write_sample(session_id, 25, None)
    assert change_page_context(admin_client, session_id) == written.session["context"]
    raw = admin_client.get(reverse("admin:graphflow_sessions_session_raw", args=[session_id]))
    assert json.loads(raw.content) == written.session["context"]
    page = admin_client.get(
        reverse("admin:graphflow_sessions_session_change", args=[session_id])
    ).content.decode()
    # The message's stored RFC 3339 text, nanoseconds and all, is what its time's title ends with.
    assert ' · 2025-06-10T12:34:56.123456789Z UTC"' in page
    assert "History limit: none (max_messages is null)." in page
    assert html.escape(written.session["status_message"]) in page


@needs_drf
def test_the_api_returns_what_rust_wrote_with_the_same_values(rust, staff_api):
    session_id = uuid.uuid4()
    written = rust.write_sample(session_id, 30, 1000)
    body = staff_api.get(f"/api/sessions/{session_id}/").json()
    assert body["id"] == str(session_id)
    for field in ("graph_id", "current_task_id", "status_message", "context"):
        assert body[field] == written.session[field], field
    page = staff_api.get(f"/api/sessions/{session_id}/messages/", {"limit": 30}).json()
    assert page["count"] == 30
    assert page["results"] == written.session["context"]["chat_history"]["messages"]


def test_a_5000_message_rust_history_is_read_whole_everywhere(rust, admin_client):
    session_id = uuid.uuid4()
    written = rust.write_sample(session_id, 5000, None)
    messages = written.session["context"]["chat_history"]["messages"]
    assert len(messages) == 5000
    found = stored(session_id)
    assert found.context.chat_history_len() == 5000
    assert found.context.to_dict() == written.session["context"]
    raw = admin_client.get(reverse("admin:graphflow_sessions_session_raw", args=[session_id]))
    assert json.loads(raw.content) == written.session["context"]
    if importlib.util.find_spec("rest_framework") is not None:  # the superuser is staff
        last = admin_client.get(
            f"/api/sessions/{session_id}/messages/", {"offset": 4990, "limit": 10}
        ).json()
        assert last["count"] == 5000
        assert last["results"] == messages[4990:]
    # And back: our save of the long history loads in Rust unchanged.
    found.context.add_message("User", "one more")
    storage.save(found)
    loaded = rust.get(session_id)
    assert loaded is not None
    assert loaded["context"]["chat_history"]["messages"][:5000] == messages
    assert loaded["context"]["chat_history"]["messages"][5000]["content"] == "one more"


# We write, Rust loads ------------------------------------------------------------------------


@pytest.mark.parametrize("max_messages", [None, 50, 1000])
def test_a_session_our_storage_saves_loads_in_rust_with_the_same_values(rust, max_messages):
    session = saved_session(context=rich_context(max_messages=max_messages))
    assert_loaded_as_saved(rust.get(session.id), session)
    assert_rust_resave_loses_nothing(rust, session.id)


def test_a_null_status_message_and_an_empty_context_load_in_rust(rust):
    session = saved_session(status_message=None, context=Context())
    loaded = rust.get(session.id)
    assert loaded is not None
    assert loaded["status_message"] is None
    assert loaded["context"] == {
        "data": {},
        "chat_history": {"messages": [], "max_messages": 1000},
    }
    assert_rust_resave_loses_nothing(rust, session.id)


@needs_drf
def test_sessions_created_through_the_api_load_in_rust(rust, staff_api):
    bare = staff_api.post(
        "/api/sessions/", {"current_task_id": "Start"}, content_type="application/json"
    )
    assert bare.status_code == 201, bare.content
    full = staff_api.post(
        "/api/sessions/",
        {
            "graph_id": "insurance_claims",
            "current_task_id": RUST_TASK,
            "status_message": "waiting 🕰",
            "context": rich_context().to_dict(),
        },
        content_type="application/json",
    )
    assert full.status_code == 201, full.content
    for response in (bare, full):
        body = response.json()
        assert_loaded_as_saved(rust.get(body["id"]), stored(body["id"]))
        assert rust.get(body["id"])["context"]["data"] == body["context"]["data"]
        assert_rust_resave_loses_nothing(rust, body["id"])


@needs_drf
def test_messages_appended_and_data_patched_through_the_api_load_in_rust(rust, staff_api):
    session = saved_session()
    appended = staff_api.post(
        f"/api/sessions/{session.id}/messages/",
        {"role": "Assistant", "content": "Thanks — noted ✔"},
        content_type="application/json",
    )
    assert appended.status_code == 201, appended.content
    patched = staff_api.patch(
        f"/api/sessions/{session.id}/data/",
        {"approval_state": "completed", "claim_details": {"estimated_cost": 1200}, "ratio": None},
        content_type="application/json",
    )
    assert patched.status_code == 200, patched.content
    loaded = rust.get(session.id)
    assert_loaded_as_saved(loaded, stored(session.id))
    assert loaded["context"]["data"]["approval_state"] == "completed"
    assert loaded["context"]["data"]["claim_details"] == {
        "insurance_type": "apartment",
        "estimated_cost": 1200,
        "additional_info": None,
    }
    assert "ratio" not in loaded["context"]["data"]
    assert same_messages([loaded["context"]["chat_history"]["messages"][-1]], [appended.json()])
    assert_rust_resave_loses_nothing(rust, session.id)


@pytest.mark.usefixtures("edits_allowed")
def test_an_admin_edit_loads_in_rust(rust, admin_client):
    session = saved_session()
    edited = rich_context().to_dict()
    edited["data"]["approval_state"] = "completed"
    edited["chat_history"]["messages"].append(
        {
            "role": "User",
            "content": "edited in the admin ✍",
            "timestamp": "2026-03-02T08:00:00.987654321Z",
        }
    )
    response = admin_client.post(
        reverse("admin:graphflow_sessions_session_change", args=[session.id]),
        {
            "graph_id": session.graph_id,
            "current_task_id": "completed",
            "status_message": "",
            "context_json": json.dumps(edited),
            "expected_version": session.version,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    loaded = rust.get(session.id)
    assert_loaded_as_saved(loaded, stored(session.id))
    assert loaded["current_task_id"] == "completed"
    assert loaded["status_message"] is None
    assert same_messages(
        loaded["context"]["chat_history"]["messages"], edited["chat_history"]["messages"]
    )
    assert_rust_resave_loses_nothing(rust, session.id)


def test_an_imported_session_loads_in_rust_and_survives_its_resave(rust):
    session_id = uuid.uuid4()
    context = rich_context().to_dict()
    context["chat_history"]["messages"].append(
        {
            "role": "Assistant",
            "content": "from the file",
            "timestamp": "2025-06-10T12:34:56.123456789Z",
        }
    )
    line = {
        "id": str(session_id),
        "graph_id": "insurance_claims",
        "current_task_id": RUST_TASK,
        "status_message": None,
        "context": context,
        "created_at": "2025-06-01T00:00:00Z",
        "updated_at": "2025-06-10T12:35:00Z",
        "version": 7,
    }
    result = import_sessions([json.dumps(line)])
    assert (result.imported, result.errors) == (1, [])
    loaded = rust.get(session_id)
    assert_loaded_as_saved(loaded, stored(session_id))
    assert loaded["context"]["chat_history"]["messages"][-1]["timestamp"] == (
        "2025-06-10T12:34:56.123456789Z"
    )
    assert_rust_resave_loses_nothing(rust, session_id)
    assert stored(session_id).version == 7 + versions_moved_by(rust)


def test_import_refuses_a_row_stamped_ahead_of_the_database_clock_that_0_5_1_could_not_save(
    rust_05,
):
    # graph-flow 0.5.1 saves only WHERE sessions.updated_at <= NOW(): on a row stamped in the
    # future its save reports success and changes nothing. Every writer here stamps the
    # database's clock, and import refuses such a line, naming it.
    session_id = uuid.uuid4()
    future = datetime.now(timezone.utc) + timedelta(days=1)
    line = {
        "id": str(session_id),
        "graph_id": "g",
        "current_task_id": "start",
        "context": Context().to_dict(),
        "updated_at": future.isoformat(),
    }
    result = import_sessions([json.dumps(line)])
    assert result.imported == 0
    assert "line 1: updated_at" in str(result.errors[0])
    assert "later than the database's clock" in str(result.errors[0])
    # Why: the same row written by hand swallows the Rust service's next save.
    insert_raw(Context().to_dict(), session_id=session_id)
    Session.objects.filter(pk=session_id).update(updated_at=future)
    written = rust_05.append(session_id, "User", "lost")
    assert written.rows_affected == 0
    assert stored(session_id).context.chat_history_len() == 0


def test_a_millisecond_timestamp_comes_back_from_a_rust_resave_as_the_same_instant(rust):
    # Ours writes six digits; chrono writes the fewest of 0, 3, 6 or 9 that hold the value.
    context = Context()
    context.add_message("User", "hi", datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=timezone.utc))
    session = saved_session(context=context)
    assert session.context.to_dict()["chat_history"]["messages"][0]["timestamp"] == (
        "2026-03-01T12:00:00.500000Z"
    )
    rust.resave(session.id)
    message = stored(session.id).context.get_all_messages()[0]
    assert message.timestamp_text == "2026-03-01T12:00:00.500Z"
    assert message.timestamp == datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)


# What graph-flow 0.5.1 refuses or ignores ----------------------------------------------------


def test_a_context_rusts_serde_rejects_fails_the_load_with_serdes_message(rust):
    session_id = insert_raw(
        {
            "data": {},
            "chat_history": {
                "messages": [{"role": "user", "content": "hi", "timestamp": "2026-01-01T00:00:00Z"}]
            },
        }
    )
    with pytest.raises(RustClientError) as failure:
        rust.get(session_id)
    assert failure.value.code == STORAGE_ERROR
    assert failure.value.stderr.startswith("Storage error: Context deserialization failed: ")
    assert "unknown variant `user`" in failure.value.stderr


def test_a_context_without_max_messages_loads_in_rust_as_unbounded(rust):
    session_id = insert_raw({"data": {"a": 1}, "chat_history": {"messages": []}})
    loaded = rust.get(session_id)
    assert loaded is not None
    assert loaded["context"]["chat_history"] == {"messages": [], "max_messages": None}


def test_a_text_id_fails_in_0_5_1s_uuid_cast_and_an_absent_id_is_none(rust_05):
    with pytest.raises(RustClientError) as failure:
        rust_05.get("session_001")
    assert failure.value.code == STORAGE_ERROR
    assert "invalid input syntax for type uuid" in failure.value.stderr
    assert rust_05.get(uuid.uuid4()) is None
    with pytest.raises(RustClientError) as missing:
        rust_05.resave(uuid.uuid4())
    assert missing.value.code == SESSION_NOT_FOUND


def test_rust_deletes_our_row_and_an_absent_delete_is_no_error(rust):
    session = saved_session()
    assert rust.delete(session.id) == 1
    assert storage.get(session.id) is None
    assert rust.delete(session.id) == 0


def test_a_rust_save_of_our_row_leaves_its_version_and_created_at(rust_05):
    session = saved_session()
    storage.save(session)
    loaded = rust_05.get(session.id)
    assert loaded is not None
    loaded["current_task_id"] = "next"
    loaded["version"] = 99  # 0.5.1's Session has no such field: serde ignores it
    assert rust_05.save(loaded).rows_affected == 1
    after = stored(session.id)
    assert after.current_task_id == "next"
    assert (after.version, after.created_at) == (2, session.created_at)


# graph-flow 0.6, on a database of its own ---------------------------------------------------


def column_types(database: str) -> dict[str, str]:
    with admin(database) as connection:
        rows = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'sessions'"
        ).fetchall()
    return dict(rows)


def test_0_6_connect_creates_a_text_id_table_with_a_version(rust_0_6, own_database):
    rust_0_6.connect()
    types = column_types(own_database)
    assert (types["id"], types["version"], types["context"]) == ("text", "bigint", "jsonb")


def test_0_6_connect_converts_a_0_5_table_in_place(rust_0_5_elsewhere, rust_0_6, own_database):
    session_id = uuid.uuid4()
    written = rust_0_5_elsewhere.write_sample(str(session_id).upper(), 3, 50)
    assert column_types(own_database)["id"] == "uuid"
    assert "version" not in column_types(own_database)
    rust_0_6.connect()
    assert column_types(own_database)["id"] == "text"
    loaded = rust_0_6.get(session_id)  # the canonical lower-case text
    assert loaded is not None
    assert loaded["version"] == 0
    assert loaded["context"] == written.session["context"]


def test_0_6_writes_and_reads_text_ids_counting_versions(rust_0_6):
    first = rust_0_6.write_sample("session_001", 4, 50)
    assert (first.rows_affected, first.session["version"]) == (1, 0)
    loaded = rust_0_6.get("session_001")
    assert loaded is not None
    assert (loaded["id"], loaded["version"]) == ("session_001", 1)
    assert loaded["context"] == first.session["context"]
    rust_0_6.append("session_001", "Assistant", "second save")
    again = rust_0_6.get("session_001")
    assert again is not None
    assert again["version"] == 2
    assert again["context"]["chat_history"]["messages"][-1]["content"] == "second save"
    assert rust_0_6.get("user_123") is None


def test_a_0_6_save_from_a_stale_version_is_a_session_conflict(rust_0_6):
    rust_0_6.write_sample("session_001", 1, 50)
    read = rust_0_6.get("session_001")
    assert read is not None
    read["current_task_id"] = "first writer"
    assert rust_0_6.save(read).rows_affected == 1
    read["current_task_id"] = "second writer"
    with pytest.raises(RustClientError) as failure:
        rust_0_6.save(read)
    assert failure.value.code == SESSION_CONFLICT
    assert failure.value.stderr.endswith(
        "Session 'session_001' was modified concurrently (attempted save from version 1)"
    )
    after = rust_0_6.get("session_001")
    assert after is not None
    assert (after["current_task_id"], after["version"]) == ("first writer", 2)


def test_a_0_6_session_without_a_version_field_reads_as_version_0(rust_0_6):
    session = {
        "id": "user_123",
        "graph_id": "default",
        "current_task_id": "start",
        "status_message": None,
        "context": {"data": {}, "chat_history": {"messages": [], "max_messages": 1000}},
    }
    assert rust_0_6.save(session).session["version"] == 0  # serde(default)
    loaded = rust_0_6.get("user_123")
    assert loaded is not None
    assert loaded["version"] == 1
    with pytest.raises(RustClientError) as failure:
        rust_0_6.save(session)  # from version 0 again: the row is at 1
    assert failure.value.code == SESSION_CONFLICT
    assert rust_0_6.delete("user_123") == 1
    assert rust_0_6.get("user_123") is None


# graph-flow 0.6+ on the suite's own table: it converts the table to text ids on connect ------


@pytest.fixture
def rust_06_here(transactional_db: None, rust_client_binary: Path) -> Iterator[RustClient]:  # noqa: F811
    """graph-flow 0.6 on the test database, converting its table; converted back afterwards."""
    from tests.support.text_table import restore_uuid_ids

    test_database = connections["default"].settings_dict["NAME"]
    client = RustClient(rust_client_binary, url_for(test_database), "0.6")
    try:
        yield client
    finally:
        restore_uuid_ids()


def test_a_06_service_converting_the_table_under_us_is_noticed(rust_06_here: RustClient) -> None:
    session = saved_session()
    for _ in range(3):  # prepared on this process's connection by now
        storage.save(session)
        stored(session.id)
    rust_06_here.connect()  # ALTER TABLE sessions ALTER COLUMN id TYPE TEXT
    found = stored(session.id)
    assert found.version == 4
    loaded = rust_06_here.get(session.id)
    assert_loaded_as_saved(loaded, found)
    assert loaded is not None and loaded["version"] == 4


def test_rows_a_06_service_writes_under_text_ids_read_the_same_here(
    rust_06_here: RustClient, staff_api: Client
) -> None:
    written = rust_06_here.write_sample("session_001", 40, None)
    assert written.rows_affected == 1
    session = stored("session_001")
    assert session.version == 1
    assert same_messages(
        session.context.to_dict()["chat_history"]["messages"],
        written.session["context"]["chat_history"]["messages"],
    )
    assert session.context.max_messages is None
    if importlib.util.find_spec("rest_framework") is not None:
        detail = staff_api.get("/api/sessions/session_001/")
        assert detail.status_code == 200 and detail.json()["version"] == 1
        page = staff_api.get("/api/sessions/session_001/messages/?limit=100")
        assert len(page.json()["results"]) == 40


def test_rows_we_write_under_text_ids_load_in_a_06_service_and_versions_agree(
    rust_06_here: RustClient,
) -> None:
    rust_06_here.connect()
    session = saved_session(id="claims/2026/7")
    loaded = rust_06_here.get("claims/2026/7")
    assert_loaded_as_saved(loaded, session)
    assert loaded is not None and loaded["version"] == session.version == 1
    # A 0.6 save from the version it read moves the row on; ours then conflicts until reloaded.
    assert rust_06_here.resave("claims/2026/7").rows_affected == 1
    again = stored("claims/2026/7")
    assert again.version == 2 and again.context == session.context
    storage.save(again, expected_version=2)
    stale = dict(loaded, version=1)
    with pytest.raises(RustClientError) as caught:
        rust_06_here.save(stale)
    assert caught.value.code == SESSION_CONFLICT
