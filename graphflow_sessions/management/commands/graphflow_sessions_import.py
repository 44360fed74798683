"""``manage.py graphflow_sessions_import``: upsert sessions from JSON Lines.

    manage.py graphflow_sessions_import sessions.jsonl [--dry-run]
    manage.py graphflow_sessions_import - < sessions.jsonl

Every line is checked (JSON, the Context contract, id, size); a bad line is reported on
stderr with its number and reason and not written. The command ends with a summary and
fails (exit status 1) if any line was rejected.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...transfer import DEFAULT_IMPORT_BATCH_SIZE, ImportResult, LineError, import_sessions


class Command(BaseCommand):
    help = (
        "Validate and upsert sessions from a JSON Lines file written by graphflow_sessions_export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", metavar="FILE", help="The JSON Lines file, or - for stdin.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every line; write nothing."
        )
        parser.add_argument(
            "--database",
            metavar="ALIAS",
            help='Database alias (default: GRAPHFLOW_SESSIONS["DATABASE"]).',
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_IMPORT_BATCH_SIZE,
            help=f"Rows per transaction (default {DEFAULT_IMPORT_BATCH_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError(f"--batch-size must be at least 1, got {options['batch_size']}")

        def report_error(error: LineError) -> None:
            self.stderr.write(self.style.ERROR(str(error)))

        def report_progress(result: ImportResult) -> None:
            self.stderr.write(f"{result.lines} lines read, {result.imported} sessions written")

        path = options["input"]
        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path!r}: {exc}") from None
        try:
            result = import_sessions(
                stream,
                dry_run=options["dry_run"],
                using=options["database"],
                batch_size=options["batch_size"],
                on_error=report_error,
                progress=report_progress,
            )
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        verb = "Would import" if result.dry_run else "Imported"
        summary = (
            f"{verb} {result.imported} sessions ({result.created} new, {result.updated} "
            f"replaced) from {result.lines} lines in {result.seconds:.1f} s"
        )
        if result.errors:
            self.stdout.write(f"{summary}; {len(result.errors)} lines rejected.")
            raise CommandError(
                f"{len(result.errors)} of {result.lines} lines were rejected (see above); "
                "they were not written" + ("." if result.dry_run else ", every other line was.")
            )
        self.stdout.write(self.style.SUCCESS(summary + "."))
