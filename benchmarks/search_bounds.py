"""One admin search request's cost on a session holding a data list of N numbers, before and
after numbers stopped being searched, and what ``SEARCH_TIMEOUT`` does to a query that would
run longer (issue: "unbounded work for one request").

    createdb -h 127.0.0.1 -U postgres gfs_search_bounds
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gfs_search_bounds \\
        python -m benchmarks.search_bounds --n 100000 400000

For each N: one session ``{"a": [1] * N}`` among a few ordinary ones, then, on the same row
in the same run, the admin list searched for an absent word (a logged-in superuser, Django's
test Client; the median of ``--repeat``) and the baseline, the removed branch of the old
query (``$.data.** ? (number|boolean)`` expanded into rows) run alone. Each backend's peak
memory is read from ``/proc/<pid>/status`` (VmHWM; the server must be on this machine).
Last, the baseline run inside the search's bound (``SEARCH_TIMEOUT`` 1 s): the time until
PostgreSQL cancelled it. The database in DATABASE_URL is written to: use one made for this.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

# The branch the search used to run (expressions.ContextContainsText before the fix).
OLD_NUMBER_BRANCH = (
    "SELECT EXISTS (SELECT 1 FROM jsonb_path_query(context, "
    "'strict $.data.** ? (@.type() == \"number\" || @.type() == \"boolean\")', '{}', true) "
    "AS d(v) WHERE d.v #>> '{}' ILIKE %s) FROM sessions WHERE id = %s"
)


def backend_peak_kib(cursor: Any) -> int | None:
    cursor.execute("SELECT pg_backend_pid()")
    status = Path(f"/proc/{cursor.fetchone()[0]}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def fresh_backend() -> None:
    from django.db import connection

    connection.close()
    connection.ensure_connection()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database made for this benchmark")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings, setup_test_environment

    from graphflow_sessions.exceptions import SearchTimedOut
    from graphflow_sessions.models import Session
    from graphflow_sessions.search.limits import bounded
    from tests.support.admin import chat_context, make_session

    from .pages import superuser_client

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    Session.objects.all().delete()
    for index in range(5):
        make_session(context=chat_context(index + 1))
    client = superuser_client()

    print(
        "| numbers in data | admin search, median | peak backend memory "
        "| old branch alone | its peak memory | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.n:
        big = make_session(context=chat_context(1, data={"a": [1] * n}))
        timings = []
        fresh_backend()
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get("/admin/graphflow_sessions/session/", {"q": "absentword"})
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
        with connection.cursor() as cursor:
            ours_peak = backend_peak_kib(cursor)
        fresh_backend()
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(OLD_NUMBER_BRANCH, ["%absentword%", big.pk])
            old = time.perf_counter() - started
            old_peak = backend_peak_kib(cursor)
        ours = statistics.median(timings)
        print(
            f"| {n:,} | {ours * 1000:.0f} ms | {ours_peak or 0:,} KiB | {old * 1000:.0f} ms "
            f"| {old_peak or 0:,} KiB | {old / ours:.1f}x |"
        )
        big.delete()
    big = make_session(context=chat_context(1, data={"a": [1] * max(args.n)}))
    with override_settings(GRAPHFLOW_SESSIONS={"SEARCH_TIMEOUT": 1}):
        started = time.perf_counter()
        try:
            with bounded("default"), connection.cursor() as cursor:
                cursor.execute(OLD_NUMBER_BRANCH, ["%absentword%", big.pk])
            outcome = "finished"
        except SearchTimedOut:
            outcome = "cancelled by PostgreSQL"
    print(
        f"\nOld branch on {max(args.n):,} numbers under SEARCH_TIMEOUT = 1 s: {outcome} "
        f"after {time.perf_counter() - started:.2f} s"
    )
    big.delete()


if __name__ == "__main__":
    main()
