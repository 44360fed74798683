"""The one way the admin writes a moment: the session list, the session page and the
transcript all show ``2026-03-01 07:36`` in the viewer's time zone (Django's active one:
``TIME_ZONE``, or what a middleware passes to ``timezone.activate``), the full timestamp with
seconds, zone and UTC on hover.

Short enough for a list column (it wraps between date and time when the column is narrow),
the same in every language, and sortable by eye.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

DAY_FORMAT, CLOCK_FORMAT = "%Y-%m-%d", "%H:%M"
FULL_FORMAT = "%Y-%m-%d %H:%M:%S %Z (UTC%z)"


def _utc_text(moment: datetime) -> str:
    utc = moment.astimezone(dt_timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@register.filter(name="session_time")
def session_time(moment: datetime | None, exact: str | None = None) -> SafeString | str:
    """``moment`` as ``<time>``: short and local, the full local time and the UTC instant
    (``exact`` when given, e.g. a message's stored RFC 3339 text) in its title."""
    if moment is None:
        return "-"
    if timezone.is_naive(moment):  # USE_TZ = False: the database's wall clock, shown as is
        return format_html(
            '<time class="gfs-time" title="{}">{}</time>',
            moment.strftime("%Y-%m-%d %H:%M:%S"),
            _short(moment),
        )
    local = timezone.localtime(moment)
    utc = _utc_text(moment)
    return format_html(
        '<time class="gfs-time" datetime="{}" title="{} · {} UTC">{}</time>',
        utc,
        local.strftime(FULL_FORMAT),
        exact or utc,
        _short(local),
    )


def _short(moment: datetime) -> SafeString:
    # The date never breaks at its hyphens: in a narrow column the time goes below it.
    return format_html(
        '<span class="gfs-day">{}</span> {}',
        moment.strftime(DAY_FORMAT),
        moment.strftime(CLOCK_FORMAT),
    )
