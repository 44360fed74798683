"""Storage benchmark: our backend against raw psycopg and langgraph, interleaved in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m benchmarks.storage
    ... --sizes 1KB,100KB,1MB --iterations 50 --json results.json

Contenders, each timed on create (first save), save (update of that session: a workflow
step), get and delete of the same realistic context (see ``benchmarks.payloads``):

* ``ours``: ``DatabaseSessionStorage`` on the migrated ``sessions`` table;
* ``raw``: the baseline. A plain psycopg 3 connection (autocommit, psycopg's defaults)
  running the equivalent single statement on the same table: the same upsert with
  RETURNING, passing the context as ``Jsonb(dict)``; the same SELECT, the context loaded by
  psycopg's json loader into a dict; the same DELETE;
* ``graph-flow``: raw psycopg on a table made by graph-flow 0.5's PostgresSessionStorage's
  own CREATE TABLE (so default pglz TOAST compression and no index but the key), running
  the Rust service's statements;
* ``langgraph``: langgraph-checkpoint-postgres's ``PostgresSaver`` (put/get_tuple/
  delete_thread) with the same messages and data as channel values.

Contenders take turns (round-robin, the starting one rotating each round) within each
operation, after warm-up rounds that are not counted; medians and ratios to ``raw`` are
printed. Everything lives in schemas this benchmark creates, marks and drops; it refuses to
drop a schema it did not create. Timing is wall-clock per call (``perf_counter_ns``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .payloads import context_dict

SCHEMA = "graphflow_sessions_bench"
GRAPHFLOW_SCHEMA = "graphflow_sessions_bench_graphflow"
LANGGRAPH_SCHEMA = "graphflow_sessions_bench_langgraph"
_MARK = "created by benchmarks.storage (graphflow-sessions); safe to drop"

OPS = ("create", "save", "get", "delete")
DEFAULT_SIZES = "1KB,100KB,1MB"

# The equivalent of our save, written as a psycopg user would: graph-flow's upsert with
# graph-flow 0.6's version bookkeeping and RETURNING, on the same table.
RAW_UPSERT = (
    "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, "
    "created_at, updated_at, version) VALUES (%s, %s, %s, %s, %s, NOW(), NOW(), 1) "
    "ON CONFLICT (id) DO UPDATE SET graph_id = EXCLUDED.graph_id, "
    "current_task_id = EXCLUDED.current_task_id, status_message = EXCLUDED.status_message, "
    "context = EXCLUDED.context, updated_at = NOW(), version = sessions.version + 1 "
    "RETURNING version, created_at, updated_at"
)
RAW_SELECT = (
    "SELECT id, graph_id, current_task_id, status_message, context, created_at, updated_at, "
    "version FROM sessions WHERE id = %s"
)
RAW_DELETE = "DELETE FROM sessions WHERE id = %s"

# The Rust service's own statements (graph-flow 0.5's PostgresSessionStorage).
GRAPHFLOW_UPSERT = (
    "INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, "
    "created_at, updated_at) VALUES (%s::uuid, %s, %s, %s, %s, NOW(), NOW()) "
    "ON CONFLICT (id) DO UPDATE SET graph_id = EXCLUDED.graph_id, "
    "current_task_id = EXCLUDED.current_task_id, status_message = EXCLUDED.status_message, "
    "context = EXCLUDED.context, updated_at = NOW()"
)
GRAPHFLOW_SELECT = (
    "SELECT id::text, graph_id, current_task_id, status_message, context "
    "FROM sessions WHERE id = %s::uuid"
)
GRAPHFLOW_DELETE = "DELETE FROM sessions WHERE id = %s::uuid"

GRAPH_ID = "insurance_claims"
TASK_ID = "insurance_claims_service::tasks::final_summary::FinalSummaryTask"
STATUS = "Claim approved and summarised"


# Sizes ----------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)[bB]?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 1KB, 100KB, 1MB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1024, "m": 1024 * 1024}[unit])


def size_label(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KB"
    return f"{size} B"


def default_iterations(size: int) -> int:
    # Enough rounds for a stable median, in a couple of minutes on a small shared machine.
    if size <= 16 * 1024:
        return 400
    if size <= 256 * 1024:
        return 150
    return 60


# Database setup -------------------------------------------------------------------------


def _with_search_path(options: str | None, schema: str) -> str:
    return f"{options} -c search_path={schema}" if options else f"-c search_path={schema}"


def connect_raw(url: str, schema: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}", **kwargs)


def recreate_schemas(url: str, schemas: tuple[str, ...], *, drop_only: bool = False) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in schemas:
            row = conn.execute(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                (schema,),
            ).fetchone()
            if row is not None:
                if row[0] != _MARK:
                    raise SystemExit(
                        f"schema {schema!r} exists but was not created by this benchmark; "
                        "refusing to drop it"
                    )
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            if not drop_only:
                conn.execute(f'CREATE SCHEMA "{schema}"')
                conn.execute(f"COMMENT ON SCHEMA \"{schema}\" IS '{_MARK}'")


#: What is measured here is the storage's own cost, against raw psycopg on the same table: the
#: search index (on by default, a trigger on every write, raw psycopg's included) is left
#: out; benchmarks/search.py measures what it adds.
WITHOUT_SEARCH_INDEX = {"SEARCH_INDEX": False}


def configure_django(url: str, prepared_statements: str | bool = "auto") -> None:
    import dj_database_url
    import django
    from django.conf import settings

    database = dj_database_url.parse(url)
    options = dict(database.get("OPTIONS") or {})
    options["options"] = _with_search_path(options.get("options"), SCHEMA)
    database["OPTIONS"] = options
    settings.configure(
        DEBUG=False,  # DEBUG would log every query, as it does in a real project
        USE_TZ=True,
        TIME_ZONE="UTC",
        SECRET_KEY="benchmark-only",
        INSTALLED_APPS=["graphflow_sessions"],
        # Django's default connection options (prepare_threshold None): the storage prepares
        # its own statements as PREPARED_STATEMENTS says ("auto": on direct connections).
        DATABASES={"default": database},
        GRAPHFLOW_SESSIONS={"PREPARED_STATEMENTS": prepared_statements, **WITHOUT_SEARCH_INDEX},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# Contenders -----------------------------------------------------------------------------


class Contender:
    name = ""
    title = ""

    def prepare(self, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def create(self, sid: uuid.UUID) -> Any:
        raise NotImplementedError

    def save(self, sid: uuid.UUID) -> Any:
        raise NotImplementedError

    def get(self, sid: uuid.UUID) -> Any:
        raise NotImplementedError

    def delete(self, sid: uuid.UUID) -> Any:
        raise NotImplementedError

    def loaded(self, result: Any) -> dict[str, Any]:
        """The context (data and messages) a ``get`` returned, to check what was stored."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class Ours(Contender):
    name, title = "ours", "DatabaseSessionStorage"

    def __init__(self) -> None:
        from graphflow_sessions.storage import DatabaseSessionStorage

        self.storage = DatabaseSessionStorage()

    def prepare(self, payload: dict[str, Any]) -> None:
        from graphflow_sessions.context import Context
        from graphflow_sessions.models import Session

        # An application holds a Context and saves the Session that carries it.
        self.session = Session(
            graph_id=GRAPH_ID,
            current_task_id=TASK_ID,
            status_message=STATUS,
            context=Context.from_dict(payload),
        )

    def create(self, sid: uuid.UUID) -> Any:
        self.session.id = sid
        return self.storage.save(self.session)

    save = create

    def get(self, sid: uuid.UUID) -> Any:
        return self.storage.get(sid)

    def delete(self, sid: uuid.UUID) -> Any:
        return self.storage.delete(sid)

    def loaded(self, result: Any) -> dict[str, Any]:
        return result.context.to_dict()


class RawPsycopg(Contender):
    name, title = "raw", "raw psycopg, same table"
    upsert, select, delete_sql, schema = RAW_UPSERT, RAW_SELECT, RAW_DELETE, SCHEMA

    def __init__(self, url: str, *, text_ids: bool = False) -> None:
        self.conn = connect_raw(url, self.schema)
        self.text_ids = text_ids

    def prepare(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def key(self, sid: uuid.UUID) -> Any:
        return str(sid) if self.text_ids else sid  # a text column takes the id as text

    def create(self, sid: uuid.UUID) -> Any:
        with self.conn.cursor() as cur:
            cur.execute(
                self.upsert, (self.key(sid), GRAPH_ID, TASK_ID, STATUS, Jsonb(self.payload))
            )
            return cur.fetchone() if cur.description else cur.rowcount

    save = create

    def get(self, sid: uuid.UUID) -> Any:
        with self.conn.cursor() as cur:
            cur.execute(self.select, (self.key(sid),))
            return cur.fetchone()

    def delete(self, sid: uuid.UUID) -> Any:
        with self.conn.cursor() as cur:
            cur.execute(self.delete_sql, (self.key(sid),))
            return cur.rowcount

    def loaded(self, result: Any) -> dict[str, Any]:
        return result[4]

    def close(self) -> None:
        self.conn.close()


class GraphFlowTable(RawPsycopg):
    name, title = "graph-flow", "raw psycopg, graph-flow's table (pglz)"
    upsert, select, delete_sql, schema = (
        GRAPHFLOW_UPSERT,
        GRAPHFLOW_SELECT,
        GRAPHFLOW_DELETE,
        GRAPHFLOW_SCHEMA,
    )

    def __init__(self, url: str) -> None:
        from graphflow_sessions.storage.sql import graph_flow_create_table

        super().__init__(url)
        # Verbatim: graph-flow's storage defaults.
        self.conn.execute(graph_flow_create_table("sessions"))

    def key(self, sid: uuid.UUID) -> Any:
        return str(sid)  # the Rust service binds the id as text and casts it


class LangGraph(Contender):
    name, title = "langgraph", "langgraph PostgresSaver"

    def __init__(self, url: str) -> None:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        # What PostgresSaver.from_conn_string opens, in our schema.
        self.conn = connect_raw(url, LANGGRAPH_SCHEMA, prepare_threshold=0, row_factory=dict_row)
        self.saver = PostgresSaver(self.conn)
        self.saver.setup()
        self.last: dict[uuid.UUID, dict[str, Any]] = {}

    def prepare(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def _checkpoint(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        from langgraph.checkpoint.base import empty_checkpoint

        checkpoint: dict[str, Any] = dict(empty_checkpoint())
        history = self.payload["chat_history"]
        checkpoint["channel_values"] = {
            "messages": history["messages"],
            "data": self.payload["data"],
            "max_messages": history["max_messages"],
            "current_task_id": TASK_ID,
            "status_message": STATUS,
        }
        old = previous["channel_versions"] if previous else {}
        checkpoint["channel_versions"] = {
            channel: self.saver.get_next_version(old.get(channel), None)
            for channel in checkpoint["channel_values"]
        }
        return checkpoint

    def _put(self, sid: uuid.UUID) -> Any:
        previous = self.last.get(sid)
        checkpoint = self._checkpoint(previous)
        configurable: dict[str, Any] = {"thread_id": str(sid), "checkpoint_ns": ""}
        if previous:
            configurable["checkpoint_id"] = previous["id"]
        result = self.saver.put(
            {"configurable": configurable},
            checkpoint,  # type: ignore[arg-type]
            {"source": "loop", "step": 1 if previous else 0},
            checkpoint["channel_versions"],
        )
        self.last[sid] = checkpoint
        return result

    def create(self, sid: uuid.UUID) -> Any:
        self.last.pop(sid, None)
        return self._put(sid)

    save = _put

    def get(self, sid: uuid.UUID) -> Any:
        return self.saver.get_tuple({"configurable": {"thread_id": str(sid), "checkpoint_ns": ""}})

    def delete(self, sid: uuid.UUID) -> Any:
        self.last.pop(sid, None)
        return self.saver.delete_thread(str(sid))

    def loaded(self, result: Any) -> dict[str, Any]:
        values = result.checkpoint["channel_values"]
        return {
            "data": values["data"],
            "chat_history": {
                "messages": values["messages"],
                "max_messages": values["max_messages"],
            },
        }

    def close(self) -> None:
        self.conn.close()


# Measuring ------------------------------------------------------------------------------


def check_round_trip(contender: Contender, payload: dict[str, Any]) -> None:
    """Untimed: each contender really stores and loads the whole context."""
    sid = uuid.uuid4()
    contender.create(sid)
    contender.save(sid)
    loaded = contender.loaded(contender.get(sid))
    contender.delete(sid)
    if loaded != payload:
        raise SystemExit(f"{contender.name}: the loaded context differs from the saved one")
    if contender.get(sid) is not None:
        raise SystemExit(f"{contender.name}: the session is still there after delete")


def measure(
    contenders: list[Contender], payload: dict[str, Any], iterations: int, warmup: int
) -> tuple[dict[str, dict[str, list[int]]], dict[str, dict[str, list[int]]]]:
    """Wall-clock and client-CPU nanoseconds per call, by contender and operation.

    The CPU time (this process only, not the server's) shows how much of a difference is
    Python work, which a loaded machine stretches in wall-clock time.
    """
    samples: dict[str, dict[str, list[int]]] = {c.name: {op: [] for op in OPS} for c in contenders}
    cpu: dict[str, dict[str, list[int]]] = {c.name: {op: [] for op in OPS} for c in contenders}
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    count = len(contenders)
    for round_number in range(warmup + iterations):
        shift = round_number % count
        order = contenders[shift:] + contenders[:shift]
        ids = {c.name: uuid.uuid4() for c in contenders}
        for op in OPS:
            for contender in order:
                call: Callable[[uuid.UUID], Any] = getattr(contender, op)
                sid = ids[contender.name]
                cpu_start, start = cpu_clock(), clock()
                call(sid)
                elapsed, cpu_elapsed = clock() - start, cpu_clock() - cpu_start
                if round_number >= warmup:
                    samples[contender.name][op].append(elapsed)
                    cpu[contender.name][op].append(cpu_elapsed)
    return samples, cpu


def summarize(values: list[int], cpu: list[int]) -> dict[str, float]:
    quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {
        "median_ms": statistics.median(values) / 1e6,
        "p25_ms": quartiles[0] / 1e6,
        "p75_ms": quartiles[2] / 1e6,
        "client_cpu_median_ms": statistics.median(cpu) / 1e6,
        "n": len(values),
    }


# Reporting ------------------------------------------------------------------------------


def machine_facts(url: str) -> dict[str, Any]:
    import django

    from graphflow_sessions.conf import app_settings
    from graphflow_sessions.contract.codec import MSGSPEC_INSTALLED

    facts: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
        "libpq": psycopg.pq.version(),
        "psycopg_impl": psycopg.pq.__impl__,
        "prepared_statements": app_settings.PREPARED_STATEMENTS,
        "msgspec": None,
    }
    if MSGSPEC_INSTALLED:
        from importlib.metadata import version as installed

        facts["msgspec"] = installed("msgspec")
    try:
        from importlib.metadata import version

        facts["langgraph_checkpoint_postgres"] = version("langgraph-checkpoint-postgres")
    except Exception:  # pragma: no cover - only informative
        pass
    with psycopg.connect(url, autocommit=True) as conn:
        facts["server"] = conn.execute("SELECT version()").fetchone()[0]  # type: ignore[index]
        for schema, key in (
            (SCHEMA, "context_compression"),
            (GRAPHFLOW_SCHEMA, "graphflow_compression"),
        ):
            row = conn.execute(
                "SELECT attcompression, current_setting('default_toast_compression') "
                "FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'context'",
                (f"{schema}.sessions",),
            ).fetchone()
            if row:
                facts[key] = {"l": "lz4", "p": "pglz"}.get(row[0], f"default ({row[1]})")
    return facts


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine['cpus']} CPUs, load {machine['load_average']}, "
        f"{machine['server'].split(' on ')[0]}, Python {machine['python']}, "
        f"Django {machine['django']}, psycopg {machine['psycopg']} ({machine['psycopg_impl']}), "
        f"langgraph-checkpoint-postgres {machine.get('langgraph_checkpoint_postgres')}, "
        f"msgspec {machine.get('msgspec')}; "
        f"PREPARED_STATEMENTS {machine['prepared_statements']!r}; "
        f"context column: {machine.get('context_compression')}, "
        f"graph-flow table: {machine.get('graphflow_compression')}; "
        f"ids: {machine.get('id_flavour', 'uuid')}"
    )


def print_table(results: dict[str, Any], contenders: list[Contender]) -> None:
    names = [c.name for c in contenders]
    others = [n for n in names if n != "raw"]
    header = (
        f"{'size':>7} {'op':<7}"
        + "".join(f"{n + ' ms':>15}" for n in names)
        + "".join(f"{n + '/raw':>15}" for n in others)
    )
    print(header)
    print("-" * len(header))
    for label, block in results["sizes"].items():
        for op in OPS:
            medians = {n: block["contenders"][n][op]["median_ms"] for n in names}
            line = f"{label:>7} {op:<7}" + "".join(f"{medians[n]:>15.3f}" for n in names)
            line += "".join(f"{medians[n] / medians['raw']:>14.2f}x" for n in others)
            print(line)
    print()
    for c in contenders:
        print(f"  {c.name:<10} {c.title}")
    print()
    print("Client CPU per call (ms, median; this process only, the server's work excluded):")
    for label, block in results["sizes"].items():
        for op in OPS:
            cpu = {n: block["contenders"][n][op]["client_cpu_median_ms"] for n in names}
            print(f"{label:>7} {op:<7}" + "".join(f"{cpu[n]:>15.3f}" for n in names))


def target_lines(results: dict[str, Any]) -> list[str]:
    lines = []

    def median(label: str, name: str, op: str) -> float | None:
        block = results["sizes"].get(label)
        return block["contenders"][name][op]["median_ms"] if block else None

    for name in ("ours",):
        for label, limit in (("1 KB", 1.3), ("1 MB", 1.1)):
            for op in ("save", "get"):
                ours, raw = median(label, name, op), median(label, "raw", op)
                if ours is not None and raw is not None:
                    ratio = ours / raw
                    verdict = "met" if ratio <= limit else "MISSED"
                    lines.append(
                        f"{label} {op}: {name}/raw {ratio:.2f}x (target <= {limit}x) {verdict}"
                    )
    ours, graphflow = median("1 MB", "ours", "save"), median("1 MB", "graph-flow", "save")
    if ours is not None and graphflow is not None:
        verdict = "met" if ours < graphflow else "MISSED"
        lines.append(f"1 MB save: ours/graph-flow {ours / graphflow:.2f}x (target < 1x) {verdict}")
    for label, block in results["sizes"].items():
        if "langgraph" not in block["contenders"]:
            continue
        for op in OPS:
            ours, lang = median(label, "ours", op), median(label, "langgraph", op)
            if ours is not None and lang is not None:
                verdict = "met" if ours < lang else "MISSED"
                lines.append(
                    f"{label} {op}: ours/langgraph {ours / lang:.2f}x (target < 1x) {verdict}"
                )
    return lines


# Main -----------------------------------------------------------------------------------


@contextmanager
def benchmark_schemas(url: str, keep: bool) -> Iterator[None]:
    schemas = (SCHEMA, GRAPHFLOW_SCHEMA, LANGGRAPH_SCHEMA)
    recreate_schemas(url, schemas)
    try:
        yield
    finally:
        if not keep:
            from django.db import connections

            connections.close_all()
            recreate_schemas(url, schemas, drop_only=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.storage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated context sizes, e.g. 1KB,100KB,1MB (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        help="timed rounds per size (default: 400 up to 16 KB, 150 up to 256 KB, else 60)",
    )
    parser.add_argument("--warmup", type=int, help="uncounted rounds first (default 10%%, >= 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--no-langgraph", action="store_true", help="leave out langgraph's PostgresSaver"
    )
    parser.add_argument(
        "--prepared-statements",
        choices=["auto", "true", "false"],
        default="auto",
        help='GRAPHFLOW_SESSIONS["PREPARED_STATEMENTS"] for ours (default auto; false is what '
        "a connection through a transaction-mode pooler gets)",
    )
    parser.add_argument(
        "--flavour",
        choices=["uuid", "text"],
        default="uuid",
        help="the sessions table's ids: graph-flow 0.5's uuid (default) or 0.6+'s text (the "
        "table converted in place, as a 0.6+ service does on connect)",
    )
    parser.add_argument(
        "--keep-schemas", action="store_true", help="keep the benchmark's schemas afterwards"
    )
    args = parser.parse_args(argv)
    sizes = [parse_size(part) for part in args.sizes.split(",") if part.strip()]

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        parser.error(
            "set DATABASE_URL to a PostgreSQL database, e.g. "
            "postgres://postgres@127.0.0.1:5432/bench (the benchmark uses its own schemas)"
        )

    with benchmark_schemas(url, args.keep_schemas):
        prepared = {"auto": "auto", "true": True, "false": False}[args.prepared_statements]
        configure_django(url, prepared)
        text_ids = args.flavour == "text"
        if text_ids:
            with connect_raw(url, SCHEMA) as conn:
                conn.execute("ALTER TABLE sessions ALTER COLUMN id TYPE TEXT")
        contenders: list[Contender] = [
            Ours(),
            RawPsycopg(url, text_ids=text_ids),
            GraphFlowTable(url),
        ]
        if not args.no_langgraph:
            contenders.append(LangGraph(url))
        results: dict[str, Any] = {"machine": machine_facts(url), "sizes": {}}
        results["machine"]["id_flavour"] = args.flavour
        print(machine_line(results["machine"]), file=sys.stderr)
        try:
            for size in sizes:
                payload = context_dict(size)
                encoded = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
                iterations = args.iterations or default_iterations(size)
                warmup = args.warmup if args.warmup is not None else max(3, iterations // 10)
                for contender in contenders:
                    contender.prepare(payload)
                    check_round_trip(contender, payload)
                print(
                    f"{size_label(size)}: {encoded} bytes, "
                    f"{len(payload['chat_history']['messages'])} messages, "
                    f"{warmup} + {iterations} rounds...",
                    file=sys.stderr,
                    flush=True,
                )
                gc.collect()
                samples, cpu = measure(contenders, payload, iterations, warmup)
                results["sizes"][size_label(size)] = {
                    "bytes": encoded,
                    "messages": len(payload["chat_history"]["messages"]),
                    "iterations": iterations,
                    "contenders": {
                        name: {op: summarize(values, cpu[name][op]) for op, values in ops.items()}
                        for name, ops in samples.items()
                    },
                }
        finally:
            for contender in contenders:
                contender.close()

    print()
    print(machine_line(results["machine"]))
    print()
    print_table(results, contenders)
    results["targets"] = target_lines(results)
    print()
    for line in results["targets"]:
        print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
