"""Retention: pruning stale sessions in batches, the settings' rules, the command, trimming."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from graphflow_sessions.context import Context
from graphflow_sessions.models import Session
from graphflow_sessions.retention import (
    PruneBatch,
    RetentionRule,
    parse_age,
    prune_sessions,
    retention_rules,
    trim_chat_histories,
)
from graphflow_sessions.signals import session_deleted, sessions_pruned
from graphflow_sessions.storage import DatabaseSessionStorage

storage = DatabaseSessionStorage()


def make_session(graph_id: str = "claims", *, age: timedelta | None = None, **context: Any) -> Any:
    session = Session(graph_id=graph_id, current_task_id="start", context=Context())
    for key, value in context.items():
        session.context.set(key, value)
    storage.save(session)
    if age is not None:
        Session.objects.filter(id=session.id).update(updated_at=timezone.now() - age)
    return session.id


def stored_ids() -> set[uuid.UUID]:
    return set(Session.objects.values_list("id", flat=True))


# parse_age ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_parse_age_reads_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", "add a unit, e.g. 30d"),
        ("30x", "expected a whole number followed by a unit"),
        ("1.5d", "expected a whole number followed by a unit"),
        ("-1d", "expected a whole number followed by a unit"),
        ("d", "expected a whole number followed by a unit"),
        ("", "expected a whole number followed by a unit"),
        ("0d", "must be greater than zero"),
        ("99999999999999d", "too large"),
    ],
)
def test_parse_age_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_age(text)


# prune_sessions ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_prune_deletes_only_sessions_not_updated_for_the_age() -> None:
    old = {make_session(age=timedelta(days=40)) for _ in range(3)}
    recent = {make_session(age=timedelta(days=20)), make_session()}

    result = prune_sessions(timedelta(days=30))

    assert result.deleted == 3
    assert stored_ids() == recent
    assert not old & stored_ids()


@pytest.mark.django_db
def test_prune_with_a_graph_leaves_other_graphs_alone() -> None:
    make_session("claims", age=timedelta(days=40))
    other = make_session("support", age=timedelta(days=40))

    result = prune_sessions(timedelta(days=30), graph_id="claims")

    assert result.deleted == 1
    assert stored_ids() == {other}


@pytest.mark.django_db
def test_prune_dry_run_counts_and_deletes_nothing() -> None:
    ids = {make_session(age=timedelta(days=40)) for _ in range(4)} | {make_session()}

    result = prune_sessions(timedelta(days=30), dry_run=True)

    assert result.dry_run
    assert result.deleted == 4
    assert result.batches == 0
    assert stored_ids() == ids


@pytest.mark.django_db
def test_prune_deletes_in_batches_of_the_given_size() -> None:
    for _ in range(10):
        make_session(age=timedelta(days=40))
    batches: list[PruneBatch] = []

    result = prune_sessions(timedelta(days=30), batch_size=3, progress=batches.append)

    assert [batch.deleted for batch in batches] == [3, 3, 3, 1]
    assert [batch.total_deleted for batch in batches] == [3, 6, 9, 10]
    assert result.batches == 4
    assert result.deleted == 10
    assert stored_ids() == set()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_prune_batch_deletes_its_size_whatever_plan_postgresql_picks() -> None:
    # The plan that runs a batch's LIMIT subquery again for every row of a nested loop,
    # each run locking and returning the next rows: chosen by the planner on its own once
    # the table's statistics favour it.
    for _ in range(4):
        make_session(age=timedelta(days=40))
    planner = ("hashjoin", "mergejoin", "sort", "hashagg", "material")
    with connections["default"].cursor() as cursor:
        for method in planner:
            cursor.execute(f"SET enable_{method} = off")
    try:
        result = prune_sessions(timedelta(days=30), batch_size=2)
    finally:
        with connections["default"].cursor() as cursor:
            for method in planner:
                cursor.execute(f"RESET enable_{method}")

    assert (result.batches, result.deleted) == (2, 4)


@pytest.mark.django_db
def test_prune_deletes_the_oldest_sessions_first() -> None:
    oldest = make_session(age=timedelta(days=90))
    middle = make_session(age=timedelta(days=60))
    newest_stale = make_session(age=timedelta(days=31))
    deleted_per_batch: list[set[uuid.UUID]] = []

    def remember(batch: PruneBatch) -> None:
        remaining = stored_ids()
        deleted_per_batch.append({oldest, middle, newest_stale} - remaining)

    prune_sessions(timedelta(days=30), batch_size=1, progress=remember)

    assert deleted_per_batch == [
        {oldest},
        {oldest, middle},
        {oldest, middle, newest_stale},
    ]


@pytest.mark.django_db
def test_prune_keeps_a_row_whose_updated_at_is_unknown() -> None:
    unknown = make_session()
    Session.objects.filter(id=unknown).update(updated_at=None)

    prune_sessions(timedelta(seconds=1))

    assert stored_ids() == {unknown}


@pytest.mark.django_db(transaction=True)
def test_each_prune_batch_is_committed_before_the_next_starts() -> None:
    for _ in range(6):
        make_session(age=timedelta(days=40))
    seen_by_another_connection: list[int] = []

    def count_from_another_thread(batch: PruneBatch) -> None:
        # A new thread has its own connection: it sees only what is committed.
        def count() -> None:
            try:
                seen_by_another_connection.append(Session.objects.count())
            finally:
                connections.close_all()

        thread = threading.Thread(target=count)
        thread.start()
        thread.join()

    prune_sessions(timedelta(days=30), batch_size=2, progress=count_from_another_thread)

    assert seen_by_another_connection == [4, 2, 0]


@pytest.mark.django_db(transaction=True)
def test_saves_keep_working_while_a_prune_runs() -> None:
    for _ in range(60):
        make_session(age=timedelta(days=40))
    live = [make_session("live") for _ in range(3)]
    errors: list[BaseException] = []
    saves = 0
    stop = threading.Event()

    def keep_saving() -> None:
        nonlocal saves
        try:
            while not stop.is_set():
                for session_id in live:
                    session = storage.get(session_id)
                    assert session is not None
                    session.context.add_user_message("still here")
                    storage.save(session, expected_version=session.version)
                    saves += 1
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        result = prune_sessions(timedelta(days=30), batch_size=5)
    finally:
        stop.set()
        saver.join()

    assert errors == []
    assert saves > 0
    assert result.deleted == 60
    assert stored_ids() == set(live)


# Rules from settings -----------------------------------------------------------------------


@override_settings(
    GRAPHFLOW_SESSIONS={
        "RETENTION_DAYS": 30,
        "RETENTION_DAYS_BY_GRAPH": {"audit": None, "chat": 7},
    }
)
@pytest.mark.django_db
def test_prune_without_an_age_applies_the_retention_settings() -> None:
    kept = {
        make_session("claims", age=timedelta(days=20)),
        make_session("chat", age=timedelta(days=5)),
        make_session("audit", age=timedelta(days=900)),
    }
    make_session("claims", age=timedelta(days=40))
    make_session("chat", age=timedelta(days=8))

    result = prune_sessions()

    assert result.deleted == 2
    assert stored_ids() == kept


@override_settings(
    GRAPHFLOW_SESSIONS={"RETENTION_DAYS": 30, "RETENTION_DAYS_BY_GRAPH": {"chat": 7}}
)
def test_retention_rules_give_per_graph_ages_and_a_default_for_the_rest() -> None:
    assert retention_rules() == [
        RetentionRule(timedelta(days=7), "chat"),
        RetentionRule(timedelta(days=30), None, ("chat",)),
    ]
    assert retention_rules("chat") == [RetentionRule(timedelta(days=7), "chat")]
    assert retention_rules("claims") == [RetentionRule(timedelta(days=30), "claims")]


def test_retention_rules_are_empty_by_default() -> None:
    assert retention_rules() == []


@override_settings(GRAPHFLOW_SESSIONS={"RETENTION_DAYS": "30"})
def test_a_retention_setting_that_is_not_a_number_is_reported() -> None:
    with pytest.raises(ValueError, match=r'RETENTION_DAYS"\] must be a positive number'):
        retention_rules()


# Signals -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_prune_sends_sessions_pruned_once_per_batch_with_the_ids() -> None:
    stale = {make_session(age=timedelta(days=40)) for _ in range(5)}
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    sessions_pruned.connect(receiver)
    try:
        prune_sessions(timedelta(days=30), batch_size=2)
    finally:
        sessions_pruned.disconnect(receiver)

    assert [len(call["session_ids"]) for call in received] == [2, 2, 1]
    assert {sid for call in received for sid in call["session_ids"]} == stale
    assert {call["using"] for call in received} == {"default"}
    assert {call["sender"] for call in received} == {Session}


@pytest.mark.django_db(transaction=True)
def test_prune_sends_session_deleted_for_each_id_when_someone_listens() -> None:
    stale = {make_session(age=timedelta(days=40)) for _ in range(3)}
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    session_deleted.connect(receiver)
    try:
        prune_sessions(timedelta(days=30), batch_size=2)
    finally:
        session_deleted.disconnect(receiver)

    assert {call["session_id"] for call in received} == stale
    assert len(received) == 3
    assert all(call["pruned"] is True for call in received)


@pytest.mark.django_db(transaction=True)
def test_a_dry_run_sends_no_signal() -> None:
    make_session(age=timedelta(days=40))
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    sessions_pruned.connect(receiver)
    try:
        prune_sessions(timedelta(days=30), dry_run=True)
    finally:
        sessions_pruned.disconnect(receiver)

    assert received == []


# The command -------------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("graphflow_sessions_prune", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_prune_command_reports_progress_on_stderr_at_verbosity_2_and_a_summary_on_stdout() -> None:
    for _ in range(3):
        make_session(age=timedelta(days=40))
    kept = make_session()

    out, err = run("--older-than", "30d", "--batch-size", "2", "--verbosity", "2")

    assert err.count("deleted ") == 2
    assert "(2 so far, all graphs, not updated for 30d)" in err
    assert "Deleted 3 sessions of all graphs, not updated for 30d" in out
    assert "Deleted 3 sessions in total" in out
    assert "2 batches" in out
    assert stored_ids() == {kept}


@pytest.mark.django_db
def test_prune_command_dry_run_says_what_it_would_delete() -> None:
    ids = {make_session("claims", age=timedelta(hours=13)), make_session("other")}

    out, err = run("--older-than", "12h", "--graph", "claims", "--dry-run")

    assert "Would delete 1 session of graph 'claims', not updated for 12h" in out
    assert err == ""
    assert stored_ids() == ids


@pytest.mark.parametrize(
    ("age", "message"),
    [
        ("30", "--older-than: invalid age '30' (add a unit, e.g. 30d)"),
        ("thirty days", "--older-than: invalid age 'thirty days'"),
        ("0h", "must be greater than zero"),
    ],
)
def test_prune_command_rejects_a_bad_age(age: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run("--older-than", age)


def test_prune_command_rejects_a_bad_batch_size() -> None:
    with pytest.raises(CommandError, match="--batch-size must be at least 1, got 0"):
        run("--older-than", "1d", "--batch-size", "0")


@pytest.mark.django_db
def test_prune_command_without_age_or_settings_says_how_to_configure() -> None:
    make_session(age=timedelta(days=400))

    with pytest.raises(CommandError, match="Nothing to prune: pass --older-than"):
        run()
    assert Session.objects.count() == 1


@override_settings(GRAPHFLOW_SESSIONS={"RETENTION_DAYS_BY_GRAPH": {"chat": 1}})
@pytest.mark.django_db
def test_prune_command_without_age_uses_the_settings() -> None:
    make_session("chat", age=timedelta(days=2))
    kept = make_session("claims", age=timedelta(days=2))

    out, _ = run()

    assert "Deleted 1 session of graph 'chat', not updated for 1d" in out
    assert stored_ids() == {kept}


def test_prune_command_refuses_trim_messages_with_an_age() -> None:
    with pytest.raises(CommandError, match="takes no --older-than"):
        run("--trim-messages", "--older-than", "30d")


# Trimming ----------------------------------------------------------------------------------


def save_history(count: int, max_messages: int | None, graph_id: str = "claims") -> uuid.UUID:
    context = Context(max_messages=None)
    for index in range(count):
        context.add_user_message(f"message {index}")
    context.set("claim", {"amount": 900})
    context.max_messages = max_messages  # lowered after the fact: nothing trimmed yet
    session = Session(graph_id=graph_id, current_task_id="start", context=context)
    storage.save(session)
    return session.id


@pytest.mark.django_db
def test_trim_keeps_the_newest_max_messages_and_everything_else() -> None:
    session_id = save_history(8, 3)
    before = Session.objects.get(id=session_id)

    result = trim_chat_histories()

    after = Session.objects.get(id=session_id)
    assert result.trimmed == 1
    assert [m.content for m in after.context.get_all_messages()] == [
        "message 5",
        "message 6",
        "message 7",
    ]
    assert after.raw_context["chat_history"]["max_messages"] == 3
    assert after.raw_context["data"] == {"claim": {"amount": 900}}
    assert (
        after.raw_context["chat_history"]["messages"]
        == (before.raw_context["chat_history"]["messages"][5:])
    )
    assert after.version == before.version + 1
    assert after.updated_at == before.updated_at


@pytest.mark.django_db
def test_trim_leaves_short_and_unbounded_histories_alone() -> None:
    short = save_history(3, 3)
    unbounded = save_history(9, None)
    versions = dict(Session.objects.values_list("id", "version"))

    result = trim_chat_histories(batch_size=1)

    assert result.trimmed == 0
    assert result.scanned == 2
    assert dict(Session.objects.values_list("id", "version")) == versions
    assert len(Session.objects.get(id=short).context.get_all_messages()) == 3
    assert len(Session.objects.get(id=unbounded).context.get_all_messages()) == 9


@pytest.mark.django_db
def test_trim_to_zero_messages_empties_the_history() -> None:
    session_id = save_history(4, 0)

    trim_chat_histories()

    assert Session.objects.get(id=session_id).raw_context["chat_history"]["messages"] == []


@pytest.mark.django_db
def test_trim_goes_through_every_batch() -> None:
    ids = [save_history(5, 2) for _ in range(7)]

    result = trim_chat_histories(batch_size=3)

    assert (result.batches, result.scanned, result.trimmed) == (3, 7, 7)
    for session_id in ids:
        assert len(Session.objects.get(id=session_id).context.get_all_messages()) == 2


@pytest.mark.django_db
def test_trim_dry_run_and_graph_filter() -> None:
    claims = save_history(5, 2, "claims")
    chat = save_history(5, 2, "chat")

    dry = trim_chat_histories(dry_run=True)
    only_chat = trim_chat_histories(graph_id="chat")

    assert (dry.trimmed, dry.scanned) == (2, 2)
    assert (only_chat.trimmed, only_chat.scanned) == (1, 1)
    assert len(Session.objects.get(id=claims).context.get_all_messages()) == 5
    assert len(Session.objects.get(id=chat).context.get_all_messages()) == 2


@pytest.mark.django_db
def test_trim_skips_a_context_that_breaks_the_contract() -> None:
    session_id = save_history(5, 2)
    broken = {"data": {}, "chat_history": {"messages": "not a list", "max_messages": 1}}
    connection = connections["default"]
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE sessions SET context = %s{cast} WHERE id = %s",
            [json.dumps(broken), Session._meta.pk.get_db_prep_value(session_id, connection)],
        )

    result = trim_chat_histories()

    assert result.trimmed == 0
    assert Session.objects.get(id=session_id).raw_context == broken


@pytest.mark.django_db
def test_trim_command_reports_what_it_trimmed() -> None:
    save_history(5, 2)
    save_history(1, 2)

    out, err = run("--trim-messages", "--batch-size", "1", "--verbosity", "2")

    assert "Trimmed the chat history of 1 of 2 sessions scanned" in out
    assert err.count("scanned ") == 2


# System check ------------------------------------------------------------------------------


def retention_check_ids() -> list[str]:
    from graphflow_sessions.checks import check_operations

    return [message.id for message in check_operations()]


@pytest.mark.parametrize(
    "value",
    [
        {"RETENTION_DAYS": 0},
        {"RETENTION_DAYS": -3},
        {"RETENTION_DAYS": "30"},
        {"RETENTION_DAYS_BY_GRAPH": {"chat": True}},
        {"RETENTION_DAYS_BY_GRAPH": ["chat", 7]},
    ],
)
def test_check_e010_reports_a_bad_retention_setting(value: dict[str, Any]) -> None:
    with override_settings(GRAPHFLOW_SESSIONS=value):
        assert retention_check_ids() == ["graphflow_sessions.E010"]


@override_settings(
    GRAPHFLOW_SESSIONS={"RETENTION_DAYS": 30.5, "RETENTION_DAYS_BY_GRAPH": {"a": None, "b": 1}}
)
def test_check_e010_accepts_good_retention_settings() -> None:
    assert retention_check_ids() == []


@override_settings(GRAPHFLOW_SESSIONS={"RETENTION_DAYS_BY_GRAPH": {"audit": None}})
@pytest.mark.django_db
def test_an_explicit_age_still_keeps_graphs_the_settings_keep_forever() -> None:
    audit = make_session("audit", age=timedelta(days=400))
    make_session("claims", age=timedelta(days=400))

    everything = prune_sessions(timedelta(days=30))
    assert stored_ids() == {audit}
    assert everything.rules[0][0].describe() == ("graphs other than 'audit', not updated for 30d")

    named = prune_sessions(timedelta(days=30), graph_id="audit")
    assert named.deleted == 1
    assert stored_ids() == set()
