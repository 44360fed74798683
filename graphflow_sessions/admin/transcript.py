"""One page of a session's chat history, ready for the admin template.

A history can hold tens of thousands of messages; the page shows ``ADMIN_TRANSCRIPT_PAGE_SIZE``
of them, oldest first within the page, with links to the first, previous, next and newest
pages, so the newest messages are always one click away and a page stays small.

Opened with a search (the list's query, carried in ``q`` or ``_changelist_filters``), the
page starts at the first matching message, marks every match with ``<mark>`` (rendered here,
so it works without JavaScript), and links to the nearest match before and after the page.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..conf import app_settings
from ..contract.shape import MessageRole
from ..contract.types import Context, SerializableMessage
from ..search.marks import marked
from ..search.terms import SearchQuery

#: GET parameter of the change page that picks the transcript page ("last" for the newest).
PAGE_PARAMETER = "transcript_page"

#: Characters of pretty JSON shown inline per data key or for a broken context.
INLINE_JSON_CHARS = 20_000

ROLES_BY_NAME = {role.value: role for role in MessageRole}
ROLE_LABELS = {
    MessageRole.USER: _("User"),
    MessageRole.ASSISTANT: _("Assistant"),
    MessageRole.SYSTEM: _("System"),
}


@dataclass
class TranscriptMessage:
    number: int  # 1-based position in the whole history
    role: str  # the stored spelling: User, Assistant, System
    role_label: str
    content: str
    timestamp_text: str  # exactly as stored (RFC 3339, UTC)
    moment: datetime | None  # None when the text is no calendar date (February 30)
    marked: SafeString | None = None  # the content escaped, matches in <mark>; None: no match


@dataclass
class MatchLink:
    """A match outside the shown page: its transcript page and 1-based message number."""

    page: int
    number: int


@dataclass
class TranscriptPage:
    messages: list[TranscriptMessage]
    number: int
    num_pages: int
    total: int
    first_number: int
    last_number: int
    page_links: dict[str, int | None] = field(default_factory=dict)
    #: The search the page was opened with (None: none), the number of matching messages
    #: in the whole history, on this page, and the nearest ones before and after the page.
    query: SearchQuery | None = None
    match_count: int = 0
    matches_on_page: int = 0
    first_match_on_page: int | None = None  # its 1-based number, for an in-page link
    previous_match: MatchLink | None = None
    next_match: MatchLink | None = None

    @property
    def is_paginated(self) -> bool:
        return self.num_pages > 1


def transcript_message(number: int, message: SerializableMessage) -> TranscriptMessage:
    try:
        moment: datetime | None = message.timestamp
    except ValueError:  # passes the RFC 3339 pattern, not the calendar (February 30)
        moment = None
    return TranscriptMessage(
        number=number,
        role=message.role.value,
        role_label=str(ROLE_LABELS[message.role]),
        content=message.content,
        timestamp_text=message.timestamp_text,
        moment=moment,
    )


def page_number(requested: str | None, num_pages: int) -> int:
    """The page asked for: a number, "last", or the first page when missing or invalid."""
    if requested == "last":
        return num_pages
    try:
        number = int(requested or 1)
    except ValueError:
        return 1
    return min(max(number, 1), num_pages)


def transcript_page(
    context: Context,
    requested: str | None,
    query: SearchQuery | None = None,
    matches: list[int] | tuple[int, ...] = (),
) -> TranscriptPage:
    """The page ``requested`` (the first matching message's page when a search opened it
    without one); ``matches`` are the 0-based positions of the messages ``query`` finds."""
    size = max(int(app_settings.ADMIN_TRANSCRIPT_PAGE_SIZE), 1)
    messages = context.get_all_messages()
    total = len(messages)
    num_pages = max((total + size - 1) // size, 1)
    if requested is None and matches:
        number = matches[0] // size + 1
    else:
        number = page_number(requested, num_pages)
    start = (number - 1) * size
    shown = messages[start : start + size]
    page = TranscriptPage(
        messages=[transcript_message(start + i + 1, m) for i, m in enumerate(shown)],
        number=number,
        num_pages=num_pages,
        total=total,
        first_number=start + 1 if shown else 0,
        last_number=start + len(shown),
        page_links={
            "first": 1 if number > 1 else None,
            "previous": number - 1 if number > 1 else None,
            "next": number + 1 if number < num_pages else None,
            "last": num_pages if number < num_pages else None,
        },
    )
    if query is None:
        return page
    page.query, page.match_count = query, len(matches)
    first_here = bisect_left(matches, start)
    after_page = bisect_left(matches, start + len(shown))
    page.matches_on_page = after_page - first_here
    if page.matches_on_page:
        page.first_match_on_page = matches[first_here] + 1
    for position in matches[first_here:after_page]:
        message = page.messages[position - start]
        message.marked = marked(message.content, query)
    if first_here > 0:
        before = matches[first_here - 1]
        page.previous_match = MatchLink(before // size + 1, before + 1)
    if after_page < len(matches):
        after = matches[after_page]
        page.next_match = MatchLink(after // size + 1, after + 1)
    return page


def pretty_json(value: Any, limit: int = INLINE_JSON_CHARS) -> tuple[str, bool]:
    """Indented JSON cut to ``limit`` characters, and whether it was cut."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    if len(text) > limit:
        return text[:limit], True
    return text, False


@dataclass
class DataEntry:
    key: str
    json: str
    truncated: bool
    kind: str  # translated: object, list, text, number, boolean, null
    open: bool


def data_entries(data: Any) -> list[DataEntry]:
    """The context data as one collapsible entry per top-level key."""
    entries = []
    for key, value in data.items():
        text, truncated = pretty_json(value)
        kind = (
            _("object")
            if isinstance(value, dict)
            else _("list")
            if isinstance(value, list)
            else _("text")
            if isinstance(value, str)
            else _("boolean")
            if isinstance(value, bool)
            else _("null")
            if value is None
            else _("number")
        )
        entries.append(DataEntry(str(key), text, truncated, str(kind), open=len(text) <= 400))
    return entries
