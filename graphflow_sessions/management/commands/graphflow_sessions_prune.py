"""``manage.py graphflow_sessions_prune``: delete stale sessions, or trim long histories.

    manage.py graphflow_sessions_prune --older-than 30d [--graph G] [--dry-run] [--batch-size N]
    manage.py graphflow_sessions_prune                 # the rules in GRAPHFLOW_SESSIONS
    manage.py graphflow_sessions_prune --trim-messages [--graph G] [--dry-run]

Progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...retention import (
    DEFAULT_BATCH_SIZE,
    PruneBatch,
    TrimBatch,
    parse_age,
    prune_sessions,
    retention_rules,
    trim_chat_histories,
)
from ...routers import sessions_database


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"--batch-size must be a whole number, got {text!r}") from None
    if value < 1:
        raise CommandError(f"--batch-size must be at least 1, got {value}")
    return value


class Command(BaseCommand):
    help = (
        "Delete sessions not updated for a given age (or as GRAPHFLOW_SESSIONS' retention "
        "rules say), in short batches; or, with --trim-messages, trim chat histories longer "
        "than their max_messages."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="AGE",
            help="Delete sessions not updated for AGE: a number and a unit, s, m, h, d or w "
            "(30d, 12h, 90m). Without it, RETENTION_DAYS and RETENTION_DAYS_BY_GRAPH apply. "
            "Graphs that RETENTION_DAYS_BY_GRAPH keeps forever (None) are left alone unless "
            "--graph names them.",
        )
        parser.add_argument("--graph", metavar="GRAPH_ID", help="Only sessions of this graph.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would change; change nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per batch, each its own transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--trim-messages",
            action="store_true",
            help="Instead of deleting sessions, drop the oldest messages of every history "
            "longer than its max_messages.",
        )
        parser.add_argument(
            "--database",
            metavar="ALIAS",
            help='Database alias (default: GRAPHFLOW_SESSIONS["DATABASE"]).',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"] or sessions_database()
        if options["trim_messages"]:
            if options["older_than"]:
                raise CommandError(
                    "--trim-messages trims histories and deletes nothing, so it takes no "
                    "--older-than; run the command twice to do both."
                )
            self._trim(using, options)
            return
        self._prune(using, options)

    def _prune(self, using: str, options: dict[str, Any]) -> None:
        older_than = None
        if options["older_than"] is not None:
            try:
                older_than = parse_age(options["older_than"])
            except ValueError as exc:
                raise CommandError(f"--older-than: {exc}") from None
        elif not retention_rules(options["graph"]):
            which = f" for graph {options['graph']!r}" if options["graph"] else ""
            raise CommandError(
                f"Nothing to prune{which}: pass --older-than (e.g. --older-than 30d), or set "
                'GRAPHFLOW_SESSIONS["RETENTION_DAYS"] or ["RETENTION_DAYS_BY_GRAPH"].'
            )

        def report(batch: PruneBatch) -> None:
            self.stderr.write(
                f"deleted {batch.deleted} ({batch.total_deleted} so far, "
                f"{batch.rule.describe()}) in {batch.seconds * 1000:.0f} ms"
            )

        try:
            result = prune_sessions(
                older_than,
                graph_id=options["graph"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                using=using,
                progress=report,
            )
        except ValueError as exc:  # a bad retention setting
            raise CommandError(str(exc)) from None
        verb = "Would delete" if result.dry_run else "Deleted"
        for rule, cutoff, count in result.rules:
            self.stdout.write(
                f"{verb} {count} sessions of {rule.describe()} "
                f"(updated before {cutoff.isoformat(timespec='seconds')})."
            )
        summary = f"{verb} {result.deleted} sessions in total"
        if not result.dry_run:
            rate = result.deleted / result.seconds if result.seconds else 0.0
            summary += (
                f" in {result.seconds:.1f} s ({result.batches} batches, {rate:.0f} rows/s, "
                f"slowest batch {result.slowest_batch_seconds * 1000:.0f} ms)"
            )
        self.stdout.write(self.style.SUCCESS(summary + "."))

    def _trim(self, using: str, options: dict[str, Any]) -> None:
        def report(batch: TrimBatch) -> None:
            self.stderr.write(
                f"scanned {batch.total_scanned} sessions, trimmed {batch.total_trimmed} so far "
                f"({batch.seconds * 1000:.0f} ms for the last {batch.scanned})"
            )

        result = trim_chat_histories(
            graph_id=options["graph"],
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
            using=using,
            progress=report,
        )
        verb = "Would trim" if result.dry_run else "Trimmed"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} the chat history of {result.trimmed} of {result.scanned} sessions "
                f"scanned in {result.seconds:.1f} s."
            )
        )
