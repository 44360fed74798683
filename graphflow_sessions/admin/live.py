"""Live transcripts: what a session's page polls for to show new messages without a reload.

The page knows how many messages the history had when it was drawn and a digest of the last
one. Each poll first reads the row's version and updated_at only (the context stays in the
database, its TOAST untouched): while the ETag they make is the one the page sent, the answer
is 304. Otherwise one more query has the database count the messages and cut out the last
known one and those after it (``MessageCount``, ``MessagesSlice``), so only the tail travels
however long the history is. A history at its max_messages drops its oldest messages as new
ones come, so the last known message may be found up to a page earlier: the answer says by
how much (``shift``) and the page renumbers what it shows. When the last known message is not
there at all (the history was cleared or rewritten by any writer), the answer says so and the
page offers a reload rather than appending messages that may repeat or miss some.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import get_conditional_response
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..conf import app_settings
from ..contract.shape import check_message
from ..contract.types import SerializableMessage
from ..etags import etag_for, session_etag
from ..exceptions import ContextDeserializationError
from ..expressions import MessageCount, MessagesSlice
from ..models import Session
from .transcript import transcript_message

#: GET parameters of a poll: how many messages the page knows, the digest of the last one,
#: whether the page shows the newest messages (then it wants them, else only a count), and
#: the number of the first message it shows (for its "Messages 201-250 of 250" line).
AFTER, ANCHOR, APPEND, FIRST = "after", "anchor", "append", "first"

#: The shortest wait between polls, whatever ADMIN_LIVE_POLL_SECONDS says.
MIN_POLL_SECONDS = 0.25

MESSAGE_TEMPLATE = "admin/graphflow_sessions/session/transcript_message.html"
COUNT_TEMPLATE = "admin/graphflow_sessions/session/transcript_count.html"


def message_digest(role: str, timestamp: str, content: str) -> str:
    """A short fingerprint of one message, to tell whether it is still where the page saw it."""
    text = "\x00".join((role, timestamp, content))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def digest_of(message: SerializableMessage) -> str:
    return message_digest(message.role.value, message.timestamp_text, message.content)


def poll_seconds() -> tuple[float, float] | None:
    """The shortest and longest wait between polls, or None when live transcripts are off."""
    setting = app_settings.ADMIN_LIVE_POLL_SECONDS
    if setting is None:
        return None
    shortest, longest = (float(value) for value in setting)
    # Never a tight loop: every open page would poll the database as fast as it answers.
    shortest = max(shortest, MIN_POLL_SECONDS)
    return shortest, max(longest, shortest)


def page_state(
    url: str, obj: Session, messages: list[SerializableMessage], first: int, newest: bool
) -> Any:
    """What the session page hands its script, or None when live transcripts are off."""
    seconds = poll_seconds()
    if seconds is None:
        return None
    # Numbers as text: a template would localize them ("0,5", "10.000"), which the script
    # and the poll's parameters must not see.
    return {
        "url": url,
        "first": str(first),
        "after": str(len(messages)),
        "anchor": digest_of(messages[-1]) if messages else "",
        "etag": session_etag(obj),
        "append": newest,
        "poll": f"{seconds[0]:g} {seconds[1]:g}",
    }


@dataclass(frozen=True)
class Position:
    """Where the page is: ``after`` messages known, the last one with digest ``anchor``."""

    after: int
    anchor: str
    append: bool
    first: int

    @classmethod
    def from_query(cls, query: Any) -> Position:
        """The poll's parameters; ValueError saying what is wrong with them."""
        try:
            after = int(query.get(AFTER, ""))
        except ValueError:
            raise ValueError(_("after must be a whole number of messages.")) from None
        if not 0 <= after < MessagesSlice.PAST_ANY_END:
            raise ValueError(_("after must be between 0 and %(max)d.") % {"max": 2**31 - 2})
        anchor = query.get(ANCHOR, "")
        if after and not (len(anchor) == 32 and all(c in "0123456789abcdef" for c in anchor)):
            raise ValueError(_("anchor must be the digest of message number after."))
        try:
            first = int(query.get(FIRST) or 0)
        except ValueError:
            raise ValueError(_("first must be a whole number of messages.")) from None
        return cls(after, anchor, query.get(APPEND) == "1", min(max(first, 0), after))


def find(queryset: QuerySet[Any], object_id: str) -> Session | None:
    """The session ``object_id`` of ``queryset`` (the admin's, so scoped as the change page
    is) without its context, or None."""
    try:
        key = queryset.model._meta.pk.to_python(unquote(object_id))
        return queryset.defer("context").get(pk=key)
    except (queryset.model.DoesNotExist, ValidationError, ValueError):
        return None


def _with_etag(response: HttpResponse, etag: str) -> HttpResponse:
    # The admin's views are never cached (admin_view adds no-store): polls revalidate with
    # If-None-Match themselves, a cached copy would replay old news.
    response["ETag"] = etag
    return response


def tail_response(request: HttpRequest, queryset: QuerySet[Any], obj: Session) -> HttpResponse:
    """304 while ``obj`` is as the poll last saw it; else the messages after its position."""
    try:
        position = Position.from_query(request.GET)
    except ValueError as error:
        return JsonResponse({"error": str(error)}, status=400)
    etag = session_etag(obj)
    if isinstance(get_conditional_response(request, etag=etag), HttpResponseNotModified):
        return _with_etag(HttpResponseNotModified(), etag)
    page_size = max(int(app_settings.ADMIN_TRANSCRIPT_PAGE_SIZE), 1)
    wanted = page_size if position.append else 0
    # The last known message comes too, to check it is still there.
    row = _tail(queryset, obj, max(position.after - 1, 0), wanted + (1 if position.after else 0))
    if row is None:
        return JsonResponse({"error": _("This session no longer exists.")}, status=404)
    count, tail, version, updated_at = row
    shift = 0
    if position.after and not _is_anchor(tail[:1], position.anchor):
        # A history at its max_messages drops its oldest messages as new ones come (and a
        # trim drops them too): the last known message is then up to a page further back.
        back = min(page_size, position.after - 1)
        row = _tail(queryset, obj, position.after - 1 - back, back + 1 + wanted)
        if row is None:
            return JsonResponse({"error": _("This session no longer exists.")}, status=404)
        count, window, version, updated_at = row
        found = next(
            (
                index
                for index in range(min(back, len(window) - 1), -1, -1)
                if _is_anchor(window[index : index + 1], position.anchor)
            ),
            None,
        )
        if found is None:
            return _with_etag(JsonResponse(_changed()), etag_for(version, updated_at))
        shift, tail = back - found, window[found:]
    answer = _answer(position, count, tail, shift)
    return _with_etag(JsonResponse(answer), etag_for(version, updated_at))


def _tail(queryset: QuerySet[Any], obj: Session, start: int, length: int) -> Any:
    """The history's length, ``length`` messages from ``start`` (cut in the database), and
    the row's version and updated_at; None when the session is gone."""
    return (
        queryset.filter(pk=obj.pk)
        .annotate(live_count=MessageCount(), live_tail=MessagesSlice(start, length))
        .values_list("live_count", "live_tail", "version", "updated_at")
        .first()
    )


def _is_anchor(messages: list[Any], anchor: str) -> bool:
    """Whether the one message of ``messages`` is the page's last known one."""
    if not messages:
        return False
    try:
        role, content, timestamp = check_message(messages[0])
    except ContextDeserializationError:
        return False
    return message_digest(role.value, timestamp, content) == anchor


def _changed() -> dict[str, Any]:
    return {
        "reload": True,
        "notice": _(
            "This session's history changed in a way that cannot be added to this page "
            "(trimmed, cleared or rewritten)."
        ),
        "link": _("Reload the page"),
    }


def _answer(position: Position, count: int | None, tail: list[Any], shift: int) -> dict[str, Any]:
    """``tail`` starts with the last known message (when the page knows one), which is now
    ``shift`` places earlier than the page saw it (the oldest messages were dropped)."""
    known = position.after - shift  # the page's messages still in the history
    if count is None or count < known:
        return _changed()
    if position.after:
        tail = tail[1:]
    if not position.append:
        waiting = count - known
        return {
            "total": count,
            "new": waiting,
            "notice": ngettext(
                "%(count)d new message since this page was loaded.",
                "%(count)d new messages since this page was loaded.",
                waiting,
            )
            % {"count": waiting}
            if waiting
            else "",
            "link": _("Show the newest messages"),
        }
    try:
        shown = [
            SerializableMessage(*check_message(raw, f"messages[{known + index}]"))
            for index, raw in enumerate(tail)
        ]
    except ContextDeserializationError:
        return _changed()
    after = known + len(shown)
    html = "".join(
        render_to_string(
            MESSAGE_TEMPLATE,
            {"message": transcript_message(known + index + 1, message), "is_new": True},
        )
        for index, message in enumerate(shown)
    )
    first = max((position.first or 1) - shift, 1)
    return {
        "total": count,
        "summary": render_to_string(
            COUNT_TEMPLATE, {"first": first, "last": after, "total": count}
        ).strip(),
        "after": after,
        "anchor": digest_of(shown[-1]) if shown else position.anchor,
        # The page renumbers its messages by this much and drops those numbered below 1.
        "shift": shift,
        "first": first,
        "new": len(shown),
        "more": count > after,
        "html": html,
        "notice": ngettext("%(count)d new message.", "%(count)d new messages.", len(shown))
        % {"count": len(shown)}
        if shown
        else "",
    }
