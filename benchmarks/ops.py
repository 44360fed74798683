"""Operations at scale: pruning while saves go on, and exporting with flat memory.

    createdb -h 127.0.0.1 -U postgres bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.ops \\
        [--rows 200000] [--batch-size 1000] [--json results.json]

Works only on its own rows (graph ids ``ops-bench-*``, removed at the end), so it can share a
database. Steps:

1. Seed ``--rows`` stale sessions (updated 60 days ago, a ~1 KB context with 4 messages)
   with one INSERT ... SELECT generate_series, plus 1% as many in a small graph.
2. Export, each in a fresh child process writing to /dev/null: the small graph, then all
   ``--rows``. Peak RSS of both children (ru_maxrss) shows whether memory grows with rows.
3. Saves alone for a few seconds: the baseline latency of ``storage.get`` + ``storage.save``.
4. ``prune_sessions(older_than=30d)`` of the stale graph while the same saver runs, half its
   saves on live sessions and half on stale ones the pruner may be deleting right then (the
   worst case: such a save waits for the batch that holds the row). Reported: rows/s, batch
   times, and the save latencies during pruning next to the baseline and the slowest batch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

STALE, SMALL, LIVE = "ops-bench-stale", "ops-bench-small", "ops-bench-live"

# ~1 KB: a claim with four messages, as the insurance-claims service writes.
CONTEXT_SQL = """jsonb_build_object(
  'data', jsonb_build_object('session_id', gen_random_uuid()::text, 'insurance_type', 'car',
    'claim_details', jsonb_build_object('description', repeat('dented bumper ', 12),
      'estimated_cost', 950, 'additional_info', 'parking lot'),
    'approval_state', 'pending'),
  'chat_history', jsonb_build_object('max_messages', 50, 'messages', jsonb_build_array(
    jsonb_build_object('role', 'User', 'content', repeat('I had an accident. ', 6),
                       'timestamp', '2026-01-01T09:00:00.123456789Z'),
    jsonb_build_object('role', 'Assistant', 'content', repeat('Which insurance? ', 5),
                       'timestamp', '2026-01-01T09:00:01.5Z'),
    jsonb_build_object('role', 'User', 'content', 'Car insurance',
                       'timestamp', '2026-01-01T09:00:09Z'),
    jsonb_build_object('role', 'Assistant', 'content', repeat('Please describe it. ', 5),
                       'timestamp', '2026-01-01T09:00:10Z'))))"""


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "graphflow_sessions", verbosity=0)


def seed(rows: int, graph_id: str) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, "
            "created_at, updated_at, version) "
            f"SELECT gen_random_uuid(), %s, 'claims::SmartClaimValidatorTask', NULL, "
            f"{CONTEXT_SQL}, now() - interval '90 days', "
            "now() - interval '60 days' + g * interval '1 millisecond', 1 "
            "FROM generate_series(1, %s) AS g",
            [graph_id, rows],
        )
        cursor.execute("VACUUM ANALYZE sessions")
    return time.perf_counter() - started


def cleanup() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sessions WHERE graph_id LIKE 'ops-bench-%%'")
        cursor.execute("VACUUM ANALYZE sessions")


# Export, in a child process so that its peak RSS is its own ----------------------------------


def export_child(graph_id: str) -> None:
    setup_django()
    from graphflow_sessions.transfer import export_sessions

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as out:

        class Counting:
            size = 0

            def write(self, text: str) -> None:
                self.size += len(text)
                out.write(text)

        counting = Counting()
        rows = export_sessions(counting, graph_id=graph_id)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "characters": counting.size,
                "rss_before_kib": before,
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def measure_export(graph_id: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.ops", "--export-child", graph_id],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# Saves next to a prune -----------------------------------------------------------------------


class Saver(threading.Thread):
    """get + save in a loop, alternating live sessions and stale ones being pruned."""

    def __init__(self, live: list[uuid.UUID], stale: list[uuid.UUID]) -> None:
        super().__init__(daemon=True)
        self.live, self.stale = live, stale
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connections

        from graphflow_sessions.context import Context
        from graphflow_sessions.models import Session
        from graphflow_sessions.storage import DatabaseSessionStorage

        storage = DatabaseSessionStorage()
        pick = random.Random(7)
        try:
            turn = 0
            while not self.stop.is_set():
                turn += 1
                pool = self.live if turn % 2 else self.stale
                session_id = pool[pick.randrange(len(pool))]
                began = time.perf_counter()
                session = storage.get(session_id) or Session(
                    id=session_id, graph_id=LIVE, current_task_id="resumed", context=Context()
                )
                session.graph_id = LIVE  # a touched session is live, and ours to clean up
                session.status_message = f"turn {turn}"
                storage.save(session)
                self.latencies.append(time.perf_counter() - began)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            connections.close_all()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.export_child:
        export_child(options.export_child)
        return
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (it gets a sessions table)")
    setup_django()

    from django.db import connection

    from graphflow_sessions.models import Session
    from graphflow_sessions.retention import PruneBatch, prune_sessions

    cleanup()
    results: dict[str, Any] = {
        "rows": options.rows,
        "batch_size": options.batch_size,
        "python": platform.python_version(),
        "postgres": connection.cursor().connection.info.server_version,
        "cpus": os.cpu_count(),
    }
    small_rows = max(1000, options.rows // 100)
    results["seed_seconds"] = round(seed(options.rows, STALE) + seed(small_rows, SMALL), 1)
    print(f"seeded {options.rows} + {small_rows} rows in {results['seed_seconds']} s", flush=True)

    small, large = measure_export(SMALL), measure_export(STALE)
    results["export"] = {"small": small, "large": large}
    print(
        f"export: {large['rows']} rows in {large['seconds']:.1f} s "
        f"({large['rows'] / large['seconds']:.0f} rows/s, "
        f"{large['characters'] / large['seconds'] / 2**20:.1f} MiB/s); peak RSS "
        f"{small['peak_rss_kib'] / 1024:.0f} MiB for {small['rows']} rows, "
        f"{large['peak_rss_kib'] / 1024:.0f} MiB for {large['rows']} rows",
        flush=True,
    )

    live = [uuid.uuid4() for _ in range(20)]
    stale = list(
        Session.objects.filter(graph_id=STALE)
        .order_by("updated_at")
        .values_list("id", flat=True)[: max(1, options.rows // 10)]
    )
    baseline = Saver(live, stale[-1000:])  # the newest stale rows: untouched by any prune yet
    baseline.start()
    time.sleep(options.baseline_seconds)
    baseline.stop.set()
    baseline.join()
    if baseline.error:
        raise baseline.error

    # The saver aims at the oldest stale rows: the ones the first batches delete.
    saver = Saver(live, stale)
    batches: list[float] = []

    def record(batch: PruneBatch) -> None:
        batches.append(batch.seconds)

    saver.start()
    pruned = prune_sessions(
        timedelta(days=30), graph_id=STALE, batch_size=options.batch_size, progress=record
    )
    saver.stop.set()
    saver.join()
    if saver.error:
        raise saver.error

    results["prune"] = {
        "deleted": pruned.deleted,
        "seconds": round(pruned.seconds, 2),
        "rows_per_second": round(pruned.deleted / pruned.seconds),
        "batches": pruned.batches,
        "batch_p50_ms": round(statistics.median(batches) * 1000, 2),
        "batch_max_ms": round(max(batches) * 1000, 2),
    }
    results["saves_alone"] = summary_ms(baseline.latencies)
    results["saves_during_prune"] = summary_ms(saver.latencies)
    results["ratios"] = {
        "max_save_during_prune_over_slowest_batch": round(max(saver.latencies) / max(batches), 2),
        "p99_save_during_over_alone": round(
            percentile(saver.latencies, 0.99) / percentile(baseline.latencies, 0.99), 2
        ),
    }
    print(json.dumps(results, indent=2))
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    cleanup()


if __name__ == "__main__":
    main()
