"""``manage.py graphflow_sessions_import``: upsert sessions from JSON Lines.

    manage.py graphflow_sessions_import sessions.jsonl [--dry-run]
    manage.py graphflow_sessions_import - < sessions.jsonl

Every line is checked (JSON, the Context contract, id, size); a bad line is reported on
stderr with its number and reason (at every verbosity: it is an error) and not written.
The command ends with a summary on stdout (``-v 1``, the default; ``-v 0`` leaves it out)
and fails (exit status 1) if any line was rejected. ``-v 2`` adds progress on stderr.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ...transfer import DEFAULT_IMPORT_BATCH_SIZE, ImportResult, LineError, import_sessions
from ..arguments import add_database_argument
from ..progress import Progress


class Command(BaseCommand):
    help = (
        "Validate and upsert sessions from a JSON Lines file written by graphflow_sessions_export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", metavar="FILE", help="The JSON Lines file, or - for stdin.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every line; write nothing."
        )
        add_database_argument(parser)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_IMPORT_BATCH_SIZE,
            help=f"Rows per transaction (default {DEFAULT_IMPORT_BATCH_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            message = _("--batch-size must be at least 1, got %(value)d")
            raise CommandError(message % {"value": options["batch_size"]})
        path = options["input"]
        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(
                _("cannot read %(path)r: %(error)s") % {"path": path, "error": exc}
            ) from None
        progress = Progress(self.stderr, options["verbosity"])
        # The bar measures bytes read, which only a file of known size has (not a pipe).
        size = os.fstat(stream.fileno()).st_size if stream.seekable() else None

        def report_error(error: LineError) -> None:
            progress.finish()
            self.stderr.write(self.style.ERROR(str(error)))

        def report_progress(result: ImportResult) -> None:
            text = _("%(lines)s read, %(sessions)s written") % {
                "lines": lines_phrase(result.lines),
                "sessions": sessions_phrase(result.imported),
            }
            progress.report(text, stream.tell() if size else None, size)

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
            progress.finish()
            if stream is not sys.stdin.buffer:
                stream.close()
        self._summarise(result, options["verbosity"])

    def _summarise(self, result: ImportResult, verbosity: int) -> None:
        values = {
            "sessions": sessions_phrase(result.imported),
            "created": result.created,
            "updated": result.updated,
            "lines": lines_phrase(result.lines),
            "seconds": result.seconds,
        }
        if result.dry_run:
            summary = _(
                "Would import %(sessions)s (%(created)d new, %(updated)d replaced) "
                "from %(lines)s in %(seconds).1f s"
            )
        else:
            summary = _(
                "Imported %(sessions)s (%(created)d new, %(updated)d replaced) "
                "from %(lines)s in %(seconds).1f s"
            )
        summary %= values
        rejected = len(result.errors)
        if not rejected:
            if verbosity >= 1:
                self.stdout.write(self.style.SUCCESS(summary + "."))
            return
        if verbosity >= 1:
            self.stdout.write(
                ngettext(
                    "%(summary)s; %(count)d line rejected.",
                    "%(summary)s; %(count)d lines rejected.",
                    rejected,
                )
                % {"summary": summary, "count": rejected}
            )
        if result.dry_run:
            failure = ngettext(
                "%(count)d of %(lines)d lines was rejected (see above); it was not written.",
                "%(count)d of %(lines)d lines were rejected (see above); they were not written.",
                rejected,
            )
        else:
            failure = ngettext(
                "%(count)d of %(lines)d lines was rejected (see above); it was not written, "
                "every other line was.",
                "%(count)d of %(lines)d lines were rejected (see above); they were not written, "
                "every other line was.",
                rejected,
            )
        raise CommandError(failure % {"count": rejected, "lines": result.lines})


def lines_phrase(count: int) -> str:
    return ngettext("%(count)d line", "%(count)d lines", count) % {"count": count}


def sessions_phrase(count: int) -> str:
    return ngettext("%(count)d session", "%(count)d sessions", count) % {"count": count}
