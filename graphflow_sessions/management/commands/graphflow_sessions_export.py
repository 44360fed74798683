"""``manage.py graphflow_sessions_export``: sessions as JSON Lines, to stdout or a file.

    manage.py graphflow_sessions_export --output sessions.jsonl [--graph G] [--task T]
        [--created-after 2026-01-01] [--updated-before 2026-02-01T00:00:00Z]

Progress and the summary go to stderr (stdout may be the data).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from datetime import time as clock
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ...transfer import DEFAULT_CHUNK_SIZE, export_sessions


def parse_moment(text: str, option: str) -> datetime:
    """A date (midnight) or a datetime; without an offset, in the current time zone."""
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = None if day is None else datetime.combine(day, clock())
    except ValueError as exc:
        raise CommandError(f"{option}: {text!r} is not a valid date or time: {exc}") from None
    if moment is None:
        raise CommandError(
            f"{option}: expected a date or a date and time such as 2026-01-31 or "
            f"2026-01-31T12:00:00Z, got {text!r}"
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "Write sessions as JSON Lines (stored shape plus id, timestamps and version)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to FILE (replaced only once the export is complete); default stdout.",
        )
        parser.add_argument("--graph", metavar="GRAPH_ID", help="Only sessions of this graph.")
        parser.add_argument("--task", metavar="TASK_ID", help="Only sessions waiting at this task.")
        for name, word in (
            ("--created-after", "created at or after"),
            ("--created-before", "created before"),
            ("--updated-after", "updated at or after"),
            ("--updated-before", "updated before"),
        ):
            parser.add_argument(
                name,
                metavar="DATE",
                help=f"Only sessions {word} DATE (2026-01-31 or 2026-01-31T12:00:00Z).",
            )
        parser.add_argument(
            "--database",
            metavar="ALIAS",
            help='Database alias (default: GRAPHFLOW_SESSIONS["REPLICA_DATABASE"] if set, '
            'else ["DATABASE"]).',
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help=f"Rows read per query (default {DEFAULT_CHUNK_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1:
            raise CommandError(f"--chunk-size must be at least 1, got {options['chunk_size']}")
        filters: dict[str, Any] = {
            "graph_id": options["graph"],
            "task_id": options["task"],
            "using": options["database"],
            "chunk_size": options["chunk_size"],
        }
        for key in ("created_after", "created_before", "updated_after", "updated_before"):
            if options[key] is not None:
                filters[key] = parse_moment(options[key], "--" + key.replace("_", "-"))

        def report(count: int) -> None:
            self.stderr.write(f"exported {count} sessions so far")

        started = time.perf_counter()
        output = options["output"]
        if output is None:
            count = export_sessions(self.stdout, progress=report, **filters)
        else:
            partial = f"{output}.partial"
            try:
                with open(partial, "w", encoding="utf-8") as out:
                    count = export_sessions(out, progress=report, **filters)
                os.replace(partial, output)
            except OSError as exc:
                raise CommandError(f"--output: cannot write {output!r}: {exc}") from None
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
        seconds = time.perf_counter() - started
        rate = count / seconds if seconds else 0.0
        where = f" to {output}" if output else ""
        self.stderr.write(
            self.style.SUCCESS(
                f"Exported {count} sessions{where} in {seconds:.1f} s ({rate:.0f} rows/s)."
            )
        )
