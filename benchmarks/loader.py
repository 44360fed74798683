"""Fill the ``sessions`` table fast: ``load_sessions(using, n, context_bytes)``.

PostgreSQL gets one ``COPY ... FROM STDIN`` stream (hundreds of thousands of rows a minute);
other databases get ``bulk_create`` in batches. Rows look like a real deployment: a few
graphs of very different sizes, task ids that are Rust type paths or plain words, status
messages or NULL, ``updated_at`` spread over the past year with ``created_at`` before it, and
contexts built by :func:`benchmarks.payloads.context_dict` (a handful of variants reused,
each with its own session id in the data). Rows are written oldest first, as a service
writes them over time.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from django.db import connections

from .payloads import context_dict

__all__ = ["GRAPHS", "TASKS", "load_sessions", "session_rows"]

#: (graph_id, weight): one big graph, a few medium, a long tail.
GRAPHS = [("claims", 50), ("support", 25), ("onboarding", 10), ("billing", 5)] + [
    (f"tenant-{i:02d}", 1) for i in range(10)
]
TASKS = [
    "insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask",
    "insurance_claims_service::tasks::insurance_type_classifier::InsuranceTypeClassifierTask",
    "insurance_claims_service::tasks::car_insurance_details::CarInsuranceDetailsTask",
    "insurance_claims_service::tasks::smart_claim_validator::SmartClaimValidatorTask",
    "insurance_claims_service::tasks::final_summary::FinalSummaryTask",
    "ask",
    "answer",
    "completed",
]
STATUSES = [None, "Waiting for user input", "Claim auto-approved", "Escalated to an adjuster"]
COLUMNS = (
    "id",
    "graph_id",
    "current_task_id",
    "status_message",
    "context",
    "created_at",
    "updated_at",
    "version",
)
_VARIANTS = 16
_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def _context_templates(context_bytes: int) -> list[tuple[str, str]]:
    """Compact JSON variants, split around the session id they carry in their data."""
    templates = []
    for seed in range(_VARIANTS):
        value = context_dict(context_bytes, seed=seed)
        value["data"]["session_id"] = _PLACEHOLDER
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        before, _, after = text.partition(_PLACEHOLDER)
        templates.append((before, after))
    return templates


def session_rows(
    n: int, context_bytes: int, *, seed: int = 7, now: datetime | None = None
) -> Iterator[tuple[Any, ...]]:
    """``n`` rows in COLUMNS order; the context as JSON text."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    templates = _context_templates(context_bytes)
    graphs, weights = zip(*GRAPHS, strict=True)
    year = 365 * 86_400
    for index in range(n):
        session_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        before, after = templates[rng.randrange(_VARIANTS)]
        # Oldest first, as a live service writes them: the table's physical order follows
        # updated_at, so the newest sessions sit together (as they do in a real table).
        updated = now - timedelta(seconds=year * (n - index) / n + rng.random() * 60)
        created = updated - timedelta(seconds=rng.randrange(3 * 86_400))
        yield (
            session_id,
            rng.choices(graphs, weights)[0],
            rng.choice(TASKS),
            rng.choice(STATUSES),
            f"{before}{session_id}{after}",
            created,
            updated,
            rng.randrange(1, 40),
        )


def load_sessions(
    using: str = "default", n: int = 20_000, context_bytes: int = 2_000, *, seed: int = 7
) -> int:
    """Append ``n`` generated sessions to the table on ``using``; returns ``n``."""
    connection = connections[using]
    rows = session_rows(n, context_bytes, seed=seed)
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.cursor() as cursor:
            sql = f"COPY sessions ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return n
    from graphflow_sessions.models import Session

    batch: list[Session] = []
    for row in rows:
        values = dict(zip(COLUMNS, row, strict=True))
        values["context"] = json.loads(values["context"])
        batch.append(Session(**values))
        if len(batch) == 1_000:
            Session.objects.using(using).bulk_create(batch)
            batch.clear()
    if batch:
        Session.objects.using(using).bulk_create(batch)
    return n
