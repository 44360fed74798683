"""The numbers of the admin overview, each from one bounded query (no HTTP, no HTML here).

Seven queries whatever the table's size: the catalogue's sizes and row estimate; one pass
for rows and stored bytes by age and per retention rule (``pg_column_size`` reads a value's
header or TOAST pointer, never the TOAST data); the largest sessions; sessions per graph,
task and idle time (row headers only; no btree may hold whole graph and task values, which
can be longer than an index entry);
sessions started and last updated per day (the created_at and updated_at indexes); and the
history lengths of the newest ``ADMIN_OVERVIEW_SAMPLE`` sessions (a history's length is
inside the context, which has to be read).

Counting every row is exact but grows with the table. When PostgreSQL's planner estimates
more than ``ADMIN_OVERVIEW_SCAN_LIMIT`` rows, the counting queries read the same sample of
about that many rows' pages (``TABLESAMPLE SYSTEM ... REPEATABLE``) and their counts are
scaled to the estimate; the page says so.

The retention preview takes ``retention``'s own rules and conditions, so it shows what
``graphflow_sessions_prune`` would delete now, and deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.module_loading import import_string

from ..conf import app_settings
from ..expressions import HistoryLimit, MessageCount, StoredSize
from ..models import Session
from ..retention import RetentionRule, retention_rules
from ..storage import sql

#: The day ranges the page offers (``?days=``), the first being the default.
DAY_CHOICES = (30, 90)

#: Idle buckets of "where sessions wait": (key, lower bound, upper bound) of the time since
#: the last update; None is open.
IDLE_BUCKETS: tuple[tuple[str, timedelta | None, timedelta | None], ...] = (
    ("hour", None, timedelta(hours=1)),
    ("day", timedelta(hours=1), timedelta(days=1)),
    ("week", timedelta(days=1), timedelta(days=7)),
    ("older", timedelta(days=7), None),
)

#: Age buckets of the storage section, by time since the last update.
AGE_BUCKETS: tuple[tuple[str, timedelta | None, timedelta | None], ...] = (
    ("day", None, timedelta(days=1)),
    ("week", timedelta(days=1), timedelta(days=7)),
    ("month", timedelta(days=7), timedelta(days=30)),
    ("quarter", timedelta(days=30), timedelta(days=90)),
    ("year", timedelta(days=90), timedelta(days=365)),
    ("older", timedelta(days=365), None),
)

#: History-length buckets: (key, smallest length, largest length or None).
LENGTH_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1-9", 1, 9),
    ("10-49", 10, 49),
    ("50-99", 50, 99),
    ("100-499", 100, 499),
    ("500-999", 500, 999),
    ("1000+", 1000, None),
)

#: A history this close to its ``max_messages`` (or at it) counts as near its limit.
NEAR_LIMIT_SHARE = 0.9

#: Tasks listed per graph in "where sessions wait" (the most populated first; the others
#: still count in the graph's totals).
MAX_TASKS_PER_GRAPH = 50

#: Largest sessions listed in the storage section.
LARGEST = 10


@dataclass(frozen=True)
class IdleRange:
    """Sessions last updated in ``[since, before)`` (either open when None)."""

    since: datetime | None
    before: datetime | None


@dataclass
class TaskWait:
    graph_id: str
    task_id: str
    total: int
    #: Per IDLE_BUCKETS key: (sessions, the range of updated_at they were counted in).
    idle: dict[str, tuple[int, IdleRange]]
    #: Sessions whose updated_at is NULL (no known idle time).
    unknown: int
    finished: bool


@dataclass
class GraphSummary:
    graph_id: str
    sessions: int = 0
    finished: int = 0
    waiting: list[TaskWait] = field(default_factory=list)
    done: list[TaskWait] = field(default_factory=list)

    @property
    def in_progress(self) -> int:
        return self.sessions - self.finished


@dataclass
class HistoryVolume:
    #: Sessions whose history was read, and whether that was every session.
    sampled: int
    complete: bool
    #: Per LENGTH_BUCKETS key: sessions.
    lengths: dict[str, int]
    #: Histories that are not a list (the contract is broken).
    unreadable: int
    #: Sessions with a numeric max_messages, those near it, and those over it.
    limited: int
    near_limit: int
    over_limit: int


@dataclass
class AgeRow:
    key: str
    rows: int
    bytes: int | None
    range: IdleRange


@dataclass
class PrunePreview:
    rule: str
    cutoff: datetime
    rows: int
    bytes: int | None


@dataclass
class LargeSession:
    pk: Any
    graph_id: str
    task_id: str
    bytes: int
    updated_at: datetime | None


@dataclass
class Storage:
    #: From the catalogue (PostgreSQL); None elsewhere.
    table_bytes: int | None
    toast_bytes: int | None
    index_bytes: int | None
    total_bytes: int | None
    by_age: list[AgeRow]
    unknown_age_rows: int
    unknown_age_bytes: int | None
    prune: list[PrunePreview]
    largest: list[LargeSession]


@dataclass
class DayCount:
    day: date
    sessions: int


@dataclass
class Overview:
    as_of: datetime
    days: int
    postgres: bool
    #: The planner's row estimate (PostgreSQL), for the page's "about" figure.
    estimated_rows: int | None
    #: Rows of the sample of the table's pages every count was scaled from (tables larger
    #: than ADMIN_OVERVIEW_SCAN_LIMIT); None when every row was counted.
    sampled_rows: int | None
    sessions: int
    started: list[DayCount]
    updated: list[DayCount]
    graphs: list[GraphSummary]
    wait_rows_truncated: bool
    finished_configured: bool
    history: HistoryVolume
    storage: Storage


def finished_rule() -> Callable[[str, str], bool] | None:
    """``ADMIN_OVERVIEW_FINISHED_TASKS`` as ``finished(graph_id, task_id)``; None when no
    task is configured as finished."""
    setting = app_settings.ADMIN_OVERVIEW_FINISHED_TASKS
    if not setting:
        return None
    if isinstance(setting, str):
        return import_string(setting)
    if callable(setting):
        return setting
    if not isinstance(setting, dict):
        raise ValueError(
            "GRAPHFLOW_SESSIONS['ADMIN_OVERVIEW_FINISHED_TASKS'] must be a dict "
            "{graph_id: [task_id, ...]} or the dotted path of a function, got "
            f"{type(setting).__name__}"
        )
    tasks = {graph: frozenset(ids) for graph, ids in setting.items()}
    everywhere = tasks.get("*", frozenset())

    def finished(graph_id: str, task_id: str) -> bool:
        return task_id in everywhere or task_id in tasks.get(graph_id, ())

    return finished


def _range(now: datetime, low: timedelta | None, high: timedelta | None) -> IdleRange:
    # Idle for at least ``low`` means updated before now - low; under ``high``, since now - high.
    return IdleRange(
        since=None if high is None else now - high, before=None if low is None else now - low
    )


def _in_range(span: IdleRange) -> Q:
    condition = Q(updated_at__isnull=False)
    if span.since is not None:
        condition &= Q(updated_at__gte=span.since)
    if span.before is not None:
        condition &= Q(updated_at__lt=span.before)
    return condition


def build_overview(queryset: QuerySet[Any], *, days: int, now: datetime | None = None) -> Overview:
    """Every number of the overview page for the sessions table of ``queryset``'s database."""
    now = now or timezone.now()
    connection = connections[queryset.db]
    sizes = _catalogue(connection)
    reader = _Reader(queryset, sizes)
    rules = [(rule, rule.cutoff(now)) for rule in retention_rules()]
    # First: it gives the sample's row count, which scales every other count.
    storage = _storage(reader, now, sizes, rules)
    graphs, truncated = _where_sessions_wait(reader, now)
    return Overview(
        as_of=now,
        days=days,
        postgres=connection.vendor == "postgresql",
        estimated_rows=sizes[0] if sizes and sizes[0] > 0 else None,
        sampled_rows=reader.sampled_rows,
        sessions=sum(graph.sessions for graph in graphs),
        started=_per_day(reader, "created_at", now, days),
        updated=_per_day(reader, "updated_at", now, days),
        graphs=graphs,
        wait_rows_truncated=truncated,
        finished_configured=finished_rule() is not None,
        history=_history_volume(queryset),
        storage=storage,
    )


def _catalogue(connection: Any) -> tuple[int, int, int, int, int] | None:
    statement = sql.table_sizes(connection)
    if statement is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        row = cursor.fetchone()
    return None if row is None else tuple(int(value) for value in row)  # type: ignore[return-value]


class _Reader:
    """Runs the counting queries over every row or, when the planner estimates more than
    ``ADMIN_OVERVIEW_SCAN_LIMIT`` rows, over the same sample of about that many rows' pages
    (each query then reads a bounded number of pages), and scales what it counted."""

    def __init__(self, queryset: QuerySet[Any], sizes: tuple[int, ...] | None) -> None:
        self.queryset = queryset.order_by()
        limit = int(app_settings.ADMIN_OVERVIEW_SCAN_LIMIT)
        self.estimate = sizes[0] if sizes else 0
        self.percent = None if sizes is None or sizes[0] <= limit else 100.0 * limit / sizes[0]
        #: Rows in the sample (set by the first query over it); None when nothing is sampled.
        self.sampled_rows: int | None = None

    def rows(self, queryset: QuerySet[Any]) -> list[dict[str, Any]]:
        if self.percent is None:
            return list(queryset)
        connection = connections[queryset.db]
        statement, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql.table_sample(connection, statement, self.percent), params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scaled(self, value: int | None) -> int:
        """A count or sum over the sample, as an estimate for the whole table."""
        if not value:
            return 0
        if self.percent is None or not self.sampled_rows:
            return int(value)
        return round(value * self.estimate / self.sampled_rows)


def _per_day(reader: _Reader, column: str, now: datetime, days: int) -> list[DayCount]:
    tz = timezone.get_current_timezone()
    today = timezone.localtime(now, tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    rows = reader.rows(
        reader.queryset.filter(**{f"{column}__gte": start})
        .annotate(day=TruncDate(column, tzinfo=tz))
        .values("day")
        .annotate(sessions=Count("*"))
    )
    counts = {row["day"]: reader.scaled(row["sessions"]) for row in rows}
    return [
        DayCount(day, counts.get(day, 0))
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]


def _where_sessions_wait(reader: _Reader, now: datetime) -> tuple[list[GraphSummary], bool]:
    idle = {key: _range(now, low, high) for key, low, high in IDLE_BUCKETS}
    # Each bucket's condition implies updated_at is not NULL.
    rows = reader.rows(
        reader.queryset.values("graph_id", "current_task_id").annotate(
            total=Count("*"),
            known=Count("updated_at"),
            **{
                f"idle_{key}": Count("updated_at", filter=_in_range(span))
                for key, span in idle.items()
            },
        )
    )
    rows.sort(key=lambda row: (-row["total"], row["graph_id"], row["current_task_id"]))
    truncated = False
    finished = finished_rule()
    graphs: dict[str, GraphSummary] = {}
    for row in rows:
        total = reader.scaled(row["total"])
        graph = graphs.setdefault(row["graph_id"], GraphSummary(row["graph_id"]))
        graph.sessions += total
        done = bool(finished and finished(row["graph_id"], row["current_task_id"]))
        if done:
            graph.finished += total
        if len(graph.waiting) + len(graph.done) >= MAX_TASKS_PER_GRAPH:
            truncated = True  # counted in the graph's totals, not listed
            continue
        task = TaskWait(
            graph_id=row["graph_id"],
            task_id=row["current_task_id"],
            total=total,
            idle={key: (reader.scaled(row[f"idle_{key}"]), span) for key, span in idle.items()},
            unknown=reader.scaled(row["total"] - row["known"]),
            finished=done,
        )
        (graph.done if done else graph.waiting).append(task)
    return sorted(graphs.values(), key=lambda g: (-g.sessions, g.graph_id)), truncated


def _history_volume(queryset: QuerySet[Any]) -> HistoryVolume:
    sample = int(app_settings.ADMIN_OVERVIEW_SAMPLE)
    # Newest first through the updated_at index: only these rows' contexts are read.
    rows = list(
        queryset.order_by("-updated_at", "-pk")
        .annotate(messages=MessageCount(), limit=HistoryLimit())
        .values_list("messages", "limit")[: sample + 1]
    )
    complete = len(rows) <= sample
    rows = rows[:sample]
    lengths = dict.fromkeys((key for key, _, _ in LENGTH_BUCKETS), 0)
    unreadable = limited = near = over = 0
    for messages, limit in rows:
        if messages is None:
            unreadable += 1
            continue
        for key, low, high in LENGTH_BUCKETS:
            if messages >= low and (high is None or messages <= high):
                lengths[key] += 1
                break
        if limit is not None:
            limited += 1
            if messages > limit:
                over += 1
            elif messages >= NEAR_LIMIT_SHARE * limit:
                near += 1
    return HistoryVolume(
        sampled=len(rows),
        complete=complete,
        lengths=lengths,
        unreadable=unreadable,
        limited=limited,
        near_limit=near,
        over_limit=over,
    )


def _row_bytes() -> Any:
    """Bytes a row's values take as stored (a TOASTed context counts its compressed size)."""
    total: Any = None
    for column in (model_field.attname for model_field in Session._meta.concrete_fields):
        part = Coalesce(StoredSize(F(column)), 0)
        total = part if total is None else total + part
    return total


def _storage(
    reader: _Reader,
    now: datetime,
    sizes: tuple[int, int, int, int, int] | None,
    rules: list[tuple[RetentionRule, datetime]],
) -> Storage:
    """Rows (and on PostgreSQL stored bytes) by age and per retention rule in one pass, and
    the largest sessions in a second."""
    spans = {key: _range(now, low, high) for key, low, high in AGE_BUCKETS}
    with_bytes = sizes is not None
    conditions = {
        "all": Q(),
        "unknown": Q(updated_at__isnull=True),
        **{key: _in_range(span) for key, span in spans.items()},
        # retention's own conditions: what graphflow_sessions_prune would delete now.
        **{f"prune_{index}": rule.stale(cutoff) for index, (rule, cutoff) in enumerate(rules)},
    }
    row_bytes = _row_bytes() if with_bytes else None
    measures: dict[str, Any] = {}
    for name, condition in conditions.items():
        measures[f"rows_{name}"] = Count("pk", filter=condition or None)
        if row_bytes is not None:
            measures[f"bytes_{name}"] = Sum(row_bytes, filter=condition or None)
    (seen,) = reader.rows(reader.queryset.annotate(one=Value(1)).values("one").annotate(**measures))
    if reader.percent is not None:
        reader.sampled_rows = seen["rows_all"]

    def rows(name: str) -> int:
        return reader.scaled(seen[f"rows_{name}"])

    def stored(name: str) -> int | None:
        return reader.scaled(seen[f"bytes_{name}"]) if with_bytes else None

    largest: list[LargeSession] = []
    if row_bytes is not None:
        largest = [
            LargeSession(
                row["pk"], row["graph_id"], row["current_task_id"], row["size"], row["updated_at"]
            )
            for row in reader.rows(
                reader.queryset.annotate(size=row_bytes)
                .order_by("-size", "pk")
                .values("pk", "graph_id", "current_task_id", "size", "updated_at")[:LARGEST]
            )
        ]
    return Storage(
        table_bytes=sizes[1] if sizes else None,
        toast_bytes=sizes[2] if sizes else None,
        index_bytes=sizes[3] if sizes else None,
        total_bytes=sizes[4] if sizes else None,
        by_age=[AgeRow(key, rows(key), stored(key), span) for key, span in spans.items()],
        unknown_age_rows=rows("unknown"),
        unknown_age_bytes=stored("unknown"),
        prune=[
            PrunePreview(rule.describe(), cutoff, rows(f"prune_{index}"), stored(f"prune_{index}"))
            for index, (rule, cutoff) in enumerate(rules)
        ],
        largest=largest,
    )
