"""System checks for GRAPHFLOW_SESSIONS: stable ids, a message saying what is wrong, a hint."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

pytestmark = pytest.mark.django_db  # Django's own model checks ask SQLite about JSON support

# The settings checks under test (other checks of the app have their own tests).
SETTINGS_CHECKS = {
    f"graphflow_sessions.{code}"
    for code in ("E001", "E002", "E003", "E004", "E030", "W001", "W002")
}


def our_messages(**kwargs: Any) -> dict[str, Any]:
    """Run the registered checks as ``manage.py check`` does; keep the settings checks."""
    return {
        message.id: message
        for message in checks.run_checks(**kwargs)
        if message.id in SETTINGS_CHECKS
    }


def expected_vendor_warning() -> set[str]:
    return set() if connection.vendor == "postgresql" else {"graphflow_sessions.W001"}


def test_the_test_settings_pass_every_check_but_the_vendor_warning():
    assert set(our_messages()) == expected_vendor_warning()


def test_w001_warns_exactly_when_the_sessions_database_is_not_postgresql():
    messages = our_messages()
    if connection.vendor == "postgresql":
        assert "graphflow_sessions.W001" not in messages
    else:
        warning = messages["graphflow_sessions.W001"]
        assert warning.level == checks.WARNING
        assert f"is {connection.vendor}, not PostgreSQL" in warning.msg
        # Says what degrades.
        assert "Rust graph-flow service cannot share it" in warning.hint
        assert "uncompressed" in warning.hint
        assert "scan the table" in warning.hint


@override_settings(GRAPHFLOW_SESSIONS={"DATABASE": "sessions"})
def test_e001_an_unknown_database_alias():
    error = our_messages()["graphflow_sessions.E001"]
    assert error.level == checks.ERROR
    assert "'sessions', which is not in DATABASES" in error.msg
    assert 'GRAPHFLOW_SESSIONS["DATABASE"]' in error.msg
    assert "default" in error.hint


@override_settings(GRAPHFLOW_SESSIONS={"REPLICA_DATABASE": "replica"})
def test_e001_an_unknown_replica_alias():
    error = our_messages()["graphflow_sessions.E001"]
    assert 'GRAPHFLOW_SESSIONS["REPLICA_DATABASE"]' in error.msg
    assert "'replica'" in error.msg


@override_settings(GRAPHFLOW_SESSIONS={"DATABASE": "nowhere"})
def test_an_unknown_alias_gets_no_vendor_warning():
    assert set(our_messages()) == {"graphflow_sessions.E001"}


@pytest.mark.parametrize("limit", [0, -1, "32MB", 1.5, True, None])
def test_e002_max_context_bytes_must_be_a_positive_int(limit):
    with override_settings(GRAPHFLOW_SESSIONS={"MAX_CONTEXT_BYTES": limit}):
        error = our_messages()["graphflow_sessions.E002"]
    assert error.level == checks.ERROR
    assert repr(limit) in error.msg
    assert "33554432" in error.hint


@override_settings(GRAPHFLOW_SESSIONS={"MAX_CONTEXT_BYTES": 1024})
def test_a_positive_max_context_bytes_passes():
    assert "graphflow_sessions.E002" not in our_messages()


@pytest.mark.parametrize("value", ["yes", "AUTO", 1, 0, None])
def test_e004_prepared_statements_must_be_auto_true_or_false(value):
    with override_settings(GRAPHFLOW_SESSIONS={"PREPARED_STATEMENTS": value}):
        error = our_messages()["graphflow_sessions.E004"]
    assert error.level == checks.ERROR
    assert repr(value) in error.msg
    assert "PgBouncer" in error.hint


@pytest.mark.parametrize("value", [0, -1, "10", True, float("nan")])
def test_e030_search_timeout_must_be_positive_seconds_or_none(value):
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": value}):
        error = our_messages()["graphflow_sessions.E030"]
    assert error.level == checks.ERROR
    assert repr(value) in error.msg


@pytest.mark.parametrize("value", [10, 0.5, None])
def test_positive_seconds_or_none_are_valid_search_timeouts(value):
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": value}):
        assert "graphflow_sessions.E030" not in our_messages()


@pytest.mark.parametrize("value", ["auto", True, False])
def test_auto_true_and_false_are_valid_prepared_statements(value):
    with override_settings(GRAPHFLOW_SESSIONS={"PREPARED_STATEMENTS": value}):
        assert "graphflow_sessions.E004" not in our_messages()


@pytest.mark.parametrize("value", [["DATABASE", "default"], "default", 1])
def test_e003_the_setting_must_be_a_dict(value):
    with override_settings(GRAPHFLOW_SESSIONS=value):
        messages = our_messages()
    assert set(messages) == {"graphflow_sessions.E003"}
    assert "must be a dict" in messages["graphflow_sessions.E003"].msg


@override_settings(GRAPHFLOW_SESSIONS={"MAX_CONTEXT_BYTE": 10, "DATABSE": "default"})
def test_w002_unknown_keys_are_named_with_the_known_ones_in_the_hint():
    warning = our_messages()["graphflow_sessions.W002"]
    assert warning.level == checks.WARNING
    assert "DATABSE, MAX_CONTEXT_BYTE" in warning.msg
    assert "MAX_CONTEXT_BYTES" in warning.hint
    assert "DATABASE" in warning.hint


@override_settings(GRAPHFLOW_SESSIONS={"DATABASE": "missing"})
def test_manage_py_check_fails_on_an_error():
    with pytest.raises(SystemCheckError, match="graphflow_sessions.E001"):
        call_command("check")


@override_settings(GRAPHFLOW_SESSIONS={"DATABASE": "missing"})
def test_the_checks_run_on_a_plain_check_not_only_with_database():
    # Django skips "database"-tagged checks unless --database is given.
    assert "graphflow_sessions.E001" in our_messages()
    assert "graphflow_sessions.E001" in our_messages(tags=[checks.Tags.compatibility])
    assert "graphflow_sessions.E001" not in our_messages(tags=[checks.Tags.urls])
