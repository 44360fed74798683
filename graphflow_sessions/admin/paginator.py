"""A paginator that never runs ``COUNT(*)`` over a huge table.

Django's admin counts the whole list to draw its paginator. On a million sessions that is a
full scan on every page view. Instead: an unfiltered list on PostgreSQL uses the planner's
row estimate (``pg_class.reltuples``, kept fresh by autovacuum) once the table is larger than
``ADMIN_COUNT_LIMIT``; anything else is counted, but only up to that limit
(``SELECT COUNT(*) FROM (... LIMIT n)``), so a count costs at most ``n`` index entries.

A search that walks the list checking each session (a common word, ``walks_list``) is
counted differently: a count has no order to walk, and PostgreSQL may check every session
of the list to answer it. Such a list is counted by reading, in the list's own order (as the
page itself is read), the ids up to the end of the next page: enough to link the pages so
far and the next one, and a lower bound beyond.
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
    #: Set to the page shown for a list that is walked in its order (see above).
    walked_to_page: int | None = None

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        limit = int(app_settings.ADMIN_COUNT_LIMIT)
        if self.walked_to_page is not None:
            limit = min(limit, (max(self.walked_to_page, 1) + 1) * self.per_page)
            count = len(queryset.values_list("pk", flat=True)[: limit + 1])
            self.count_is_lower_bound = count > limit
            return count
        if not queryset.query.has_filters():
            estimate = estimated_row_count(queryset)
            if estimate is not None and estimate > limit:
                self.count_is_estimate = True
                return estimate
        count = queryset.order_by()[: limit + 1].count()
        if count > limit:
            self.count_is_lower_bound = True
        return count
