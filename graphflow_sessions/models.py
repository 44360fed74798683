"""The ``Session`` model on graph-flow's ``sessions`` table.

The table is the one graph-flow's ``PostgresSessionStorage`` creates (see migration 0001),
so a Rust service and Django share rows both ways. ``version`` is graph-flow 0.6's
optimistic-locking column.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import models, router
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contract.types import Context
from .exceptions import ContextDeserializationError
from .expressions import ROLE_CHARS, HistorySummary, LastMessageField, MessageCount
from .fields import ContextField, IndexedTextField, SessionIdField, indexed_prefix
from .storage import DatabaseSessionStorage

#: What ``SessionQuerySet.summarize`` sets on each session, in ``HistorySummary``'s order.
SUMMARY_FIELDS = ("message_count", "last_message_role", "last_message_preview", "last_message_at")


class SessionQuerySet(models.QuerySet["Session"]):
    def for_graph(self, graph_id: str) -> SessionQuerySet:
        return self.filter(graph_id=graph_id)

    def not_updated_since(self, moment: datetime) -> SessionQuerySet:
        return self.filter(updated_at__lt=moment)

    def stale(self, age: timedelta) -> SessionQuerySet:
        """Sessions not updated for ``age`` (retention uses this)."""
        return self.not_updated_since(timezone.now() - age)

    def without_context(self) -> SessionQuerySet:
        """Never load the (possibly megabytes-large) context column."""
        return self.defer("context")

    def with_summary(self) -> SessionQuerySet:
        """Defer the context and annotate what a list shows of it, computed by the database:
        ``message_count`` (None when the stored history is not a list), and the role and
        start of the last message (``last_message_role``, ``last_message_preview``).

        Each annotation reads the context on its own, and a sorted or filtered query may
        compute them for every matching row: for a page of a list, ``summarize`` the page's
        rows instead."""
        return self.defer("context").annotate(
            message_count=MessageCount(),
            last_message_role=LastMessageField("role", length=ROLE_CHARS),
            last_message_preview=LastMessageField("content"),
        )

    def summarize(self, sessions: Iterable[Session]) -> None:
        """Set what a list shows of each history on ``sessions`` (rows already read, their
        context deferred): ``message_count``, ``last_message_role``, ``last_message_preview``
        and ``last_message_at``, as ``with_summary`` computes them, read by one query on
        this queryset's database that reads each context once. A session gone meanwhile
        gets None for each."""
        rows = list(sessions)
        if not rows:
            return
        summaries = dict(
            self.filter(pk__in=[row.pk for row in rows])
            .annotate(history_summary=HistorySummary())
            .values_list("pk", "history_summary")
        )
        for row in rows:
            values = summaries.get(row.pk) or [None] * len(SUMMARY_FIELDS)
            for name, value in zip(SUMMARY_FIELDS, values, strict=True):
                setattr(row, name, value)


class Session(models.Model):
    id = SessionIdField(_("id"), primary_key=True, default=uuid.uuid4, editable=False)
    graph_id = IndexedTextField(_("graph"), default="default")
    # The task the next step runs: the resume point.
    current_task_id = IndexedTextField(_("current task"))
    # Diagnostic text of the last executed task; overwritten every step. graph-flow writes
    # NULL for "no message" (Option<String>), so NULL it is, not Django's empty string.
    status_message = models.TextField(_("status message"), null=True, blank=True)  # noqa: DJ001
    context = ContextField(_("context"), default=Context)
    # NULL is allowed because graph-flow's table allows it; every writer sets both.
    created_at = models.DateTimeField(_("created"), null=True, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), null=True, db_default=Now(), editable=False)
    version = models.BigIntegerField(_("version"), default=0, db_default=0, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        db_table = "sessions"
        indexes = [
            # Newest first (admin list), cursor pagination (API), retention (updated_at < X).
            models.Index(fields=["updated_at", "id"], name="gfs_updated_id_idx"),
            # "This graph's sessions, newest first" (admin and API filters, per-graph retention,
            # the admin's choices of graphs). By prefix: a btree cannot hold long values.
            models.Index(
                indexed_prefix("graph_id"), F("updated_at"), name="gfs_graph_prefix_updated_idx"
            ),
            # "Who is waiting at this task" (admin and API filters, the choices of tasks).
            models.Index(
                indexed_prefix("current_task_id"),
                F("updated_at"),
                name="gfs_task_prefix_updated_idx",
            ),
            # Created-date filters and the admin's date drill-down.
            models.Index(fields=["created_at"], name="gfs_created_idx"),
        ]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    def __str__(self) -> str:
        return f"{self.graph_id} {self.id}"

    def save(
        self,
        *args: Any,
        force_insert: Any = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Any = None,
    ) -> None:
        """Plain ORM save (admin edits, fixtures, ``objects.create``), written by the storage
        backend, so the version and ``updated_at`` follow the same rules as every other
        write (the database decides both): a new instance is created (never overwriting a
        stored row: SessionExists), a loaded one saved with graph-flow's upsert, and
        ``update_fields`` writes only those fields, with the same bookkeeping.
        """
        if args:
            raise TypeError("Session.save() takes keyword arguments only")
        storage = _storage(using or router.db_for_write(type(self), instance=self))
        if update_fields is not None:
            if update_fields:  # an empty list saves nothing, as in Django
                storage.save_fields(self, update_fields)
        elif force_insert or (self._state.adding and not force_update):
            storage.create(self)
        else:
            storage.save(self)

    def clean_fields(self, exclude: Any = None) -> None:
        # Django reads each value with getattr(), which for ``context`` would raise the
        # contract error itself; validate the stored JSON instead, as a field error.
        exclude = set(exclude or ())
        errors: dict[str, Any] = {}
        if "context" not in exclude:
            exclude.add("context")
            field = self._context_field()
            try:
                field.clean(field.value_from_object(self), self)
            except ValidationError as exc:
                errors["context"] = exc.error_list
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    @property
    def raw_context(self) -> Any:
        """The context JSON as stored (or assigned), without contract validation."""
        return self._context_field().value_from_object(self)

    @classmethod
    def _context_field(cls) -> ContextField:
        return cast(ContextField, cls._meta.get_field("context"))

    @property
    def context_error(self) -> ContextDeserializationError | None:
        """Why the stored context breaks the contract, or None when it is valid."""
        try:
            self.context  # noqa: B018 (validates)
        except ContextDeserializationError as exc:
            return exc
        return None


_storages: dict[str, DatabaseSessionStorage] = {}


def _storage(alias: str) -> DatabaseSessionStorage:
    # One per alias: a storage keeps the statements it built for the alias's connections.
    storage = _storages.get(alias)
    if storage is None:
        storage = _storages.setdefault(alias, DatabaseSessionStorage(using=alias))
    return storage
