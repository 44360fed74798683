"""What the page benchmarks (``benchmarks.admin``, ``benchmarks.api``) share: their command
line, a loaded table, timing one page, and the markdown cells of a result."""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .loader import load_sessions


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


def superuser_client() -> Any:
    """Django's test client, logged in as the benchmarks' superuser (made on first use)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user_model = get_user_model()
    user = user_model.objects.filter(username="bench").first() or (
        user_model.objects.create_superuser("bench", "bench@example.com", "bench")
    )
    client = Client()
    client.force_login(user)
    return client


def measure_page(
    client: Any, url: str, repeat: int, *, counted: Callable[[str], bool] = lambda sql: True
) -> dict[str, Any]:
    """Median time of ``repeat`` GETs of ``url`` after a warm-up, the SQL time within, the
    queries ``counted`` (by their SQL) and the response size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up (and a check)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.content[:300]!r}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
    db_times = []
    for _ in range(max(repeat // 2, 1)):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        db_times.append(sum(float(q["time"]) for q in queries.captured_queries))
    return {
        "url": url,
        "median_ms": round(statistics.median(times) * 1000, 1),
        "db_ms": round(statistics.median(db_times) * 1000, 1),
        "queries": sum(1 for q in queries.captured_queries if counted(q["sql"])),
        "bytes": len(response.content),
    }


def measure_pages(
    client: Any,
    pages: list[tuple[str, str, str | None]],
    *,
    ours: str,
    baseline: str,
    label: str,
    baseline_key: str,
    repeat: int,
    skip_baseline: bool,
    counted: Callable[[str], bool] = lambda sql: True,
) -> list[dict[str, Any]]:
    """``(name, our query, baseline query or None)`` pages, each timed under ``ours`` and
    (unless skipped or None) under ``baseline``: ``{label: name, "ours": ..., key: ...}``."""
    results = []
    for name, our_query, baseline_query in pages:
        row: dict[str, Any] = {
            label: name,
            "ours": measure_page(client, ours + our_query, repeat, counted=counted),
        }
        if baseline_query is not None and not skip_baseline:
            row[baseline_key] = measure_page(
                client, baseline + baseline_query, repeat, counted=counted
            )
        results.append(row)
    return results


def result_cells(ours: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """Markdown cells: ours (ms, SQL ms, queries, KB), the baseline's, baseline / ours."""
    cells = f"{ours['median_ms']} | {ours['db_ms']} | {ours['queries']} | {ours['bytes'] // 1024}"
    if baseline is None:
        return f"{cells} | - | - | - | - | -"
    return (
        f"{cells} | {baseline['median_ms']} | {baseline['db_ms']} | {baseline['queries']} | "
        f"{baseline['bytes'] // 1024} | {baseline['median_ms'] / ours['median_ms']:.1f}x"
    )
