"""Every hand-written SQL statement on the sessions table, built in one place from the model.

Table and column names come from ``Session._meta`` and are quoted for the connection;
nothing else in the package writes them out. What a statement may use is decided by
Django's own feature flags for the connection (``supports_update_conflicts_with_target``
for ``INSERT ... ON CONFLICT (id) DO UPDATE``, ``can_return_rows_from_bulk_insert`` for
``RETURNING``), not by the vendor's name.

Version and clock rules live here as SQL, so a row's ``version`` and ``updated_at`` are
always decided by the database: a new row starts at ``FIRST_VERSION`` (or one past the
version a caller expected), every update adds one, and ``updated_at`` is the database
server's ``NOW()``, never the application's clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.apps import apps

if TYPE_CHECKING:
    from ..models import Session

__all__ = [
    "CONFLICT_MARK",
    "FIRST_VERSION",
    "INDEXED_TEXT_CHARS",
    "INDEXED_TEXT_COLUMNS",
    "Statements",
    "add_version_column",
    "batch_document",
    "id_array",
    "database_time",
    "distinct_values",
    "graph_flow_create_table",
    "id_column_type",
    "indexed_prefix",
    "indexed_rest",
    "set_context_compression",
    "row_estimate",
    "search_backfill_batch",
    "search_orphans_delete",
    "search_table_is_empty",
    "search_unindexed_count",
    "search_triggers",
    "search_triggers_installed",
    "drop_search_triggers",
    "session_model",
    "supports_upsert",
    "table_sample",
    "table_sizes",
]

#: What a batch save's error says when a session of the batch is not at its expected
#: version (followed by the stored version and the id): the statement wrote nothing.
CONFLICT_MARK = "graphflow_sessions: version conflict"

#: The version of a newly created row (graph-flow 0.6 stores a new row at ``$6 + 1``, 1
#: for a session read at version 0).
FIRST_VERSION = 1

#: The text columns that the filter indexes hold, by their first ``INDEXED_TEXT_CHARS``
#: characters: a btree entry holds at most 2,704 bytes, which a whole incompressible value
#: of ~2.7 KB would exceed (PostgreSQL then refuses the row). 512 characters are at most
#: 2,048 bytes of UTF-8, so any row a Rust service writes is indexed; our writers refuse
#: longer values (``storage.base.text_column_problem``), so for their rows the indexed
#: prefix is the whole value.
INDEXED_TEXT_COLUMNS = ("graph_id", "current_task_id")
INDEXED_TEXT_CHARS = 512


def indexed_prefix(sql: str) -> str:
    """The part of the text ``sql`` that the indexes hold (migration 0006), written the same
    for PostgreSQL and SQLite so that both planners match it to the index expression."""
    return f"SUBSTR({sql}, 1, {INDEXED_TEXT_CHARS})"


def indexed_rest(sql: str) -> str:
    """The part of the text ``sql`` beyond ``indexed_prefix`` (empty for our writers' rows)."""
    return f"SUBSTR({sql}, {INDEXED_TEXT_CHARS + 1})"


def session_model() -> type[Session]:
    """The Session model, looked up (not imported) so that this package imports no model:
    the model's own ``save()`` writes through the storage."""
    return apps.get_model("graphflow_sessions", "Session")


def supports_upsert(connection: Any) -> bool:
    """Whether the connection has ``INSERT ... ON CONFLICT (id) DO UPDATE ... RETURNING``."""
    features = connection.features
    return bool(
        features.supports_update_conflicts_with_target and features.can_return_rows_from_bulk_insert
    )


def graph_flow_create_table(table: str) -> str:
    """graph-flow 0.5's PostgresSessionStorage creates its table with exactly this statement
    (``table`` unquoted, as graph-flow writes it)."""
    return f"""CREATE TABLE IF NOT EXISTS {table} (
    id UUID PRIMARY KEY,
    graph_id TEXT NOT NULL,
    current_task_id TEXT NOT NULL,
    status_message TEXT,
    context JSONB NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
)"""


def add_version_column(table: str) -> str:
    """graph-flow 0.6's own statement adding ``version`` where it is missing."""
    return f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0"


def set_context_compression(table: str, method: str) -> str:
    """Compress new large contexts with ``method`` (``lz4``, or ``default``) from now on."""
    return f"ALTER TABLE {table} ALTER COLUMN context SET COMPRESSION {method}"


def id_array(ids: Sequence[str]) -> str:
    """The ids (as text) as one PostgreSQL array literal, sent untyped: PostgreSQL reads it
    as an array of the id column's type (uuid or text) where it is compared with it."""
    return (
        "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in ids) + "}"
    )


def batch_document(
    rows: Sequence[tuple[str, str, str, str | None, bytes, int, int | None]],
) -> bytes:
    """The JSON array ``upsert_many`` reads: per row the id (as text), graph, task, status
    message, context (JSON bytes, inserted as they are), new row's version and expected
    version (None: saved whatever the stored version)."""
    parts = []
    for sid, graph_id, task_id, status, context, version, expected in rows:
        head = json.dumps(
            {
                "id": sid,
                "graph_id": graph_id,
                "current_task_id": task_id,
                "status_message": status,
                "version": version,
            }
            | ({} if expected is None else {"expected": expected}),
            ensure_ascii=False,
        )
        parts.append(head[:-1].encode() + b', "context": ' + context + b"}")
    return b"[" + b",".join(parts) + b"]"


def database_time(connection: Any) -> str:
    """The database server's clock, in UTC (what ``NOW()`` in the statements above reads)."""
    if connection.vendor == "postgresql":
        return "SELECT NOW()"
    return "SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')"


def id_column_type(connection: Any) -> tuple[str, list[Any]]:
    """The type of the table's id column (``uuid`` or ``text``), from PostgreSQL's catalogue."""
    table = connection.ops.quote_name(session_model()._meta.db_table)
    return (
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attname = 'id' AND NOT attisdropped",
        [table],
    )


def distinct_values(connection: Any, column: str, limit: int) -> tuple[str, list[Any]]:
    """Up to ``limit`` distinct indexed prefixes of one of ``INDEXED_TEXT_COLUMNS``, sorted
    (the values themselves, but for longer ones another writer stored). On PostgreSQL a
    recursive "loose index scan" over the column's index: one probe per distinct value."""
    quote = connection.ops.quote_name
    table, col = quote(session_model()._meta.db_table), indexed_prefix(quote(column))
    if connection.vendor == "postgresql":
        sql = (
            f"WITH RECURSIVE walk(value) AS ("
            f" (SELECT {col} FROM {table} ORDER BY {col} LIMIT 1)"
            f" UNION ALL"
            f" SELECT (SELECT {col} FROM {table} WHERE {col} > walk.value ORDER BY {col} LIMIT 1)"
            f" FROM walk WHERE walk.value IS NOT NULL"
            f") SELECT value FROM walk WHERE value IS NOT NULL LIMIT %s"
        )
    else:
        sql = f"SELECT DISTINCT {col} FROM {table} ORDER BY {col} LIMIT %s"
    return sql, [limit]


def row_estimate(connection: Any) -> tuple[str, list[Any]] | None:
    """PostgreSQL's planner estimate of the table's rows (``pg_class.reltuples``, kept
    fresh by autovacuum); None where the database keeps none."""
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(session_model()._meta.db_table)
    return "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table]


def table_sizes(connection: Any) -> tuple[str, list[Any]] | None:
    """The table's planner row estimate and its sizes in bytes from PostgreSQL's catalogue
    (no row is read): heap, TOAST (with its index), indexes, total. None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(session_model()._meta.db_table)
    return (
        "SELECT reltuples::bigint, pg_relation_size(oid), "
        "COALESCE(pg_total_relation_size(NULLIF(reltoastrelid, 0)), 0), "
        "pg_indexes_size(oid), pg_total_relation_size(oid) "
        "FROM pg_class WHERE oid = to_regclass(%s)",
        [table],
    )


def table_sample(connection: Any, statement: str, percent: float) -> str:
    """``statement`` (a SELECT from the sessions table, as the ORM compiled it) reading only
    about ``percent`` % of the table's pages, the same pages every time (PostgreSQL's
    ``TABLESAMPLE SYSTEM ... REPEATABLE``): a bounded pass over a huge table."""
    table = connection.ops.quote_name(session_model()._meta.db_table)
    source = f"FROM {table}"
    if connection.vendor != "postgresql" or statement.count(source) != 1:
        raise ValueError("table_sample needs one SELECT from the sessions table on PostgreSQL")
    share = min(max(float(percent), 0.0001), 100.0)
    return statement.replace(source, f"{source} TABLESAMPLE SYSTEM ({share:.4f}) REPEATABLE (0)")


# The search index's triggers (search/postgres.py defines the functions they run).
_SEARCH_TRIGGERS = (
    "gfs_search_insert",
    "gfs_search_update",
    "gfs_search_delete",
    "gfs_search_truncate",
)
# The one trigger of the first release (rows after insert and update, deletes), replaced by
# the above: dropped wherever the triggers are installed again.
_FORMER_SEARCH_TRIGGERS = ("gfs_search_change",)


def search_triggers(connection: Any) -> list[str]:
    """The triggers keeping the search index current: every row written or deleted, by
    anyone (a Rust service included), and a TRUNCATE."""
    table = connection.ops.quote_name(session_model()._meta.db_table)
    insert, update, delete, truncate = _SEARCH_TRIGGERS
    # No ``UPDATE OF`` column list: PostgreSQL then refuses to change those columns' types,
    # and a graph-flow 0.6 service converts the id column to text on connect. An update is
    # indexed BEFORE it is stored, while the new context is in memory (after it, it would be
    # read back from TOAST and decompressed); an insert AFTER, since an upsert's proposed
    # row may become an update instead.
    return [
        *drop_search_triggers(connection),
        f"CREATE TRIGGER {insert} AFTER INSERT ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION gfs_search_on_change()",
        f"CREATE TRIGGER {update} BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION gfs_search_on_change()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {table} "
        "REFERENCING OLD TABLE AS gfs_search_gone "
        "FOR EACH STATEMENT EXECUTE FUNCTION gfs_search_on_delete()",
        f"CREATE TRIGGER {truncate} AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION gfs_search_on_truncate()",
    ]


def drop_search_triggers(connection: Any) -> list[str]:
    table = connection.ops.quote_name(session_model()._meta.db_table)
    return [
        f"DROP TRIGGER IF EXISTS {name} ON {table}"
        for name in (*_FORMER_SEARCH_TRIGGERS, *_SEARCH_TRIGGERS)
    ]


def search_triggers_installed(connection: Any) -> tuple[str, list[Any]]:
    """One boolean: the search index's update trigger (or the first release's one trigger)
    is on the table and its side table exists."""
    table = connection.ops.quote_name(session_model()._meta.db_table)
    return (
        "SELECT to_regclass('gfs_search_session') IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = ANY(%s) "
        "AND tgenabled <> 'D')",
        [table, [_SEARCH_TRIGGERS[1], *_FORMER_SEARCH_TRIGGERS]],
    )


def search_table_is_empty(connection: Any) -> tuple[str, list[Any]]:
    table = connection.ops.quote_name(session_model()._meta.db_table)
    return f"SELECT NOT EXISTS (SELECT 1 FROM {table})", []


def search_backfill_batch(connection: Any, *, after: bool, verify: bool) -> str:
    """One batch of the search index command (parameters: ``after`` the last id, the limit
    in rows, the limit in bytes): the next rows in id order, as many as hold about that many
    bytes of stored (compressed) context and at least one, each indexed under its row lock
    (so no save can change it meanwhile; rows a save holds right now are skipped: that
    save's trigger indexes them).
    With ``verify`` every row is checked against its index rows and repaired if stale.
    Returns rows scanned, the last id scanned, rows locked and rows (re)indexed."""
    quote = connection.ops.quote_name
    table = quote(session_model()._meta.db_table)
    key = quote("id")
    where = f"WHERE {key} > %s" if after else ""
    graph, task, status, context = (
        quote(name) for name in ("graph_id", "current_task_id", "status_message", "context")
    )
    # The work of a row grows with its history, and its rows stay locked until the batch
    # commits: a byte budget keeps a batch of long sessions as short as one of small ones.
    # pg_column_size reads the stored size, never the value.
    scan = (
        f"scan AS (SELECT {key} FROM (SELECT {key}, row_number() OVER w AS n, "
        f"sum(pg_column_size({context})) OVER w AS upto FROM (SELECT {key}, {context} "
        f"FROM {table} {where} ORDER BY {key} LIMIT %s) r WINDOW w AS (ORDER BY {key})) c "
        "WHERE n = 1 OR upto <= %s)"
    )
    summary = (
        f"SELECT (SELECT count(*) FROM scan), (SELECT max({key}::text) FROM scan), "
        "(SELECT count(*) FROM locked), "
    )
    if verify:
        columns = ", ".join(f"s.{name}" for name in (graph, task, status, context))
        return (
            f"WITH {scan}, "
            f"locked AS (SELECT s.{key}, {columns} FROM {table} s JOIN scan USING ({key}) "
            "FOR UPDATE OF s SKIP LOCKED), "
            f"indexed AS (SELECT gfs_search_index_row(locked.{key}::text, locked.{graph}, "
            f"locked.{task}, locked.{status}, locked.{context}, true) AS n FROM locked) "
            f"{summary}(SELECT coalesce(sum(n), 0) FROM indexed)"
        )
    # A backfill indexes the batch's sessions not indexed yet all at once: one statement
    # for their state rows, one for all their messages (per session, the functions' plans
    # and statements would cost more than the tokenizing). Each context is read once (#>
    # '{}' in the MATERIALIZED CTE). Message rows of a session without a state row exist
    # only if someone wrote them by hand; they are overwritten, and --verify drops any left.
    return (
        f"WITH {scan}, "
        f"locked AS MATERIALIZED (SELECT s.{key}::text AS sid, s.{graph} AS graph, "
        f"s.{task} AS task, s.{status} AS status, s.{context} #> '{{}}' AS ctx "
        f"FROM {table} s JOIN scan USING ({key}) FOR UPDATE OF s SKIP LOCKED), "
        "todo AS MATERIALIZED (SELECT l.sid, l.graph, l.task, l.status, l.ctx -> 'data' AS data, "
        "gfs_search_history(l.ctx) AS msgs FROM locked l WHERE NOT EXISTS ("
        "SELECT 1 FROM gfs_search_session g WHERE g.session_id = l.sid)), "
        "states AS (INSERT INTO gfs_search_session (session_id, head, message_count, fields, "
        "doc) SELECT sid, 0, jsonb_array_length(msgs), "
        "md5(jsonb_build_array(graph, task, status, data)::text)::uuid, "
        "gfs_search_fields_doc(graph, task, status, data) FROM todo), "
        "messages AS (INSERT INTO gfs_search_message (session_id, seq, fingerprint, doc) "
        "SELECT t.sid, x.p - 1, md5(x.m::text)::uuid, "
        "coalesce(to_tsvector('simple', gfs_search_text(x.m ->> 'content')), '') "
        "FROM todo t, jsonb_array_elements(t.msgs) WITH ORDINALITY AS x(m, p) "
        "ON CONFLICT (session_id, seq) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
        "doc = EXCLUDED.doc) "
        f"{summary}(SELECT count(*) FROM todo)"
    )


def search_unindexed_count(connection: Any) -> tuple[str, list[Any]]:
    """How many sessions have no index rows yet (what a backfill would index)."""
    quote = connection.ops.quote_name
    table = quote(session_model()._meta.db_table)
    return (
        f"SELECT count(*) FROM {table} s WHERE NOT EXISTS (SELECT 1 FROM gfs_search_session g "
        f"WHERE g.session_id = s.{quote('id')}::text)",
        [],
    )


def search_orphans_delete(connection: Any) -> str:
    """Delete index rows of sessions that no longer exist (written while the triggers were
    off, e.g. under ``session_replication_role = replica``); returns their count."""
    quote = connection.ops.quote_name
    table = quote(session_model()._meta.db_table)
    return (
        "WITH gone AS (DELETE FROM gfs_search_session g WHERE NOT EXISTS ("
        f"SELECT 1 FROM {table} s WHERE s.{quote('id')}::text = g.session_id) "
        "RETURNING session_id), "
        "messages AS (DELETE FROM gfs_search_message m USING gone "
        "WHERE m.session_id = gone.session_id) "
        "SELECT count(*) FROM gone"
    )


class Statements:
    """The statements for one database connection (built once per alias, then reused).

    Parameters are ``%s`` placeholders in the order each docstring gives.
    """

    def __init__(self, connection: Any, *, report_backend_pid: bool = False) -> None:
        model = session_model()
        meta = model._meta
        quote = connection.ops.quote_name
        self.postgres = connection.vendor == "postgresql"
        self.table = table = quote(meta.db_table)
        fields = meta.concrete_fields
        self.column_names: list[str] = [str(field.column) for field in fields]
        #: The columns of ``select`` as the ORM's expressions (their converters read a row).
        self.selected = [field.get_col(meta.db_table) for field in fields]
        #: The columns every write returns: version, created_at, updated_at.
        by_name = {field.name: column for field, column in zip(fields, self.selected, strict=True)}
        self.returned = [by_name[name] for name in ("version", "created_at", "updated_at")]
        # Column order of every SELECT and of Session.from_db().
        columns = ", ".join(quote(name) for name in self.column_names)
        self._columns = columns
        self._quote = quote
        now = self.now = "NOW()" if self.postgres else "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')"
        json_param = "%s::jsonb" if self.postgres else "%s"
        version = f"{table}.{quote('version')}"
        # Each statement can also report its backend's pid: a psycopg connection proves with
        # it that it goes straight to PostgreSQL (see executor.py).
        pid = ", pg_backend_pid()" if report_backend_pid else ""
        returning = (
            f" RETURNING {quote('version')}, {quote('created_at')}, {quote('updated_at')}{pid}"
        )
        insert = (
            f"INSERT INTO {table} ({columns}) "
            f"VALUES (%s, %s, %s, %s, {json_param}, {now}, {now}, %s)"
        )
        # graph-flow's upsert with graph-flow 0.6's version bookkeeping, and RETURNING so the
        # caller's object learns its timestamps in the same round trip.
        upsert = (
            f"{insert} ON CONFLICT ({quote('id')}) DO UPDATE SET "
            + ", ".join(
                f"{quote(name)} = EXCLUDED.{quote(name)}"
                for name in ("graph_id", "current_task_id", "status_message", "context")
            )
            + f", {quote('updated_at')} = {now}, {quote('version')} = {version} + 1"
        )
        #: Save: id, graph_id, current_task_id, status_message, context, new row's version.
        self.upsert = upsert + returning
        #: Save with an expected version: the same, then the expected version.
        self.upsert_if_version = upsert + f" WHERE {version} = %s" + returning
        #: Create (never overwrites): the same parameters as ``upsert``; no row if taken.
        self.insert = f"{insert} ON CONFLICT ({quote('id')}) DO NOTHING" + returning
        #: Get: id.
        self.select = f"SELECT {columns}{pid} FROM {table} WHERE {quote('id')} = %s"
        #: The stored version (to explain a conflict): id.
        self.select_version = f"SELECT {quote('version')} FROM {table} WHERE {quote('id')} = %s"
        #: Delete: id.
        self.delete = f"DELETE FROM {table} WHERE {quote('id')} = %s"
        if report_backend_pid:
            self.delete += " RETURNING pg_backend_pid()"
        self._json_param = json_param
        self._pid = pid
        if self.postgres:
            # Batches on PostgreSQL, one statement each whatever the number of sessions (so
            # one prepared statement). The rows travel as one JSON array read by
            # jsonb_populate_recordset into the table's own row type, so the id is parsed
            # by the id column's type (uuid or text: one statement serves both tables);
            # ids for a select or a delete travel as one array literal whose element type
            # PostgreSQL takes from the id column.
            #: Save many: the rows as a JSON array (``batch_document``).
            self.upsert_many = self._upsert_many(quote, version)
            #: Get many: the ids as an array literal (``id_array``).
            self.select_many = f"SELECT {columns}{pid} FROM {table} WHERE {quote('id')} = ANY(%s)"
            #: Delete many: the ids as an array literal; returns the ids deleted.
            self.delete_many = (
                f"DELETE FROM {table} WHERE {quote('id')} = ANY(%s) RETURNING {quote('id')}{pid}"
            )

    def _upsert_many(self, quote: Any, version: str) -> str:
        """graph-flow's upsert of every row of the document at once. A row whose document
        entry carries ``expected`` is replaced only if still at that version; otherwise the
        whole statement fails (``CONFLICT_MARK``: the stored version and the id in the
        error), so nothing of the batch is written."""
        table, key = self.table, quote("id")
        selected = ", ".join(
            self.now if name in ("created_at", "updated_at") else quote(name)
            for name in self.column_names
        )
        expected = f"(SELECT e.expected FROM expected e WHERE e.id = EXCLUDED.{key}::text)"
        conflict = f"CAST('{CONFLICT_MARK} ' || {version} || ' ' || {table}.{key} AS bigint)"
        return (
            "WITH document AS (SELECT %s::jsonb AS rows), "
            f"input AS (SELECT * FROM jsonb_populate_recordset(NULL::{table}, "
            "(SELECT rows FROM document))), "
            "expected AS (SELECT r->>'id' AS id, (r->>'expected')::bigint AS expected "
            "FROM jsonb_array_elements((SELECT rows FROM document)) r WHERE r ? 'expected') "
            f"INSERT INTO {table} ({self._columns}) "
            f"SELECT {selected} FROM input "
            f"ON CONFLICT ({key}) DO UPDATE SET "
            + ", ".join(
                f"{quote(name)} = EXCLUDED.{quote(name)}"
                for name in ("graph_id", "current_task_id", "status_message", "context")
            )
            + f", {quote('updated_at')} = {self.now}, {quote('version')} = CASE WHEN "
            f"{expected} IS NULL OR {expected} = {version} THEN {version} + 1 "
            f"ELSE {conflict} END"
            f" RETURNING {key}, {quote('version')}, {quote('created_at')}, {quote('updated_at')}"
            f"{self._pid}"
        )

    def select_in(self, count: int) -> str:
        """Get many where there is no array parameter: ``count`` ids."""
        return (
            f"SELECT {self._columns} FROM {self.table} "
            f"WHERE {self._quote('id')} IN ({', '.join(['%s'] * count)})"
        )

    def delete_in(self, count: int) -> str:
        """Delete many where there is no array parameter: ``count`` ids; returns the ids."""
        key = self._quote("id")
        return (
            f"DELETE FROM {self.table} WHERE {key} IN ({', '.join(['%s'] * count)}) RETURNING {key}"
        )

    def prune_batch(
        self, *, since: bool, graph: bool, except_graphs: int, skip_locked: bool
    ) -> str:
        """One batch of pruning in one statement: delete the oldest rows not updated since a
        cutoff, return their ids and updated_at. Parameters: the cutoff; ``since`` (the last
        batch's newest updated_at); the graph, or the ``except_graphs`` graphs; the limit.
        SKIP LOCKED: a row a save holds is being touched right now, so it is not stale."""
        quote = self._quote
        updated, graph_id = quote("updated_at"), quote("graph_id")
        conditions = [f"{updated} < %s"]
        if since:
            conditions.append(f"{updated} >= %s")
        if graph:
            conditions.append(f"{graph_id} = %s")
        elif except_graphs:
            conditions.append(f"{graph_id} NOT IN ({', '.join(['%s'] * except_graphs)})")
        lock = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
        key = quote("id")
        # The batch is chosen once, in a MATERIALIZED CTE: as ``IN (SELECT ... LIMIT n)``
        # PostgreSQL may plan the subquery as the inner side of a nested loop and run it
        # again for every row, each run locking and returning the next n (a batch of 2
        # deleted 4).
        materialized = " MATERIALIZED" if self.postgres else ""
        return (
            f"WITH batch AS{materialized} (SELECT {key} FROM {self.table} "
            f"WHERE {' AND '.join(conditions)} ORDER BY {updated} LIMIT %s{lock}) "
            f"DELETE FROM {self.table} WHERE {key} IN (SELECT {key} FROM batch) "
            f"RETURNING {key}, {updated}"
        )

    def trim_batch(self, *, after: bool, graph: bool, oversized: str, trimmed: str | None) -> str:
        """One batch of trimming (PostgreSQL): scan the next rows in id order (parameters:
        ``after`` the last id, the ``graph``, the limit), then keep the newest messages of
        each ``oversized`` history (``trimmed``: the new context; None counts only). Returns
        rows scanned, the last id scanned and rows trimmed. A trim adds one to the version
        (a writer holding the old copy gets a conflict) and keeps ``updated_at``: it is
        maintenance, not activity. The UPDATE re-evaluates the condition on the row as it is
        when it gets the lock, so a save that commits meanwhile is trimmed, never overwritten.
        """
        quote, table = self._quote, self.table
        key = quote("id")
        conditions = []
        if after:
            conditions.append(f"{key} > %s")
        if graph:
            conditions.append(f"{quote('graph_id')} = %s")
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        scan = f"SELECT {key} FROM {table} {where} ORDER BY {key} LIMIT %s"
        if trimmed is None:
            change = f"SELECT {table}.{key} FROM {table} JOIN scan USING ({key}) WHERE {oversized}"
        else:
            change = (
                f"UPDATE {table} SET {quote('context')} = {trimmed}, "
                f"{quote('version')} = {table}.{quote('version')} + 1 "
                f"FROM scan WHERE {table}.{key} = scan.{key} AND {oversized} "
                f"RETURNING {table}.{key}"
            )
        return (
            f"WITH scan AS ({scan}), changed AS ({change}) "
            f"SELECT (SELECT count(*) FROM scan), (SELECT max({key}::text) FROM scan), "
            "(SELECT count(*) FROM changed)"
        )

    def replace_context_at_version(self) -> str:
        """A new context for a row still at the version it was read at, one more version,
        ``updated_at`` kept (trimming elsewhere): context, id, version."""
        quote = self._quote
        return (
            f"UPDATE {self.table} SET {quote('context')} = {self._json_param}, "
            f"{quote('version')} = {quote('version')} + 1 "
            f"WHERE {quote('id')} = %s AND {quote('version')} = %s"
        )

    def restore(self, rows: int) -> str:
        """An upsert of ``rows`` rows writing every column as given (import keeps versions and
        timestamps): per row, every column in the model's order."""
        row = (
            "("
            + ", ".join(
                self._json_param if name == "context" else "%s" for name in self.column_names
            )
            + ")"
        )
        quote = self._quote
        updates = ", ".join(
            f"{quote(name)} = EXCLUDED.{quote(name)}" for name in self.column_names if name != "id"
        )
        return (
            f"INSERT INTO {self.table} ({self._columns}) VALUES {', '.join([row] * rows)} "
            f"ON CONFLICT ({quote('id')}) DO UPDATE SET {updates}"
        )
