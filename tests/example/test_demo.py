"""The demo data generator and ``scripts/demo`` (everything but serving)."""

from __future__ import annotations

import io
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone

from example_project.claims.management.commands import graphflow_demo_sessions
from example_project.claims.tasks import (
    GRAPH_ID,
    FinalSummaryTask,
    SmartClaimValidatorTask,
)
from graphflow_sessions.context import MessageRole
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage

REPO = Path(__file__).resolve().parents[2]


def generate(*args: Any, **options: Any) -> str:
    out = io.StringIO()
    call_command(graphflow_demo_sessions.Command(), *args, stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_sessions_are_varied_valid_and_back_dated() -> None:
    report = generate(150, seed=7)

    assert "Created 150 demo sessions" in report
    sessions = list(Session.objects.filter(graph_id=GRAPH_ID))
    assert len(sessions) == 150
    storage = DatabaseSessionStorage()
    outcomes: Counter[str] = Counter()
    now = timezone.now()
    for row in sessions:
        session = storage.get(row.id)  # validates the stored context against the contract
        assert session is not None
        data = session.context.data
        messages = session.context.get_all_messages()
        users = [m for m in messages if m.role is MessageRole.USER]
        assert session.version == len(users) >= 1
        stamps = [m.timestamp for m in messages]
        assert stamps == sorted(stamps)
        assert row.created_at is not None and row.updated_at is not None
        assert row.created_at <= stamps[0] and stamps[-1] == row.updated_at <= now
        assert data["user_input"] == users[-1].content
        if session.current_task_id == FinalSummaryTask.task_id:
            decision = data["claim_decision"]
            outcomes["auto-approved" if "Auto" in decision["decision_reason"] else "reviewed"] += 1
            assert data["approval_state"] == "completed"
        elif data.get("approval_state") == "pending":
            assert session.current_task_id == SmartClaimValidatorTask.task_id
            outcomes["awaiting approval"] += 1
        else:
            outcomes["collecting details"] += 1
    assert set(outcomes) == {"auto-approved", "reviewed", "awaiting approval", "collecting details"}
    # JSON lookups see real JSON (not a string holding JSON) on either database.
    cars = Session.objects.filter(context__data__insurance_type="car").count()
    flats = Session.objects.filter(context__data__insurance_type="apartment").count()
    assert cars > 0 and flats > 0


@pytest.mark.django_db
@pytest.mark.urls("example_project.urls")
def test_a_demo_session_waiting_for_approval_can_be_continued_over_http(client: Client) -> None:
    generate(60, seed=3)
    waiting = Session.objects.filter(context__data__approval_state="pending").first()
    assert waiting is not None

    response = client.post(
        "/execute",
        {"session_id": str(waiting.id), "content": "approved"},
        content_type="application/json",
    )

    assert response.json()["status"] == "Completed"
    waiting.refresh_from_db()
    assert waiting.context.get("claim_decision")["approved"] is True


@pytest.mark.django_db
def test_ensure_creates_only_the_missing_demo_sessions() -> None:
    generate(30)
    report = generate(45, ensure=True)

    assert "Created 15 demo sessions" in report
    assert "already has 45" in generate(45, ensure=True)
    assert Session.objects.count() == 45


@pytest.mark.django_db
def test_dry_run_stores_nothing() -> None:
    report = generate(25, dry_run=True, batch_size=10)

    assert "dry run, nothing stored" in report
    assert Session.objects.count() == 0


@pytest.mark.django_db
def test_a_batch_larger_than_one_insert_works() -> None:
    generate(23, batch_size=5)

    assert Session.objects.count() == 23


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-1"], "0 or more"),
        (["ten"], "whole number"),
        (["10", "--batch-size", "0"], "between 1 and 10000"),
        (["10", "--database", "nowhere"], "unknown database alias 'nowhere'"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        generate(*args)


def run_demo(database_url: str, sessions: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEMO_SESSIONS": str(sessions),
        "DEMO_NO_SERVE": "1",
        "VENV": sys.prefix,  # the interpreter running the tests
    }
    return subprocess.run(
        [str(REPO / "scripts" / "demo")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_demo_ran(result: subprocess.CompletedProcess[str], sessions: int) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "username demo  password " in result.stdout
    assert "http://127.0.0.1:8000/admin/" in result.stdout
    return result.stdout.split("password ", 1)[1].split()[0]


def test_scripts_demo_prepares_a_sqlite_database(tmp_path: Path) -> None:
    database = tmp_path / "demo.sqlite3"

    first = run_demo(f"sqlite:///{database}", 40)
    password = assert_demo_ran(first, 40)
    assert "Created 40 demo sessions" in first.stdout
    second = run_demo(f"sqlite:///{database}", 40)
    assert_demo_ran(second, 40)
    assert "already has 40 sessions" in second.stdout

    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (40,)
        user = db.execute(
            "SELECT is_superuser, is_staff FROM auth_user WHERE username = 'demo'"
        ).fetchone()
    assert user == (1, 1)
    assert len(password) >= 12


def url_names(resolver: URLResolver, namespace: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= url_names(pattern, inner)
        elif pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_scripts_demo_lists_every_page_the_example_serves(tmp_path: Path) -> None:
    result = run_demo(f"sqlite:///{tmp_path / 'demo.sqlite3'}", 3)
    assert_demo_ran(result, 3)

    paths = set(re.findall(r"http://127\.0\.0\.1:8000(/\S*)", result.stdout))
    listed = {
        resolve(path.replace("<id>", str(uuid.uuid4())), "example_project.urls").view_name
        for path in paths
    }
    # The API's JSON 404 for any other path under it is no page to list.
    served = url_names(get_resolver("example_project.urls")) - {
        "graphflow_sessions_api:no-such-endpoint"
    }
    # The admin is one entry: its login page leads to the rest.
    assert listed == {name for name in served if not name.startswith("admin:")} | {"admin:index"}
    assert "claims:index" in listed  # the chat page at /


@pytest.mark.postgres
def test_scripts_demo_prepares_a_postgresql_database_from_database_url() -> None:
    import psycopg

    db = settings.DATABASES["default"]
    name = f"gfs_demo_{uuid.uuid4().hex[:12]}"
    server = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        if not db.get("PASSWORD")
        else f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}"
    )
    with psycopg.connect(f"{server}/{connection.settings_dict['NAME']}", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        result = run_demo(f"{server}/{name}", 30)
        assert_demo_ran(result, 30)
        assert "Database: postgres (from DATABASE_URL)" in result.stdout
        assert "Created 30 demo sessions" in result.stdout
        assert "on postgresql" in result.stdout
        with psycopg.connect(f"{server}/{name}") as demo:
            assert demo.execute("SELECT COUNT(*) FROM sessions").fetchone() == (30,)
    finally:
        with psycopg.connect(
            f"{server}/{connection.settings_dict['NAME']}", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
