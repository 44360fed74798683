"""What the admin search box understands, turned into queries the indexes can serve.

- A whole session id (any spelling PostgreSQL accepts; on graph-flow 0.6's text table, any
  text that is a stored id): that session, by primary key.
- An id prefix of 8 to 31 hex digits (the short id the list shows, hyphens optional): a
  primary-key range, ``prefix000... <= id <= prefixfff...``, served by the primary key
  index; no extra index needed.
- Anything else: every word must occur (ignoring case) in the graph, the current task,
  the status message, a chat message or a data value. Chat and data are inside the context,
  which no index covers, so words are looked for in the newest ``ADMIN_SEARCH_WINDOW``
  sessions of the current (filtered) list only: a search reads at most that many contexts,
  once, on a table of any size. The graph, task and date filters reach older sessions.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.text import smart_split, unescape_string_literal

from ..conf import app_settings
from ..exceptions import InvalidSessionId
from ..expressions import ContextContainsText
from ..ids import is_session_id, parse_session_id
from ..storage.flavour import Flavour, flavour_of

#: Shortest hex prefix taken as an id: the short id the list shows (first UUID group).
MIN_ID_PREFIX = 8

_ID_PREFIX = re.compile(r"[0-9a-fA-F-]+")
_EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)


def id_prefix_range(term: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (lowest, highest) UUIDs starting with the hex prefix ``term``, or None."""
    if not _ID_PREFIX.fullmatch(term):
        return None
    digits = term.replace("-", "").lower()
    if not MIN_ID_PREFIX <= len(digits) < 32:
        return None
    low = uuid.UUID(digits.ljust(32, "0"))
    high = uuid.UUID(digits.ljust(32, "f"))
    return low, high


def _unquote(bit: str) -> str:
    if bit.startswith(('"', "'")) and bit[0] == bit[-1] and len(bit) > 1:
        return unescape_string_literal(bit)
    return bit


def search_sessions(queryset: QuerySet[Any], search_term: str) -> QuerySet[Any]:
    term = search_term.strip()
    if not term:
        return queryset
    try:
        return queryset.filter(pk=parse_session_id(term))
    except InvalidSessionId:
        pass
    prefix = id_prefix_range(term)
    if prefix is not None:
        low, high = prefix
        return queryset.filter(pk__gte=low, pk__lte=high)
    if flavour_of(connections[queryset.db]) is Flavour.TEXT_IDS:
        by_id = queryset.filter(pk=term)
        if is_session_id(term, text_ids=True) and by_id.exists():  # one index probe
            return by_id
    words = [_unquote(bit) for bit in smart_split(term)]
    words = [word for word in words if word]
    if not words:
        return queryset
    window = app_settings.ADMIN_SEARCH_WINDOW
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
    for bit in words:
        candidates = candidates.filter(
            Q(graph_id__icontains=bit)
            | Q(current_task_id__icontains=bit)
            | Q(status_message__icontains=bit)
            | Q(ContextContainsText(bit))
        )
    if window is None:
        return candidates
    # Read the window's contexts once: the matching ids (at most ``window`` of them) are
    # fetched here, and the count and the page then look them up by primary key instead of
    # searching the contexts again for each.
    ids = list(candidates.order_by().values_list("pk", flat=True))
    return queryset.filter(pk__in=ids)
