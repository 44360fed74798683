"""Where sessions live: their own database, and a replica for list-style reads.

    GRAPHFLOW_SESSIONS = {"DATABASE": "sessions", "REPLICA_DATABASE": "sessions_replica"}
    DATABASE_ROUTERS = ["graphflow_sessions.routers.SessionsRouter"]

The router sends every ORM read and write of the Session model, and its migrations, to
``DATABASE``. Only code that lists many sessions (admin list, API list, export) asks for
``list_database()`` explicitly, so a session saved and then loaded is never read stale.
"""

from __future__ import annotations

from typing import Any

from .conf import app_settings

APP_LABEL = "graphflow_sessions"


def sessions_database() -> str:
    """The alias that holds the sessions table (and takes every write and single read)."""
    return str(app_settings.DATABASE)


def list_database() -> str:
    """The alias for list-style reads: the replica when one is configured."""
    return str(app_settings.REPLICA_DATABASE or app_settings.DATABASE)


class SessionsRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return sessions_database() if model._meta.app_label == APP_LABEL else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return sessions_database() if model._meta.app_label == APP_LABEL else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == APP_LABEL:
            # PostgresSessionStorage.connect(url) asked for a storage on that database
            # explicitly, and its first connect creates the schema there, as graph-flow's does.
            from .connect import connected_aliases

            return db == sessions_database() or db in connected_aliases()
        return None
