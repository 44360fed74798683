"""The ``GRAPHFLOW_SESSIONS`` settings dict, read at call time so ``override_settings`` works.

    GRAPHFLOW_SESSIONS = {
        "DATABASE": "default",          # alias that holds the sessions table
        "MAX_CONTEXT_BYTES": 32 * 1024 * 1024,
    }

Settings never change a model field or a migration.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

#: Every key the app understands, with its default. Unknown keys are reported by check W002.
DEFAULTS: dict[str, Any] = {
    # Database alias of the sessions table; the router sends the Session model there.
    "DATABASE": "default",
    # Alias for list-style reads (admin list, API list, export); None reads from DATABASE.
    "REPLICA_DATABASE": None,
    # Largest encoded context accepted on save, in bytes (jsonb itself stops near 255 MB).
    "MAX_CONTEXT_BYTES": 32 * 1024 * 1024,
    # Prepare the storage's statements on PostgreSQL: "auto" once a connection is seen to go
    # straight to PostgreSQL (never through a pooler), True always, False never.
    # See storage/executor.py.
    "PREPARED_STATEMENTS": "auto",
    # Let admin users with the change permission edit sessions (machine-written: off).
    "ADMIN_ALLOW_EDITS": False,
    # Messages per page on the admin transcript.
    "ADMIN_TRANSCRIPT_PAGE_SIZE": 200,
    # Admin transcript: seconds between polls for new messages while the page is visible,
    # from the shortest (after a change) growing to the longest (while the session is idle);
    # None turns live transcripts off.
    "ADMIN_LIVE_POLL_SECONDS": (2, 10),
    # Admin list: count filtered results up to this many (then "more than N"); unfiltered
    # lists of larger PostgreSQL tables show the planner's row estimate instead of COUNT(*).
    "ADMIN_COUNT_LIMIT": 10_000,
    # Search without the full-text index (SQLite, or a project that leaves it out): words
    # are looked for in the newest this-many sessions of the current list (their contexts
    # must be read, so the work is bounded); None searches every session.
    "ADMIN_SEARCH_WINDOW": 2_000,
    # Admin list: show a count beside each filter choice (Django's facets). Off by default:
    # each count is counted only up to ADMIN_COUNT_LIMIT, but every choice is one more count.
    "ADMIN_SHOW_FACETS": False,
    # Admin overview: seconds its numbers are kept in Django's cache (0: computed per view),
    # and the cache alias used.
    "ADMIN_OVERVIEW_CACHE_SECONDS": 300,
    "ADMIN_OVERVIEW_CACHE": "default",
    # Admin overview: the tasks that mean "finished" (graph-flow records no completion):
    # a dict {graph_id: [task_id, ...]} ("*" for every graph), or the dotted path of
    # ``finished(graph_id, task_id) -> bool``; empty: every session counts as in progress.
    "ADMIN_OVERVIEW_FINISHED_TASKS": {},
    # Admin overview: history lengths are read from the newest this-many sessions (their
    # contexts must be read, so the work is bounded).
    "ADMIN_OVERVIEW_SAMPLE": 2_000,
    # Admin overview (PostgreSQL): tables the planner estimates above this many rows have
    # every count and size estimated from a sample of about this many rows' pages.
    "ADMIN_OVERVIEW_SCAN_LIMIT": 20_000,
    # PostgreSQL: True makes migration 0004 install the search index (side tables kept by
    # triggers, see docs/search.md; a fixed ~0.9 ms per save, whatever the history's length).
    # False leaves it out: search then reads the newest sessions as ADMIN_SEARCH_WINDOW says.
    # Read when migrating, and by graphflow_sessions_index.
    "SEARCH_INDEX": True,
    # Search (admin and API): seconds one search request may keep the database busy before
    # it is cancelled there (statement_timeout on PostgreSQL); None sets no limit.
    "SEARCH_TIMEOUT": 10,
    # Retention: default age in days (None keeps forever) and per-graph ages in days.
    "RETENTION_DAYS": None,
    "RETENTION_DAYS_BY_GRAPH": {},
    # REST API: page size, its cap, and whether writes need If-Match.
    "API_PAGE_SIZE": 50,
    "API_MAX_PAGE_SIZE": 500,
    "API_REQUIRE_IF_MATCH": False,
    # REST API: dotted paths of permission classes and of a queryset-scoping hook
    # ``hook(request, queryset) -> queryset``; None means staff users only, all sessions.
    "API_PERMISSION_CLASSES": None,
    "API_QUERYSET_HOOK": None,
    # REST API: dotted path of ``hook(request, session) -> None`` run on a session about to
    # be created (e.g. to stamp its owner); None runs nothing.
    "API_CREATE_HOOK": None,
    # REST API: largest request body in bytes (413 above); None means MAX_CONTEXT_BYTES
    # plus 64 KiB for the other fields.
    "API_MAX_BODY_BYTES": None,
}


class Settings:
    """Attribute access to GRAPHFLOW_SESSIONS with defaults: ``app_settings.DATABASE``.

    The merged values are cached (the storage reads several per operation) and the cache is
    dropped whenever Django reports GRAPHFLOW_SESSIONS changed (``override_settings``, the
    pytest-django ``settings`` fixture), so a value is never stale.
    """

    def __init__(self) -> None:
        self._merged: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"unknown graphflow_sessions setting {name!r}")
        merged = self._merged
        if merged is None:
            merged = self._merged = {**DEFAULTS, **self.user_settings()}
        return merged[name]

    def user_settings(self) -> dict[str, Any]:
        value = getattr(django_settings, "GRAPHFLOW_SESSIONS", None)
        return value if isinstance(value, dict) else {}

    def reload(self) -> None:
        self._merged = None


app_settings = Settings()


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == "GRAPHFLOW_SESSIONS":
        app_settings.reload()
