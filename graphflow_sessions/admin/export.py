"""Exports: sessions in their stored shape (JSON, JSON Lines) and one transcript as
Markdown or plain text.

The JSON exports stream from the list database, a chunk of rows at a time, so exporting
thousands of large sessions never holds them all in memory; each context is written as
stored, even one that breaks the contract. Both hold the lines that
``graphflow_sessions_export`` writes (``transfer.iter_queryset_lines``, in id order): the
JSON Lines export is read back by ``graphflow_sessions_import`` as it is, the JSON export
is those lines as one array.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..contract.types import Context
from ..routers import list_database
from ..transfer import iter_queryset_lines

_COMPACT = {"ensure_ascii": False, "separators": (",", ":")}
# Rows read per query: an admin worker holds at most this many contexts at once.
_CHUNK_SIZE = 100


def _stored_lines(queryset: QuerySet[Any]) -> Iterator[str]:
    return iter_queryset_lines(queryset.using(list_database()), chunk_size=_CHUNK_SIZE)


def _json_array(lines: Iterable[str]) -> Iterator[str]:
    # Each line is one session's JSON object: the array is the lines, comma separated.
    yield "["
    for index, line in enumerate(lines):
        yield ("," if index else "") + "\n" + line.rstrip("\n")
    yield "\n]\n"


def _filename(stem: str, extension: str) -> str:
    return f"{stem}-{timezone.now():%Y%m%d-%H%M%S}.{extension}"


def export_json(queryset: QuerySet[Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _json_array(_stored_lines(queryset)), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("sessions", "json")}"'
    return response


def export_json_lines(queryset: QuerySet[Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _stored_lines(queryset), content_type="application/jsonl; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("sessions", "jsonl")}"'
    return response


def _header_lines(session: Any, context: Context) -> list[tuple[str, str]]:
    limit = context.max_messages
    return [
        (_("Graph"), session.graph_id),
        (_("Current task"), session.current_task_id),
        (_("Status message"), session.status_message or "-"),
        (_("Created"), session.created_at.isoformat() if session.created_at else "-"),
        (_("Updated"), session.updated_at.isoformat() if session.updated_at else "-"),
        (_("Messages"), str(context.chat_history_len())),
        (_("Max messages"), _("no limit") if limit is None else str(limit)),
    ]


def transcript_markdown(session: Any) -> str:
    """The whole transcript as Markdown; message text is quoted so it cannot break headings."""
    context: Context = session.context
    lines = ["# " + _("Session %(id)s") % {"id": session.pk}, ""]
    lines += [f"- **{label}:** {value}" for label, value in _header_lines(session, context)]
    for number, message in enumerate(context.get_all_messages(), start=1):
        lines += ["", f"## {number}. {message.role.value} · {message.timestamp_text}", ""]
        lines += [f"> {line}" if line else ">" for line in message.content.split("\n")]
    return "\n".join(lines) + "\n"


def transcript_text(session: Any) -> str:
    """The whole transcript as plain text; message lines are indented under their header."""
    context: Context = session.context
    lines = [_("Session %(id)s") % {"id": session.pk}]
    lines += [f"{label}: {value}" for label, value in _header_lines(session, context)]
    for number, message in enumerate(context.get_all_messages(), start=1):
        lines += ["", f"[{number}] {message.timestamp_text} {message.role.value}:"]
        lines += [f"    {line}" for line in message.content.split("\n")]
    return "\n".join(lines) + "\n"


def transcript_response(session: Any, kind: str) -> HttpResponse:
    if kind == "md":
        body, content_type = transcript_markdown(session), "text/markdown; charset=utf-8"
    else:
        body, content_type = transcript_text(session), "text/plain; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}.{kind}"'
    return response


def raw_context_response(session: Any, *, download: bool) -> HttpResponse:
    """The stored context JSON: indented to read in the browser, compact to download."""
    raw = session.raw_context
    if download:
        body = json.dumps(raw, **_COMPACT)  # type: ignore[arg-type]
    else:
        body = json.dumps(raw, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    if download:
        response["Content-Disposition"] = (
            f'attachment; filename="session-{session.pk}-context.json"'
        )
    return response
