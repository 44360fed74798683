"""Library errors as HTTP answers, and validation errors keyed by their full field path.

A bad body gets 400 with the path of what was wrong as the key, e.g.
``{"context.chat_history.messages[3].role": ["..."]}``; an oversized one 413; a malformed
session id in the URL 404; a stored context that another writer broke 409; a search that
ran past ``SEARCH_TIMEOUT`` 503.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from ..exceptions import (
    ContextDeserializationError,
    ContextError,
    ContextTooLarge,
    InvalidSession,
    InvalidSessionId,
    SearchTimedOut,
    SessionConflict,
)
from .parsers import RequestTooLarge


class SearchStopped(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The search ran too long and was stopped.")
    default_code = "search_timeout"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The request conflicts with the stored session.")
    default_code = "conflict"


def translate(exc: Exception) -> Exception:
    if isinstance(exc, InvalidSessionId):
        return NotFound()
    if isinstance(exc, ContextTooLarge):
        return RequestTooLarge(str(exc))
    if isinstance(exc, ContextDeserializationError):
        # Request bodies are checked by the serializers, so this one is a stored context.
        return Conflict(f"{exc} (replace the context with PUT or PATCH to repair the session)")
    if isinstance(exc, ContextError):
        return ValidationError({exc.path if exc.path != "(root)" else "context": [str(exc)]})
    if isinstance(exc, InvalidSession):
        return ValidationError([str(exc)])
    if isinstance(exc, SessionConflict):
        return Conflict(str(exc))
    if isinstance(exc, SearchTimedOut):
        return SearchStopped(str(exc))
    return exc


def flatten(detail: dict[Any, Any], prefix: str = "") -> dict[str, Any]:
    """``{"context": {"data.x": [...]}}`` -> ``{"context.data.x": [...]}``."""
    flat: dict[str, Any] = {}
    for key, value in detail.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = translate(exc)
    handler: Any = api_settings.EXCEPTION_HANDLER  # the project's, e.g. for logging
    response: Response | None = handler(exc, context)
    if (
        response is not None
        and isinstance(exc, ValidationError)
        and isinstance(response.data, dict)
    ):
        response.data = flatten(response.data)
    return response
