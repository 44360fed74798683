"""The admin overview page: who may see it, the cache, and the charts and links it shows.

The numbers come from ``overview.build_overview``; they are kept in Django's cache for
``ADMIN_OVERVIEW_CACHE_SECONDS`` (the page says as of when, with a link to count again).
Every bar of "where sessions wait" links to the session list filtered to exactly the
sessions it counts: graph, task and the updated_at range of its idle bucket, as of the
moment the numbers were taken (the list's own graph, task and updated_at filters).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import ModelAdmin
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conf import app_settings
from ..models import Session
from ..routers import list_database
from . import charts
from .overview import (
    DAY_CHOICES,
    LENGTH_BUCKETS,
    DayCount,
    IdleRange,
    Overview,
    TaskWait,
    build_overview,
)

TEMPLATE = "admin/graphflow_sessions/session/overview.html"

IDLE_LABELS = {
    "hour": gettext_lazy("idle under 1 hour"),
    "day": gettext_lazy("idle 1 hour to 1 day"),
    "week": gettext_lazy("idle 1 to 7 days"),
    "older": gettext_lazy("idle over 7 days"),
}

AGE_LABELS = {
    "day": gettext_lazy("updated in the last day"),
    "week": gettext_lazy("1 to 7 days ago"),
    "month": gettext_lazy("7 to 30 days ago"),
    "quarter": gettext_lazy("30 to 90 days ago"),
    "year": gettext_lazy("90 to 365 days ago"),
    "older": gettext_lazy("over a year ago"),
}


def chosen_days(request: HttpRequest) -> int:
    """``?days=`` when it is one of DAY_CHOICES, else the first choice."""
    try:
        days = int(request.GET.get("days", ""))
    except ValueError:
        return DAY_CHOICES[0]
    return days if days in DAY_CHOICES else DAY_CHOICES[0]


def cached_overview(days: int, *, refresh: bool) -> Overview:
    alias = list_database()
    seconds = int(app_settings.ADMIN_OVERVIEW_CACHE_SECONDS)
    if seconds <= 0:
        return build_overview(Session.objects.using(alias), days=days)
    cache = caches[app_settings.ADMIN_OVERVIEW_CACHE]
    # Days are counted in the viewer's time zone, so each zone has its own numbers.
    key = f"graphflow_sessions:overview:{alias}:{days}:{timezone.get_current_timezone_name()}"
    overview = None if refresh else cache.get(key)
    if overview is None:
        overview = build_overview(Session.objects.using(alias), days=days)
        cache.set(key, overview, seconds)
    return overview


def list_url(base: str, **params: Any) -> str:
    """``base`` (the session list's URL) with the filters in ``params``."""
    url = base
    query = {key: value for key, value in params.items() if value is not None}
    return f"{url}?{urlencode(query)}" if query else url


def range_params(span: IdleRange) -> dict[str, str | None]:
    return {
        "updated_at__gte": span.since.isoformat() if span.since else None,
        "updated_at__lt": span.before.isoformat() if span.before else None,
    }


def _task_row(base: str, task: TaskWait, scale: int) -> dict[str, Any]:
    where = {"graph_id": task.graph_id, "current_task_id": task.task_id}
    buckets: list[dict[str, Any]] = []
    for key, (count, span) in task.idle.items():
        buckets.append(
            {
                "label": IDLE_LABELS[key],
                "count": count,
                "url": list_url(base, **where, **range_params(span)),
            }
        )
    unknown_url = list_url(base, **where, updated_at__isnull="True")
    segments = [
        charts.Bar(
            bucket["count"],
            _("%(task)s, %(label)s: %(count)d") % {"task": task.task_id, **bucket},
            bucket["url"],
        )
        for bucket in buckets
    ]
    return {
        "task": task,
        "url": list_url(base, **where),
        "buckets": buckets,
        "unknown_url": unknown_url,
        "bar": charts.stacked_bar(
            segments,
            label=_("Sessions waiting at %(task)s by idle time") % {"task": task.task_id},
            scale=scale,
        ),
    }


def _day_chart(days: list[DayCount], label: str) -> Any:
    bars = [
        charts.Bar(
            day.sessions,
            _("%(day)s: %(count)d") % {"day": date_format(day.day), "count": day.sessions},
        )
        for day in days
    ]
    return charts.column_chart(bars, label=label)


def page_context(model_admin: ModelAdmin, overview: Overview) -> dict[str, Any]:
    # Reversed once: the page has several links per task.
    base = reverse(
        f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist",
        current_app=model_admin.admin_site.name,
    )
    graphs = []
    for graph in overview.graphs:
        scale = max((task.total for task in graph.waiting), default=0)
        graphs.append(
            {
                "graph": graph,
                "url": list_url(base, graph_id=graph.graph_id),
                "waiting": [_task_row(base, task, scale) for task in graph.waiting],
                "done": [
                    {
                        "task": task,
                        "url": list_url(base, graph_id=task.graph_id, current_task_id=task.task_id),
                    }
                    for task in graph.done
                ],
            }
        )
    history = overview.history
    length_scale = max(history.lengths.values(), default=0)
    lengths = [
        {
            "label": key,
            "count": history.lengths[key],
            "bar": charts.stacked_bar(
                [
                    charts.Bar(
                        history.lengths[key],
                        _("%(label)s messages: %(count)d")
                        % {"label": key, "count": history.lengths[key]},
                    )
                ],
                label=_("Histories of %(label)s messages") % {"label": key},
                scale=length_scale,
                width=300,
            ),
        }
        for key, _low, _high in LENGTH_BUCKETS
    ]
    storage = overview.storage
    return {
        "overview": overview,
        "day_choices": DAY_CHOICES,
        "started_chart": _day_chart(overview.started, _("Sessions started per day")),
        "updated_chart": _day_chart(overview.updated, _("Sessions last updated per day")),
        "days_table": list(zip(overview.started, overview.updated, strict=True)),
        "graphs": graphs,
        "idle_legend": charts.legend([str(label) for label in IDLE_LABELS.values()]),
        "idle_labels": list(IDLE_LABELS.values()),
        "lengths": lengths,
        "by_age": [
            {
                "label": AGE_LABELS[row.key],
                "row": row,
                "url": list_url(base, **range_params(row.range)),
            }
            for row in storage.by_age
        ],
        "largest": [
            {
                "session": session,
                "url": reverse(
                    f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_change",
                    args=[session.pk],
                    current_app=model_admin.admin_site.name,
                ),
            }
            for session in storage.largest
        ],
        "cache_seconds": int(app_settings.ADMIN_OVERVIEW_CACHE_SECONDS),
        "refresh_url": f"?days={overview.days}&refresh=1",
        "list_url": list_url(base),
    }


def overview_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The page, for staff (the admin's own check) with the view permission on sessions."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    overview = cached_overview(chosen_days(request), refresh="refresh" in request.GET)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Sessions overview"),
        **page_context(model_admin, overview),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)
