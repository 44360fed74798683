"""Search benchmark: the PostgreSQL search index against today's window search and a
sequential scan on the same rows, and saves with the index against the same saves without.

    createdb -h 127.0.0.1 -U postgres h_search_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_search_bench \\
        python -m benchmarks.search --sessions 100000 [--big 2000] [--keep]

1. Loads ``--sessions`` sessions of ~2 KB and ``--big`` (default sessions/50) of ~100 KB,
   generated server-side (``INSERT ... SELECT generate_series``) with the index dropped,
   then installs it and backfills with the command's own batches (rows/s, messages/s, and
   the longest batch: how long a save may wait for a row the backfill holds).
2. First page (50 newest) of: a rare word, a common word with a graph filter, an absent
   word, a phrase, a prefix; each through ``filter_sessions`` (the index), through today's
   window search (``ContextContainsText`` over the newest ADMIN_SEARCH_WINDOW sessions) and a
   sequential scan (``ContextContainsText`` over every row). Medians of ``--repeat`` runs,
   wall-clock from Python (so an upper bound on server time). Then the same searches as a
   user makes them: the admin's list and the API's first page through Django's test client
   (the whole request: the search, the page's own queries, rendering), and the session page
   opened from a result, its transcript highlighted.
3. Saves: appending one message to a 1 MB, 100 KB and 1 KB session through the storage, and
   a graph-flow 0.6 full-context upsert of the same, each timed on two sessions of the same
   size taking turns: one with the triggers, one on a second connection that stays under
   ``session_replication_role = replica`` (PostgreSQL skips ordinary triggers there): the
   same statement, the index's cost only. Each writer keeps its role for the whole run:
   changing it empties the connection's plan cache, so switching before every save would
   charge the trigger's statements a fresh plan each time, a cost no real writer pays.
4. The index's size against the table's.

The database in DATABASE_URL is migrated and written to; its sessions table is emptied at the
start and at the end (``--keep`` keeps the rows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

# Words: a few very common ones, then a long tail (a Zipf-like pick: index = 5000^random()).
COMMON = ["the", "claim", "car", "policy", "thanks", "please", "damage", "insurance"]
RARE_WORD = "zanzibarite"
PHRASE = '"rear bumper damage"'
PREFIX = "quokk*"

#: The searches timed: (name, what is typed, graph filter or None).
CASES = [
    ("rare word", RARE_WORD, None),
    ("common word + graph", "damage", "billing"),
    ("absent word", "xylophonique", None),
    ("phrase", PHRASE, None),
    ("prefix", PREFIX, None),
]

GENERATE = """
CREATE OR REPLACE FUNCTION pg_temp.bench_words(k integer) RETURNS text
LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(CASE WHEN r < 8 THEN (%(common)s)[r + 1] ELSE 'w' || r END, ' ')
  FROM (SELECT floor(power(5000, random()))::int - 1 AS r FROM generate_series(1, k)) AS w
$$;
INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, created_at,
                      updated_at, version)
SELECT gen_random_uuid(),
       (ARRAY['claims', 'support', 'onboarding', 'billing'])[1 + i %% 4],
       'task_' || (i %% 7), 'step ' || (i %% 13),
       jsonb_build_object(
         'data', jsonb_build_object('insurance_type', (ARRAY['car', 'apartment'])[1 + i %% 2],
                                    'note', pg_temp.bench_words(6)),
         'chat_history', jsonb_build_object('max_messages', 1000, 'messages', (
           SELECT jsonb_agg(jsonb_build_object(
             'role', CASE WHEN m %% 2 = 0 THEN 'User' ELSE 'Assistant' END,
             'content', pg_temp.bench_words(%(words)s)
               || CASE WHEN m = 1 AND i %% 100003 = 7 THEN ' zanzibarite' ELSE '' END
               || CASE WHEN m = 2 AND i %% 997 = 3 THEN ' the rear bumper damage' ELSE '' END
               || CASE WHEN m = 3 AND i %% 4999 = 11 THEN ' quokkas' ELSE '' END,
             'timestamp', '2026-01-01T00:00:00Z') ORDER BY m)
           FROM generate_series(1, %(messages)s) AS m))),
       now() - (%(n)s - i) * interval '1 second' - interval '1 hour',
       now() - (%(n)s - i) * interval '1 second', 1
FROM generate_series(1, %(n)s) AS i
"""


def median_ms(run: Callable[[], Any], repeat: int) -> float:
    run()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def load(n: int, big: int) -> dict[str, float]:
    from django.db import connection

    from graphflow_sessions.management.commands.graphflow_sessions_index import (
        DEFAULT_BATCH_SIZE,
        run_batch,
    )
    from graphflow_sessions.search import postgres

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sessions")
    if postgres.index_installed("default"):
        postgres.uninstall(connection)
    common = "ARRAY[" + ", ".join(f"'{w}'" for w in COMMON) + "]"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # ~2 KB: 6 messages of ~45 words; ~100 KB: 300 of them.
        for count, messages in ((n, 6), (big, 300)):
            if count:
                cursor.execute(
                    GENERATE % {"common": common, "words": 45, "messages": messages, "n": count}
                )
        cursor.execute("ANALYZE sessions")
    generated = time.perf_counter() - started
    postgres.install(connection)
    started = time.perf_counter()
    after = None
    longest = 0.0
    while True:
        # The command's own batches, at its default size.
        batch = run_batch("default", after, DEFAULT_BATCH_SIZE, verify=False)
        if batch.last_id is None:
            break
        longest = max(longest, batch.seconds)
        after = batch.last_id
    backfill = time.perf_counter() - started
    with connection.cursor() as cursor:
        postgres.mark_progress(cursor, None, True)
        cursor.execute("VACUUM ANALYZE gfs_search_message")
        cursor.execute("VACUUM ANALYZE gfs_search_session")
    return {
        "generate_s": generated,
        "backfill_s": backfill,
        "backfill_rows_per_s": (n + big) / backfill,
        "backfill_messages_per_s": (n * 6 + big * 300) / backfill,
        "longest_batch_s": longest,
    }


def searches(repeat: int) -> list[dict[str, Any]]:
    from django.db import connection

    from graphflow_sessions.conf import app_settings
    from graphflow_sessions.expressions import ContextContainsText
    from graphflow_sessions.models import Session
    from graphflow_sessions.search import postgres
    from graphflow_sessions.search.terms import TermKind, parse_query

    newest = Session.objects.order_by("-updated_at", "-id")
    window = app_settings.ADMIN_SEARCH_WINDOW

    def like_text(query: Any) -> list[str]:
        # What today's search can do with the query: each term's text as a substring.
        return [t.text.rstrip("*") if t.kind is TermKind.PREFIX else t.text for t in query.terms]

    results = []
    for name, text, graph in CASES:
        base = newest if graph is None else newest.filter(graph_id=graph)
        query = parse_query(text)

        def indexed(base: Any = base, query: Any = query) -> list[Any]:
            return list(
                postgres.filter_sessions(base, query).queryset.values_list("pk", flat=True)[:50]
            )

        def windowed(base: Any = base, query: Any = query) -> list[Any]:
            ids = base.values("pk")[:window]
            rows = Session.objects.filter(pk__in=ids).order_by("-updated_at", "-id")
            for part in like_text(query):
                rows = rows.filter(ContextContainsText(part))
            return list(rows.values_list("pk", flat=True)[:50])

        def scanned(base: Any = base, query: Any = query) -> list[Any]:
            rows = base
            for part in like_text(query):
                rows = rows.filter(ContextContainsText(part))
            return list(rows.values_list("pk", flat=True)[:50])

        found = indexed()
        truth = scanned()
        with connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        results.append(
            {
                "case": name,
                "query": text,
                "graph": graph,
                "index_ms": median_ms(indexed, repeat),
                "window_ms": median_ms(windowed, repeat),
                "scan_ms": median_ms(scanned, max(1, repeat // 3)),
                "index_rows": len(found),
                "window_rows": len(windowed()),
                "scan_rows": len(truth),
                "same_first_page": found == truth,
            }
        )
    return results


def pages(repeat: int) -> list[dict[str, Any]]:
    """Each search's first page as a user gets it: the admin's list (``?q=``, the graph as
    the list filter) and the API's (``?search=``, ``?graph=``), through Django's test client
    as a superuser, then the session page opened from the rare word's first result."""
    from urllib.parse import urlencode

    from django.test.utils import override_settings

    from graphflow_sessions.models import Session
    from graphflow_sessions.search import postgres
    from graphflow_sessions.search.terms import parse_query

    from .pages import measure_page, superuser_client

    client = superuser_client()
    admin = "/admin/graphflow_sessions/session/"
    results = []
    with override_settings(ROOT_URLCONF="tests.urls", DEBUG=False):
        for name, text, graph in CASES:
            admin_query = {"q": text, **({"graph_id": graph} if graph else {})}
            api_query = {"search": text, **({"graph": graph} if graph else {})}
            results.append(
                {
                    "case": name,
                    "admin": measure_page(client, f"{admin}?{urlencode(admin_query)}", repeat),
                    "api": measure_page(client, f"/api/sessions/?{urlencode(api_query)}", repeat),
                }
            )
        newest = Session.objects.order_by("-updated_at", "-id")
        matches = postgres.filter_sessions(newest, parse_query(RARE_WORD)).queryset
        hit = matches.values_list("pk", flat=True).first()
        if hit is not None:
            page = f"{admin}{hit}/change/?{urlencode({'q': RARE_WORD})}"
            results.append(
                {"case": "session page, highlighted", "admin": measure_page(client, page, repeat)}
            )
    return results


def saves(iterations: int) -> list[dict[str, Any]]:
    import psycopg
    from django.db import connection
    from psycopg.types.json import Jsonb

    from benchmarks.payloads import context_dict
    from graphflow_sessions.contract.codec import read_context
    from graphflow_sessions.models import Session
    from graphflow_sessions.storage import DatabaseSessionStorage

    storages = {mode: DatabaseSessionStorage(alias) for mode, alias in WRITERS.items()}
    settings = connection.settings_dict
    rusts = {
        mode: psycopg.connect(
            dbname=settings["NAME"],
            host=settings["HOST"],
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            autocommit=True,
        )
        for mode in WRITERS
    }
    rusts["without index"].execute("SET session_replication_role = replica")
    save_06 = (
        "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, "
        "version, updated_at) VALUES (%s, %s, %s, %s, %s, %s + 1, NOW()) "
        "ON CONFLICT (id) DO UPDATE SET graph_id = EXCLUDED.graph_id, "
        "current_task_id = EXCLUDED.current_task_id, status_message = EXCLUDED.status_message, "
        "context = EXCLUDED.context, version = sessions.version + 1, updated_at = NOW() "
        "WHERE sessions.version = %s"
    )
    rows = []
    for label, size in (("1 MB", 1_000_000), ("100 KB", 100_000), ("1 KB", 1_000)):
        template = context_dict(size)
        sessions = {
            mode: Session(
                id=uuid.uuid4(),
                graph_id="bench",
                current_task_id="t",
                status_message=None,
                context=read_context(json.dumps(template)),
            )
            for mode in ("with index", "without index")
        }
        for session in sessions.values():
            storages["with index"].save(session)  # both indexed once: the same start
        rust_docs = {mode: json.loads(json.dumps(template)) for mode in sessions}
        rust_ids = {mode: str(uuid.uuid4()) for mode in sessions}
        rust_versions = dict.fromkeys(sessions, 0)
        for mode in sessions:
            rusts["with index"].execute(
                save_06, [rust_ids[mode], "bench", "t", None, Jsonb(rust_docs[mode]), 0, 0]
            )
            rust_versions[mode] = 1
        timings: dict[tuple[str, str], list[float]] = {}
        for n in range(iterations):
            order = list(sessions) if n % 2 == 0 else list(reversed(list(sessions)))
            for mode in order:
                session = sessions[mode]
                session.context.add_message("User", f"appended message {n} about the claim")
                started = time.perf_counter()
                storages[mode].save(session)
                timings.setdefault(("storage", mode), []).append(time.perf_counter() - started)
                rust = rusts[mode]
                doc = rust_docs[mode]
                doc["chat_history"]["messages"].append(
                    {
                        "role": "User",
                        "content": f"rust message {n}",
                        "timestamp": "2026-01-01T00:00:00Z",
                    }
                )
                started = time.perf_counter()
                rust.execute(
                    save_06,
                    [
                        rust_ids[mode],
                        "bench",
                        "t",
                        None,
                        Jsonb(doc),
                        rust_versions[mode],
                        rust_versions[mode],
                    ],
                )
                timings.setdefault(("rust 0.6 upsert", mode), []).append(
                    time.perf_counter() - started
                )
                rust_versions[mode] += 1
        for writer in ("storage", "rust 0.6 upsert"):
            on = statistics.median(timings[(writer, "with index")]) * 1000
            off = statistics.median(timings[(writer, "without index")]) * 1000
            rows.append(
                {
                    "size": label,
                    "writer": writer,
                    "with_ms": on,
                    "without_ms": off,
                    "ratio": on / off,
                }
            )
    for rust in rusts.values():
        rust.close()
    return rows


def sizes() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('sessions'), "
            "pg_total_relation_size('gfs_search_message') + "
            "pg_total_relation_size('gfs_search_session')"
        )
        table, index = cursor.fetchone()
    return {"table_bytes": int(table), "index_bytes": int(index)}


#: The database aliases the saves go through: the second is the same database with the
#: triggers skipped for its whole connection (added to the settings in ``main``).
WRITERS = {"with index": "default", "without index": "bench_without_index"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=None, help="~100 KB sessions (sessions/50)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=30, help="saves per size and mode")
    parser.add_argument("--keep", action="store_true", help="keep the generated rows")
    parser.add_argument("--saves-only", action="store_true", help="time the saves only")
    parser.add_argument(
        "--reuse", action="store_true", help="search the rows a --keep run left (no load)"
    )
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("DATABASE_URL must name a PostgreSQL database made for this", file=sys.stderr)
        return 2
    from django.conf import settings

    without = {**settings.DATABASES["default"]}
    without["OPTIONS"] = {
        **without.get("OPTIONS", {}),
        "options": "-c session_replication_role=replica",
    }
    settings.DATABASES[WRITERS["without index"]] = without
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    big = args.sessions // 50 if args.big is None else args.big
    report: dict[str, Any] = {"sessions": args.sessions, "big_sessions": big}
    if args.reuse:
        from graphflow_sessions.search import postgres

        postgres.install(connection)  # idempotent: this checkout's functions
    else:
        report["load"] = load(args.sessions, big)
        print(f"loaded {args.sessions} x ~2 KB + {big} x ~100 KB: {report['load']}")
    report["sizes"] = sizes()
    print(f"sizes: {report['sizes']}")
    report["searches"] = [] if args.saves_only else searches(args.repeat)
    print(f"{'case':22} {'index ms':>9} {'window ms':>10} {'scan ms':>9}  rows i/w/s  same")
    for row in report["searches"]:
        print(
            f"{row['case']:22} {row['index_ms']:9.1f} {row['window_ms']:10.1f} "
            f"{row['scan_ms']:9.1f}  {row['index_rows']}/{row['window_rows']}/"
            f"{row['scan_rows']}  {row['same_first_page']}"
        )
    report["pages"] = [] if args.saves_only else pages(args.repeat)
    print(f"{'page':26} {'admin ms':>9} {'SQL ms':>7} {'API ms':>7} {'SQL ms':>7}")
    for row in report["pages"]:
        api = row.get("api")
        api_cells = f"{api['median_ms']:7.1f} {api['db_ms']:7.1f}" if api else ""
        print(
            f"{row['case']:26} {row['admin']['median_ms']:9.1f} {row['admin']['db_ms']:7.1f} "
            f"{api_cells}"
        )
    report["saves"] = saves(args.iterations)
    print(f"{'size':8} {'writer':16} {'with ms':>8} {'without':>8} {'ratio':>6}")
    for row in report["saves"]:
        print(
            f"{row['size']:8} {row['writer']:16} {row['with_ms']:8.2f} "
            f"{row['without_ms']:8.2f} {row['ratio']:6.2f}"
        )
    if not args.keep:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE sessions")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
