"""Writes through the ORM, for databases without ``INSERT ... ON CONFLICT ... RETURNING``.

Each is a locked read-modify-write in one transaction, with the same version and clock
rules as the upsert (the database's clock, read in the same transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models.functions import Now

from ..contract.jsontext import decode_json
from ..exceptions import SessionConflict, SessionExists
from .base import SessionRow, new_row_version
from .sql import session_model

__all__ = ["create_row", "delete_rows", "restore_rows", "save_row"]


def save_row(
    alias: str, row: SessionRow, expected_version: int | None, *, create: bool = False
) -> tuple[int, datetime | None, datetime | None]:
    """Insert or replace ``row``; return its version, created_at and updated_at."""
    manager = session_model().objects.using(alias)
    with transaction.atomic(using=alias):
        stored = (
            manager.select_for_update()
            .filter(pk=row.id)
            .values_list("version", "created_at")
            .first()
        )
        current, created_at = stored if stored is not None else (None, None)
        if create and stored is not None:
            raise SessionExists.for_id(row.id)
        if expected_version is not None and current is not None and current != expected_version:
            raise SessionConflict.for_versions(row.id, expected_version, current)
        version = current + 1 if current is not None else new_row_version(expected_version)
        values = {
            "graph_id": row.graph_id,
            "current_task_id": row.current_task_id,
            "status_message": row.status_message,
            "context": decode_json(row.context.json),
            "updated_at": Now(),
            "version": version,
        }
        # QuerySet.update and bulk_create, not Model.save (which writes through the storage).
        if stored is None:
            manager.bulk_create([session_model()(id=row.id, created_at=Now(), **values)])
        else:
            manager.filter(pk=row.id).update(**values)
        created_at, updated_at = (
            manager.filter(pk=row.id).values_list("created_at", "updated_at").get()
        )
    return version, created_at, updated_at


def create_row(alias: str, row: SessionRow) -> tuple[int, datetime | None, datetime | None]:
    """Insert ``row`` as a new row; SessionExists if the id is taken."""
    return save_row(alias, row, None, create=True)


def prune_batch(
    alias: str,
    cutoff: datetime,
    limit: int,
    since: Any,
    graph_id: str | None,
    except_graphs: Sequence[str],
) -> tuple[list[Any], Any]:
    """``DatabaseSessionStorage.prune_batch`` without ``DELETE ... RETURNING``: pick the ids,
    then delete them (rechecking the age, in case a save moved one on) in one transaction."""
    manager = session_model().objects.using(alias)
    with transaction.atomic(using=alias):
        stale = manager.filter(updated_at__lt=cutoff)
        if graph_id is not None:
            stale = stale.filter(graph_id=graph_id)
        elif except_graphs:
            stale = stale.exclude(graph_id__in=except_graphs)
        if since is not None:
            stale = stale.filter(updated_at__gte=since)
        rows = list(stale.order_by("updated_at").values_list("id", "updated_at")[:limit])
        ids = [row[0] for row in rows]
        if ids:
            manager.filter(id__in=ids, updated_at__lt=cutoff).delete()
    return ids, max((row[1] for row in rows if row[1] is not None), default=None)


def delete_rows(alias: str, ids: Sequence[Any]) -> list[Any]:
    """Delete the rows of ``ids`` without ``DELETE ... RETURNING``; the ids deleted."""
    manager = session_model().objects.using(alias)
    with transaction.atomic(using=alias):
        found = list(manager.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
        manager.filter(pk__in=found).delete()
    return found


def restore_rows(alias: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (every column, as given) in place of any stored under their ids."""
    model = session_model()
    manager = model.objects.using(alias)
    manager.filter(id__in=[row["id"] for row in rows]).delete()
    manager.bulk_create(model(**row) for row in rows)
