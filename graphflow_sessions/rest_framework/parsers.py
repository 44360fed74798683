"""JSON request parsing with the same rules as every other write path.

DRF's parser follows the project's ``STRICT_JSON`` setting and reads bodies of any size
(Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards ``request.body``, which DRF bypasses).
These parsers always refuse NaN and Infinity (``contract.jsontext.decode_json``), and refuse a
body larger than ``API_MAX_BODY_BYTES`` with 413 before reading it all.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from ..conf import app_settings
from ..contract.jsontext import decode_json, format_size
from ..exceptions import ContextDeserializationError

# Room for the session's other fields and the client's whitespace around a context of
# MAX_CONTEXT_BYTES (the context itself is measured again, exactly, when it is encoded).
BODY_SLACK_BYTES = 64 * 1024


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "too_large"


def max_body_bytes() -> int:
    configured = app_settings.API_MAX_BODY_BYTES
    if configured is not None:
        return int(configured)
    return int(app_settings.MAX_CONTEXT_BYTES) + BODY_SLACK_BYTES


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = max_body_bytes()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise self._too_large(int(declared), limit)
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise self._too_large(len(body), limit)
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"the request body is not valid {encoding}: {exc}") from exc
        try:
            return decode_json(text, what="request body")
        except ContextDeserializationError as exc:
            raise ParseError(str(exc)) from exc
        except RecursionError as exc:  # json.loads on "[[[[..." thousands deep
            raise ParseError("request body: JSON is nested too deeply") from exc

    @staticmethod
    def _too_large(size: int, limit: int) -> RequestTooLarge:
        return RequestTooLarge(
            f"the request body is {format_size(size)}, over the limit of {format_size(limit)} "
            '(GRAPHFLOW_SESSIONS["API_MAX_BODY_BYTES"], by default MAX_CONTEXT_BYTES + 64 KiB)'
        )


class MergePatchParser(StrictJSONParser):
    """RFC 7396 bodies (``application/merge-patch+json``) for ``PATCH .../data/``."""

    media_type = "application/merge-patch+json"
