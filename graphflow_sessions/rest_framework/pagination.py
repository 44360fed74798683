"""Pagination: a keyset cursor over sessions, offsets over one session's messages.

Sessions are listed newest first, ordered by ``(updated_at, id)`` and paged by a cursor
holding the last row's pair, so a page costs one indexed range scan (``gfs_updated_id_idx``)
however deep it is, no COUNT runs, and rows changing while a client pages never make it
see a row twice or skip one that did not change. (DRF's CursorPagination keys on one field
and an offset among equal values, which is not stable when rows change.)

Rows whose ``updated_at`` is NULL (allowed by graph-flow's table) come first, by id.
On SQLite the column holds text in more than one format, so the cursor carries the stored
text and compares text with text, which is the order SQLite sorts by.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

from django.db import connections
from django.db.models import F, Q, TextField, Value
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from ..conf import app_settings

_RAW_UPDATED = "_gfs_updated_text"


def _page_size_schema() -> dict[str, Any]:
    # A larger size is cut to the cap, never refused: the maximum tells clients the most
    # they can get.
    return {"type": "integer", "minimum": 1, "maximum": int(app_settings.API_MAX_PAGE_SIZE)}


def _page_size(request: Request, param: str) -> int:
    default = int(app_settings.API_PAGE_SIZE)
    cap = int(app_settings.API_MAX_PAGE_SIZE)
    raw = request.query_params.get(param)
    if raw is None:
        return min(default, cap)
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError({param: [_("expected a positive integer")]}) from None
    if size < 1:
        raise ValidationError({param: [_("expected a positive integer")]})
    return min(size, cap)


class SessionCursorPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        self.base_url = request.build_absolute_uri()
        size = _page_size(request, self.page_size_query_param)
        self.text_positions = connections[queryset.db].vendor == "sqlite"
        if self.text_positions:
            queryset = queryset.annotate(**{_RAW_UPDATED: Cast("updated_at", TextField())})
        cursor = self._decode(request.query_params.get(self.cursor_query_param))
        newest_first = (F("updated_at").desc(nulls_first=True), F("id").desc())
        oldest_first = (F("updated_at").asc(nulls_last=True), F("id").asc())
        self.next_position: tuple[Any, ...] | None = None
        self.previous_position: tuple[Any, ...] | None = None
        if cursor is None or not cursor[2]:
            if cursor is not None:
                queryset = queryset.filter(self._after(cursor[0], cursor[1]))
            rows = list(queryset.order_by(*newest_first)[: size + 1])
            if len(rows) > size:
                rows = rows[:size]
                self.next_position = (*self._position(rows[-1]), False)
            if cursor is not None:
                self.previous_position = (
                    (*self._position(rows[0]), True) if rows else (cursor[0], cursor[1], True)
                )
        else:
            queryset = queryset.filter(self._before(cursor[0], cursor[1]))
            rows = list(queryset.order_by(*oldest_first)[: size + 1])
            if len(rows) > size:
                rows = rows[:size]
                self.previous_position = (*self._position(rows[-1]), True)
            rows.reverse()
            self.next_position = (
                (*self._position(rows[-1]), False) if rows else (cursor[0], cursor[1], False)
            )
        return rows

    # Positions -----------------------------------------------------------------------------

    def _position(self, row: Any) -> tuple[Any, uuid.UUID]:
        updated = getattr(row, _RAW_UPDATED) if self.text_positions else row.updated_at
        return updated, row.id

    def _value(self, updated: Any) -> Any:
        # Text against text on SQLite; a timestamptz parameter elsewhere.
        return Value(updated, output_field=TextField()) if self.text_positions else updated

    def _after(self, updated: Any, row_id: uuid.UUID) -> Q:
        """Rows after (updated, id) in newest-first order."""
        if updated is None:
            return Q(updated_at__isnull=True, id__lt=row_id) | Q(updated_at__isnull=False)
        value = self._value(updated)
        # The first condition bounds the index scan; the second only sorts out ties.
        return Q(updated_at__lte=value) & (Q(updated_at__lt=value) | Q(id__lt=row_id))

    def _before(self, updated: Any, row_id: uuid.UUID) -> Q:
        """Rows before (updated, id) in newest-first order."""
        if updated is None:
            return Q(updated_at__isnull=True, id__gt=row_id)
        value = self._value(updated)
        return Q(updated_at__isnull=True) | (
            Q(updated_at__gte=value) & (Q(updated_at__gt=value) | Q(id__gt=row_id))
        )

    # Cursor text ---------------------------------------------------------------------------

    def _encode(self, position: tuple[Any, ...]) -> str:
        updated, row_id, backwards = position
        if isinstance(updated, datetime):
            updated = updated.isoformat()
        payload = json.dumps([updated, str(row_id), 1 if backwards else 0], separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def _decode(self, text: str | None) -> tuple[Any, uuid.UUID, bool] | None:
        if text is None:
            return None
        try:
            padded = text + "=" * (-len(text) % 4)
            updated, row_id, backwards = json.loads(base64.urlsafe_b64decode(padded))
            row_id = uuid.UUID(row_id)
            if updated is not None and not isinstance(updated, str):
                raise ValueError("bad timestamp")
            if updated is not None and not self.text_positions:
                moment = parse_datetime(updated)
                if moment is None or moment.tzinfo is None:
                    raise ValueError("bad timestamp")
                updated = moment.astimezone(timezone.utc)  # may raise OverflowError
            if backwards not in (0, 1):
                raise ValueError("bad direction")
        except (
            ValueError,
            TypeError,
            AttributeError,
            OverflowError,
            binascii.Error,
            UnicodeDecodeError,
        ):
            raise ValidationError(
                {self.cursor_query_param: [_("invalid cursor: use the next/previous links")]}
            ) from None
        return updated, row_id, bool(backwards)

    def _link(self, position: tuple[Any, ...] | None) -> str | None:
        if position is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, self._encode(position))

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self._link(self.next_position)),
                    ("previous", self._link(self.previous_position)),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": str(_("Opaque cursor from a next/previous link.")),
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(
                    _("Rows per page (API_PAGE_SIZE by default, at most API_MAX_PAGE_SIZE).")
                ),
                "schema": _page_size_schema(),
            },
        ]


class MessagePagination(LimitOffsetPagination):
    """``?offset=&limit=`` over one session's messages, oldest first; limit capped."""

    def get_limit(self, request: Request) -> int:
        return _page_size(request, self.limit_query_param)

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return int(app_settings.API_MAX_PAGE_SIZE)

    @property
    def default_limit(self) -> int:  # type: ignore[override]
        return int(app_settings.API_PAGE_SIZE)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: _page_size_schema(),
            self.offset_query_param: {"type": "integer", "minimum": 0},
        }
        for parameter in parameters:
            parameter["schema"] = bounds.get(parameter["name"], parameter["schema"])
        return parameters
