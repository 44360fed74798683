"""GRAPHFLOW_SESSIONS is read through a cache that never serves a stale value."""

from django.test import override_settings

from graphflow_sessions.conf import app_settings


def test_a_setting_reads_its_default_when_the_project_does_not_set_it() -> None:
    with override_settings(GRAPHFLOW_SESSIONS={}):
        assert app_settings.MAX_CONTEXT_BYTES == 32 * 1024 * 1024


def test_a_changed_setting_is_seen_at_once_and_the_old_value_comes_back_after() -> None:
    with override_settings(GRAPHFLOW_SESSIONS={"MAX_CONTEXT_BYTES": 1_000}):
        assert app_settings.MAX_CONTEXT_BYTES == 1_000  # read, so cached
        with override_settings(GRAPHFLOW_SESSIONS={"MAX_CONTEXT_BYTES": 2_000}):
            assert app_settings.MAX_CONTEXT_BYTES == 2_000
        assert app_settings.MAX_CONTEXT_BYTES == 1_000


def test_the_pytest_django_settings_fixture_is_seen_too(settings) -> None:
    assert app_settings.ADMIN_ALLOW_EDITS is False
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_ALLOW_EDITS": True}
    assert app_settings.ADMIN_ALLOW_EDITS is True
