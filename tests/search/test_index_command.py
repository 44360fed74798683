"""``graphflow_sessions_index``: a table filled before the index existed gets indexed in
batches, resumably; --verify repairs; --install and --drop add and remove the index."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from graphflow_sessions.management.commands import graphflow_sessions_index
from graphflow_sessions.models import Session
from graphflow_sessions.search import postgres
from graphflow_sessions.search.terms import parse_query
from tests.support.admin import BASE_TIME, make_session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("graphflow_sessions_index", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def found(text: str) -> set[Any]:
    matches = postgres.filter_sessions(Session.objects.all(), parse_query(text)).queryset
    return set(matches.values_list("pk", flat=True))


def indexed_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM gfs_search_session")
        return int(cursor.fetchone()[0])


@pytest.fixture
def filled_before_the_index() -> list[Session]:
    """Seven sessions written while the index was not installed, then the index installed."""
    run("--drop")
    assert not postgres.index_installed("default")
    sessions = []
    for n in range(7):
        session = make_session()
        session.context.add_message("User", f"backfilled{n} common", BASE_TIME)
        session.save()
        sessions.append(session)
    postgres.install(connection)
    return sessions


def test_an_installed_index_on_a_filled_table_is_incomplete_until_the_backfill(
    filled_before_the_index: list[Session],
) -> None:
    assert postgres.index_installed("default")
    assert not postgres.index_complete("default")
    assert found("common") == set()
    assert "7 sessions are not indexed yet" in run("--dry-run")
    assert indexed_sessions() == 0  # the dry run changed nothing
    assert "indexed 7" in run("--batch-size", "3")
    assert postgres.index_complete("default")
    assert found("common") == {s.pk for s in filled_before_the_index}
    assert "complete; nothing to do" in run()


def test_an_interrupted_backfill_continues_where_it_stopped(
    filled_before_the_index: list[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = graphflow_sessions_index.run_batch
    calls = 0

    def interrupted_after_two(*args: Any, **kwargs: Any) -> postgres.Batch:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(graphflow_sessions_index, "run_batch", interrupted_after_two)
    with pytest.raises(KeyboardInterrupt):
        run("--batch-size", "2")
    assert indexed_sessions() == 4
    assert not postgres.index_complete("default")
    monkeypatch.setattr(graphflow_sessions_index, "run_batch", real)
    assert "Read 3 sessions" in run("--batch-size", "2")  # only those after the last batch
    assert indexed_sessions() == 7
    assert postgres.index_complete("default")


def test_sessions_saved_while_the_index_is_incomplete_are_indexed_by_the_trigger(
    filled_before_the_index: list[Session],
) -> None:
    session = filled_before_the_index[0]
    session.context.add_message("User", "touched meanwhile", BASE_TIME)
    session.save()
    assert found("backfilled0 meanwhile") == {session.pk}  # the whole session, not the tail
    assert "indexed 6" in run()


def test_a_batch_stops_at_its_byte_budget_but_always_takes_one_session(
    filled_before_the_index: list[Session],
) -> None:
    first = postgres.index_batch("default", None, 100, verify=False, max_bytes=1)
    assert (first.scanned, first.indexed) == (1, 1)
    rest = postgres.index_batch("default", first.last_id, 100, verify=False)
    assert (rest.scanned, rest.indexed) == (6, 6)
    assert found("common") == {s.pk for s in filled_before_the_index}


def test_the_backfill_indexes_each_message_of_a_long_history_in_order(
    filled_before_the_index: list[Session],
) -> None:
    session = filled_before_the_index[0]
    before = session.context.chat_history_len()  # the last of them says backfilled0
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for n in range(30):
            session.context.add_message("User", f"line{n}", BASE_TIME)
        session.save()
        cursor.execute("SET LOCAL session_replication_role = origin")
    run()
    query = parse_query("line0 line29 backfilled0")
    assert postgres.message_positions("default", session.pk, query) == [
        before - 1,
        before,
        before + 29,
    ]
    assert "repaired 0" in run("--verify")  # the same rows the triggers would have written


def test_verify_repairs_stale_rows_and_drops_those_of_deleted_sessions() -> None:
    kept = make_session()
    gone = make_session()
    with connection.cursor() as cursor:
        # As if written while the triggers were off (a restore with triggers disabled).
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE sessions SET status_message = 'silently changed' WHERE id = %s", [kept.pk]
        )
        cursor.execute("DELETE FROM sessions WHERE id = %s", [gone.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert found("silently") == set()
    assert "repaired 1, removed 1" in run("--verify")
    assert found("silently") == {kept.pk}
    assert "repaired 0, removed 0" in run("--verify")


def test_drop_then_install_leaves_the_index_out_and_brings_it_back() -> None:
    session = make_session()
    session.context.add_message("User", "roundtrip", BASE_TIME)
    session.save()
    assert "Dropped" in run("--drop")
    assert not postgres.index_installed("default")
    assert not postgres.index_complete("default")
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('gfs_search_message')")
        assert cursor.fetchone()[0] is None
    out = run("--install")
    assert "Installed" in out and "indexed 1" in out
    assert found("roundtrip") == {session.pk}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--batch-size", "many"], "--batch-size must be a whole number"),
        (["--install"], "already installed"),
        (["--verify", "--restart"], "--restart goes with a backfill"),
        (["--database", "nowhere"], "No database alias 'nowhere'"),
    ],
)
def test_mistakes_are_command_errors_that_say_what_was_wrong(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_without_the_index_the_command_says_how_to_install_it() -> None:
    run("--drop")
    with pytest.raises(CommandError, match="not installed.*--install"):
        run()
    with pytest.raises(CommandError, match="not installed"):
        run("--drop")


def test_search_index_false_makes_the_migration_a_no_op_and_unapplying_drops_it(
    settings: Any,
) -> None:
    from django.db.migrations.executor import MigrationExecutor

    MigrationExecutor(connection).migrate([("graphflow_sessions", "0003_indexes")])
    assert not postgres.index_installed("default")
    settings.GRAPHFLOW_SESSIONS = {"SEARCH_INDEX": False}
    executor = MigrationExecutor(connection)
    executor.migrate([("graphflow_sessions", "0004_search")])
    assert ("graphflow_sessions", "0004_search") in executor.recorder.applied_migrations()
    assert not postgres.index_installed("default")
    assert not postgres.index_complete("default")
    session = make_session()  # saves work without the index
    assert Session.objects.filter(pk=session.pk).exists()
