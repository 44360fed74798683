"""JSON request parsing with the same rules as every other write path.

DRF's parser follows the project's ``STRICT_JSON`` setting and reads bodies of any size
(Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards ``request.body``, which DRF bypasses).
These parsers always refuse NaN and Infinity (``contract.jsontext.decode_json``), and refuse a
body larger than ``API_MAX_BODY_BYTES`` with 413 before reading it all.

Memory is bounded by the body's size, whatever its shape: a Python object costs 30-200
bytes, so a body of tiny values (``[{},{},...]``: one object per 3 bytes) would otherwise
take some 60 times its size to read. Before anything is decoded, the body's objects and
arrays and its commas are counted (``contract.jsontext.count_json_items``), and a body with
more items than ``max_items`` allows for its size is a 400 saying so. Within the allowance
a request peaks at about 6 times the body (``benchmarks/memory.py``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from ..conf import app_settings
from ..contract.jsontext import count_json_items, decode_json, format_size
from ..exceptions import ContextDeserializationError

# Room for the session's other fields and the client's whitespace around a context of
# MAX_CONTEXT_BYTES (the context itself is measured again, exactly, when it is encoded).
BODY_SLACK_BYTES = 64 * 1024


# Item weights and allowance: an object or array costs about four times a scalar once read
# (measured by benchmarks/memory.py), and an item per BODY_BYTES_PER_ITEM bytes keeps the
# peak near 6x the body; every body may hold FREE_ITEMS items whatever its size.
CONTAINER_WEIGHT = 4
BODY_BYTES_PER_ITEM = 18
FREE_ITEMS = 20_000


def max_items(body_bytes: int) -> int:
    """How many weighted items (``CONTAINER_WEIGHT`` per object or array, one per comma) a
    body of ``body_bytes`` may hold."""
    return FREE_ITEMS + body_bytes // BODY_BYTES_PER_ITEM


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
        self._check_items(body)
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"the request body is not valid {encoding}: {exc}") from exc
        del body  # only the text is read from here on: one copy held while decoding, not two
        try:
            return decode_json(text, what="request body")
        except ContextDeserializationError as exc:
            raise ParseError(str(exc)) from exc
        except RecursionError as exc:  # json.loads on "[[[[..." thousands deep
            raise ParseError("request body: JSON is nested too deeply") from exc

    @staticmethod
    def _check_items(body: bytes) -> None:
        allowed = max_items(len(body))
        containers, commas = count_json_items(body)  # an upper bound, at C speed
        if CONTAINER_WEIGHT * containers + commas <= allowed:
            return
        containers, commas = count_json_items(body, in_strings=False)  # exact, slower
        if CONTAINER_WEIGHT * containers + commas > allowed:
            raise ParseError(
                f"request body: {containers:,} objects and arrays and {commas:,} commas in "
                f"{format_size(len(body))} are more than the API reads for that size (at most "
                f"{allowed:,} items, an object or array counting {CONTAINER_WEIGHT}: "
                f"{FREE_ITEMS:,} plus one per {BODY_BYTES_PER_ITEM} bytes); "
                "send fewer, larger values"
            )

    @staticmethod
    def _too_large(size: int, limit: int) -> RequestTooLarge:
        return RequestTooLarge(
            f"the request body is {format_size(size)}, over the limit of {format_size(limit)} "
            '(GRAPHFLOW_SESSIONS["API_MAX_BODY_BYTES"], by default MAX_CONTEXT_BYTES + 64 KiB)'
        )


class MergePatchParser(StrictJSONParser):
    """RFC 7396 bodies (``application/merge-patch+json``) for ``PATCH .../data/``."""

    media_type = "application/merge-patch+json"
