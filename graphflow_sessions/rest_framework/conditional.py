"""Conditional requests: an ETag per stored state (``etags.py``), If-Match on writes,
If-None-Match on reads. Comparison is strong (RFC 9110 section 13.1.1): a weak tag never
satisfies If-Match.
"""

from __future__ import annotations

from django.utils.http import parse_etags
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from ..conf import app_settings


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("The session changed since you read it (If-Match does not match).")
    default_code = "precondition_failed"


class PreconditionRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _(
        "This request must be conditional: send If-Match with the ETag you read "
        '(GRAPHFLOW_SESSIONS["API_REQUIRE_IF_MATCH"] is on).'
    )
    default_code = "precondition_required"


def require_if_match(request: Request) -> None:
    """428 when the settings demand If-Match and the request has none."""
    if app_settings.API_REQUIRE_IF_MATCH and "HTTP_IF_MATCH" not in request.META:
        raise PreconditionRequired()


def check_if_match(request: Request, current_etag: str) -> None:
    """412 unless If-Match is absent, ``*``, or lists ``current_etag`` (strongly)."""
    header = request.META.get("HTTP_IF_MATCH")
    if header is None:
        return
    tags = parse_etags(header)
    if "*" in tags:
        return
    if current_etag not in [tag for tag in tags if not tag.startswith("W/")]:
        raise PreconditionFailed()


def not_modified(request: Request, current_etag: str) -> bool:
    """True when If-None-Match names the current state (weak comparison, RFC 9110 13.1.2)."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if header is None:
        return False
    tags = parse_etags(header)
    return "*" in tags or current_etag in [tag.removeprefix("W/") for tag in tags]
