"""System checks for GRAPHFLOW_SESSIONS (ids are stable: graphflow_sessions.E001, W001...)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Info, Tags, Warning, register
from django.db import DatabaseError, connections

from .conf import DEFAULTS, app_settings
from .storage.flavour import id_column_type


# Not tagged "database": Django runs database-tagged checks only with ``check --database``,
# and these read settings only (a connection's vendor needs no connection), so they must run
# on every ``check``, ``runserver`` and ``migrate``.
@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    messages: list[Any] = []
    raw = getattr(settings, "GRAPHFLOW_SESSIONS", {})
    if not isinstance(raw, dict):
        return [
            Error(
                "GRAPHFLOW_SESSIONS must be a dict.",
                hint='Write it as GRAPHFLOW_SESSIONS = {"DATABASE": "default", ...}.',
                id="graphflow_sessions.E003",
            )
        ]
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        messages.append(
            Warning(
                f"GRAPHFLOW_SESSIONS has unknown keys: {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}. Check the spelling.",
                id="graphflow_sessions.W002",
            )
        )
    for key in ("DATABASE", "REPLICA_DATABASE"):
        alias = app_settings.__getattr__(key)
        if alias is None and key == "REPLICA_DATABASE":
            continue
        if alias not in settings.DATABASES:
            messages.append(
                Error(
                    f'GRAPHFLOW_SESSIONS["{key}"] names the database alias {alias!r}, '
                    "which is not in DATABASES.",
                    hint=f"Use one of: {', '.join(sorted(settings.DATABASES))}, or add "
                    f"{alias!r} to DATABASES.",
                    id="graphflow_sessions.E001",
                )
            )
    limit = app_settings.MAX_CONTEXT_BYTES
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        messages.append(
            Error(
                f'GRAPHFLOW_SESSIONS["MAX_CONTEXT_BYTES"] must be a positive int, got {limit!r}.',
                hint="The default is 33554432 (32 MiB).",
                id="graphflow_sessions.E002",
            )
        )
    prepared = app_settings.PREPARED_STATEMENTS
    if prepared is not True and prepared is not False and prepared != "auto":
        messages.append(
            Error(
                'GRAPHFLOW_SESSIONS["PREPARED_STATEMENTS"] must be "auto", True or False, '
                f"got {prepared!r}.",
                hint='"auto" (the default) prepares the storage\'s statements on connections that '
                "go straight to PostgreSQL; True also behind a pooler that supports prepared "
                "statements (PgBouncer 1.21+ with max_prepared_statements); False never.",
                id="graphflow_sessions.E004",
            )
        )
    timeout = app_settings.SEARCH_TIMEOUT
    if timeout is not None and (
        not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0
    ):
        messages.append(
            Error(
                'GRAPHFLOW_SESSIONS["SEARCH_TIMEOUT"] must be a positive number of seconds or '
                f"None, got {timeout!r}.",
                hint="The default is 10: a search request is cancelled on the database after "
                "10 seconds. None sets no limit.",
                id="graphflow_sessions.E030",
            )
        )
    alias = app_settings.DATABASE
    if alias in settings.DATABASES:
        vendor = connections[alias].vendor
        if vendor != "postgresql":
            messages.append(
                Warning(
                    f"The sessions database {alias!r} is {vendor}, not PostgreSQL.",
                    hint="Everything works, but a Rust graph-flow service cannot share it, "
                    "large contexts are stored as uncompressed text, and list filters on "
                    "context data scan the table instead of using an index. Use PostgreSQL "
                    "in production (SQLite is fine for development and tests).",
                    id="graphflow_sessions.W001",
                )
            )
    return messages


#: Measured by ``python -m benchmarks.connections`` (localhost PostgreSQL 15, psycopg 3): one
#: session read plus a new connection vs the same read on a reused connection.
NEW_CONNECTION_COST = "about 30 ms more per request, 8x a request on a reused connection"


# A deployment check (``check --deploy``): CONN_MAX_AGE = 0 is Django's default and fine in
# development. Not tagged "database", which Django skips unless ``--database`` is given.
@register(Tags.compatibility, deploy=True)
def check_connection_reuse(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W003: the sessions database opens (and closes) a connection for every request."""
    messages: list[Any] = []
    aliases = dict.fromkeys(
        alias
        for alias in (app_settings.DATABASE, app_settings.REPLICA_DATABASE)
        if alias is not None and alias in settings.DATABASES
    )
    for alias in aliases:
        database = settings.DATABASES[alias]
        if "postgresql" not in str(database.get("ENGINE", "")):
            continue
        pooled = bool((database.get("OPTIONS") or {}).get("pool"))
        if database.get("CONN_MAX_AGE", 0) == 0 and not pooled:
            messages.append(
                Warning(
                    f"The sessions database {alias!r} opens a new PostgreSQL connection for "
                    'every request (CONN_MAX_AGE = 0 and no OPTIONS["pool"]).',
                    hint="Connecting costs more than reading a session: measured "
                    f"{NEW_CONNECTION_COST} (benchmarks/connections.py). Add "
                    f'"OPTIONS": {{"pool": {{"max_size": 5}}}} to DATABASES[{alias!r}] '
                    "(psycopg 3 with psycopg[pool]) or set CONN_MAX_AGE = 60. Behind a "
                    "pooler such as PgBouncer connecting is cheap: silence this check with "
                    'SILENCED_SYSTEM_CHECKS = ["graphflow_sessions.W003"].',
                    id="graphflow_sessions.W003",
                )
            )
    return messages


@register(Tags.compatibility)
def check_operations(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E010: retention settings; W010: the ORM is not routed to DATABASE; W011: replica."""
    from django.db import router

    from .models import Session
    from .retention import retention_rules

    if not isinstance(getattr(settings, "GRAPHFLOW_SESSIONS", {}), dict):
        return []  # E003 says so
    messages: list[Any] = []
    by_graph = app_settings.RETENTION_DAYS_BY_GRAPH
    try:
        if by_graph is not None and not isinstance(by_graph, dict):
            raise ValueError(
                'GRAPHFLOW_SESSIONS["RETENTION_DAYS_BY_GRAPH"] must be a dict of graph id to '
                f"days, got {type(by_graph).__name__}"
            )
        retention_rules()
    except ValueError as exc:
        messages.append(
            Error(
                f"{exc}.",
                hint='Write ages in days, e.g. "RETENTION_DAYS": 30, "RETENTION_DAYS_BY_GRAPH": '
                '{"claims": 90, "audit": None} (None keeps that graph forever).',
                id="graphflow_sessions.E010",
            )
        )
    alias = app_settings.DATABASE
    if alias in settings.DATABASES:
        routed = router.db_for_write(Session)
        if routed != alias:
            messages.append(
                Warning(
                    f'GRAPHFLOW_SESSIONS["DATABASE"] is {alias!r}, but the database routers send '
                    f"the Session model to {routed!r}: the storage uses {alias!r} while the "
                    "admin, the ORM and migrate use the other.",
                    hint='Add "graphflow_sessions.routers.SessionsRouter" to DATABASE_ROUTERS '
                    "(first, or before any router that claims every model).",
                    id="graphflow_sessions.W010",
                )
            )
    replica = app_settings.REPLICA_DATABASE
    if replica is not None and replica == alias:
        messages.append(
            Warning(
                f'GRAPHFLOW_SESSIONS["REPLICA_DATABASE"] names the sessions database {alias!r} '
                "itself.",
                hint="Set it to None when there is no replica, or to the replica's alias.",
                id="graphflow_sessions.W011",
            )
        )
    return messages


_FLAVOURS = {
    "uuid": "graph-flow 0.5's uuid ids",
    "text": "graph-flow 0.6+'s text ids (a 0.6+ service converted it, or created it)",
}


@register(Tags.database)
def check_table_flavour(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
    """Which of graph-flow's two tables the sessions database holds (``check --database``)."""
    alias = app_settings.DATABASE
    if not databases or alias not in databases or alias not in settings.DATABASES:
        return []
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return []
    try:
        found = id_column_type(connection)
    except DatabaseError as exc:
        return [
            Warning(
                f"Cannot read the sessions table of database {alias!r}: {exc}",
                hint="Check that the database is reachable and run manage.py migrate.",
                id="graphflow_sessions.W020",
            )
        ]
    if found is None:
        return [
            Info(
                f"The sessions table does not exist yet in database {alias!r}.",
                hint="manage.py migrate creates it (or a graph-flow service, on connect).",
                id="graphflow_sessions.I001",
            )
        ]
    return [
        Info(
            f"The sessions table in database {alias!r} has "
            f"{_FLAVOURS.get(found, f'ids of type {found}')}.",
            hint='Both work; see the README\'s section "graph-flow 0.5 and 0.6+".',
            id="graphflow_sessions.I001",
        )
    ]
