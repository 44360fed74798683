"""A paginator that never runs ``COUNT(*)`` over a huge table.

Django's admin counts the whole list to draw its paginator. On a million sessions that is a
full scan on every page view. Instead: an unfiltered list on PostgreSQL uses the planner's
row estimate (``pg_class.reltuples``, kept fresh by autovacuum) once the table is larger than
``ADMIN_COUNT_LIMIT``; anything else is counted, but only up to that limit
(``SELECT COUNT(*) FROM (... LIMIT n)``), so a count costs at most ``n`` index entries.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

from ..conf import app_settings
from ..storage import sql


def estimated_row_count(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows in the queryset's table, None when it has none."""
    connection = connections[queryset.db]
    statement = sql.row_estimate(connection)
    if statement is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        row = cursor.fetchone()
    # reltuples is -1 (PostgreSQL 14+) or 0 for a table never vacuumed or analyzed.
    return int(row[0]) if row and row[0] > 0 else None


class BoundedCountPaginator(Paginator):
    """``count`` is exact, an estimate (``count_is_estimate``) or a floor
    (``count_is_lower_bound``)."""

    count_is_estimate = False
    count_is_lower_bound = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        limit = int(app_settings.ADMIN_COUNT_LIMIT)
        if not queryset.query.has_filters():
            estimate = estimated_row_count(queryset)
            if estimate is not None and estimate > limit:
                self.count_is_estimate = True
                return estimate
        count = queryset.order_by()[: limit + 1].count()
        if count > limit:
            self.count_is_lower_bound = True
        return count
