"""What a new connection per request costs: the number behind check graphflow_sessions.W003.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.connections
    ... --requests 500 --json results.json

One "request" reads one stored session with ``DatabaseSessionStorage.get`` and then ends the
way Django ends a request (``close_old_connections``: a connection past its CONN_MAX_AGE is
closed, a pooled one goes back to its pool). The same database, three ways:

* ``per_request``: ``CONN_MAX_AGE = 0`` and no pool (Django's default): every request opens
  a connection (TCP, startup, authentication, Django's time zone setup), queries, closes;
* ``pooled``: ``OPTIONS["pool"]`` (what ``connect()`` sets up): a connection is borrowed
  from psycopg's pool and handed back;
* ``persistent``: ``CONN_MAX_AGE = None``: the thread's connection is kept (the baseline).

The modes take turns within each round (the starting one rotating), after warm-up rounds
that are not counted. Medians and ratios to ``persistent`` are printed; the difference
``per_request - persistent`` is the per-request connection cost quoted in W003's hint.
Runs as a plain script: ``connect()`` configures a minimal Django and creates the schema.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable

MODES = ("per_request", "pooled", "persistent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per mode")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per mode")
    parser.add_argument("--json", help="also write the results to this file")
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (it gets a sessions table)")

    from graphflow_sessions.storage import DatabaseSessionStorage

    connected = DatabaseSessionStorage.connect(url)  # pooled; creates the schema if needed

    from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

    from graphflow_sessions.models import Session

    base = connections[connected.using].settings_dict
    for alias, max_age in (("per_request", 0), ("persistent", None)):
        entry = {**base, "OPTIONS": {**base["OPTIONS"]}, "CONN_MAX_AGE": max_age, "TEST": {}}
        entry["OPTIONS"].pop("pool", None)
        connections.configure_settings({DEFAULT_DB_ALIAS: entry})
        connections.settings[alias] = entry
    storages = {
        "per_request": DatabaseSessionStorage(using="per_request"),
        "pooled": DatabaseSessionStorage(using=connected.using),
        "persistent": DatabaseSessionStorage(using="persistent"),
    }
    session = Session(id=uuid.uuid4(), graph_id="bench", current_task_id="t")
    connected.save(session)

    def request(storage: DatabaseSessionStorage) -> Callable[[], None]:
        def run() -> None:
            assert storage.get(session.id) is not None
            close_old_connections()  # what Django's request_finished signal does

        return run

    runs = {mode: request(storages[mode]) for mode in MODES}
    timings: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_number in range(options.warmup + options.requests):
        start = round_number % len(MODES)
        for mode in MODES[start:] + MODES[:start]:
            began = time.perf_counter_ns()
            runs[mode]()
            elapsed = (time.perf_counter_ns() - began) / 1e6
            if round_number >= options.warmup:
                timings[mode].append(elapsed)
    connected.delete(session.id)

    medians = {mode: statistics.median(values) for mode, values in timings.items()}
    baseline = medians["persistent"]
    server = connections["persistent"].cursor().connection.info.server_version
    connections["persistent"].close()
    print(
        f"PostgreSQL {server // 10000}.{server % 10000} at {base['HOST'] or 'local socket'},",
        end=" ",
    )
    print(f"{options.requests} requests per mode, Python {platform.python_version()}")
    print(f"{'mode':<12} {'median ms':>10} {'p90 ms':>8} {'x persistent':>13}")
    for mode in MODES:
        p90 = statistics.quantiles(timings[mode], n=10)[-1]
        print(f"{mode:<12} {medians[mode]:>10.3f} {p90:>8.3f} {medians[mode] / baseline:>13.1f}")
    cost = medians["per_request"] - baseline
    print(f"new connection per request costs {cost:.2f} ms more than a reused one")
    if options.json:
        with open(options.json, "w") as output:
            json.dump(
                {
                    "requests": options.requests,
                    "server_version": server,
                    "median_ms": medians,
                    "ratio_to_persistent": {m: medians[m] / baseline for m in MODES},
                    "connection_cost_ms": cost,
                },
                output,
                indent=2,
            )


if __name__ == "__main__":
    main()
