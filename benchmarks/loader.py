"""Fill the ``sessions`` table fast: ``load_sessions(using, n, context_bytes)``.

PostgreSQL gets one ``COPY ... FROM STDIN`` stream (hundreds of thousands of rows a minute);
other databases get ``bulk_create`` in batches. Rows look like a real deployment: a few
graphs of very different sizes, task ids that are Rust type paths or plain words, status
messages or NULL, ``updated_at`` spread over the past year with ``created_at`` before it, and
contexts built by :func:`benchmarks.payloads.context_dict` (a handful of variants reused,
each with its own session id in the data). Rows are written oldest first, as a service
writes them over time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from django.db import connections

from .payloads import context_dict

__all__ = ["GRAPHS", "TASKS", "load_sessions", "session_rows"]

#: (graph_id, weight): one big graph, a few medium, a long tail.
GRAPHS = [("claims", 50), ("support", 25), ("onboarding", 10), ("billing", 5)] + [
    (f"tenant-{i:02d}", 1) for i in range(10)
]
TASKS = [
    "insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask",
    "insurance_claims_service::tasks::insurance_type_classifier::InsuranceTypeClassifierTask",
    "insurance_claims_service::tasks::car_insurance_details::CarInsuranceDetailsTask",
    "insurance_claims_service::tasks::smart_claim_validator::SmartClaimValidatorTask",
    "insurance_claims_service::tasks::final_summary::FinalSummaryTask",
    "ask",
    "answer",
    "completed",
]
STATUSES = [None, "Waiting for user input", "Claim auto-approved", "Escalated to an adjuster"]
COLUMNS = (
    "id",
    "graph_id",
    "current_task_id",
    "status_message",
    "context",
    "created_at",
    "updated_at",
    "version",
)
_VARIANTS = 16
_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def _context_templates(context_bytes: int) -> list[tuple[str, str]]:
    """Compact JSON variants, split around the session id they carry in their data."""
    templates = []
    for seed in range(_VARIANTS):
        value = context_dict(context_bytes, seed=seed)
        value["data"]["session_id"] = _PLACEHOLDER
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        before, _, after = text.partition(_PLACEHOLDER)
        templates.append((before, after))
    return templates


def session_rows(
    n: int, context_bytes: int, *, seed: int = 7, now: datetime | None = None
) -> Iterator[tuple[Any, ...]]:
    """``n`` rows in COLUMNS order; the context as JSON text."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    templates = _context_templates(context_bytes)
    graphs, weights = zip(*GRAPHS, strict=True)
    year = 365 * 86_400
    for index in range(n):
        session_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        before, after = templates[rng.randrange(_VARIANTS)]
        # Oldest first, as a live service writes them: the table's physical order follows
        # updated_at, so the newest sessions sit together (as they do in a real table).
        updated = now - timedelta(seconds=year * (n - index) / n + rng.random() * 60)
        created = updated - timedelta(seconds=rng.randrange(3 * 86_400))
        yield (
            session_id,
            rng.choices(graphs, weights)[0],
            rng.choice(TASKS),
            rng.choice(STATUSES),
            f"{before}{session_id}{after}",
            created,
            updated,
            rng.randrange(1, 40),
        )


def load_sessions(
    using: str = "default", n: int = 20_000, context_bytes: int = 2_000, *, seed: int = 7
) -> int:
    """Append ``n`` generated sessions to the table on ``using``; returns ``n``."""
    connection = connections[using]
    rows = session_rows(n, context_bytes, seed=seed)
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.cursor() as cursor:
            sql = f"COPY sessions ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return n
    from graphflow_sessions.models import Session

    batch: list[Session] = []
    for row in rows:
        values = dict(zip(COLUMNS, row, strict=True))
        values["context"] = json.loads(values["context"])
        batch.append(Session(**values))
        if len(batch) == 1_000:
            Session.objects.using(using).bulk_create(batch)
            batch.clear()
    if batch:
        Session.objects.using(using).bulk_create(batch)
    return n


# What the page benchmarks (admin, API) share: their command line and a loaded table. ------


def page_benchmark_arguments(
    description: str, *, context_bytes: int, what: str, baseline: str
) -> argparse.ArgumentParser:
    """The options of a benchmark that times pages against a baseline on a loaded table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=int, default=20_000, help="sessions to load (default 20000)")
    parser.add_argument(
        "--context-bytes",
        type=int,
        default=context_bytes,
        help=f"JSON size of each context ({context_bytes})",
    )
    parser.add_argument("--repeat", type=int, default=7, help=f"timed requests per {what} (7)")
    parser.add_argument("--reload", action="store_true", help="empty the table and load again")
    parser.add_argument("--skip-baseline", action="store_true", help=f"do not time {baseline}")
    parser.add_argument("--json", help="also write the results to this file")
    return parser


def require_postgres_url() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database made for this benchmark")


@dataclass(frozen=True)
class LoadedTable:
    rows: int  # PostgreSQL's estimate, after ANALYZE
    size: str  # the table with its TOAST and indexes, pretty-printed
    long_session_id: uuid.UUID


def prepare_table(
    n: int, context_bytes: int, *, reload: bool, long_context: Callable[[], Any]
) -> LoadedTable:
    """Migrate, load ``n`` sessions plus one with ``long_context()`` unless the table already
    has rows (``reload`` empties it first), then ANALYZE and describe it."""
    from django.core.management import call_command
    from django.db import connection

    from graphflow_sessions.models import Session
    from graphflow_sessions.storage import DatabaseSessionStorage

    call_command("migrate", verbosity=0)
    if reload:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE sessions")
    if not Session.objects.exists():
        started = time.perf_counter()
        load_sessions("default", n, context_bytes)
        DatabaseSessionStorage().save(
            Session(graph_id=LONG_GRAPH, current_task_id=LONG_TASK, context=long_context())
        )
        print(f"loaded {n:,} sessions in {time.perf_counter() - started:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sessions")
        cursor.execute(
            "SELECT reltuples::bigint, pg_size_pretty(pg_total_relation_size('sessions')) "
            "FROM pg_class WHERE oid = 'sessions'::regclass"
        )
        rows, size = cursor.fetchone()
    long_id = (
        Session.objects.filter(graph_id=LONG_GRAPH, current_task_id=LONG_TASK)
        .order_by("-updated_at")
        .values_list("pk", flat=True)[0]
    )
    return LoadedTable(rows, size, long_id)


# The one long session each page benchmark adds (a graph and task no generated row uses).
LONG_GRAPH, LONG_TASK = "claims", "ask"
