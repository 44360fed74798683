"""``manage.py graphflow_sessions_prune``: delete stale sessions, or trim long histories.

    manage.py graphflow_sessions_prune --older-than 30d [--graph G] [--dry-run] [--batch-size N]
    manage.py graphflow_sessions_prune                 # the rules in GRAPHFLOW_SESSIONS
    manage.py graphflow_sessions_prune --trim-messages [--graph G] [--dry-run]

The summary goes to stdout (``-v 1``, the default), progress to stderr (``-v 2``: a bar
redrawn on a terminal, a line per batch elsewhere); ``-v 0`` writes nothing but errors.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ...models import Session
from ...retention import (
    DEFAULT_BATCH_SIZE,
    PruneBatch,
    PruneResult,
    TrimBatch,
    parse_age,
    prune_sessions,
    retention_rules,
    trim_chat_histories,
)
from ...routers import sessions_database
from ..arguments import add_database_argument, batch_size
from ..progress import Progress


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
            type=batch_size,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per batch, each its own transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--trim-messages",
            action="store_true",
            help="Instead of deleting sessions, drop the oldest messages of every history "
            "longer than its max_messages.",
        )
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"] or sessions_database()
        if options["trim_messages"]:
            if options["older_than"]:
                raise CommandError(
                    _(
                        "--trim-messages trims histories and deletes nothing, so it takes no "
                        "--older-than; run the command twice to do both."
                    )
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
            if options["graph"]:
                message = _(
                    "Nothing to prune for graph %(graph)r: pass --older-than (e.g. --older-than "
                    '30d), or set GRAPHFLOW_SESSIONS["RETENTION_DAYS"] or '
                    '["RETENTION_DAYS_BY_GRAPH"].'
                ) % {"graph": options["graph"]}
            else:
                message = _(
                    "Nothing to prune: pass --older-than (e.g. --older-than 30d), or set "
                    'GRAPHFLOW_SESSIONS["RETENTION_DAYS"] or ["RETENTION_DAYS_BY_GRAPH"].'
                )
            raise CommandError(message)
        arguments = {
            "graph_id": options["graph"],
            "batch_size": options["batch_size"],
            "using": using,
        }
        progress = Progress(self.stderr, options["verbosity"])
        total: int | None = None
        deleted = 0

        def report(batch: PruneBatch) -> None:
            nonlocal deleted
            deleted += batch.deleted
            progress.report(
                _("deleted %(count)d (%(so_far)d so far, %(rule)s) in %(ms).0f ms")
                % {
                    "count": batch.deleted,
                    "so_far": batch.total_deleted,
                    "rule": batch.rule.describe(),
                    "ms": batch.seconds * 1000,
                },
                deleted,
                total,
            )

        try:
            if progress.wants_total and not options["dry_run"]:
                # Only the bar needs the total, and counting costs a query per rule.
                total = prune_sessions(older_than, dry_run=True, **arguments).deleted
            result = prune_sessions(
                older_than, dry_run=options["dry_run"], progress=report, **arguments
            )
        except ValueError as exc:  # a bad retention setting
            raise CommandError(str(exc)) from None
        finally:
            progress.finish()
        if options["verbosity"] >= 1:
            self._summarise_prune(result)

    def _summarise_prune(self, result: PruneResult) -> None:
        for rule, cutoff, count in result.rules:
            if result.dry_run:
                line = ngettext(
                    "Would delete %(count)d session of %(rule)s (updated before %(cutoff)s).",
                    "Would delete %(count)d sessions of %(rule)s (updated before %(cutoff)s).",
                    count,
                )
            else:
                line = ngettext(
                    "Deleted %(count)d session of %(rule)s (updated before %(cutoff)s).",
                    "Deleted %(count)d sessions of %(rule)s (updated before %(cutoff)s).",
                    count,
                )
            values = {
                "count": count,
                "rule": rule.describe(),
                "cutoff": cutoff.isoformat(timespec="seconds"),
            }
            self.stdout.write(line % values)
        if result.dry_run:
            summary = ngettext(
                "Would delete %(count)d session in total.",
                "Would delete %(count)d sessions in total.",
                result.deleted,
            ) % {"count": result.deleted}
        else:
            batches = ngettext("%(count)d batch", "%(count)d batches", result.batches) % {
                "count": result.batches
            }
            summary = ngettext(
                "Deleted %(count)d session in total in %(seconds).1f s (%(batches)s, "
                "%(rate).0f rows/s, slowest batch %(slowest).0f ms).",
                "Deleted %(count)d sessions in total in %(seconds).1f s (%(batches)s, "
                "%(rate).0f rows/s, slowest batch %(slowest).0f ms).",
                result.deleted,
            ) % {
                "count": result.deleted,
                "seconds": result.seconds,
                "batches": batches,
                "rate": result.deleted / result.seconds if result.seconds else 0.0,
                "slowest": result.slowest_batch_seconds * 1000,
            }
        self.stdout.write(self.style.SUCCESS(summary))

    def _trim(self, using: str, options: dict[str, Any]) -> None:
        progress = Progress(self.stderr, options["verbosity"])
        # Every session of the graph is scanned once, so their number is the bar's end.
        sessions = Session.objects.using(using)
        if options["graph"] is not None:
            sessions = sessions.filter(graph_id=options["graph"])
        total = sessions.count() if progress.wants_total else None

        def report(batch: TrimBatch) -> None:
            progress.report(
                ngettext(
                    "scanned %(scanned)d session, trimmed %(count)d so far "
                    "(%(ms).0f ms for the last %(last)d)",
                    "scanned %(scanned)d sessions, trimmed %(count)d so far "
                    "(%(ms).0f ms for the last %(last)d)",
                    batch.total_scanned,
                )
                % {
                    "scanned": batch.total_scanned,
                    "count": batch.total_trimmed,
                    "ms": batch.seconds * 1000,
                    "last": batch.scanned,
                },
                batch.total_scanned,
                total,
            )

        try:
            result = trim_chat_histories(
                graph_id=options["graph"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                using=using,
                progress=report,
            )
        finally:
            progress.finish()
        if options["verbosity"] < 1:
            return
        if result.dry_run:
            summary = ngettext(
                "Would trim the chat history of %(count)d of %(scanned)d session scanned "
                "in %(seconds).1f s.",
                "Would trim the chat history of %(count)d of %(scanned)d sessions scanned "
                "in %(seconds).1f s.",
                result.scanned,
            )
        else:
            summary = ngettext(
                "Trimmed the chat history of %(count)d of %(scanned)d session scanned "
                "in %(seconds).1f s.",
                "Trimmed the chat history of %(count)d of %(scanned)d sessions scanned "
                "in %(seconds).1f s.",
                result.scanned,
            )
        values = {"count": result.trimmed, "scanned": result.scanned, "seconds": result.seconds}
        self.stdout.write(self.style.SUCCESS(summary % values))
