"""Throughput benchmark: many sessions at once, ours against raw psycopg and LangGraph.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.concurrency
    ... --sizes 1KB,100KB --seconds 3 --json results.json

Every contender gets a pool of 10 connections and the same payloads as the storage
benchmark (``benchmarks.payloads``), on the same kind of table:

* threads (8, sync): ``connect()``'s pooled storage (Django's pool) against raw psycopg on a
  ``ConnectionPool`` running the equivalent statement, and LangGraph's ``PostgresSaver``
  (one saver per thread on one shared pool; one saver shared by all threads reported
  separately, for information: langgraph-checkpoint-postgres 3.2 serialises a saver's calls
  behind a lock even on a pool);
* coroutines (50 and 200, async): ``aconnect()``'s storage (native async) against raw
  psycopg on an ``AsyncConnectionPool`` and ``AsyncPostgresSaver``, the same way;
* batches: ``save_many``/``get_many`` of 100 sessions of 1 KB against 100 single calls.

Each worker upserts or reads its own sessions (created first) for the time given; contenders
take turns within each cell (rounds, the starting one rotating), after an uncounted warm-up.
Throughput is operations per second over all workers; p50 and p99 are per operation.
Everything lives in schemas this benchmark creates, marks and drops (``benchmarks.storage``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.types.json import Jsonb

from .payloads import context_dict
from .storage import (
    GRAPH_ID,
    GRAPHFLOW_SCHEMA,
    LANGGRAPH_SCHEMA,
    RAW_SELECT,
    RAW_UPSERT,
    SCHEMA,
    STATUS,
    TASK_ID,
    WITHOUT_SEARCH_INDEX,
    LangGraph,
    machine_facts,
    machine_line,
    parse_size,
    recreate_schemas,
    size_label,
)

POOL_SIZE = 10
SESSIONS_PER_WORKER = 4
OPS = ("upsert", "get")

SyncOp = Callable[[int, uuid.UUID], Any]
AsyncOp = Callable[[int, uuid.UUID], Awaitable[Any]]


def _with_schema(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-c search_path={schema}')}"


def _summary(count: int, seconds: float, latencies: list[int]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "ops_per_s": count / seconds if seconds else 0.0,
        "p50_ms": statistics.median(ordered) / 1e6 if ordered else 0.0,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6
        if ordered
        else 0.0,
    }


def run_threads(op: SyncOp, ids: list[list[uuid.UUID]], seconds: float) -> tuple[int, list[int]]:
    """Every worker thread runs ``op`` over its sessions until the time is up."""
    latencies: list[list[int]] = [[] for _ in ids]
    deadline = time.perf_counter() + seconds
    start = threading.Barrier(len(ids))

    def work(worker: int) -> None:
        mine, timings = ids[worker], latencies[worker]
        start.wait()
        index = 0
        while time.perf_counter() < deadline:
            began = time.perf_counter_ns()
            op(worker, mine[index % len(mine)])
            timings.append(time.perf_counter_ns() - began)
            index += 1

    threads = [threading.Thread(target=work, args=(w,)) for w in range(len(ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [value for timings in latencies for value in timings]
    return len(merged), merged


async def run_coroutines(
    op: AsyncOp, ids: list[list[uuid.UUID]], seconds: float
) -> tuple[int, list[int]]:
    latencies: list[int] = []
    deadline = time.perf_counter() + seconds

    async def work(worker: int) -> None:
        mine, index = ids[worker], 0
        while time.perf_counter() < deadline:
            began = time.perf_counter_ns()
            await op(worker, mine[index % len(mine)])
            latencies.append(time.perf_counter_ns() - began)
            index += 1

    await asyncio.gather(*(work(w) for w in range(len(ids))))
    return len(latencies), latencies


class LangGraphWorker(LangGraph):
    """The storage benchmark's LangGraph contender on a saver it is given (no connection of
    its own): the same checkpoints, the same channel values."""

    def __init__(self, saver: Any, payload: dict[str, Any]) -> None:
        self.saver, self.payload, self.last = saver, payload, {}

    async def aput(self, sid: uuid.UUID) -> Any:
        previous = self.last.get(sid)
        checkpoint = self._checkpoint(previous)
        configurable: dict[str, Any] = {"thread_id": str(sid), "checkpoint_ns": ""}
        if previous:
            configurable["checkpoint_id"] = previous["id"]
        result = await self.saver.aput(
            {"configurable": configurable},
            checkpoint,
            {"source": "loop", "step": 1 if previous else 0},
            checkpoint["channel_versions"],
        )
        self.last[sid] = checkpoint
        return result

    async def aget(self, sid: uuid.UUID) -> Any:
        config = {"configurable": {"thread_id": str(sid), "checkpoint_ns": ""}}
        return await self.saver.aget_tuple(config)


def _session(payload: dict[str, Any], sid: uuid.UUID) -> Any:
    from graphflow_sessions.context import Context
    from graphflow_sessions.models import Session

    return Session(
        id=sid,
        graph_id=GRAPH_ID,
        current_task_id=TASK_ID,
        status_message=STATUS,
        context=Context.from_dict(payload),
    )


# Contenders: name -> (upsert, get) for a payload -----------------------------------------


def sync_contenders(url: str, storage: Any, payload: dict[str, Any], workers: int) -> dict:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    raw_pool = ConnectionPool(
        _with_schema(url, SCHEMA), min_size=1, max_size=POOL_SIZE, kwargs={"autocommit": True}
    )
    lang_pool = ConnectionPool(
        _with_schema(url, LANGGRAPH_SCHEMA),
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    sessions: dict[uuid.UUID, Any] = {}

    def ours_upsert(worker: int, sid: uuid.UUID) -> Any:
        session = sessions.get(sid) or sessions.setdefault(sid, _session(payload, sid))
        storage.save(session)

    def raw_upsert(worker: int, sid: uuid.UUID) -> Any:
        with raw_pool.connection() as conn:
            return conn.execute(
                RAW_UPSERT, (sid, GRAPH_ID, TASK_ID, STATUS, Jsonb(payload))
            ).fetchone()

    def raw_get(worker: int, sid: uuid.UUID) -> Any:
        with raw_pool.connection() as conn:
            return conn.execute(RAW_SELECT, (sid,)).fetchone()

    lang = [LangGraphWorker(PostgresSaver(lang_pool), payload) for _ in range(workers)]
    shared = LangGraphWorker(PostgresSaver(lang_pool), payload)
    return {
        "ours": (ours_upsert, lambda w, sid: storage.get(sid)),
        "raw": (raw_upsert, raw_get),
        "langgraph": (lambda w, sid: lang[w]._put(sid), lambda w, sid: lang[w].get(sid)),
        "langgraph-shared": (lambda w, sid: shared._put(sid), lambda w, sid: shared.get(sid)),
        "_close": lambda: (raw_pool.close(), lang_pool.close()),
    }


async def async_contenders(url: str, storage: Any, payload: dict[str, Any], workers: int) -> dict:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    raw_pool = AsyncConnectionPool(
        _with_schema(url, SCHEMA),
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True},
        open=False,
    )
    lang_pool = AsyncConnectionPool(
        _with_schema(url, LANGGRAPH_SCHEMA),
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    await raw_pool.open()
    await lang_pool.open()
    sessions: dict[uuid.UUID, Any] = {}

    async def ours_upsert(worker: int, sid: uuid.UUID) -> Any:
        session = sessions.get(sid) or sessions.setdefault(sid, _session(payload, sid))
        await storage.asave(session)

    async def raw_upsert(worker: int, sid: uuid.UUID) -> Any:
        async with raw_pool.connection() as conn:
            cursor = await conn.execute(
                RAW_UPSERT, (sid, GRAPH_ID, TASK_ID, STATUS, Jsonb(payload))
            )
            return await cursor.fetchone()

    async def raw_get(worker: int, sid: uuid.UUID) -> Any:
        async with raw_pool.connection() as conn:
            cursor = await conn.execute(RAW_SELECT, (sid,))
            return await cursor.fetchone()

    lang = [LangGraphWorker(AsyncPostgresSaver(lang_pool), payload) for _ in range(workers)]
    shared = LangGraphWorker(AsyncPostgresSaver(lang_pool), payload)

    async def close() -> None:
        await raw_pool.close()
        await lang_pool.close()

    return {
        "ours": (ours_upsert, lambda w, sid: storage.aget(sid)),
        "raw": (raw_upsert, raw_get),
        "langgraph": (lambda w, sid: lang[w].aput(sid), lambda w, sid: lang[w].aget(sid)),
        "langgraph-shared": (lambda w, sid: shared.aput(sid), lambda w, sid: shared.aget(sid)),
        "_close": close,
    }


def _ids(workers: int) -> list[list[uuid.UUID]]:
    return [[uuid.uuid4() for _ in range(SESSIONS_PER_WORKER)] for _ in range(workers)]


class _Totals:
    """Operations, seconds and latencies of each contender over its turns in one cell."""

    def __init__(self, names: list[str]) -> None:
        self.figures: dict[str, list[Any]] = {name: [0, 0.0, []] for name in names}

    @contextmanager
    def timing(self, name: str) -> Iterator[Callable[[int, list[int]], None]]:
        figures, began = self.figures[name], time.perf_counter()

        def add(count: int, latencies: list[int]) -> None:
            figures[0] += count
            figures[2] += latencies

        yield add
        figures[1] += time.perf_counter() - began

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: _summary(*figures) for name, figures in self.figures.items()}


def _turns(names: list[str], args: argparse.Namespace) -> Iterator[tuple[str, float]]:
    """Each contender's turns in a cell: ``args.rounds`` rounds, the first one rotating."""
    for round_index in range(args.rounds):
        for name in _order(names, round_index):
            yield name, args.seconds / args.rounds


def _order(names: list[str], round_index: int) -> list[str]:
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def measure_threads(args: argparse.Namespace, url: str, storage: Any, size: int) -> dict:
    payload = context_dict(size)
    contenders = sync_contenders(url, storage, payload, args.threads)
    close = contenders.pop("_close")
    names = list(contenders)
    ids = _ids(args.threads)
    results: dict[str, Any] = {}
    try:
        for name in names:  # create every worker's sessions, and warm up (uncounted)
            run_threads(contenders[name][0], ids, args.warmup)
        for op_index, op in enumerate(OPS):
            totals = _Totals(names)
            for name, seconds in _turns(names, args):
                with totals.timing(name) as add:
                    add(*run_threads(contenders[name][op_index], ids, seconds))
            results[op] = totals.summary()
    finally:
        close()
    return results


async def measure_coroutines(
    args: argparse.Namespace, url: str, storage: Any, size: int, workers: int
) -> dict:
    payload = context_dict(size)
    contenders = await async_contenders(url, storage, payload, workers)
    close = contenders.pop("_close")
    names = list(contenders)
    ids = _ids(workers)
    results: dict[str, Any] = {}
    try:
        for name in names:
            await run_coroutines(contenders[name][0], ids, args.warmup)
        for op_index, op in enumerate(OPS):
            totals = _Totals(names)
            for name, seconds in _turns(names, args):
                with totals.timing(name) as add:
                    add(*await run_coroutines(contenders[name][op_index], ids, seconds))
            results[op] = totals.summary()
    finally:
        await close()
    return results


def measure_batches(args: argparse.Namespace, storage: Any) -> dict:
    """save_many/get_many of 100 sessions of 1 KB against 100 single calls, interleaved."""
    payload = context_dict(1024)
    sessions = [_session(payload, uuid.uuid4()) for _ in range(args.batch)]
    ids = [session.id for session in sessions]
    storage.save_many(sessions)
    ways: dict[str, Callable[[], Any]] = {
        "save_many": lambda: storage.save_many(sessions),
        "100 x save": lambda: [storage.save(session) for session in sessions],
        "get_many": lambda: storage.get_many(ids),
        "100 x get": lambda: [storage.get(sid) for sid in ids],
    }
    timings: dict[str, list[int]] = {name: [] for name in ways}
    for repetition in range(args.batch_repetitions + 2):
        for name in _order(list(ways), repetition):
            began = time.perf_counter_ns()
            ways[name]()
            if repetition >= 2:  # two warm-up rounds
                timings[name].append(time.perf_counter_ns() - began)
    storage.delete_many(ids)
    medians = {name: statistics.median(values) / 1e6 for name, values in timings.items()}
    return {
        "median_ms": medians,
        "save_gain": medians["100 x save"] / medians["save_many"],
        "get_gain": medians["100 x get"] / medians["get_many"],
    }


def print_cells(title: str, cells: dict[str, Any]) -> None:
    print(f"\n{title}")
    header = ("size", "op", "contender", "ops/s", "p50 ms", "p99 ms")
    print(
        " ".join(
            f"{name:>{width}}" for name, width in zip(header, (7, 7, 17, 9, 8, 8), strict=True)
        ),
        " vs raw",
    )
    for size, ops in cells.items():
        for op, contenders in ops.items():
            raw = contenders["raw"]["ops_per_s"]
            for name, figures in contenders.items():
                ratio = figures["ops_per_s"] / raw if raw else 0.0
                print(
                    f"{size:>7} {op:>7} {name:>17} {figures['ops_per_s']:>9.0f} "
                    f"{figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f}  {ratio:.2f}x"
                )


def target_lines(results: dict[str, Any]) -> list[str]:
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    for size, ops in results["threads"].items():
        for op, figures in ops.items():
            ratio = figures["ours"]["ops_per_s"] / figures["raw"]["ops_per_s"]
            met = verdict(ratio >= 0.75)
            lines.append(f"threads {size} {op}: ours/raw {ratio:.2f}x (>= 0.75) {met}")
    for label, cells in results["coroutines"].items():
        for size, ops in cells.items():
            for op, figures in ops.items():
                ours = figures["ours"]
                raw = ours["ops_per_s"] / figures["raw"]["ops_per_s"]
                lang = ours["ops_per_s"] / figures["langgraph"]["ops_per_s"]
                line = (
                    f"{label} {size} {op}: ours/raw {raw:.2f}x (>= 0.85) {verdict(raw >= 0.85)}, "
                    f"ours/AsyncPostgresSaver {lang:.2f}x (>= 1.2) {verdict(lang >= 1.2)}"
                )
                if label.startswith("200"):
                    p99 = ours["p99_ms"] / figures["raw"]["p99_ms"]
                    line += f", p99 ours/raw {p99:.2f}x (<= 1.5) {verdict(p99 <= 1.5)}"
                lines.append(line)
    batches = results["batches"]
    lines.append(
        f"save_many x{results['batch']}: {batches['save_gain']:.1f}x faster than single saves "
        f"(>= 5) {verdict(batches['save_gain'] >= 5)}"
    )
    lines.append(
        f"get_many x{results['batch']}: {batches['get_gain']:.1f}x faster than single gets "
        f"(>= 3) {verdict(batches['get_gain'] >= 3)}"
    )
    return lines


def configure_django_without_search_index() -> None:
    """The minimal Django ``connect()`` would configure, with the search index left out (as
    the storage benchmark leaves it out: see ``WITHOUT_SEARCH_INDEX``)."""
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["graphflow_sessions"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        GRAPHFLOW_SESSIONS=WITHOUT_SEARCH_INDEX,
    )
    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--sizes", default="1KB,100KB", help="context sizes (default 1KB,100KB)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--coroutines", default="50,200", help="concurrencies (default 50,200)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per contender and cell")
    parser.add_argument("--rounds", type=int, default=3, help="turns per cell (interleaving)")
    parser.add_argument("--warmup", type=float, default=0.5, help="uncounted seconds first")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batch-repetitions", type=int, default=20)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("set DATABASE_URL or pass --url")
    sizes = [parse_size(text) for text in args.sizes.split(",")]
    schemas = (SCHEMA, GRAPHFLOW_SCHEMA, LANGGRAPH_SCHEMA)
    recreate_schemas(args.url, schemas)
    try:
        from graphflow_sessions.storage.sql import graph_flow_create_table

        # Only for the machine line, which names the storage benchmark's tables' compression.
        with psycopg.connect(_with_schema(args.url, GRAPHFLOW_SCHEMA), autocommit=True) as conn:
            conn.execute(graph_flow_create_table("sessions"))
        from graphflow_sessions.storage import DatabaseSessionStorage

        configure_django_without_search_index()
        storage = DatabaseSessionStorage.connect(
            _with_schema(args.url, SCHEMA), pool_max_size=POOL_SIZE
        )
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(_with_schema(args.url, LANGGRAPH_SCHEMA)) as saver:
            saver.setup()
        results: dict[str, Any] = {"machine": machine_facts(args.url), "batch": args.batch}
        print(machine_line(results["machine"]))
        results["threads"] = {
            size_label(size): measure_threads(args, args.url, storage, size) for size in sizes
        }
        print_cells(f"{args.threads} threads, sync", results["threads"])

        async def coroutines() -> dict[str, Any]:
            native = await DatabaseSessionStorage.aconnect(
                _with_schema(args.url, SCHEMA), pool_max_size=POOL_SIZE
            )
            try:
                return {
                    f"{n} coroutines": {
                        size_label(size): await measure_coroutines(args, args.url, native, size, n)
                        for size in sizes
                    }
                    for n in (int(text) for text in args.coroutines.split(","))
                }
            finally:
                await native.aclose()

        results["coroutines"] = asyncio.run(coroutines())
        for label, cells in results["coroutines"].items():
            print_cells(f"{label}, async", cells)
        results["batches"] = measure_batches(args, storage)
        print(f"\nbatches of {args.batch} x 1 KB (median ms):")
        for name, value in results["batches"]["median_ms"].items():
            print(f"  {name:>11}: {value:8.2f}")
        print("\ntargets:")
        for line in target_lines(results):
            print(f"  {line}")
        if args.json:
            with open(args.json, "w") as out:
                json.dump(results, out, indent=2)
    finally:
        recreate_schemas(args.url, schemas, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
