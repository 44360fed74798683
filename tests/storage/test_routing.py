"""The sessions router: the model and its migrations go to GRAPHFLOW_SESSIONS["DATABASE"]."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from django.test import override_settings

from graphflow_sessions.models import Session
from graphflow_sessions.routers import SessionsRouter, list_database, sessions_database

ROOT = Path(__file__).resolve().parents[2]
router = SessionsRouter()


class Unrelated:
    class _meta:  # noqa: N801 (mimics a model's _meta)
        app_label = "auth"


def test_by_default_everything_is_on_default() -> None:
    assert (sessions_database(), list_database()) == ("default", "default")
    assert router.db_for_read(Session) == "default"


@override_settings(GRAPHFLOW_SESSIONS={"DATABASE": "sessions", "REPLICA_DATABASE": "replica"})
def test_reads_and_writes_of_the_model_go_to_the_sessions_database() -> None:
    assert router.db_for_read(Session) == "sessions"
    assert router.db_for_write(Session) == "sessions"
    assert router.db_for_read(Session, instance=Session()) == "sessions"
    assert list_database() == "replica"


@override_settings(GRAPHFLOW_SESSIONS={"DATABASE": "sessions"})
def test_the_router_has_no_opinion_on_other_apps() -> None:
    assert router.db_for_read(Unrelated) is None
    assert router.db_for_write(Unrelated) is None
    assert router.allow_migrate("default", "auth") is None
    assert router.allow_relation(Session(), Session()) is None


@override_settings(GRAPHFLOW_SESSIONS={"DATABASE": "sessions", "REPLICA_DATABASE": "replica"})
def test_the_app_migrates_only_on_the_sessions_database() -> None:
    assert router.allow_migrate("sessions", "graphflow_sessions") is True
    assert router.allow_migrate("default", "graphflow_sessions") is False
    assert router.allow_migrate("replica", "graphflow_sessions", model_name="session") is False


def test_sessions_live_in_their_own_database_with_their_migrations() -> None:
    # A second alias needs its own settings module, so these cases run in a subprocess
    # against the same database server (or SQLite) as this run.
    cases = ROOT / "tests" / "support" / "multidb_cases.py"
    expected = len(re.findall(r"^def test_", cases.read_text(), flags=re.MULTILINE))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(cases), "--ds=tests.settings_multidb", "-q",
         "-p", "no:cacheprovider"],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"\b{expected} passed\b", done.stdout), done.stdout
    assert " skipped" not in done.stdout and " deselected" not in done.stdout


def check_ids() -> list[str]:
    from graphflow_sessions.checks import check_operations

    return [message.id for message in check_operations()]


class EverythingToArchive:
    """A project router that claims every model, as catch-all routers do."""

    def db_for_write(self, model: object, **hints: object) -> str:
        return "archive"


@override_settings(DATABASE_ROUTERS=[EverythingToArchive()])
def test_check_w010_warns_when_the_routers_send_the_model_elsewhere() -> None:
    assert check_ids() == ["graphflow_sessions.W010"]


@override_settings(DATABASE_ROUTERS=[SessionsRouter(), EverythingToArchive()])
def test_check_w010_is_quiet_with_the_sessions_router_first() -> None:
    assert check_ids() == []


@override_settings(GRAPHFLOW_SESSIONS={"REPLICA_DATABASE": "default"})
def test_check_w011_warns_when_the_replica_is_the_primary() -> None:
    assert check_ids() == ["graphflow_sessions.W011"]
