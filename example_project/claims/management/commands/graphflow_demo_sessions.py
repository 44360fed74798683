"""``manage.py graphflow_demo_sessions N``: N realistic insurance-claim sessions, bulk inserted."""

from __future__ import annotations

import itertools
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction

from graphflow_sessions.conf import app_settings
from graphflow_sessions.contract.codec import write_context
from graphflow_sessions.models import Session
from graphflow_sessions.routers import sessions_database
from graphflow_sessions.storage import DatabaseSessionStorage

from ...demo import demo_sessions
from ...tasks import GRAPH_ID, FinalSummaryTask

MAX_BATCH = 10_000


def insert_sessions(using: str, sessions: list[Session]) -> None:
    """Store new sessions as they were built, back-dated timestamps and versions included, in
    one transaction: the storage's restore (what import uses), each context checked and
    encoded once, by the same codec (and size limit) every other write path uses."""
    limit = app_settings.MAX_CONTEXT_BYTES
    rows = [
        {
            "id": session.id,
            "graph_id": session.graph_id,
            "current_task_id": session.current_task_id,
            "status_message": session.status_message,
            "context": write_context(
                session.raw_context, max_bytes=limit, session_id=session.id
            ).json,
            "created_at": session.created_at,
            "updated_at": session.updated_at,
            "version": session.version,
        }
        for session in sessions
    ]
    with transaction.atomic(using=using):
        DatabaseSessionStorage(using=using).restore_many(rows)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise CommandError(f"expected a number of 0 or more, got {number}")
    return number


class Command(BaseCommand):
    help = (
        "Create COUNT demo insurance-claim sessions: conversations run through the example "
        "workflow, some finished and some waiting for the customer, back-dated over 60 days."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=_positive, help="How many sessions to create.")
        parser.add_argument(
            "--ensure",
            action="store_true",
            help="Create only as many as needed for the demo graph to have COUNT sessions.",
        )
        parser.add_argument(
            "--batch-size",
            type=_positive,
            default=2000,
            help=f"Rows per INSERT (1 to {MAX_BATCH}; default 2000).",
        )
        parser.add_argument("--seed", type=int, help="Make the conversations reproducible.")
        parser.add_argument("--database", help="Database alias (default: the sessions database).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Build the sessions but store nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        batch_size: int = options["batch_size"]
        if not 1 <= batch_size <= MAX_BATCH:
            raise CommandError(f"--batch-size must be between 1 and {MAX_BATCH}, got {batch_size}")
        using: str = options["database"] or sessions_database()
        if using not in connections:
            raise CommandError(f"unknown database alias {using!r}; known: {', '.join(connections)}")
        sessions = Session.objects.using(using)
        if options["ensure"]:
            existing = sessions.filter(graph_id=GRAPH_ID).count()
            count = max(0, count - existing)
            if count == 0:
                self.stdout.write(
                    f"The demo graph already has {existing:,} sessions; nothing to create."
                )
                return
        dry_run: bool = options["dry_run"]
        started = last_report = time.perf_counter()
        created = finished = 0
        source = demo_sessions(count, seed=options["seed"])
        while batch := list(itertools.islice(source, batch_size)):
            if not dry_run:
                insert_sessions(using, batch)
            created += len(batch)
            finished += sum(1 for s in batch if s.current_task_id == FinalSummaryTask.task_id)
            now = time.perf_counter()
            if now - last_report >= 2 and created < count and options["verbosity"] >= 1:
                last_report = now
                self.stdout.write(
                    f"  {created:,}/{count:,} sessions ({created / (now - started):,.0f}/s)"
                )
        elapsed = time.perf_counter() - started
        if options["verbosity"] < 1:
            return
        verb = "Built (dry run, nothing stored)" if dry_run else "Created"
        vendor = connections[using].vendor
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {created:,} demo sessions in {elapsed:.1f} s "
                f"({created / elapsed if elapsed else 0:,.0f}/s) on {vendor} ({using!r}): "
                f"{finished:,} finished, {created - finished:,} waiting for the customer."
            )
        )
