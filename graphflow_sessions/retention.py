"""Retention: delete sessions nobody has touched for a while, and trim oversized histories.

    from graphflow_sessions.retention import prune_sessions, trim_chat_histories

    prune_sessions()                              # the rules in GRAPHFLOW_SESSIONS (cron, beat)
    prune_sessions(parse_age("30d"), graph_id="claims")
    trim_chat_histories()                         # histories longer than their max_messages

graph-flow never deletes a session, so the table only grows. Pruning deletes in batches,
each one statement (on PostgreSQL ``DELETE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE
SKIP LOCKED)``) committed on its own, so memory stays flat and a concurrent save waits at
most for one batch. Rows a save holds locked are skipped, not waited for: a session being
saved is not stale. Run these outside ``transaction.atomic``; inside one, every batch's
locks are held until the caller commits.

After each committed batch, ``sessions_pruned`` is sent once with the batch's ids, and
``session_deleted`` once per id when something listens to it (see ``signals``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from .conf import app_settings
from .contract.codec import write_context
from .exceptions import ContextError
from .expressions import HistoryOverLimit, TrimmedHistory, expression_sql
from .ids import SessionId
from .models import Session
from .routers import sessions_database
from .signals import session_deleted, sessions_pruned
from .storage import DatabaseSessionStorage

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PruneBatch",
    "PruneResult",
    "RetentionRule",
    "TrimBatch",
    "TrimResult",
    "parse_age",
    "prune_sessions",
    "retention_rules",
    "trim_chat_histories",
]

#: Rows per batch: small enough that a batch takes milliseconds, large enough to be efficient.
DEFAULT_BATCH_SIZE = 1000

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AGE = re.compile(r"\s*(\d+)\s*([smhdw])\s*")


def parse_age(text: str) -> timedelta:
    """Parse an age such as ``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` (one number, one unit).

    Raises ValueError saying what was wrong and what is accepted.
    """
    match = _AGE.fullmatch(text)
    if match is None:
        hint = " (add a unit, e.g. 30d)" if text.strip().isdigit() else ""
        raise ValueError(
            f"invalid age {text!r}{hint}: expected a whole number followed by a unit, "
            "s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. 30d, 12h, 90m"
        )
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"invalid age {text!r}: it must be greater than zero")
    try:
        return timedelta(**{_UNITS[unit]: amount})
    except OverflowError:
        raise ValueError(f"invalid age {text!r}: it is too large") from None


@dataclass(frozen=True)
class RetentionRule:
    """Delete sessions not updated for ``age``: of ``graph_id``, or (None) of every graph
    except those in ``except_graphs`` (which have rules of their own)."""

    age: timedelta
    graph_id: str | None = None
    except_graphs: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.graph_id is not None:
            where = f"graph {self.graph_id!r}"
        elif self.except_graphs:
            where = "graphs other than " + ", ".join(repr(g) for g in self.except_graphs)
        else:
            where = "all graphs"
        return f"{where}, not updated for {_format_age(self.age)}"

    def cutoff(self, now: datetime) -> datetime:
        """Sessions last updated before this moment are stale at ``now``."""
        return now - self.age

    def stale(self, cutoff: datetime) -> Q:
        """The sessions this rule deletes at ``cutoff`` (NULL ``updated_at``: no known age,
        never stale), as a condition for a queryset or a filtered aggregate."""
        condition = Q(updated_at__lt=cutoff)
        if self.graph_id is not None:
            condition &= Q(graph_id=self.graph_id)
        elif self.except_graphs:
            condition &= ~Q(graph_id__in=self.except_graphs)
        return condition


def _days(value: Any, key: str) -> timedelta | None:
    # checks.py reports bad values at startup (E010); this says the same if it is ignored.
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(
            f"GRAPHFLOW_SESSIONS[{key}] must be a positive number of days or None, got {value!r}"
        )
    return timedelta(days=value)


def retention_rules(graph_id: str | None = None) -> list[RetentionRule]:
    """The rules from ``RETENTION_DAYS`` and ``RETENTION_DAYS_BY_GRAPH`` (empty: keep all).

    A graph listed with ``None`` is kept forever. With ``graph_id``, only the rule that
    applies to that graph (its own, else the default).
    """
    default = _days(app_settings.RETENTION_DAYS, '"RETENTION_DAYS"')
    by_graph = dict(app_settings.RETENTION_DAYS_BY_GRAPH or {})
    ages = {
        graph: _days(days, f'"RETENTION_DAYS_BY_GRAPH"][{graph!r}')
        for graph, days in by_graph.items()
    }
    if graph_id is not None:
        age = ages.get(graph_id, default)  # a graph listed with None is kept forever
        return [] if age is None else [RetentionRule(age, graph_id)]
    rules = [RetentionRule(age, graph) for graph, age in sorted(ages.items()) if age is not None]
    if default is not None:
        rules.append(RetentionRule(default, None, tuple(sorted(ages))))
    return rules


def _kept_forever() -> tuple[str, ...]:
    by_graph = app_settings.RETENTION_DAYS_BY_GRAPH or {}
    return tuple(sorted(graph for graph, days in by_graph.items() if days is None))


@dataclass(frozen=True)
class PruneBatch:
    """Reported to ``progress`` after each committed batch."""

    rule: RetentionRule
    deleted: int
    total_deleted: int
    seconds: float


@dataclass
class PruneResult:
    deleted: int = 0
    batches: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    #: Per rule: (rule, cutoff, rows deleted or, on a dry run, rows that would be).
    rules: list[tuple[RetentionRule, datetime, int]] = field(default_factory=list)
    #: The longest single batch (each is one short transaction).
    slowest_batch_seconds: float = 0.0


def prune_sessions(
    older_than: timedelta | None = None,
    *,
    graph_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    using: str | None = None,
    progress: Callable[[PruneBatch], None] | None = None,
) -> PruneResult:
    """Delete sessions not updated for ``older_than`` (of ``graph_id`` if given), in batches.

    Without ``older_than`` the settings' rules apply (``retention_rules``), which is what a
    scheduler should call. With it and no ``graph_id``, graphs that
    ``RETENTION_DAYS_BY_GRAPH`` keeps forever (``None``) are still left alone. A row whose
    ``updated_at`` is NULL has no known age and is kept. ``dry_run`` counts what would be
    deleted and deletes nothing.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if older_than is not None:
        if older_than <= timedelta(0):
            raise ValueError(f"older_than must be positive, got {older_than}")
        # Graphs the settings keep forever stay kept unless named explicitly.
        kept = () if graph_id is not None else _kept_forever()
        rules = [RetentionRule(older_than, graph_id, kept)]
    else:
        rules = retention_rules(graph_id)
    alias = using or sessions_database()
    result = PruneResult(dry_run=dry_run)
    started = time.perf_counter()
    now = timezone.now()
    for rule in rules:
        cutoff = rule.cutoff(now)
        queryset = Session.objects.using(alias).filter(rule.stale(cutoff))
        if dry_run:
            count = queryset.count()
        else:
            count = _delete_in_batches(alias, rule, cutoff, batch_size, result, progress)
        result.rules.append((rule, cutoff, count))
        result.deleted += count
    result.seconds = time.perf_counter() - started
    return result


def _delete_in_batches(
    alias: str,
    rule: RetentionRule,
    cutoff: datetime,
    batch_size: int,
    result: PruneResult,
    progress: Callable[[PruneBatch], None] | None,
) -> int:
    storage = DatabaseSessionStorage(using=alias)
    others = () if rule.graph_id is not None else rule.except_graphs
    total = 0
    # Batches go oldest first; each starts where the last ended, so the index scan does not
    # walk again over the entries the previous batches just deleted.
    since: Any = None
    while True:
        batch_started = time.perf_counter()
        ids, newest = storage.prune_batch(
            cutoff, limit=batch_size, since=since, graph_id=rule.graph_id, except_graphs=others
        )
        seconds = time.perf_counter() - batch_started
        if not ids:
            break
        since = newest
        total += len(ids)
        result.batches += 1
        result.slowest_batch_seconds = max(result.slowest_batch_seconds, seconds)
        _send_pruned(alias, ids)
        if progress is not None:
            progress(PruneBatch(rule, len(ids), total, seconds))
        if len(ids) < batch_size:
            break
    return total


def _send_pruned(alias: str, ids: Sequence[SessionId]) -> None:
    def send() -> None:
        sessions_pruned.send(Session, session_ids=list(ids), using=alias)
        # One session_deleted per id, as for a storage delete, but only if anyone listens:
        # pruning a million rows should not build a million calls for nobody.
        if session_deleted.has_listeners():
            for session_id in ids:
                session_deleted.send(Session, session_id=session_id, using=alias, pruned=True)

    # In autocommit this runs now (the batch is committed); inside a caller's atomic block,
    # only if and when it commits.
    transaction.on_commit(send, using=alias)


# Trimming ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrimBatch:
    """Reported to ``progress`` after each committed batch."""

    scanned: int
    trimmed: int
    total_scanned: int
    total_trimmed: int
    seconds: float


@dataclass
class TrimResult:
    scanned: int = 0
    trimmed: int = 0
    batches: int = 0
    seconds: float = 0.0
    dry_run: bool = False


def trim_chat_histories(
    *,
    graph_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    using: str | None = None,
    progress: Callable[[TrimBatch], None] | None = None,
) -> TrimResult:
    """Drop the oldest messages of every stored history longer than its ``max_messages``.

    graph-flow trims only when a message is appended, so a history saved before its limit
    was lowered (or by a writer that does not trim) stays longer than its limit on disk
    until then; this applies the limit now, as the next append would. Sessions are scanned
    in id order, ``batch_size`` rows per batch, each batch one transaction. A trimmed row's
    ``version`` grows by one (so a writer holding the old copy gets a conflict with
    optimistic locking) while ``updated_at`` stays: trimming is maintenance, not activity,
    and must not reset the retention clock. Histories with ``max_messages`` null
    (unbounded) are left alone.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    alias = using or sessions_database()
    vendor = connections[alias].vendor
    result = TrimResult(dry_run=dry_run)
    started = time.perf_counter()
    after: Any = None
    while True:
        batch_started = time.perf_counter()
        if vendor == "postgresql":
            scanned, trimmed, after = _trim_postgres_batch(
                alias, graph_id, after, batch_size, dry_run
            )
        else:
            scanned, trimmed, after = _trim_python_batch(
                alias, graph_id, after, batch_size, dry_run
            )
        if scanned == 0:
            break
        result.batches += 1
        result.scanned += scanned
        result.trimmed += trimmed
        if progress is not None:
            progress(
                TrimBatch(
                    scanned,
                    trimmed,
                    result.scanned,
                    result.trimmed,
                    time.perf_counter() - batch_started,
                )
            )
        if scanned < batch_size:
            break
    result.seconds = time.perf_counter() - started
    return result


def _trim_postgres_batch(
    alias: str, graph_id: str | None, after: Any, batch_size: int, dry_run: bool
) -> tuple[int, int, Any]:
    # The fragments name the column by its table ("sessions"."context").
    return DatabaseSessionStorage(using=alias).trim_batch(
        limit=batch_size,
        after=after,
        graph_id=graph_id,
        dry_run=dry_run,
        oversized=expression_sql(Session, HistoryOverLimit(), alias),
        trimmed=expression_sql(Session, TrimmedHistory(), alias),
    )


def _trim_python_batch(
    alias: str, graph_id: str | None, after: Any, batch_size: int, dry_run: bool
) -> tuple[int, int, Any]:
    # Other databases: read the batch, cut in Python, write back only rows nobody saved
    # since they were read (a row skipped that way is trimmed by the next run).
    queryset = Session.objects.using(alias).order_by("id")
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    if graph_id is not None:
        queryset = queryset.filter(graph_id=graph_id)
    rows = list(queryset.values_list("id", "context", "version")[:batch_size])
    changes = [
        (session_id, new_raw, version)
        for session_id, raw, version in rows
        if (new_raw := _trimmed(raw)) is not None
    ]
    if dry_run or not changes:
        return len(rows), len(changes), rows[-1][0] if rows else None
    storage = DatabaseSessionStorage(using=alias)
    trimmed = 0
    with transaction.atomic(using=alias):
        for session_id, new_raw, version in changes:
            try:
                text = write_context(
                    new_raw, max_bytes=app_settings.MAX_CONTEXT_BYTES, session_id=session_id
                ).json
            except ContextError:
                continue  # a context that breaks the contract is left as it is, not trimmed
            trimmed += storage.replace_context_at_version(session_id, text, version)
    return len(rows), trimmed, rows[-1][0]


def _trimmed(raw: Any) -> dict[str, Any] | None:
    """The context with its history cut to max_messages, or None if nothing to cut."""
    if not isinstance(raw, dict):
        return None
    history = raw.get("chat_history")
    if not isinstance(history, dict):
        return None
    messages, limit = history.get("messages"), history.get("max_messages")
    if (
        not isinstance(messages, list)
        or not isinstance(limit, int)
        or isinstance(limit, bool)
        or limit < 0
        or len(messages) <= limit
    ):
        return None
    kept = messages[len(messages) - limit :]
    return {**raw, "chat_history": {**history, "messages": kept}}


def _format_age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
