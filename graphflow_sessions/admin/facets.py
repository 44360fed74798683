"""Facet counts (the number beside each list-filter choice) at the list's own bound.

Django counts every choice over the whole filtered list in one aggregate: a scan of a
million rows on every page view. Here each choice is counted on its own, up to
``ADMIN_COUNT_LIMIT`` rows (``SELECT COUNT(*) FROM (... LIMIT n)``, as the paginator
counts), and shown as "n+" beyond it. Facets are off unless ``ADMIN_SHOW_FACETS`` is set;
then the list offers Django's "Show counts" link.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.filters import DateFieldListFilter

from ..conf import app_settings


class BoundedFacetsMixin:
    """For a list filter: ``get_facet_queryset`` with one bounded count per choice."""

    def get_facet_queryset(self, changelist: Any) -> dict[str, Any]:
        filtered = changelist.get_queryset(
            self.request,  # type: ignore[attr-defined]
            exclude_parameters=self.expected_parameters(),  # type: ignore[attr-defined]
        ).order_by()
        limit = int(app_settings.ADMIN_COUNT_LIMIT)
        counts: dict[str, Any] = {}
        # Django's own per-choice conditions (COUNT(pk) FILTER (WHERE ...)), each run alone.
        facets = self.get_facet_counts(changelist.pk_attname, filtered)  # type: ignore[attr-defined]
        for key, aggregate in facets.items():
            # Django 6 wraps the choice's Q in an AggregateFilter; Django 5.2 keeps the Q.
            condition = getattr(aggregate.filter, "condition", aggregate.filter)
            count = filtered.filter(condition)[: limit + 1].count()
            counts[key] = f"{limit}+" if count > limit else count
        return counts


class BoundedDateFieldListFilter(BoundedFacetsMixin, DateFieldListFilter):
    pass
