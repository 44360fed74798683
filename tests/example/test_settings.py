"""The example project's settings and URLs under different environments (fresh processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
pool = db.get("OPTIONS", {}).get("pool")
print(json.dumps({"engine": db["ENGINE"], "name": str(db["NAME"]), "port": db.get("PORT"),
                  "debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS,
                  "conn_max_age": db.get("CONN_MAX_AGE", 0),
                  "pool_max_size": pool and pool["max_size"]}))
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key != "DATABASE_URL"
    }
    environment.update(DJANGO_SETTINGS_MODULE="example_project.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_with(**env: str) -> dict[str, object]:
    result = run_python(SHOW_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_without_database_url_the_example_uses_a_sqlite_file_in_the_repository() -> None:
    shown = settings_with()

    assert shown["engine"] == "django.db.backends.sqlite3"
    assert shown["name"] == str(REPO / "example.sqlite3")
    assert (shown["debug"], shown["hosts"]) == (True, ["127.0.0.1", "localhost"])


def test_database_url_switches_the_example_to_postgresql() -> None:
    shown = settings_with(DATABASE_URL="postgres://claims@db.internal:5433/claims")

    assert shown["engine"] == "django.db.backends.postgresql"
    assert (shown["name"], shown["port"]) == ("claims", 5433)


def test_on_postgresql_the_example_pools_connections_instead_of_keeping_one_per_thread() -> None:
    # runserver answers each request in a new thread: a connection kept per thread
    # (CONN_MAX_AGE) is one more open connection per request (tests/example/test_load.py).
    url = "postgres://claims@db.internal:5433/claims"

    assert settings_with(DATABASE_URL=url)["conn_max_age"] == 0
    assert settings_with(DATABASE_URL=url)["pool_max_size"] == 10
    assert settings_with(DATABASE_URL=url, DATABASE_POOL_MAX_SIZE="4")["pool_max_size"] == 4
    assert settings_with()["pool_max_size"] is None  # SQLite has no pool


def test_the_demo_serves_with_the_examples_runserver_and_its_deeper_listen_queue() -> None:
    code = """
import django
django.setup()
from django.core.management import get_commands, load_command_class
app = get_commands()["runserver"]
print(app, load_command_class(app, "runserver").server_cls.request_queue_size)
"""
    result = run_python(code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["example_project.claims", "128"]


def test_a_deployment_sets_debug_hosts_and_its_own_secret_key() -> None:
    shown = settings_with(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-real-secret-from-the-environment",
        DJANGO_ALLOWED_HOSTS="claims.example.com, admin.example.com",
    )

    assert shown["debug"] is False
    assert shown["hosts"] == ["claims.example.com", "admin.example.com"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "0"}, "Set DJANGO_SECRET_KEY when DJANGO_DEBUG is off"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be 1/0"),
        ({"DATABASE_POOL_MAX_SIZE": "0"}, "DATABASE_POOL_MAX_SIZE must be a whole number"),
    ],
)
def test_unsafe_or_unreadable_settings_refuse_to_start(env: dict[str, str], message: str) -> None:
    result = run_python(SHOW_SETTINGS, **env)

    assert result.returncode != 0
    assert message in result.stderr


def test_without_django_rest_framework_the_example_runs_without_the_api() -> None:
    code = """
import sys
sys.modules["rest_framework"] = None  # as if the drf extra were not installed
import django
django.setup()
from django.urls import Resolver404, resolve
print(resolve("/execute").url_name, resolve("/admin/").app_name)
try:
    resolve("/api/sessions/")
except Resolver404:
    print("no api")
"""
    result = run_python(code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["execute", "admin", "no", "api"]


def test_with_django_rest_framework_the_api_is_mounted_at_api() -> None:
    pytest.importorskip("rest_framework", reason="the drf extra is not installed in this run")
    code = """
import django
django.setup()
from django.urls import resolve
print(resolve("/api/sessions/").namespace)
"""
    result = run_python(code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "graphflow_sessions_api"
