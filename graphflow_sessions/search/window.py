"""The search without an index: the newest ``ADMIN_SEARCH_WINDOW`` sessions of the list.

Chat and data live inside the context, which no ordinary index covers, so this search reads
contexts: at most ``ADMIN_SEARCH_WINDOW`` of them, the most recently updated of the current
(filtered) list, once, on a table of any size. Every term must occur, ignoring case, in the
graph, the current task, the status message, a chat message's content or a string value of
the data (``expressions.ContextContainsText``); a prefix (``quok*``) and a phrase
(``"refund policy"``) are looked for as the text typed. Used where the full-text index is
not installed (SQLite, or a project that left it out); the caller says what was searched.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.db.models import Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from ..expressions import ContextContainsText
from .terms import SearchQuery

_EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)


def window_search(queryset: QuerySet[Any], query: SearchQuery, window: int | None) -> QuerySet[Any]:
    """The sessions of ``queryset`` among its newest ``window`` (None: all) that hold every
    term of ``query``."""
    candidates = queryset
    if window is not None:
        # The window is "updated at or after its oldest row", served by the updated_at
        # index. (Rows whose updated_at is NULL, which no graph-flow writer leaves, are
        # outside every window.)
        oldest_in_window = queryset.order_by("-updated_at", "-pk").values("updated_at")[
            int(window) - 1 : int(window)
        ]
        candidates = candidates.filter(
            updated_at__gte=Coalesce(Subquery(oldest_in_window), Value(_EARLIEST))
        )
    for term in query.terms:
        text = term.text
        candidates = candidates.filter(
            Q(graph_id__icontains=text)
            | Q(current_task_id__icontains=text)
            | Q(status_message__icontains=text)
            | Q(ContextContainsText(text))
        )
    if window is None:
        return candidates
    # Read the window's contexts once: the matching ids (at most ``window`` of them) are
    # fetched here, and the count and the page then look them up by primary key instead of
    # searching the contexts again for each.
    ids = list(candidates.order_by().values_list("pk", flat=True))
    return queryset.filter(pk__in=ids)
