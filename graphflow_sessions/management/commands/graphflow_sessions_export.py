"""``manage.py graphflow_sessions_export``: sessions as JSON Lines, to stdout or a file.

    manage.py graphflow_sessions_export --output sessions.jsonl [--graph G] [--task T]
        [--created-after 2026-01-01] [--updated-before 2026-02-01T00:00:00Z]

Progress (``-v 2``) and the summary (``-v 1``, the default) go to stderr, since stdout may be
the data; ``-v 0`` writes nothing but errors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as clock
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ...transfer import DEFAULT_CHUNK_SIZE, export_sessions
from ..progress import Progress


def parse_moment(text: str, option: str) -> datetime:
    """A date (midnight) or a datetime; without an offset, in the current time zone."""
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = None if day is None else datetime.combine(day, clock())
    except ValueError as exc:
        raise CommandError(
            _("%(option)s: %(text)r is not a valid date or time: %(error)s")
            % {"option": option, "text": text, "error": exc}
        ) from None
    if moment is None:
        raise CommandError(
            _(
                "%(option)s: expected a date or a date and time such as 2026-01-31 or "
                "2026-01-31T12:00:00Z, got %(text)r"
            )
            % {"option": option, "text": text}
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
            message = _("--chunk-size must be at least 1, got %(value)d")
            raise CommandError(message % {"value": options["chunk_size"]})
        filters: dict[str, Any] = {
            "graph_id": options["graph"],
            "task_id": options["task"],
            "using": options["database"],
            "chunk_size": options["chunk_size"],
        }
        for key in ("created_after", "created_before", "updated_after", "updated_before"):
            if options[key] is not None:
                filters[key] = parse_moment(options[key], "--" + key.replace("_", "-"))

        # stdout may be the data, so everything else goes to stderr.
        progress = Progress(self.stderr, options["verbosity"])
        started = time.perf_counter()

        def report(count: int) -> None:
            rate = count / (time.perf_counter() - started)
            progress.report(
                ngettext(
                    "exported %(count)d session so far (%(rate).0f rows/s)",
                    "exported %(count)d sessions so far (%(rate).0f rows/s)",
                    count,
                )
                % {"count": count, "rate": rate}
            )

        output = options["output"]
        try:
            if output is None:
                count = export_sessions(self.stdout, progress=report, **filters)
            else:
                count = self._export_to_file(output, report, filters)
        finally:
            progress.finish()
        if options["verbosity"] < 1:
            return
        seconds = time.perf_counter() - started
        values = {
            "count": count,
            "output": output,
            "seconds": seconds,
            "rate": count / seconds if seconds else 0.0,
        }
        if output:
            summary = ngettext(
                "Exported %(count)d session to %(output)s in %(seconds).1f s (%(rate).0f rows/s).",
                "Exported %(count)d sessions to %(output)s in %(seconds).1f s (%(rate).0f rows/s).",
                count,
            )
        else:
            summary = ngettext(
                "Exported %(count)d session in %(seconds).1f s (%(rate).0f rows/s).",
                "Exported %(count)d sessions in %(seconds).1f s (%(rate).0f rows/s).",
                count,
            )
        self.stderr.write(self.style.SUCCESS(summary % values))

    def _export_to_file(
        self, output: str, report: Callable[[int], None], filters: dict[str, Any]
    ) -> int:
        """Write to ``output.partial`` and rename it, so ``output`` is never half written.

        A device or a pipe (``/dev/null``, a FIFO) is written in place: renaming a file
        over it would replace the device itself.
        """
        in_place = os.path.exists(output) and not os.path.isfile(output)
        partial = output if in_place else f"{output}.partial"
        try:
            with open(partial, "w", encoding="utf-8") as out:
                count = export_sessions(out, progress=report, **filters)
            if not in_place:
                os.replace(partial, output)
        except OSError as exc:
            raise CommandError(
                _("--output: cannot write %(path)r: %(error)s") % {"path": output, "error": exc}
            ) from None
        finally:
            if not in_place and os.path.exists(partial):
                os.remove(partial)
        return count
