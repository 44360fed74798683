"""``manage.py graphflow_sessions_index``: fill, check or remove the PostgreSQL search index.

    manage.py graphflow_sessions_index                # index sessions not indexed yet (resumes)
    manage.py graphflow_sessions_index --verify       # check every session, repair stale ones
    manage.py graphflow_sessions_index --install      # add the index (SEARCH_INDEX was False)
    manage.py graphflow_sessions_index --drop         # remove it (search falls back)
    manage.py graphflow_sessions_index --dry-run      # say what would be done

Each batch is one short transaction that locks only the rows it indexes (skipping any a save
holds at that moment, whose trigger indexes it) and records how far it got, so an
interrupted run continues where it stopped. See docs/search.md.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction
from django.utils.translation import gettext as _

from ...routers import sessions_database
from ...search import postgres
from ..arguments import add_database_argument, batch_size
from ..progress import Progress

DEFAULT_BATCH_SIZE = 1000

# Rows a save held when their batch ran are tried again this many times, a moment apart.
RETRIES = 5
RETRY_PAUSE = 0.2


class Command(BaseCommand):
    help = (
        "Index the sessions the PostgreSQL search index does not hold yet (resumable), "
        "verify and repair it, install it, or drop it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--verify",
            action="store_true",
            help="Check every session's index rows against the session and repair stale ones "
            "(a history rewritten in the middle), and drop rows of deleted sessions.",
        )
        action.add_argument(
            "--install",
            action="store_true",
            help="Create the index's tables and triggers, then index every session.",
        )
        action.add_argument(
            "--drop",
            action="store_true",
            help="Remove the index's triggers and tables; search falls back to reading the "
            "newest sessions.",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Start the backfill from the first session instead of where it stopped.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be done; change nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=batch_size,
            default=DEFAULT_BATCH_SIZE,
            help=f"Sessions per batch at most, each its own transaction (default "
            f"{DEFAULT_BATCH_SIZE}); a batch also stops at about "
            f"{postgres.BATCH_BYTES // 1024} KB of stored context.",
        )
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"] or sessions_database()
        if using not in connections:
            raise CommandError(_("No database alias %(alias)r.") % {"alias": using})
        connection = connections[using]
        if connection.vendor != "postgresql":
            raise CommandError(
                _(
                    "The search index is PostgreSQL's; database %(alias)r is %(vendor)s, "
                    "where search does not need it."
                )
                % {"alias": using, "vendor": connection.vendor}
            )
        if options["restart"] and (options["verify"] or options["drop"]):
            raise CommandError(_("--restart goes with a backfill, not --verify or --drop."))
        installed = postgres.index_installed(using)
        if options["drop"]:
            self._drop(using, installed, options)
            return
        if options["install"]:
            if installed:
                raise CommandError(
                    _("The search index is already installed in %(alias)r.") % {"alias": using}
                )
            if options["dry_run"]:
                self._say(options, _("Would install the search index and index every session."))
                return
            with transaction.atomic(using=using):
                postgres.install(connection)
            self._say(options, _("Installed the search index."))
        elif not installed:
            raise CommandError(
                _(
                    "The search index is not installed in %(alias)r: run this command with "
                    "--install (or migrate with GRAPHFLOW_SESSIONS['SEARCH_INDEX'] True)."
                )
                % {"alias": using}
            )
        if options["verify"]:
            self._run(using, options, verify=True)
        else:
            self._run(using, options, verify=False)

    def _say(self, options: dict[str, Any], text: str) -> None:
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(text))

    def _drop(self, using: str, installed: bool, options: dict[str, Any]) -> None:
        if not installed:
            raise CommandError(
                _("The search index is not installed in %(alias)r.") % {"alias": using}
            )
        if options["dry_run"]:
            self._say(options, _("Would drop the search index."))
            return
        with transaction.atomic(using=using):
            postgres.uninstall(connections[using])
        self._say(options, _("Dropped the search index; search reads the newest sessions."))

    def _run(self, using: str, options: dict[str, Any], *, verify: bool) -> None:
        state = postgres.progress(using)
        assert state is not None  # installed
        last_id, complete = state
        if options["dry_run"]:
            if verify:
                line = _("Would check every session's index rows and repair stale ones.")
            else:
                line = _("%(count)d sessions are not indexed yet.") % {
                    "count": postgres.unindexed_count(using)
                }
            self._say(options, line)
            return
        if not verify and complete and not options["restart"]:
            self._say(options, _("The search index is complete; nothing to do."))
            return
        after = None if verify or options["restart"] else last_id
        progress = Progress(self.stderr, options["verbosity"])
        started = time.perf_counter()
        scanned = indexed = left_out = 0
        try:
            while True:
                batch = run_batch(using, after, options["batch_size"], verify=verify)
                retries = 0
                while batch.locked < batch.scanned and retries < RETRIES:
                    # Rows a save holds right now: its trigger indexes them unless it rolls
                    # back, so wait a moment and take the batch again.
                    retries += 1
                    time.sleep(RETRY_PAUSE)
                    batch = run_batch(using, after, options["batch_size"], verify=verify)
                if batch.last_id is None:
                    break
                left_out += batch.scanned - batch.locked
                scanned += batch.scanned
                indexed += batch.indexed
                after = batch.last_id
                progress.report(
                    _("%(scanned)d sessions read, %(indexed)d indexed, last %(id)s")
                    % {"scanned": scanned, "indexed": indexed, "id": after}
                )
        finally:
            progress.finish()
        removed = postgres.delete_orphans(using) if verify else 0
        if not left_out:
            with transaction.atomic(using=using), connections[using].cursor() as cursor:
                postgres.mark_progress(cursor, None, True)
        seconds = time.perf_counter() - started
        values = {
            "scanned": scanned,
            "indexed": indexed,
            "removed": removed,
            "seconds": seconds,
            "rate": scanned / seconds if seconds else 0.0,
        }
        if verify:
            summary = (
                _(
                    "Checked %(scanned)d sessions in %(seconds).1f s (%(rate).0f rows/s): "
                    "repaired %(indexed)d, removed %(removed)d deleted sessions' rows."
                )
                % values
            )
        else:
            summary = (
                _(
                    "Read %(scanned)d sessions in %(seconds).1f s (%(rate).0f rows/s), "
                    "indexed %(indexed)d."
                )
                % values
            )
        self._say(options, summary)
        if left_out:
            raise CommandError(
                _(
                    "%(count)d sessions were being saved throughout and were left out; run the "
                    "command again with --restart (already indexed sessions are skipped)."
                )
                % {"count": left_out}
            )


def run_batch(using: str, after: str | None, size: int, *, verify: bool) -> postgres.Batch:
    """One batch (a module-level name, so a test can interrupt a run between batches)."""
    return postgres.index_batch(using, after, size, verify=verify)
