"""``PostgresSessionStorage.connect(url)``: graph-flow 0.5's one-line setup, in Django terms.

    storage = PostgresSessionStorage.connect(os.environ["DATABASE_URL"])
    storage = await PostgresSessionStorage.aconnect(url)       # the same, from async code

What ``connect(url)`` does, in order:

1. In a plain script (no ``DJANGO_SETTINGS_MODULE``, nothing configured) it configures a
   minimal Django for itself: ``INSTALLED_APPS = ["graphflow_sessions"]``, ``USE_TZ = True``,
   ``TIME_ZONE = "UTC"`` and ``DATABASES = {"default": <the URL>}``, then ``django.setup()``.
   Inside a Django project it touches no setting but ``DATABASES``, and only to add an alias.
2. It parses the URL with dj-database-url and reuses the alias already configured for the
   same database (engine, host, port, name and user), or registers a new alias
   ``graphflow_sessions_<hash>`` whose PostgreSQL connections come from a psycopg pool
   (Django's ``OPTIONS["pool"]``) of at most 5 connections, with a bounded connect timeout.
3. It opens one connection right away, so a wrong URL fails here with
   :class:`~graphflow_sessions.exceptions.ConnectionFailed` naming host, port, database and
   user (never the password), not later and not as a driver traceback.
4. On the first connect of the process to that alias it applies this app's migrations there
   (graph-flow's "automatic schema migration on first connection"); ``migrate=False`` opts
   out, for deployments where a separate, privileged user runs ``manage.py migrate``.

This module only sets the alias up (``open_alias``); the storage that ``connect()`` returns
is made with ``release_connections=True``: it hands its pooled connection back after each
operation (outside a caller's ``transaction.atomic``), so any number of threads share the
pool's connections instead of each thread keeping one (its save, get and delete take them
from the pool directly: see ``storage.database``).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypedDict

from .exceptions import (
    ConnectionFailed,
    SchemaMigrationError,
    describe_database,
    redact,
    safe_cause,
)

__all__ = [
    "ConnectOptions",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_POOL_MAX_SIZE",
    "DEFAULT_POOL_TIMEOUT",
    "connected_aliases",
    "disconnect",
    "open_alias",
]

#: graph-flow 0.5: "Connection pooling is configured with a maximum of 5 connections by default".
DEFAULT_POOL_MAX_SIZE = 5
#: Seconds to wait for the server to answer a new connection (libpq ``connect_timeout``).
DEFAULT_CONNECT_TIMEOUT = 5
#: Seconds an operation waits for a free pooled connection before failing.
DEFAULT_POOL_TIMEOUT = 10.0


class ConnectOptions(TypedDict, total=False):
    """What ``PostgresSessionStorage.connect(url, ...)`` takes besides the URL."""

    migrate: bool
    pool_max_size: int | None
    connect_timeout: float | None
    pool_timeout: float


_APP_LABEL = "graphflow_sessions"
_ALIAS_PREFIX = "graphflow_sessions_"
# Serialises concurrent migrations of one database across processes (pg_advisory_lock key).
_MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"graphflow_sessions.migrate").digest()[:8], "big", signed=True
)


@dataclass
class _Registration:
    """An alias this module added to DATABASES, and what it was made with."""

    pool_max_size: int | None


_registered: dict[str, _Registration] = {}
# Aliases (ours or the project's) whose schema this process has already checked.
_migrated: set[str] = set()
_lock = threading.RLock()


def open_alias(
    url: str,
    *,
    migrate: bool = True,
    pool_max_size: int | None = None,
    connect_timeout: float | None = None,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
) -> str:
    """The database alias for ``url``, set up, connected and migrated (see the module docstring).

    ``pool_max_size`` caps the PostgreSQL connections of a new alias (default 5; the first
    ``connect()`` to a database decides it). ``connect_timeout`` bounds each new connection
    in seconds (default 5, or the URL's ``?connect_timeout=``). ``pool_timeout`` is how long
    an operation waits for a free pooled connection.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConnectionFailed(
            "cannot connect: the database URL is empty (set DATABASE_URL, e.g. "
            "postgresql://user:password@localhost/database)"
        )
    if pool_max_size is not None and (
        not isinstance(pool_max_size, int) or isinstance(pool_max_size, bool) or pool_max_size < 1
    ):
        raise ValueError(f"pool_max_size must be a positive int, got {pool_max_size!r}")
    database = _parse(url, connect_timeout)
    with _lock:
        _ensure_django(database, pool_max_size, pool_timeout)
        new = not _identity_known(database)
        alias = _alias_for(database, pool_max_size, pool_timeout)
        try:
            _check_connection(alias)
            if migrate and alias not in _migrated:
                _migrate(alias)
                _migrated.add(alias)
        except (ConnectionFailed, SchemaMigrationError):
            if new:  # leave no alias behind for a database that cannot be used
                disconnect(alias)
            raise
    return alias


def connected_aliases() -> frozenset[str]:
    """The aliases ``connect()`` registered in this process (routers may allow migrations)."""
    return frozenset(_registered)


def disconnect(alias: str) -> None:
    """Close an alias ``connect()`` registered: its pool, its connections, its DATABASES entry.

    For tests and tools that connect to many short-lived databases; a project alias (one
    ``connect()`` reused but did not create) is left alone.
    """
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS, connections

    with _lock:
        if alias not in _registered or alias == DEFAULT_DB_ALIAS:
            return
        wrapper = connections[alias]
        wrapper.close()
        close_pool = getattr(wrapper, "close_pool", None)
        if close_pool is not None:
            close_pool()
        del _registered[alias]
        _migrated.discard(alias)
        del connections[alias]
        connections.settings.pop(alias, None)
        if settings.DATABASES is not connections.settings:
            settings.DATABASES.pop(alias, None)


# --- steps of open_alias() ------------------------------------------------------------------


def _parse(url: str, connect_timeout: float | None) -> dict[str, Any]:
    import dj_database_url

    try:
        database: dict[str, Any] = dict(dj_database_url.parse(url))
    except Exception as exc:  # dj-database-url raises ValueError, KeyError, ...
        # Never echo the URL itself: it may carry the password.
        scheme = url.split(":", 1)[0] if ":" in url else "(none)"
        raise ConnectionFailed(
            f"cannot connect: the database URL is not valid (scheme {scheme!r}: "
            f"{type(exc).__name__}); expected e.g. postgresql://user:password@host:5432/name"
        ) from None
    if "postgresql" in database["ENGINE"]:
        options = database.setdefault("OPTIONS", {})
        if connect_timeout is not None or "connect_timeout" not in options:
            timeout = DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
            # libpq takes whole seconds; round up so a bound is never shortened to "none".
            options["connect_timeout"] = max(1, math.ceil(timeout))
    return database


def _ensure_django(
    database: dict[str, Any], pool_max_size: int | None, pool_timeout: float
) -> None:
    """Configure a minimal Django in a plain script; set up apps if nobody did yet."""
    import django
    from django.apps import apps
    from django.conf import settings

    if apps.ready:
        return
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        default = _with_pool(dict(database), pool_max_size, pool_timeout, alias="default")
        settings.configure(
            INSTALLED_APPS=[_APP_LABEL],
            USE_TZ=True,
            TIME_ZONE="UTC",
            DATABASES={"default": default},
        )
        _registered["default"] = _Registration(_pool_size(default))
    django.setup()


def _alias_for(database: dict[str, Any], pool_max_size: int | None, pool_timeout: float) -> str:
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS, connections

    key = _identity(database)
    for alias, existing in connections.settings.items():
        if _identity(existing) != key:
            continue
        registration = _registered.get(alias)
        wanted = pool_max_size or DEFAULT_POOL_MAX_SIZE
        if (
            registration is not None
            and pool_max_size is not None
            and registration.pool_max_size not in (None, wanted)
        ):
            raise ValueError(
                f"{describe_database(existing)} is already connected (alias {alias!r}) with "
                f"a pool of at most {registration.pool_max_size} connections; the first "
                f"connect() decides the pool size, so pass the same pool_max_size={wanted} "
                "everywhere or none after the first"
            )
        return alias
    alias = _ALIAS_PREFIX + hashlib.sha256(repr(key).encode()).hexdigest()[:12]
    entry = _with_pool(database, pool_max_size, pool_timeout, alias=alias)
    # Fills in every key Django expects (AUTOCOMMIT, TEST, TIME_ZONE...) as at startup.
    connections.configure_settings({DEFAULT_DB_ALIAS: entry})
    connections.settings[alias] = entry
    if settings.DATABASES is not connections.settings:  # e.g. under override_settings
        settings.DATABASES[alias] = entry  # type: ignore[assignment]
    _registered[alias] = _Registration(_pool_size(entry))
    return alias


def _identity_known(database: dict[str, Any]) -> bool:
    from django.db import connections

    key = _identity(database)
    return any(_identity(existing) == key for existing in connections.settings.values())


def _identity(settings_dict: dict[str, Any]) -> tuple[str, ...]:
    engine = str(settings_dict.get("ENGINE", ""))
    if "sqlite" in engine:
        return ("sqlite", os.path.abspath(str(settings_dict.get("NAME", ""))))
    vendor = "postgresql" if "postgresql" in engine or "postgis" in engine else engine
    return (
        vendor,
        str(settings_dict.get("HOST") or "").lower(),
        str(settings_dict.get("PORT") or (5432 if vendor == "postgresql" else "")),
        str(settings_dict.get("NAME") or ""),
        str(settings_dict.get("USER") or ""),
    )


def _with_pool(
    database: dict[str, Any], pool_max_size: int | None, pool_timeout: float, *, alias: str
) -> dict[str, Any]:
    if "postgresql" not in database["ENGINE"]:
        return database
    options = database.setdefault("OPTIONS", {})
    if "pool" not in options:
        options["pool"] = {
            # One warm connection, up to max_size under load (sqlx's pool also starts small).
            "min_size": 1,
            "max_size": pool_max_size or DEFAULT_POOL_MAX_SIZE,
            "timeout": pool_timeout,
            "name": alias,
        }
    # Django refuses persistent connections together with a pool.
    database["CONN_MAX_AGE"] = 0
    return database


def _pool_size(settings_dict: dict[str, Any]) -> int | None:
    pool = settings_dict.get("OPTIONS", {}).get("pool")
    return pool.get("max_size") if isinstance(pool, dict) else None


def _check_connection(alias: str) -> None:
    """Open one connection now, so a bad URL fails here, fast and clearly."""
    from django.db import DatabaseError, connections

    wrapper: Any = connections[alias]
    settings_dict = wrapper.settings_dict
    try:
        if getattr(wrapper, "pool", None) is not None:
            # A pool would retry in the background and only report "timed out"; a direct
            # connection with the same parameters says what is wrong (refused, auth, ...).
            params = wrapper.get_connection_params()
            wrapper.Database.connect(**params).close()
        else:
            wrapper.ensure_connection()
    except (DatabaseError, wrapper.Database.Error) as exc:
        raise ConnectionFailed.for_database(settings_dict, alias, exc) from safe_cause(
            exc, settings_dict
        )


def _migrate(alias: str) -> None:
    """Apply this app's pending migrations on ``alias``; raise SchemaMigrationError if not."""
    from django.db import DatabaseError, connections, router
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[alias]
    where = f"{describe_database(connection.settings_dict)} (alias {alias!r})"
    if not router.allow_migrate(alias, _APP_LABEL, model_name="session"):
        raise SchemaMigrationError(
            f"Failed to create the sessions schema in {where}: DATABASE_ROUTERS do not allow "
            f"migrating {_APP_LABEL} there. Allow it in your router (see "
            "graphflow_sessions.connect.connected_aliases()), or pass migrate=False and run "
            f"`manage.py migrate {_APP_LABEL} --database {alias}` yourself"
        )
    applied: list[str] = []
    try:
        with _migration_lock(connection):
            # The executor, not the migrate command: no post_migrate signals, so other apps
            # (contenttypes, auth) never try to write their rows into this database.
            executor = MigrationExecutor(connection)
            targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] == _APP_LABEL]
            plan = executor.migration_plan(targets)
            applied = [migration.name for migration, _backwards in plan]
            if plan:
                executor.migrate(targets, plan=plan)
    except DatabaseError as exc:
        pending = f" ({', '.join(applied)})" if applied else ""
        raise SchemaMigrationError(
            f"Failed to create the sessions schema in {where}: migrating {_APP_LABEL}"
            f"{pending} failed: {redact(str(exc), connection.settings_dict)}. Grant this user "
            "CREATE on the schema, or run `manage.py migrate "
            f"{_APP_LABEL}` as a privileged user and connect with migrate=False"
        ) from safe_cause(exc, connection.settings_dict)
    finally:
        _release(connection)


@contextmanager
def _migration_lock(connection: Any) -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    # Two processes connecting to a fresh database at once: one migrates, the other waits.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK_KEY])


def _release(connection: Any) -> None:
    """Give a pooled connection back to its pool (outside a transaction only)."""
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()
