"""Memory and time of one API write, per body shape and size, as ratios to the body size.

    createdb -h 127.0.0.1 -U postgres gfs_memory_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gfs_memory_bench \\
        python -m benchmarks.memory --sizes 1,8,31

Each measurement runs in a fresh Python process: Django, DRF and the app are set up and one
small request is made (so imports, connections and caches are warm), the body is built, and
then one ``POST /api/sessions/`` with that body is made through Django's test client (the
whole server side: the parser, the serializer, the storage, PostgreSQL, the rendered
answer). Just before that request the kernel's peak-RSS mark of the process is reset
(``/proc/self/clear_refs``); "memory" is the peak RSS (``VmHWM``) after it minus the RSS
before it, so it counts everything the request allocated, in C as in Python, at its highest
point. Freed memory the process already holds can be reused without growing the RSS, so
the same request is then made again under ``tracemalloc``, whose peak counts every Python
allocation exactly (not C ones such as psycopg's buffers); both are reported, and the
ratio is the larger over the body size. The body itself, built before, is not counted (a
server holds it too; the test client hands the same bytes object to the parser).

The ratio is memory / body bytes and seconds per MiB of body. The target: at most ~6x for
every shape up to the limit (``API_MAX_BODY_BYTES``), refused or accepted, with time about
linear in the size. The database in DATABASE_URL is migrated and written to (each stored
session is deleted again): use one made for this.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

MIB = 1024 * 1024


def _fill(unit: str, target: int, *, first: str = "", last: str = "") -> str:
    """``first`` + ``unit`` repeated (comma separated) to about ``target`` bytes + ``last``."""
    count = max(1, (target - len(first) - len(last)) // (len(unit) + 1))
    return first + ",".join([unit] * count) + last


def _numbers(target: int) -> str:
    parts, size, number = [], 0, 1_000_000
    while size < target:
        text = str(number)
        parts.append(text)
        size += len(text) + 1
        number += 7
    return "[" + ",".join(parts) + "]"


def _long_numbers(target: int) -> str:
    # 17 digits and a comma: one item per 18 bytes, as dense as the API accepts.
    return _fill("12345678901234567", target, first="[", last="]")


def _small_objects(target: int) -> str:
    # An object (4 items) and its separating comma per 90 bytes: as dense as the API accepts.
    return _fill('{"note":"' + "n" * 78 + '"}', target, first="[", last="]")


def _messages(target: int) -> str:
    message = json.dumps(
        {"role": "User", "content": "Where is my claim? " * 4, "timestamp": "2026-01-01T00:00:00Z"}
    )
    return _fill(message, target, first="[", last="]")


def _wide(target: int) -> str:
    parts, size, number = [], 0, 0
    while size < target:
        text = f'"k{number}":{number % 10}'
        parts.append(text)
        size += len(text) + 1
        number += 1
    return "{" + ",".join(parts) + "}"


def _deep(target: int) -> str:
    # Chains 100 deep: within the 127 levels a context may nest.
    chain = "[" * 100 + "]" * 100
    return _fill(chain, target, first="[", last="]")


# Shape name -> a JSON value (as text) of about the given size, placed as data "v".
SHAPES: dict[str, Callable[[int], str]] = {
    "empty objects": lambda n: _fill("{}", n, first="[", last="]"),
    "empty arrays": lambda n: _fill("[]", n, first="[", last="]"),
    "deep arrays": _deep,
    "wide object": _wide,
    "numbers": _numbers,
    "floats": lambda n: _fill("0.5", n, first="[", last="]"),
    "short strings": lambda n: _fill('"ab"', n, first="[", last="]"),
    "long string": lambda n: json.dumps("lorem ipsum " * (n // 12)),
    "string of commas": lambda n: json.dumps("{[," * (n // 3)),
    "18-byte numbers": _long_numbers,
    "90-byte objects": _small_objects,
    "messages": _messages,
}


def body_for(shape: str, size: int) -> bytes:
    slack = 200  # the other fields around the value
    value = SHAPES[shape](size - slack)
    data = '{"v":' + value + "}"
    context = '{"data":' + data + ',"chat_history":{"messages":[],"max_messages":null}}'
    return ('{"current_task_id":"t","context":' + context + "}").encode()


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets VmHWM to the current RSS


def measure_one(shape: str, size: int) -> dict[str, Any]:
    """In this process: one POST of a ``shape`` body of ``size`` bytes."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from graphflow_sessions.models import Session

    staff, _created = get_user_model().objects.get_or_create(
        username="memory-bench", defaults={"is_staff": True}
    )
    client = APIClient()
    client.force_login(staff)
    warm = client.post("/api/sessions/", {"current_task_id": "t"}, format="json")
    Session.objects.filter(pk=warm.json()["id"]).delete()
    body = body_for(shape, size)
    _reset_peak()
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    response = client.post("/api/sessions/", body, content_type="application/json")
    seconds = time.perf_counter() - started
    grown = max(0, _status_kib("VmHWM") - before)
    answer = str(response.status_code)
    if response.status_code == 201:
        Session.objects.filter(pk=response.json()["id"]).delete()
    del response
    tracemalloc.start()
    again = client.post("/api/sessions/", body, content_type="application/json")
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if again.status_code == 201:
        Session.objects.filter(pk=again.json()["id"]).delete()
    return {
        "bytes": len(body),
        "answer": answer,
        "seconds": seconds,
        "memory": grown,
        "traced": traced,
    }


def run(shape: str, size: int) -> dict[str, Any]:
    """``measure_one`` in a fresh interpreter (peak RSS is per process)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--one", shape, str(size)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,31", help="body sizes in MiB, comma separated")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma separated")
    parser.add_argument("--one", nargs=2, metavar=("SHAPE", "BYTES"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.one:
        result = measure_one(options.one[0], int(options.one[1]))
        print(json.dumps(result))
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database made for this benchmark")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sizes = [int(float(size) * MIB) for size in options.sizes.split(",")]
    print(
        "| shape | body | answer | RSS growth | traced peak | memory / body | seconds | s per MiB |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    worst = 0.0
    for shape in options.shapes.split(","):
        for size in sizes:
            row = run(shape, size)
            ratio = max(row["memory"], row["traced"]) / row["bytes"]
            worst = max(worst, ratio)
            print(
                f"| {shape} | {row['bytes'] / MIB:.1f} MiB | {row['answer']} "
                f"| {row['memory'] / MIB:.0f} MiB | {row['traced'] / MIB:.0f} MiB "
                f"| {ratio:.1f}x | {row['seconds']:.2f} "
                f"| {row['seconds'] / (row['bytes'] / MIB):.3f} |",
                flush=True,
            )
    print(f"\nworst memory / body: {worst:.1f}x")


if __name__ == "__main__":
    main()
