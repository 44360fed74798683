"""List filters: graph, current task, dates, and context data (``?data.insurance_type=car``).

Data filters name a key path below ``data`` (``?data.claim_details.insurance_type=car``)
and match the stored value exactly. The value is text; when it also reads as a JSON
scalar (``3``, ``true``, ``null``) a stored number, boolean or null matches as well, so
``?data.retry_count=3`` finds ``3`` and ``"3"``. On PostgreSQL each filter is a jsonb
containment, ``context -> 'data' @> '{"insurance_type": "car"}'``, served by the
``gfs_context_data_gin`` index; elsewhere it compares the extracted value.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

import django_filters
from django import forms
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from rest_framework.exceptions import ValidationError

from ..contract.jsontext import encode_json
from ..exceptions import ContextSerializationError
from ..models import Session

DATA_PREFIX = "data."
#: More data filters than this in one request is refused (each one is a containment test).
MAX_DATA_FILTERS = 20


class UTCDateTimeField(IsoDateTimeField):
    """ISO 8601 in, UTC out: PostgreSQL refuses offsets beyond 15:59 (ISO allows 23:59), and
    a moment near year 1 or 9999 may not exist in UTC; both are the client's mistake (400)."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            raise forms.ValidationError(
                _("%(value)s is out of range in UTC"), params={"value": value}
            ) from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class SessionFilterSet(django_filters.FilterSet):
    graph = django_filters.CharFilter(field_name="graph_id", help_text=_("Exact graph id."))
    current_task = django_filters.CharFilter(
        field_name="current_task_id", help_text=_("Exact current task id.")
    )
    created_after = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text=_("Created at or after (ISO 8601).")
    )
    created_before = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text=_("Created before (ISO 8601).")
    )
    updated_after = UTCDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text=_("Updated at or after (ISO 8601).")
    )
    updated_before = UTCDateTimeFilter(
        field_name="updated_at", lookup_expr="lt", help_text=_("Updated before (ISO 8601).")
    )

    class Meta:
        model = Session
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Session]) -> QuerySet[Session]:
        queryset = super().filter_queryset(queryset)
        conditions = data_conditions(self.data)
        if not conditions:
            return queryset
        vendor = connections[queryset.db].vendor
        queryset = queryset.alias(_gfs_data=KeyTransform("data", "context"))
        for index, (path, alternatives) in enumerate(conditions):
            if vendor == "postgresql":
                condition = Q()
                for value in alternatives:
                    condition |= Q(_gfs_data__contains=_nest(path, value))
            else:
                name = f"_gfs_data_{index}"
                target: Any = KeyTransform(path[0], "_gfs_data")
                for key in path[1:]:
                    target = KeyTransform(key, target)
                queryset = queryset.alias(**{name: target})
                condition = Q()
                for value in alternatives:
                    condition |= Q(**{name: value})
            queryset = queryset.filter(condition)
        return queryset


def data_conditions(params: Any) -> list[tuple[list[str], list[Any]]]:
    """``[(key path, accepted values)]`` from the ``data.*`` query parameters."""
    conditions = []
    for name in params:
        if not name.startswith(DATA_PREFIX):
            continue
        path = name[len(DATA_PREFIX) :].split(".")
        if not all(path):
            raise ValidationError({name: [_("expected data.<key>[.<key>...] with no empty key")]})
        text = params.get(name)
        alternatives: list[Any] = [text]
        scalar = _json_scalar(text)
        if scalar is not _NO_SCALAR:
            alternatives.append(scalar)
        try:
            encode_json({"path": path, "values": alternatives}, what="filter")
        except ContextSerializationError as exc:
            raise ValidationError({name: [str(exc)]}) from exc
        conditions.append((path, alternatives))
    if len(conditions) > MAX_DATA_FILTERS:
        raise ValidationError(
            {"data": [_("at most %(n)d data filters per request") % {"n": MAX_DATA_FILTERS}]}
        )
    return conditions


_NO_SCALAR = object()


def _json_scalar(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return _NO_SCALAR
    if isinstance(value, float) and not math.isfinite(value):
        return _NO_SCALAR
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _NO_SCALAR


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    nested: Any = value
    for key in reversed(path):
        nested = {key: nested}
    return nested
