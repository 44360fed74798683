"""``PostgresSessionStorage.connect(url)``: the seed's one-line setup, on real databases."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.checks import Tags, run_checks
from django.db import connections, transaction
from django.db.backends.signals import connection_created
from django.test import override_settings

from graphflow_sessions.checks import check_connection_reuse
from graphflow_sessions.connect import DEFAULT_POOL_MAX_SIZE, connected_aliases
from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import ConnectionFailed, SaveError, SchemaMigrationError
from graphflow_sessions.models import Session
from graphflow_sessions.storage import PostgresSessionStorage
from tests.support import throwaway

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "support" / "seed_example.py"
PASSWORD = "Tr0ub4dor-and-3"  # must never show up in an error message


@pytest.fixture(autouse=True)
def database_access(django_db_blocker: object) -> Iterator[None]:
    # connect() opens its own connections, to databases that are not the test database.
    with django_db_blocker.unblock(), throwaway.forgetting_new_aliases():  # type: ignore[attr-defined]
        yield


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = throwaway.throwaway_name("connect_fresh")
    throwaway.create_database(name)
    with throwaway.forgetting_new_aliases():  # close the pools before the database goes
        yield name
    throwaway.drop_database(name)


def new_session(**context_data: object) -> Session:
    context = Context()
    for key, value in context_data.items():
        context.set(key, value)
    context.add_user_message("hello")
    return Session(
        id=uuid.uuid4(),
        graph_id="my-graph",
        current_task_id="task-1",
        status_message="Processing...",
        context=context,
    )


def table_exists(database: str, table: str = "sessions") -> bool:
    with throwaway.admin(database) as connection:
        row = connection.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()
    return bool(row and row[0])


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_connect_to_an_empty_database_creates_the_schema_and_round_trips_a_session(
    fresh_database: str,
) -> None:
    assert not table_exists(fresh_database)

    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database))

    assert table_exists(fresh_database)
    with throwaway.admin(fresh_database) as connection:
        applied = connection.execute(
            "SELECT name FROM django_migrations WHERE app = 'graphflow_sessions' ORDER BY name"
        ).fetchall()
    assert [name for (name,) in applied][:3] == ["0001_initial", "0002_version", "0003_indexes"]
    session = new_session(insurance_type="car")
    storage.save(session)
    loaded = storage.get(str(session.id))
    assert loaded is not None
    assert (loaded.graph_id, loaded.current_task_id, loaded.status_message) == (
        "my-graph",
        "task-1",
        "Processing...",
    )
    assert loaded.context.get("insurance_type") == "car"
    assert loaded.context.get_all_messages()[0].content == "hello"
    assert storage.delete(str(session.id)) is True
    assert storage.get(str(session.id)) is None


@pytest.mark.postgres
def test_pooled_connections_keep_the_storages_prepared_statements(fresh_database: str) -> None:
    # connect() hands the connection back to its pool after each operation; the pool keeps
    # it open, and with it what the storage prepared there (pg_prepared_statements).
    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database), pool_max_size=1)
    session = new_session()
    for _ in range(3):
        storage.save(session)
        assert storage.get(session.id) is not None
    with connections[storage.using].cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0].split()[0] for row in cursor.fetchall()]
    assert sorted(statements) == ["INSERT", "SELECT"]


@pytest.mark.postgres
def test_pooled_operations_take_the_pools_connections_without_a_django_connect_each(
    fresh_database: str,
) -> None:
    # Each connect through Django's wrapper costs several times the pool's own checkout;
    # outside a transaction, with nobody watching queries, save, get and delete use the
    # pool's connections directly: no connection_created per operation, nothing left open.
    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database), pool_max_size=2)
    session = new_session()
    storage.save(session)
    opened: list[object] = []

    def count(sender: object, connection: Any, **kwargs: object) -> None:
        if connection.alias == storage.using:
            opened.append(connection)

    connection_created.connect(count)
    try:
        for _ in range(5):
            storage.save(session)
            assert storage.get(session.id) is not None
        assert storage.delete(session.id) is True
        assert storage.get(session.id) is None
    finally:
        connection_created.disconnect(count)
    assert opened == []
    assert connections[storage.using].connection is None
    assert session.version == 6
    pool = connections[storage.using].pool  # type: ignore[attr-defined]
    assert pool.get_stats()["connections_num"] <= 2


@pytest.mark.postgres
def test_a_pooled_storage_watched_by_django_runs_through_django_s_cursor(
    fresh_database: str,
) -> None:
    from django.test.utils import CaptureQueriesContext

    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database))
    session = new_session()
    with CaptureQueriesContext(connections[storage.using]) as captured:
        storage.save(session)
        assert storage.get(session.id) is not None
        assert storage.delete(session.id) is True
    assert [query["sql"].split()[0] for query in captured.captured_queries] == [
        "INSERT",
        "SELECT",
        "DELETE",
    ]


@pytest.mark.postgres
def test_second_connect_to_the_same_url_reuses_the_alias_and_the_pool(fresh_database: str) -> None:
    first = PostgresSessionStorage.connect(throwaway.url_for(fresh_database))
    first.save(new_session())
    pool = connections[first.using].pool  # type: ignore[attr-defined]

    # The same database, spelled differently: other scheme, explicit password.
    url = throwaway.url_for(fresh_database, password="any").replace("postgres://", "postgresql://")
    second = PostgresSessionStorage.connect(url)
    second.save(new_session())

    assert second.using == first.using
    assert connections[second.using].pool is pool  # type: ignore[attr-defined]
    assert pool.max_size == DEFAULT_POOL_MAX_SIZE
    assert [alias for alias in connected_aliases() if alias == first.using] == [first.using]


@pytest.mark.postgres
def test_connect_reuses_the_alias_the_project_configured_for_that_database(
    django_db_setup: None,
) -> None:
    default = connections["default"].settings_dict
    before = {key: value for key, value in default.items() if key != "TEST"}
    installed_apps = list(settings.INSTALLED_APPS)

    storage = PostgresSessionStorage.connect(throwaway.url_for(default["NAME"]))

    assert storage.using == "default"
    # The project's own configuration is left as it was: no pool forced on it.
    assert {key: value for key, value in default.items() if key != "TEST"} == before
    assert list(settings.INSTALLED_APPS) == installed_apps
    session = new_session()
    storage.save(session)
    assert storage.delete(session.id) is True


@pytest.mark.postgres
def test_connect_adds_an_alias_without_touching_the_other_settings(fresh_database: str) -> None:
    aliases_before = set(settings.DATABASES)
    default_before = dict(settings.DATABASES["default"])

    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database))

    assert set(settings.DATABASES) - aliases_before == {storage.using}
    assert storage.using.startswith("graphflow_sessions_")
    assert settings.DATABASES["default"] == default_before
    options = settings.DATABASES[storage.using]["OPTIONS"]
    assert options["pool"]["max_size"] == DEFAULT_POOL_MAX_SIZE
    assert options["connect_timeout"] == 5


@pytest.mark.postgres
def test_connect_with_migrate_false_leaves_the_database_as_it_is(fresh_database: str) -> None:
    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database), migrate=False)

    assert not table_exists(fresh_database)
    session = new_session()
    with pytest.raises(SaveError, match=f"Failed to save session {session.id}") as caught:
        storage.save(session)
    assert 'relation "sessions" does not exist' in str(caught.value)


@pytest.mark.postgres
def test_aconnect_works_from_async_code(fresh_database: str) -> None:
    async def seed_example() -> tuple[str | None, bool]:
        storage = await PostgresSessionStorage.aconnect(throwaway.url_for(fresh_database))
        session = new_session(step=1)
        await storage.asave(session)
        loaded = await storage.aget(session.id)
        deleted = await storage.adelete(session.id)
        return (loaded.current_task_id if loaded else None), deleted

    assert asyncio.run(seed_example()) == ("task-1", True)
    assert table_exists(fresh_database)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("pool_max_size", "expected_cap"), [(None, DEFAULT_POOL_MAX_SIZE), (2, 2)], ids=["default", "2"]
)
def test_pool_holds_its_size_under_twenty_concurrent_threads(
    fresh_database: str, pool_max_size: int | None, expected_cap: int
) -> None:
    storage = PostgresSessionStorage.connect(
        throwaway.url_for(fresh_database), pool_max_size=pool_max_size
    )
    observed: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            observed.append(throwaway.server_connections(fresh_database))

    def work() -> None:
        try:
            for step in range(15):
                session = new_session(step=step)
                storage.save(session)
                loaded = storage.get(session.id)
                assert loaded is not None and loaded.context.get("step") == step
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    watcher = threading.Thread(target=watch)
    workers = [threading.Thread(target=work) for _ in range(20)]
    watcher.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    watcher.join()

    assert errors == []
    assert observed, "pg_stat_activity was never sampled"
    # Twenty threads keep the pool busy, so it grows to its cap, and never past it.
    assert max(observed) == expected_cap
    with throwaway.admin(fresh_database) as connection:
        row = connection.execute("SELECT count(*) FROM sessions").fetchone()
    assert row == (20 * 15,)


def run_seed_example(
    database: str, cwd: Path, session_id: str | None = None
) -> subprocess.Popen[str]:
    environment = {
        key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"
    }
    environment["DATABASE_URL"] = throwaway.url_for(database)
    environment["PYTHONPATH"] = str(REPO)
    if session_id:
        environment["SESSION_ID"] = session_id
    return subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        cwd=cwd,  # nowhere near a settings module
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def script_report(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return report


@pytest.mark.postgres
def test_a_plain_script_without_django_settings_saves_gets_and_deletes(
    fresh_database: str, tmp_path: Path
) -> None:
    report = script_report(run_seed_example(fresh_database, tmp_path))

    assert report["installed_apps"] == ["graphflow_sessions"]
    assert report["use_tz"] is True
    assert report["found"] == {
        "graph_id": "my-graph",
        "current_task_id": "task-1",
        "status_message": "Processing...",
        "insurance_type": "car",
    }
    assert report["deleted"] is True
    assert report["after_delete"] is None
    assert table_exists(fresh_database)
    with throwaway.admin(fresh_database) as connection:
        assert connection.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


@pytest.mark.postgres
def test_several_processes_connecting_to_an_empty_database_at_once_all_succeed(
    fresh_database: str, tmp_path: Path
) -> None:
    processes = [run_seed_example(fresh_database, tmp_path, str(uuid.uuid4())) for _ in range(4)]

    reports = [script_report(process) for process in processes]

    assert [report["deleted"] for report in reports] == [True] * 4
    with throwaway.admin(fresh_database) as connection:
        rows = connection.execute(
            "SELECT name, count(*) FROM django_migrations WHERE app = 'graphflow_sessions' "
            "GROUP BY name"
        ).fetchall()
    assert rows and all(count == 1 for _name, count in rows)  # migrated once, not four times


@pytest.mark.postgres
@pytest.mark.parametrize(
    "problem",
    ["wrong port", "unknown database", "unknown user"],
)
def test_a_bad_url_fails_fast_naming_host_port_and_database_but_not_the_password(
    problem: str,
) -> None:
    database = throwaway.base_name()
    port = urlsplit_port()
    if problem == "wrong port":
        port = free_port()
        url = throwaway.url_for(database, password=PASSWORD, port=port)
    elif problem == "unknown database":
        database = throwaway.throwaway_name("does_not_exist")
        url = throwaway.url_for(database, password=PASSWORD)
    else:
        url = throwaway.url_for(database, user="no_such_user_h", password=PASSWORD)
    aliases_before = set(settings.DATABASES)

    with pytest.raises(ConnectionFailed) as caught:
        PostgresSessionStorage.connect(url)

    message = str(caught.value)
    assert f"database {database!r} on {url_host()}:{port}" in message
    assert PASSWORD not in message
    assert PASSWORD not in str(caught.value.__cause__)
    assert PASSWORD not in repr(caught.value.__cause__)
    assert {"wrong port": "refused", "unknown database": "does not exist"}.get(
        problem, 'role "no_such_user_h" does not exist'
    ) in message
    assert set(settings.DATABASES) == aliases_before  # no alias left behind for a bad URL


@pytest.mark.postgres
def test_a_server_that_never_answers_fails_after_the_connect_timeout() -> None:
    # A socket that accepts TCP connections and never speaks: what a hung host looks like.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        url = throwaway.url_for("anything", password=PASSWORD, port=port)
        outcome: list[BaseException] = []

        def attempt() -> None:
            try:
                PostgresSessionStorage.connect(url, connect_timeout=2)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=attempt, daemon=True)
        thread.start()
        thread.join(60)  # far above the 2 s bound: only a hang gets here
        assert not thread.is_alive(), "connect() hung past its connect timeout"

    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionFailed)
    message = str(outcome[0])
    assert f"database 'anything' on 127.0.0.1:{port}" in message
    assert "connect timeout 2 s" in message
    assert "timeout expired" in message
    assert PASSWORD not in message


def test_an_invalid_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConnectionFailed, match="the database URL is not valid") as caught:
        PostgresSessionStorage.connect(f"postgresql://user:{PASSWORD}@host:port-is-not-a-number/x")
    assert PASSWORD not in str(caught.value)
    assert caught.value.__cause__ is None


def test_an_empty_url_says_to_set_database_url() -> None:
    with pytest.raises(ConnectionFailed, match="DATABASE_URL"):
        PostgresSessionStorage.connect("")


def test_a_pool_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="pool_max_size must be a positive int, got 0"):
        PostgresSessionStorage.connect("sqlite:///unused.sqlite3", pool_max_size=0)


# --- SQLite (runs on both) ---------------------------------------------------------------------


def test_connect_to_a_sqlite_url_creates_the_schema_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"

    storage = PostgresSessionStorage.connect(f"sqlite:///{path}")

    session = new_session(insurance_type="car")
    storage.save(session)
    loaded = storage.get(session.id)
    assert loaded is not None and loaded.context.get("insurance_type") == "car"
    assert storage.delete(session.id) is True
    again = PostgresSessionStorage.connect(f"sqlite:///{path}")
    assert again.using == storage.using
    assert again.get(session.id) is None


# --- helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def urlsplit_port() -> int:
    return urlsplit(throwaway.base_url()).port or 5432


def url_host() -> str:
    return urlsplit(throwaway.base_url()).hostname or "localhost (local socket)"


# --- check W003: a new connection per request ---------------------------------------------------


@pytest.fixture
def sessions_alias() -> Iterator[Callable[[dict[str, Any]], None]]:
    """Point GRAPHFLOW_SESSIONS["DATABASE"] at an alias configured as given (never opened)."""
    alias = "h_seed_w003"

    def configure(entry: dict[str, Any]) -> None:
        connections.configure_settings({"default": entry})
        connections.settings[alias] = entry

    with override_settings(GRAPHFLOW_SESSIONS={"DATABASE": alias}):
        yield configure
    connections.settings.pop(alias, None)


POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "sessions", "HOST": "db"}


def w003() -> list[Any]:
    return [m for m in check_connection_reuse() if m.id == "graphflow_sessions.W003"]


def test_w003_warns_when_every_request_opens_a_postgres_connection(
    sessions_alias: Callable[[dict[str, Any]], None],
) -> None:
    sessions_alias({**POSTGRES, "CONN_MAX_AGE": 0, "OPTIONS": {}})

    [warning] = w003()

    assert "'h_seed_w003' opens a new PostgreSQL connection for every request" in warning.msg
    assert "30 ms more per request" in warning.hint
    assert '"pool"' in warning.hint and "CONN_MAX_AGE = 60" in warning.hint


@pytest.mark.parametrize(
    "entry",
    [
        {**POSTGRES, "OPTIONS": {"pool": True}},
        {**POSTGRES, "OPTIONS": {"pool": {"max_size": 5}}},
        {**POSTGRES, "CONN_MAX_AGE": 60},
        {**POSTGRES, "CONN_MAX_AGE": None},
        {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    ],
    ids=["pool", "pool options", "persistent 60 s", "persistent forever", "sqlite"],
)
def test_w003_is_quiet_when_connections_are_reused(
    sessions_alias: Callable[[dict[str, Any]], None], entry: dict[str, Any]
) -> None:
    sessions_alias(dict(entry))

    assert w003() == []


@pytest.mark.postgres
def test_w003_is_quiet_for_a_database_connect_set_up(fresh_database: str) -> None:
    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database))

    with override_settings(GRAPHFLOW_SESSIONS={"DATABASE": storage.using}):
        assert w003() == []


@pytest.mark.postgres
def test_the_sessions_router_lets_connect_create_the_schema_on_the_database_it_names(
    fresh_database: str,
) -> None:
    url = throwaway.url_for(fresh_database)
    with override_settings(DATABASE_ROUTERS=["graphflow_sessions.routers.SessionsRouter"]):
        storage = PostgresSessionStorage.connect(url)
        assert table_exists(fresh_database)
        session = new_session()
        storage.save(session)
        assert storage.get(session.id) is not None


class RefuseSessionsMigrations:
    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool | None:
        return False if app_label == "graphflow_sessions" else None


@pytest.mark.postgres
def test_connect_says_so_when_the_database_routers_refuse_the_migration(
    fresh_database: str,
) -> None:
    url = throwaway.url_for(fresh_database)
    with override_settings(DATABASE_ROUTERS=[RefuseSessionsMigrations()]):
        with pytest.raises(SchemaMigrationError, match="DATABASE_ROUTERS do not allow") as caught:
            PostgresSessionStorage.connect(url)
        assert "migrate=False" in str(caught.value)
        assert not table_exists(fresh_database)

        # The way out it names: the schema made elsewhere, then connect without migrating.
        throwaway_migrate(url)
        storage = PostgresSessionStorage.connect(url, migrate=False)
        session = new_session()
        storage.save(session)
        assert storage.get(session.id) is not None


def throwaway_migrate(url: str) -> None:
    with override_settings(DATABASE_ROUTERS=[]):
        PostgresSessionStorage.connect(url)


@pytest.mark.postgres
def test_inside_a_transaction_the_connected_storage_keeps_its_connection(
    fresh_database: str,
) -> None:
    storage = PostgresSessionStorage.connect(throwaway.url_for(fresh_database))
    kept = new_session()
    rolled_back = new_session()
    storage.save(kept)

    with pytest.raises(RuntimeError, match="undo"), transaction.atomic(using=storage.using):
        storage.save(rolled_back)
        # Same connection, same transaction: it sees its own uncommitted write...
        assert storage.get(rolled_back.id) is not None
        raise RuntimeError("undo")

    # ...which the rollback took back; what was committed before stays.
    assert storage.get(rolled_back.id) is None
    assert storage.get(kept.id) is not None
    assert connections[storage.using].connection is None  # handed back to the pool


def test_w003_runs_with_check_deploy_and_not_on_every_check(
    sessions_alias: Callable[[dict[str, Any]], None],
) -> None:
    sessions_alias({**POSTGRES, "CONN_MAX_AGE": 0, "OPTIONS": {}})

    def ids(**options: Any) -> set[str]:
        return {m.id for m in run_checks(tags=[Tags.compatibility], **options)}

    assert "graphflow_sessions.W003" in ids(include_deployment_checks=True)
    assert "graphflow_sessions.W003" not in ids()
    # Django skips "database"-tagged checks unless --database is given: not tagged so.
    assert Tags.database not in check_connection_reuse.tags  # type: ignore[attr-defined]
