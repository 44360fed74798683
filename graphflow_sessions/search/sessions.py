"""The one way the admin and the REST API search sessions, and find the matching messages
of one session.

``search_sessions(queryset, text)`` chooses how to answer what was typed:

1. an id or id prefix: the primary key (``ids``), complete;
2. words on PostgreSQL with the full-text index installed: the index, over the whole table,
   complete once the index has been filled;
3. anywhere else (SQLite, or a project that left the index out): the window search
   (``window``), over the newest ``ADMIN_SEARCH_WINDOW`` sessions of the list.

It returns the restricted queryset (ordering and the caller's filters kept) with whether the
results are complete and what was searched, which the admin shows on the page and the API
sends as the ``X-Search-Complete`` / ``X-Search-Scope`` headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.db.models import QuerySet
from django.utils import formats
from django.utils.translation import gettext as _

from ..conf import app_settings
from ..models import Session
from ..routers import sessions_database
from . import postgres
from .ids import sessions_by_id
from .marks import matches
from .terms import SearchQuery, parse_query
from .window import window_search


class SearchScope(Enum):
    #: Every session of the list (by id, by the complete index, or an unbounded window).
    ALL = "all"
    #: The sessions the index holds so far: it is still being filled.
    INDEXED = "indexed"
    #: The newest ``window`` sessions of the list only.
    NEWEST = "newest"


@dataclass(frozen=True)
class SessionSearch:
    queryset: QuerySet[Any]
    scope: SearchScope
    #: True when the list is walked in its own order and each session checked (a common
    #: word): its first rows are quick to read, while a count or a minimum would check
    #: every session of the list. False when nothing is searched or the matches are a set
    #: found first (by id, through the index's rare term, among the window's sessions).
    walks_list: bool
    #: How many sessions the window search read at most (``SearchScope.NEWEST`` only).
    window: int | None = None

    @property
    def complete(self) -> bool:
        """False when a matching session may be missing from ``queryset``."""
        return self.scope is SearchScope.ALL

    @property
    def scope_header(self) -> str:
        """What was searched, for the ``X-Search-Scope`` header: ``all``, ``indexed``, or
        ``newest=2000``."""
        if self.scope is SearchScope.NEWEST:
            return f"{self.scope.value}={self.window}"
        return self.scope.value

    def describe(self) -> str:
        """What was searched, for a person (translated)."""
        if self.scope is SearchScope.NEWEST:
            return _(
                "Only the %(count)s most recently updated sessions of this list were searched "
                "(no full-text index here): filter by graph, task or date to reach older ones."
            ) % {"count": formats.number_format(self.window or 0, force_grouping=True)}
        if self.scope is SearchScope.INDEXED:
            return _(
                "The search index is still being built: sessions not indexed yet are missing "
                "from these results."
            )
        return _("Every session of this list was searched.")


def search_sessions(queryset: QuerySet[Any], text: str) -> SessionSearch:
    """The sessions of ``queryset`` that ``text`` finds, and how completely it looked."""
    stripped = text.strip()
    if not stripped:
        return SessionSearch(queryset, SearchScope.ALL, walks_list=False)
    by_id = sessions_by_id(queryset, stripped)
    if by_id is not None:
        return SessionSearch(by_id, SearchScope.ALL, walks_list=False)
    query = parse_query(stripped)
    if not query:
        return SessionSearch(queryset, SearchScope.ALL, walks_list=False)
    state = postgres.progress(queryset.db)  # None where the index is not installed
    if state is not None:
        _, complete = state
        scope = SearchScope.ALL if complete else SearchScope.INDEXED
        matches = postgres.filter_sessions(queryset, query)
        return SessionSearch(matches.queryset, scope, walks_list=not matches.from_index)
    window = app_settings.ADMIN_SEARCH_WINDOW
    found = window_search(queryset, query, window)
    if window is None:
        return SessionSearch(found, SearchScope.ALL, walks_list=True)
    return SessionSearch(found, SearchScope.NEWEST, walks_list=False, window=int(window))


def matching_messages(session: Session, text: str | SearchQuery) -> list[int]:
    """The 0-based positions in ``session``'s current history of the messages where a term
    of ``text`` occurs, ascending: the index's answer once it holds every session, else
    ``marks.matches`` over the loaded history."""
    query = text if isinstance(text, SearchQuery) else parse_query(text)
    if not query:
        return []
    using = session._state.db or sessions_database()
    if postgres.index_complete(using):
        return postgres.message_positions(using, session.pk, query)
    return [
        position
        for position, message in enumerate(session.context.get_all_messages())
        if matches(message.content, query)
    ]
