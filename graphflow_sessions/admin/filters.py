"""List filters for graph and task whose choices cost a handful of index probes.

The stock ``AllValuesFieldListFilter`` runs ``SELECT DISTINCT graph_id`` over the whole
table on every page view. Here PostgreSQL walks the (graph_id, updated_at) and
(current_task_id, updated_at) indexes with a recursive "loose index scan": one probe per
distinct value, so a million rows with twenty graphs cost twenty probes. Choices are capped
at ``MAX_CHOICES``; any other value still filters when given in the URL (or use search).
The indexes hold each value's first 512 characters, and a choice is that prefix: a longer
value (only another writer stores one) is listed, and filtered, by its start.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import connections
from django.db.models import ExpressionWrapper, QuerySet, TextField
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..fields import indexed_prefix
from ..routers import list_database
from ..storage import sql
from .facets import BoundedFacetsMixin

MAX_CHOICES = 50


def distinct_values(queryset: QuerySet[Any], column: str, limit: int = MAX_CHOICES) -> list[str]:
    """Up to ``limit`` distinct values of ``column`` in the queryset's table, sorted."""
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        cursor.execute(*sql.distinct_values(connection, column, limit))
        return [row[0] for row in cursor.fetchall()]


class _DistinctValueFilter(BoundedFacetsMixin, admin.SimpleListFilter):
    column: str

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        queryset = model_admin.model._default_manager.using(list_database())
        values = distinct_values(queryset, self.column)
        current = self.value()
        if current and current not in values:
            values.append(current)  # keep a value given in the URL visible and selected
        return [(value, value) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        # Compared as plain text: the column's own type would compare the prefix's prefix,
        # which no index holds.
        prefix = ExpressionWrapper(indexed_prefix(self.column), output_field=TextField())
        return queryset.alias(_prefix=prefix).filter(_prefix=value)


class GraphFilter(_DistinctValueFilter):
    title = _("graph")
    parameter_name = "graph_id"
    column = "graph_id"


class TaskFilter(_DistinctValueFilter):
    title = _("current task")
    parameter_name = "current_task_id"
    column = "current_task_id"
