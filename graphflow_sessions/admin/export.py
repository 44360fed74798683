"""Exports: sessions in their stored shape (JSON, JSON Lines) and one transcript as
Markdown or plain text.

The JSON exports stream row by row from the list database, so exporting thousands of
large sessions never holds them all in memory; each context is written as stored, even one
that breaks the contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..contract.types import Context
from ..routers import list_database

# The stored shape's columns, the same as graphflow_sessions_export writes (so an admin
# export can be read back by graphflow_sessions_import).
from ..transfer import EXPORT_FIELDS

_COMPACT = {"ensure_ascii": False, "separators": (",", ":")}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def stored_rows(queryset: QuerySet[Any]) -> Iterator[dict[str, Any]]:
    """Each session as a dict of its stored columns (context as stored JSON)."""
    rows = queryset.using(list_database()).order_by("-updated_at", "-id").values(*EXPORT_FIELDS)
    for row in rows.iterator(chunk_size=100):
        row["id"] = str(row["id"])
        yield {key: _plain(row[key]) for key in EXPORT_FIELDS}


def _json_array(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for index, row in enumerate(rows):
        yield ("," if index else "") + "\n" + json.dumps(row, **_COMPACT)  # type: ignore[arg-type]
    yield "\n]\n"


def _json_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, **_COMPACT) + "\n"  # type: ignore[arg-type]


def _filename(stem: str, extension: str) -> str:
    return f"{stem}-{timezone.now():%Y%m%d-%H%M%S}.{extension}"


def export_json(queryset: QuerySet[Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _json_array(stored_rows(queryset)), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("sessions", "json")}"'
    return response


def export_json_lines(queryset: QuerySet[Any]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _json_lines(stored_rows(queryset)), content_type="application/jsonl; charset=utf-8"
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
