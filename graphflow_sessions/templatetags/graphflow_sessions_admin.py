"""The session list's template tags: the result table (``session_result_list``, its rows
written by ``admin.rows``) and the date drill-down, built from the first and last date only.

Django's ``date_hierarchy`` lists the years, months or days that have rows with
``SELECT DISTINCT date_trunc(...)`` over every matching row: a full scan on a million
sessions, on every page view. Here one ``MIN``/``MAX`` query (two probes of the updated_at
index) gives the range, and every year, month or day inside it is offered. A bucket in the
middle of the range may be empty; that is the price of not scanning.
"""

from __future__ import annotations

import datetime
import inspect
from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import result_headers, result_hidden_fields
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from ..admin.rows import session_results

register = template.Library()


def _months(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def _range(cl: Any, field_name: str) -> tuple[datetime.date, datetime.date] | None:
    column: Any = models.F(field_name)
    search = getattr(cl, "search", None)
    if cl.query and not (search is not None and search.walks_list):
        # Most searches find a few rows another way (ids, the text index's rare word). Min/
        # max of the bare column would let PostgreSQL walk the date index from one end until
        # it meets one of them (most of the index); wrapped, the column is aggregated over
        # the found rows instead. A search that walks the list (a common word) is the
        # opposite: the bare column's walk from either end meets a match at once, while the
        # aggregate would check every session.
        column = Coalesce(field_name, field_name)
    bounds = cl.queryset.aggregate(first=models.Min(column), last=models.Max(column))
    first, last = bounds["first"], bounds["last"]
    if first is None or last is None:
        return None
    if isinstance(first, datetime.datetime):
        first = timezone.localtime(first) if timezone.is_aware(first) else first
        last = timezone.localtime(last) if timezone.is_aware(last) else last
        return first.date(), last.date()
    return first, last


def session_date_hierarchy(cl: Any) -> dict[str, Any]:
    field_name = cl.date_hierarchy
    field = get_fields_from_path(cl.model, field_name)[-1]
    year_field, month_field, day_field = (f"{field_name}__{p}" for p in ("year", "month", "day"))
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters: dict[str, Any]) -> str:
        return str(cl.get_query_string(filters, [f"{field_name}__"]))

    base = {"show": True, "field_name": field.verbose_name}
    if year and month and day:
        date = datetime.date(int(year), int(month), int(day))
        return base | {
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(date, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(date, "MONTH_DAY_FORMAT"))}],
        }
    bounds = _range(cl, field_name)
    if bounds is None:
        return base | {"back": None, "choices": []}
    first, last = bounds
    if not (year or month) and first.year == last.year:
        year = str(first.year)  # as Django does: start at the level where choices differ
        if first.month == last.month:
            month = str(first.month)
    if year and month:
        days = [
            first + datetime.timedelta(days=offset) for offset in range((last - first).days + 1)
        ]
        return base | {
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
        }
    if year:
        return base | {
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({year_field: year, month_field: m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in _months(first, last)
            ],
        }
    return base | {
        "back": None,
        "choices": [
            {"link": link({year_field: str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
    }


def session_result_list(cl: Any) -> dict[str, Any]:
    """Django's ``result_list`` (the headers, the hidden fields and the rows of the page),
    with the rows written by ``admin.rows``."""
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": list(session_results(cl)),
    }


# Django 6.0 added a leading ``name`` argument to InclusionAdminNode; 5.2 has none.
_NODE_TAKES_NAME = "name" in inspect.signature(InclusionAdminNode.__init__).parameters


def _inclusion_node(
    name: str, parser: Any, token: Any, func: Any, template_name: str
) -> InclusionAdminNode:
    leading = (name,) if _NODE_TAKES_NAME else ()
    node: Any = InclusionAdminNode  # its signature depends on the Django version
    return node(
        *leading, parser, token, func=func, template_name=template_name, takes_context=False
    )


@register.tag(name="session_date_hierarchy")
def session_date_hierarchy_tag(parser: Any, token: Any) -> InclusionAdminNode:
    return _inclusion_node(
        "date_hierarchy", parser, token, session_date_hierarchy, "date_hierarchy.html"
    )


@register.tag(name="session_result_list")
def session_result_list_tag(parser: Any, token: Any) -> InclusionAdminNode:
    return _inclusion_node(
        "result_list", parser, token, session_result_list, "change_list_results.html"
    )
