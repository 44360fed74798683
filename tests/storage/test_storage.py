"""Storage semantics shared by the database and in-memory backends, as graph-flow defines them.

Every test taking ``storage`` runs against DatabaseSessionStorage (on the suite's database),
the same backend on its fallback path for databases without a single-statement upsert, and
InMemorySessionStorage; database-only behaviour takes ``db_storage``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphflow_sessions.context import Context, MessageRole
from graphflow_sessions.exceptions import (
    ContextDeserializationError,
    DeleteError,
    RetrieveError,
    SaveError,
    SessionConflict,
    SessionNotFound,
    StorageError,
)
from graphflow_sessions.models import Session
from graphflow_sessions.signals import session_deleted, session_saved
from graphflow_sessions.storage import (
    DatabaseSessionStorage,
    InMemorySessionStorage,
    PostgresSessionStorage,
    SessionStorage,
)

pytestmark = pytest.mark.django_db


def without_upsert() -> DatabaseSessionStorage:
    """The backend as it runs on a database without INSERT ... ON CONFLICT (update_or_create)."""
    return DatabaseSessionStorage(upsert=False)


@pytest.fixture(params=["database", "memory", "without upsert"])
def storage(request: pytest.FixtureRequest) -> SessionStorage:
    if request.param == "memory":
        return InMemorySessionStorage()
    return DatabaseSessionStorage() if request.param == "database" else without_upsert()


@pytest.fixture
def db_storage() -> DatabaseSessionStorage:
    return DatabaseSessionStorage()


# Task ids are often Rust type paths.
RUST_TASK_ID = "insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask"


def claim_session(**overrides: Any) -> Session:
    ctx = Context()
    ctx.set("insurance_type", "car")
    ctx.set("claim_details", {"estimated_cost": 150, "description": "scratch"})
    ctx.add_user_message("hello")
    ctx.add_assistant_message("Hello! Welcome!")
    fields: dict[str, Any] = {
        "graph_id": "insurance_claims",
        "current_task_id": RUST_TASK_ID,
        "status_message": "Processing...",
        "context": ctx,
    }
    fields.update(overrides)
    return Session(**fields)


def stored_fields(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "graph_id": session.graph_id,
        "current_task_id": session.current_task_id,
        "status_message": session.status_message,
        "context": session.context.to_dict(),
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "version": session.version,
    }


def wait_for_the_clock() -> None:
    # SQLite's clock has millisecond resolution; make sure the next save sees a later time.
    time.sleep(0.005)


# The API ------------------------------------------------------------------------------------


def test_postgres_session_storage_is_the_database_storage():
    assert PostgresSessionStorage is DatabaseSessionStorage
    assert issubclass(DatabaseSessionStorage, SessionStorage)
    assert issubclass(InMemorySessionStorage, SessionStorage)
    assert DatabaseSessionStorage().using == "default"
    assert DatabaseSessionStorage(using="other").using == "other"


def test_the_issue_example_works_as_written(storage):
    ctx = Context()
    ctx.set("insurance_type", "car")
    ctx.add_user_message("hello")
    session = Session(
        graph_id="my-graph",
        current_task_id="task-1",
        status_message="Processing...",
        context=ctx,
    )
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    assert found.graph_id == "my-graph"
    assert found.current_task_id == "task-1"
    assert found.status_message == "Processing..."
    assert found.context.get("insurance_type") == "car"
    assert [m.content for m in found.context.get_all_messages()] == ["hello"]
    assert storage.delete(session.id) is True
    assert storage.get(session.id) is None


# save / get -----------------------------------------------------------------------------------


def test_get_returns_exactly_what_was_saved(storage):
    session = claim_session()
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    assert stored_fields(found) == stored_fields(session)
    assert found.context == session.context


def test_get_of_an_absent_id_returns_none(storage):
    assert storage.get(uuid.uuid4()) is None


def test_get_or_raise_of_an_absent_id_raises_session_not_found(storage):
    missing = uuid.uuid4()
    with pytest.raises(SessionNotFound, match=f"Session not found: {missing}") as caught:
        storage.get_or_raise(missing)
    assert caught.value.session_id == str(missing)
    assert isinstance(caught.value, StorageError)


def test_first_save_sets_version_1_and_equal_timestamps(storage):
    session = claim_session()
    storage.save(session)
    assert session.version == 1
    assert isinstance(session.created_at, datetime)
    assert session.created_at.tzinfo is not None
    assert session.created_at == session.updated_at


def test_each_save_adds_one_to_the_version(storage):
    session = claim_session()
    for expected in (1, 2, 3):
        storage.save(session)
        assert session.version == expected
    found = storage.get(session.id)
    assert found is not None
    assert found.version == 3


# Committed saves: PostgreSQL's NOW() is the start of the transaction.
@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_save_keeps_created_at_and_moves_updated_at(storage):
    session = claim_session()
    storage.save(session)
    created, first_update = session.created_at, session.updated_at
    wait_for_the_clock()
    session.current_task_id = "next"
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    assert found.created_at == created
    assert found.updated_at > first_update
    assert found.current_task_id == "next"


def test_save_with_a_fresh_object_replaces_the_row_and_keeps_created_at(storage):
    first = claim_session()
    storage.save(first)
    replacement = Session(
        id=first.id, graph_id="other", current_task_id="t", status_message=None, context=Context()
    )
    storage.save(replacement)
    found = storage.get(first.id)
    assert found is not None
    assert found.graph_id == "other"
    assert found.status_message is None
    assert found.context == Context()
    assert found.created_at == first.created_at
    assert found.version == 2


def test_graph_id_defaults_to_default_as_in_graph_flow(storage):
    session = Session(current_task_id="t")
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    assert found.graph_id == "default"
    assert found.context == Context()


def test_status_message_none_is_stored_as_null(db_storage):
    session = claim_session(status_message=None)
    db_storage.save(session)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status_message IS NULL FROM sessions WHERE id = %s",
            [Session._meta.pk.get_db_prep_value(session.id, connection)],
        )
        assert cursor.fetchone()[0] in (True, 1)


def test_get_returns_an_independent_copy(storage):
    session = claim_session()
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    found.context.set("insurance_type", "apartment")
    found.context.get("claim_details")["estimated_cost"] = 9999
    again = storage.get(session.id)
    assert again is not None
    assert again.context.get("insurance_type") == "car"
    assert again.context.get("claim_details")["estimated_cost"] == 150


def test_ids_may_be_given_as_any_uuid_spelling(storage):
    session = claim_session()
    storage.save(session)
    hex_id = session.id.hex
    for spelling in (
        str(session.id),
        str(session.id).upper(),
        "{" + hex_id + "}",
        hex_id,
        "-".join(hex_id[i : i + 4] for i in range(0, 32, 4)),
    ):
        found = storage.get(spelling)
        assert found is not None, spelling
        assert found.id == session.id
    assert storage.delete(str(session.id).upper()) is True


def test_a_session_with_a_text_id_is_saved_under_the_normalised_uuid(storage):
    wanted = uuid.uuid4()
    session = claim_session(id=str(wanted).upper())
    storage.save(session)
    assert session.id == wanted
    found = storage.get(wanted)
    assert found is not None
    assert found.id == wanted


# The context on the model --------------------------------------------------------------------


def test_session_context_is_a_context_that_can_be_changed_then_saved(storage):
    session = claim_session()
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    assert isinstance(found.context, Context)
    found.context.add_user_message("hi")
    found.context.set("approval_state", "pending")
    storage.save(found)
    again = storage.get(session.id)
    assert again is not None
    assert [m.content for m in again.context.get_all_messages()][-1] == "hi"
    assert again.context.get("approval_state") == "pending"


def test_a_dict_in_the_contract_shape_is_accepted_on_assignment(storage):
    session = claim_session()
    session.context = {
        "data": {"insurance_type": "apartment"},
        "chat_history": {
            "messages": [{"role": "System", "content": "s", "timestamp": "2026-01-01T00:00:00Z"}],
            "max_messages": 50,
        },
    }
    assert isinstance(session.context, Context)
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    assert found.context.get("insurance_type") == "apartment"
    assert found.context.max_messages == 50
    assert found.context.get_all_messages()[0].role is MessageRole.SYSTEM


def test_a_dict_that_breaks_the_contract_is_refused_on_save_naming_the_path(storage):
    session = claim_session()
    session.context = {"data": {}, "chat_history": {"messages": [{"role": "user"}]}}
    with pytest.raises(ContextDeserializationError, match=r"chat_history\.messages\[0\]"):
        storage.save(session)
    assert storage.get(session.id) is None


def test_max_messages_is_stored_and_restored(storage):
    ctx = Context.with_max_chat_messages(2)
    for text in ("U1", "A1", "U2"):
        ctx.add_user_message(text)
    session = claim_session(context=ctx)
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    assert found.context.max_messages == 2
    assert [m.content for m in found.context.get_all_messages()] == ["A1", "U2"]
    found.context.add_user_message("U3")
    assert [m.content for m in found.context.get_all_messages()] == ["U2", "U3"]


def test_json_lookups_on_the_context_data_work(db_storage):
    car, flat = claim_session(), claim_session()
    flat.context.set("insurance_type", "apartment")
    flat.context.set("claim_details", {"estimated_cost": 2500})
    db_storage.save(car)
    db_storage.save(flat)
    assert list(
        Session.objects.filter(context__data__insurance_type="car").values_list("id", flat=True)
    ) == [car.id]
    assert list(
        Session.objects.filter(context__data__claim_details__estimated_cost__gt=1000).values_list(
            "id", flat=True
        )
    ) == [flat.id]
    assert Session.objects.filter(context__data__has_key="insurance_type").count() == 2


@pytest.mark.postgres
def test_jsonb_containment_lookups_on_the_context_data_work(db_storage):
    car, flat = claim_session(), claim_session()
    flat.context.set("insurance_type", "apartment")
    db_storage.save(car)
    db_storage.save(flat)
    found = Session.objects.filter(context__data__contains={"insurance_type": "apartment"})
    assert list(found.values_list("id", flat=True)) == [flat.id]


def test_raw_context_and_context_error_of_a_stored_row(db_storage):
    session = claim_session()
    db_storage.save(session)
    row = Session.objects.get(pk=session.id)
    assert row.raw_context == session.context.to_dict()
    assert row.context_error is None
    with connection.cursor() as cursor:  # as another service might write it
        cursor.execute(
            "UPDATE sessions SET context = %s WHERE id = %s",
            ['{"data": {}}', Session._meta.pk.get_db_prep_value(session.id, connection)],
        )
    broken = Session.objects.get(pk=session.id)
    assert broken.raw_context == {"data": {}}
    assert broken.context_error is not None
    assert broken.context_error.path == "chat_history"
    assert str(session.id) in str(broken.context_error)


def test_the_orm_refuses_to_write_a_context_that_breaks_the_contract(db_storage):
    session = claim_session()
    db_storage.save(session)
    with (
        pytest.raises(ContextDeserializationError, match="chat_history: required"),
        transaction.atomic(),
    ):
        Session.objects.filter(pk=session.id).update(context={"data": {}})
    found = db_storage.get(session.id)
    assert found is not None
    assert found.context == session.context


# Optimistic concurrency -------------------------------------------------------------------------


def test_save_with_the_version_read_succeeds_and_adds_one(storage):
    session = claim_session()
    storage.save(session)
    found = storage.get(session.id)
    assert found is not None
    found.current_task_id = "next"
    storage.save(found, expected_version=found.version)
    assert found.version == 2
    again = storage.get(session.id)
    assert again is not None
    assert (again.version, again.current_task_id) == (2, "next")


def test_save_with_a_stale_version_raises_conflict_and_writes_nothing(storage):
    session = claim_session()
    storage.save(session)
    reader = storage.get(session.id)
    assert reader is not None
    storage.save(session)  # someone else moves the row on to version 2
    before = storage.get(session.id)
    assert before is not None
    reader.current_task_id = "stale write"
    reader.context.set("insurance_type", "boat")
    with pytest.raises(SessionConflict) as caught:
        storage.save(reader, expected_version=1)
    assert caught.value.expected_version == 1
    assert caught.value.actual_version == 2
    assert caught.value.session_id == str(session.id)
    assert str(session.id) in str(caught.value)
    after = storage.get(session.id)
    assert after is not None
    assert stored_fields(after) == stored_fields(before)


def test_save_with_an_expected_version_of_an_absent_row_inserts_at_that_version_plus_one(storage):
    session = claim_session()
    storage.save(session, expected_version=0)
    found = storage.get(session.id)
    assert found is not None
    assert found.version == 1


def test_a_plain_save_is_last_write_wins(storage):
    session = claim_session()
    storage.save(session)
    stale = storage.get(session.id)
    assert stale is not None
    storage.save(session)
    stale.current_task_id = "last"
    storage.save(stale)
    found = storage.get(session.id)
    assert found is not None
    assert (found.current_task_id, found.version) == ("last", 3)


# delete -------------------------------------------------------------------------------------


def test_delete_removes_the_session_and_says_so(storage):
    session = claim_session()
    storage.save(session)
    assert storage.delete(session.id) is True
    assert storage.get(session.id) is None


def test_delete_of_an_absent_id_returns_false_without_error(storage):
    assert storage.delete(uuid.uuid4()) is False


def test_delete_leaves_other_sessions_alone(storage):
    keep, drop = claim_session(), claim_session()
    storage.save(keep)
    storage.save(drop)
    storage.delete(drop.id)
    assert storage.get(keep.id) is not None


# Signals ------------------------------------------------------------------------------------


@pytest.fixture
def received() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []

    def on_saved(sender: Any, **kwargs: Any) -> None:
        events.append(("saved", {"sender": sender, **kwargs}))

    def on_deleted(sender: Any, **kwargs: Any) -> None:
        events.append(("deleted", {"sender": sender, **kwargs}))

    session_saved.connect(on_saved)
    session_deleted.connect(on_deleted)
    yield events
    session_saved.disconnect(on_saved)
    session_deleted.disconnect(on_deleted)


def test_save_and_delete_send_signals(storage, received):
    session = claim_session()
    storage.save(session)
    storage.delete(session.id)
    storage.delete(session.id)  # absent: nothing deleted, no signal
    assert [name for name, _ in received] == ["saved", "deleted"]
    saved, deleted = received[0][1], received[1][1]
    assert saved["sender"] is type(storage)
    assert saved["session"] is session
    assert deleted["session_id"] == session.id
    expected_using = "default" if isinstance(storage, DatabaseSessionStorage) else None
    assert saved["using"] == deleted["using"] == expected_using


def test_a_refused_save_sends_no_signal(storage, received):
    session = claim_session()
    session.context.set("bad", float("nan"))
    with pytest.raises(StorageError):
        storage.save(session)
    assert received == []


# The ORM's own save keeps the same bookkeeping -------------------------------------------------


@pytest.mark.django_db(transaction=True, available_apps=["graphflow_sessions"])
def test_model_save_moves_updated_at_and_version_and_keeps_created_at():
    session = claim_session()
    session.save()
    session.refresh_from_db()
    assert session.version == 1  # as every way of creating a session numbers it
    assert session.created_at is not None
    created = session.created_at
    wait_for_the_clock()
    session.current_task_id = "edited"
    session.save()
    session.refresh_from_db()
    assert session.version == 2
    assert session.created_at == created
    assert session.updated_at > created
    assert session.current_task_id == "edited"
    found = DatabaseSessionStorage().get(session.id)
    assert found is not None
    assert found.context == claim_session().context.__class__.from_dict(session.raw_context)


def test_model_save_with_update_fields_also_writes_the_bookkeeping(db_storage):
    session = claim_session()
    db_storage.save(session)
    row = Session.objects.get(pk=session.id)
    row.status_message = "edited"
    row.save(update_fields=["status_message"])
    found = db_storage.get(session.id)
    assert found is not None
    assert (found.status_message, found.version) == ("edited", 2)


# Database errors are chained, with the operation and the session in the message ---------------


class _Rollback(Exception):
    pass


def test_database_errors_are_wrapped_chained_and_name_the_session(db_storage):
    session = claim_session()
    db_storage.save(session)
    errors: dict[str, StorageError] = {}
    with pytest.raises(_Rollback), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE sessions RENAME TO sessions_moved_away")
        for name, operation, expected in (
            ("save", lambda: db_storage.save(session), SaveError),
            ("fetch", lambda: db_storage.get(session.id), RetrieveError),
            ("delete", lambda: db_storage.delete(session.id), DeleteError),
        ):
            with pytest.raises(expected) as caught, transaction.atomic():
                operation()
            errors[name] = caught.value
        raise _Rollback
    for name, error in errors.items():
        assert str(error).startswith(f"Failed to {name} session {session.id}: ")
        assert isinstance(error.__cause__, DatabaseError)
        assert error.session_id == str(session.id)
    assert db_storage.get(session.id) is not None  # the rename was rolled back


# Round-trip property through the database -------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    # jsonb keeps numbers as decimals: an integral float beyond 2**53 reads back as an int.
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
    | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=10,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.dictionaries(_text, _values, max_size=4),
    contents=st.lists(_text, max_size=4),
    task=_text,
    status=st.none() | _text,
)
def test_any_session_round_trips_through_the_database(db_storage, data, contents, task, status):
    ctx = Context(max_messages=None)
    for key, value in data.items():
        ctx.set(key, value)
    for content in contents:
        ctx.add_message(MessageRole.USER, content, datetime(2026, 1, 1, tzinfo=timezone.utc))
    session = Session(graph_id="g", current_task_id=task, status_message=status, context=ctx)
    db_storage.save(session)
    found = db_storage.get(session.id)
    assert found is not None
    assert found.context == ctx
    assert (found.current_task_id, found.status_message) == (task, status)


# One exception family -------------------------------------------------------------------------


def test_every_error_of_the_package_is_a_storage_error_of_one_family():
    from graphflow_sessions import exceptions

    errors = [
        value
        for value in vars(exceptions).values()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == exceptions.__name__
    ]
    assert len(errors) >= 14
    for error in errors:
        assert issubclass(error, exceptions.GraphFlowSessionsError), error
        if error is not exceptions.GraphFlowSessionsError:
            assert issubclass(error, StorageError), error
    assert issubclass(exceptions.ContextTooLarge, exceptions.ContextSerializationError)
    assert issubclass(SessionNotFound, LookupError)


# The model's queryset helpers -----------------------------------------------------------------


def test_queryset_helpers_select_by_graph_and_age_and_defer_the_context(db_storage):
    from datetime import timedelta

    mine, other = claim_session(graph_id="mine"), claim_session(graph_id="other")
    db_storage.save(mine)
    db_storage.save(other)
    assert list(Session.objects.for_graph("mine").values_list("id", flat=True)) == [mine.id]
    assert Session.objects.stale(timedelta(days=1)).count() == 0
    assert Session.objects.stale(timedelta(days=-1)).count() == 2
    row = Session.objects.without_context().get(pk=mine.id)
    assert "context" in row.get_deferred_fields()
    assert row.raw_context == mine.context.to_dict()  # loaded on demand
    assert str(row) == f"mine {mine.id}"
