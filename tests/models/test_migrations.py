"""Migrations: nothing left to make, and ``migrate`` adopts a table a Rust service made first.

The adoption tests build a throwaway database (``<test database>_adopt``), create the table
there with the seed's exact statement, insert rows with the Rust service's exact SQL, then
run the documented command, ``python manage.py migrate`` (here ``migrate graphflow_sessions``
through call_command), in a subprocess whose DATABASE_URL points at that database.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from tests.support.graph_flow import SEED_STATEMENT
from tests.support.rust_sql import RUST_INSERT, RUST_SELECT

REPO = Path(__file__).resolve().parents[2]

RUST_ROWS = [
    (
        str(uuid.UUID(int=index + 1)),
        "insurance_claims",
        f"task-{index}",
        None if index % 2 else "waiting for input",
        {
            "data": {"insurance_type": "car", "n": index},
            "chat_history": {
                "messages": [
                    {
                        "role": "User",
                        "content": f"hello {index}",
                        "timestamp": "2025-06-10T12:34:56.123456789Z",
                    }
                ],
                "max_messages": None if index % 2 else 50,
            },
        },
    )
    for index in range(5)
]


@pytest.mark.django_db
def test_makemigrations_finds_nothing_to_do():
    call_command("makemigrations", "graphflow_sessions", "--check", "--dry-run", verbosity=0)


def run_django(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


# ``manage.py migrate graphflow_sessions`` (one Django start-up instead of two, as the machine
# is slow to start Python), then what a project does with the adopted table: read every Rust
# row and save one back.
MIGRATE_THEN_USE_THE_TABLE = """
import django, json, sys
django.setup()
from django.core.management import call_command
call_command("migrate", "graphflow_sessions", interactive=False, verbosity=0)
from graphflow_sessions.storage import DatabaseSessionStorage
storage = DatabaseSessionStorage()
ids = json.loads(sys.argv[1])
for session_id in ids:
    session = storage.get(session_id)
    assert session is not None, session_id
    session.context.to_dict()
session = storage.get(ids[0])
session.context.add_assistant_message("adopted")
storage.save(session)
print(session.version)
"""


@pytest.fixture
def adopt_database() -> Iterator[tuple[Any, str]]:
    """An empty throwaway PostgreSQL database on the test server, dropped afterwards."""
    import psycopg

    settings = connection.settings_dict
    name = f"{settings['NAME']}_adopt"  # this run's own: test_<yourdb>_adopt
    host, port = settings.get("HOST") or "localhost", settings.get("PORT") or 5432
    user, password = settings.get("USER") or "postgres", settings.get("PASSWORD") or ""
    params = {"host": host, "port": port, "user": user, "password": password}
    admin = psycopg.connect(dbname="postgres", autocommit=True, **params)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    target = psycopg.connect(dbname=name, autocommit=True, **params)
    secret = f":{password}" if password else ""
    try:
        yield target, f"postgres://{user}{secret}@{host}:{port}/{name}"
    finally:
        target.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def rust_select(target: Any, session_id: str) -> tuple[Any, ...]:
    import psycopg
    from psycopg.types.string import StrDumper

    cursor = psycopg.RawCursor(target)
    cursor.adapters.register_dumper(str, StrDumper)
    cursor.execute(RUST_SELECT, [session_id])
    row = cursor.fetchone()
    assert row is not None
    return row


@pytest.mark.postgres
@pytest.mark.parametrize("made_by", ["graph-flow 0.5", "graph-flow 0.6"])
def test_migrate_adopts_a_table_a_rust_service_created_and_keeps_its_rows(adopt_database, made_by):
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg.types.string import StrDumper

    target, url = adopt_database
    target.execute(SEED_STATEMENT)
    if made_by == "graph-flow 0.6":  # 0.6 added the version column itself
        target.execute("ALTER TABLE sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 0")
    cursor = psycopg.RawCursor(target)
    cursor.adapters.register_dumper(str, StrDumper)
    for session_id, graph_id, task, status, context in RUST_ROWS:
        cursor.execute(RUST_INSERT, [session_id, graph_id, task, status, Jsonb(context)])
    if made_by == "graph-flow 0.6":
        target.execute("UPDATE sessions SET version = 7")
    before = target.execute(
        "SELECT id, graph_id, current_task_id, status_message, context::text, created_at, "
        "updated_at FROM sessions ORDER BY id"
    ).fetchall()

    ids = [row[0] for row in RUST_ROWS]
    result = run_django(url, "-c", MIGRATE_THEN_USE_THE_TABLE, json.dumps(ids))

    after = target.execute(
        "SELECT id, graph_id, current_task_id, status_message, context::text, created_at, "
        "updated_at FROM sessions ORDER BY id"
    ).fetchall()
    # One row was saved by Django after the migration; the others are untouched.
    assert after[1:] == before[1:]
    assert after[0][5] == before[0][5]  # created_at kept
    versions = [row[0] for row in target.execute("SELECT version FROM sessions ORDER BY id")]
    kept = 7 if made_by == "graph-flow 0.6" else 0
    assert versions == [kept + 1] + [kept] * (len(RUST_ROWS) - 1)
    applied = [
        row[0]
        for row in target.execute(
            "SELECT name FROM django_migrations WHERE app = 'graphflow_sessions' ORDER BY name"
        ).fetchall()
    ]
    assert applied[:3] == ["0001_initial", "0002_version", "0003_indexes"]
    indexes = {
        row[0]
        for row in target.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'sessions'"
        ).fetchall()
    }
    assert {"sessions_pkey", "gfs_updated_id_idx", "gfs_context_data_gin"} <= indexes

    assert result.stdout.strip() == ("8" if made_by == "graph-flow 0.6" else "1")
    row = rust_select(target, ids[0])
    context = json.loads(row[4]) if isinstance(row[4], str) else row[4]
    messages = context["chat_history"]["messages"]
    assert messages[0] == RUST_ROWS[0][4]["chat_history"]["messages"][0]
    assert messages[1]["content"] == "adopted"
    assert context["chat_history"]["max_messages"] == 50

    # The Rust service keeps running its CREATE TABLE IF NOT EXISTS on connect: still fine.
    target.execute(SEED_STATEMENT)


def test_migrate_adopts_an_existing_sqlite_sessions_table(tmp_path):
    # The seed's columns in SQLite's terms (no uuid, jsonb or NOW() there).
    path = tmp_path / "adopt.sqlite3"
    statement = SEED_STATEMENT.replace("NOW()", "CURRENT_TIMESTAMP").replace("UUID", "char(32)")
    with sqlite3.connect(path) as raw:
        raw.execute(statement.replace("JSONB", "text").replace("TIMESTAMPTZ", "datetime"))
        raw.execute(
            "INSERT INTO sessions (id, graph_id, current_task_id, context) VALUES (?, ?, ?, ?)",
            [
                uuid.UUID(int=1).hex,
                "g",
                "t",
                json.dumps({"data": {}, "chat_history": {"messages": [], "max_messages": None}}),
            ],
        )
    raw.close()
    run_django(f"sqlite:///{path}", "-m", "django", "migrate", "graphflow_sessions", "-v", "0")
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT id, graph_id, version FROM sessions").fetchall()
        applied = raw.execute(
            "SELECT name FROM django_migrations WHERE app = 'graphflow_sessions' ORDER BY name"
        ).fetchall()
    raw.close()
    assert rows == [(uuid.UUID(int=1).hex, "g", 0)]
    assert [name for (name,) in applied][:3] == ["0001_initial", "0002_version", "0003_indexes"]


@pytest.mark.postgres
def test_migrate_adopts_a_table_holding_graph_and_task_ids_no_btree_entry_can_hold(
    adopt_database,
):
    import secrets

    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg.types.string import StrDumper

    target, url = adopt_database
    target.execute(SEED_STATEMENT)
    cursor = psycopg.RawCursor(target)
    cursor.adapters.register_dumper(str, StrDumper)
    for session_id, graph_id, task, status, context in RUST_ROWS:
        cursor.execute(RUST_INSERT, [session_id, graph_id, task, status, Jsonb(context)])
    # Random text does not compress: over 2,704 bytes, more than a btree entry holds.
    long_graph, long_task = secrets.token_hex(1500), secrets.token_hex(1600)
    long_id = str(uuid.UUID(int=99))
    cursor.execute(RUST_INSERT, [long_id, long_graph, long_task, None, Jsonb(RUST_ROWS[0][4])])

    ids = [row[0] for row in RUST_ROWS] + [long_id]
    run_django(url, "-c", MIGRATE_THEN_USE_THE_TABLE, json.dumps(ids))

    stored = target.execute(
        "SELECT graph_id, current_task_id FROM sessions WHERE id = %s", [uuid.UUID(long_id)]
    ).fetchone()
    assert stored == (long_graph, long_task)
    indexes = {
        name
        for (name,) in target.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'sessions'"
        )
    }
    assert {"gfs_graph_prefix_updated_idx", "gfs_task_prefix_updated_idx"} <= indexes
    assert not indexes & {"gfs_graph_updated_idx", "gfs_task_updated_idx"}
