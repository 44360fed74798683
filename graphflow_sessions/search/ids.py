"""A search box's text that names sessions by id, answered by the primary key index.

- A whole session id (any spelling PostgreSQL accepts; on graph-flow 0.6's text table, any
  text that is a stored id): that session.
- An id prefix of 8 to 31 hex digits (the short id the admin list shows, hyphens optional):
  a primary-key range, ``prefix000... <= id <= prefixfff...``; no extra index needed.

Tried before any word search, so pasting an id never reads a context.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from ..exceptions import InvalidSessionId
from ..ids import is_session_id, parse_session_id
from ..storage.flavour import Flavour, flavour_of

#: Shortest hex prefix taken as an id: the short id the list shows (first UUID group).
MIN_ID_PREFIX = 8

_ID_PREFIX = re.compile(r"[0-9a-fA-F-]+")


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


def sessions_by_id(queryset: QuerySet[Any], text: str) -> QuerySet[Any] | None:
    """The sessions ``text`` names as an id or id prefix, or None when it names none."""
    try:
        return queryset.filter(pk=parse_session_id(text))
    except InvalidSessionId:
        pass
    prefix = id_prefix_range(text)
    if prefix is not None:
        low, high = prefix
        return queryset.filter(pk__gte=low, pk__lte=high)
    if flavour_of(connections[queryset.db]) is Flavour.TEXT_IDS:
        by_id = queryset.filter(pk=text)
        if is_session_id(text, text_ids=True) and by_id.exists():  # one index probe
            return by_id
    return None


def names_an_id(text: str) -> bool:
    """Whether ``text`` is a whole UUID or an id prefix (what ``sessions_by_id`` takes for
    an id on every table, before looking anything up)."""
    try:
        parse_session_id(text)
    except InvalidSessionId:
        return id_prefix_range(text) is not None
    return True
