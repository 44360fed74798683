"""Export and import sessions as JSON Lines: one session per line, every column kept.

    {"id": "6f1c...", "graph_id": "claims", "current_task_id": "start",
     "status_message": null, "context": {"data": {...}, "chat_history": {...}},
     "created_at": "2026-01-01T09:00:00.123456+00:00", "updated_at": "...", "version": 3}

``context`` is the stored JSON as the database returns it (on PostgreSQL, jsonb's own text,
which puts a space after colons and commas), never decoded or reshaped; timestamps are RFC
3339 in UTC with microseconds (what PostgreSQL keeps). Export reads in keyset-paginated
chunks (``WHERE id > last ORDER BY id LIMIT n``), so memory stays flat for any table size
and it works where server-side cursors do not (PgBouncer in transaction mode, a hot-standby
replica that cancels long queries). It is not a point-in-time snapshot: a session saved
while the export runs may appear in its old or new state.

Import checks every line as any write is checked (JSON, the Context contract, the id, the
size limit) and upserts the rows in batches, keeping ``created_at``, ``updated_at`` and
``version`` exactly as in the file, so export then import into an empty database gives the
same rows. A bad line is reported with its number and reason and not written; the good
lines around it are. Import sends no signals (like ``bulk_create``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from django.db import DatabaseError, transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from .conf import app_settings
from .contract.codec import write_context
from .contract.jsontext import decode_json, encode_json
from .contract.timestamps import parse_timestamp
from .exceptions import GraphFlowSessionsError
from .ids import SessionId, parse_session_id
from .models import Session
from .routers import list_database, sessions_database
from .storage import DatabaseSessionStorage
from .storage.base import text_column_problem

__all__ = [
    "EXPORT_FIELDS",
    "ImportResult",
    "LineError",
    "SessionRecord",
    "export_sessions",
    "import_sessions",
    "iter_export_lines",
    "iter_queryset_lines",
    "parse_line",
]

#: The keys of every exported line, in order.
EXPORT_FIELDS = (
    "id",
    "graph_id",
    "current_task_id",
    "status_message",
    "context",
    "created_at",
    "updated_at",
    "version",
)
_REQUIRED = frozenset({"id", "graph_id", "current_task_id", "context"})
_BIGINT_MAX = 2**63 - 1
DEFAULT_CHUNK_SIZE = 1000
DEFAULT_IMPORT_BATCH_SIZE = 500


# Export ------------------------------------------------------------------------------------


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()


def iter_export_lines(
    *,
    graph_id: str | None = None,
    task_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
    using: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[str]:
    """Yield one JSON line (with its newline) per matching session, in id order.

    Reads from ``list_database()`` (the replica, when one is configured) unless ``using``
    names another alias. ``*_after`` bounds are inclusive, ``*_before`` exclusive.
    """
    queryset = Session.objects.using(using or list_database())
    if graph_id is not None:
        queryset = queryset.filter(graph_id=graph_id)
    if task_id is not None:
        queryset = queryset.filter(current_task_id=task_id)
    if created_after is not None:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before is not None:
        queryset = queryset.filter(created_at__lt=created_before)
    if updated_after is not None:
        queryset = queryset.filter(updated_at__gte=updated_after)
    if updated_before is not None:
        queryset = queryset.filter(updated_at__lt=updated_before)
    return iter_queryset_lines(queryset, chunk_size=chunk_size)


def iter_queryset_lines(
    queryset: QuerySet[Session], *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[str]:
    """Yield one JSON line (with its newline) per session of ``queryset``, in id order,
    read from the queryset's database ``chunk_size`` rows at a time.

    The queryset's own ordering is replaced by the id's (each chunk starts after the last
    id of the one before); it must not be sliced.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    # Raw values, and the context as the database's own JSON text: no model instances, no
    # contract validation (a row another service wrote in a shape this app would refuse is
    # exported as it is), and no decoding and re-encoding of what is already JSON.
    rows = queryset.order_by("id").values_list(
        "id",
        "graph_id",
        "current_task_id",
        "status_message",
        Cast("context", output_field=TextField()),
        "created_at",
        "updated_at",
        "version",
    )
    last: SessionId | None = None
    while True:
        chunk = list((rows if last is None else rows.filter(id__gt=last))[:chunk_size])
        for sid, graph, task, status, context, created, updated, version in chunk:
            if "\n" in context or "\r" in context:  # pretty-printed by some other writer
                context = encode_json(decode_json(context), session_id=sid)
            head = encode_json(
                {
                    "id": str(sid),
                    "graph_id": graph,
                    "current_task_id": task,
                    "status_message": status,
                },
                what="exported session",
                session_id=sid,
            )
            tail = encode_json(
                {
                    "created_at": _timestamp(created),
                    "updated_at": _timestamp(updated),
                    "version": version,
                },
                what="exported session",
                session_id=sid,
            )
            yield f'{head[:-1]},"context":{context},{tail[1:]}\n'
        if len(chunk) < chunk_size:
            return
        last = chunk[-1][0]


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def export_sessions(
    out: Writable, *, progress: Callable[[int], None] | None = None, **filters: Any
) -> int:
    """Write the JSON lines of ``iter_export_lines(**filters)`` to ``out``; return the count.

    ``progress`` is called with the running count about once a second.
    """
    count = 0
    reported = time.monotonic()
    for line in iter_export_lines(**filters):
        out.write(line)
        count += 1
        if progress is not None and time.monotonic() - reported >= 1.0:
            progress(count)
            reported = time.monotonic()
    return count


# Import ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRecord:
    """One validated line, ready to be written as it is."""

    line: int
    id: SessionId
    graph_id: str
    current_task_id: str
    status_message: str | None
    context_json: str
    created_at: datetime | None
    updated_at: datetime | None
    version: int


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    lines: int = 0
    created: int = 0
    updated: int = 0
    errors: list[LineError] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return self.created + self.updated


class _BadLine(Exception):
    pass


def _text(record: dict[str, Any], key: str, *, nullable: bool = False) -> str | None:
    value = record.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _BadLine(f"{key}: expected a string, got {_kind(value)}")
    problem = text_column_problem(value, column=key)
    if problem is not None:
        raise _BadLine(f"{key}: {problem}")
    return value


def _moment(record: dict[str, Any], key: str) -> datetime | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadLine(f"{key}: expected an RFC 3339 timestamp or null, got {_kind(value)}")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise _BadLine(f"{key}: {exc}") from None


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"
    return names.get(type(value), type(value).__name__)


def parse_line(
    text: str | bytes, number: int, *, text_ids: bool = False, latest: datetime | None = None
) -> SessionRecord:
    """Validate one line as every write is validated; raise ValueError saying why not.

    ``text_ids``: the target table has graph-flow 0.6's text ids. ``latest``: the database's
    clock; a later ``updated_at`` is refused (graph-flow 0.5.1 skips its saves of a row
    stamped after its own clock, so such a row would swallow the Rust service's saves).
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        record = decode_json(text, what="line")
        if not isinstance(record, dict):
            raise _BadLine(f"expected a JSON object, got {_kind(record)}")
        missing = sorted(_REQUIRED - set(record))
        if missing:
            raise _BadLine(f"missing field(s): {', '.join(missing)}")
        unknown = sorted(set(record) - set(EXPORT_FIELDS))
        if unknown:
            raise _BadLine(
                f"unknown field(s): {', '.join(unknown)} (expected {', '.join(EXPORT_FIELDS)})"
            )
        try:
            session_id = parse_session_id(record["id"], text_ids=text_ids)
        except GraphFlowSessionsError as exc:
            raise _BadLine(f"id: {exc}") from None
        try:
            # The context is stored as given (not re-shaped), so the row comes back exactly.
            context_json = write_context(
                record["context"], max_bytes=app_settings.MAX_CONTEXT_BYTES, session_id=session_id
            ).json
        except GraphFlowSessionsError as exc:
            raise _BadLine(f"context: {exc}") from None
        version = record.get("version", 0)
        if (
            not isinstance(version, int)
            or isinstance(version, bool)
            or not 0 <= version <= _BIGINT_MAX
        ):
            raise _BadLine(f"version: expected a whole number from 0, got {_kind(version)}")
        updated_at = _moment(record, "updated_at")
        if latest is not None and updated_at is not None and updated_at > latest:
            raise _BadLine(
                f"updated_at: {record['updated_at']} is later than the database's clock "
                f"({latest.isoformat()}); graph-flow 0.5.1 would skip its saves of this session"
            )
        return SessionRecord(
            line=number,
            id=session_id,
            graph_id=_text(record, "graph_id") or "",
            current_task_id=_text(record, "current_task_id") or "",
            status_message=_text(record, "status_message", nullable=True),
            context_json=context_json,
            created_at=_moment(record, "created_at"),
            updated_at=updated_at,
            version=version,
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text: {exc}") from None
    except GraphFlowSessionsError as exc:  # not JSON
        raise ValueError(str(exc)) from None
    except _BadLine as exc:
        raise ValueError(str(exc)) from None


def import_sessions(
    lines: Iterable[str | bytes],
    *,
    dry_run: bool = False,
    using: str | None = None,
    batch_size: int = DEFAULT_IMPORT_BATCH_SIZE,
    on_error: Callable[[LineError], None] | None = None,
    progress: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Validate and upsert JSON lines into ``using`` (default: the sessions database).

    Blank lines are skipped. Each batch is one transaction; if the database refuses a
    batch, its rows are retried one by one so only the offending line is left out.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    alias = using or sessions_database()
    storage = DatabaseSessionStorage(using=alias)
    text_ids = storage.has_text_ids()
    latest = storage.database_time()
    result = ImportResult(dry_run=dry_run)
    started = time.perf_counter()
    batch: dict[SessionId, SessionRecord] = {}

    def fail(error: LineError) -> None:
        result.errors.append(error)
        if on_error is not None:
            on_error(error)

    def flush() -> None:
        if batch:
            _write_batch(alias, list(batch.values()), dry_run, result, fail)
            batch.clear()
            if progress is not None:
                progress(result)

    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        result.lines += 1
        try:
            record = parse_line(text, number, text_ids=text_ids, latest=latest)
        except ValueError as exc:
            fail(LineError(number, str(exc)))
            continue
        if record.id in batch:  # the same id twice: the later line wins, as row by row
            flush()
        batch[record.id] = record
        if len(batch) >= batch_size:
            flush()
    flush()
    result.seconds = time.perf_counter() - started
    return result


def _write_batch(
    alias: str,
    records: list[SessionRecord],
    dry_run: bool,
    result: ImportResult,
    fail: Callable[[LineError], None],
) -> None:
    if dry_run:
        existing = _existing(alias, records)
        result.updated += len(existing)
        result.created += len(records) - len(existing)
        return
    try:
        with transaction.atomic(using=alias):
            existing = _existing(alias, records)
            DatabaseSessionStorage(using=alias).restore_many([_row(r) for r in records])
    except DatabaseError:
        if len(records) == 1:
            raise
        # Find the line the database refuses; every other line is still written.
        for record in records:
            try:
                _write_batch(alias, [record], dry_run, result, fail)
            except DatabaseError as exc:
                fail(LineError(record.line, f"the database refused it: {exc}".strip()))
        return
    result.updated += len(existing)
    result.created += len(records) - len(existing)


def _existing(alias: str, records: list[SessionRecord]) -> set[SessionId]:
    ids = [record.id for record in records]
    return set(Session.objects.using(alias).filter(id__in=ids).values_list("id", flat=True))


def _row(record: SessionRecord) -> dict[str, Any]:
    """The record as the storage restores it: every column, as in the file."""
    return {
        "id": record.id,
        "graph_id": record.graph_id,
        "current_task_id": record.current_task_id,
        "status_message": record.status_message,
        "context": record.context_json,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "version": record.version,
    }
