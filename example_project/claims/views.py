"""The Rust insurance-claims service's HTTP API: ``POST /execute`` and ``GET /session/<id>``.

    POST /execute      {"session_id"?: "<uuid>", "content": "..."}
                       -> {"session_id": "<uuid>", "response": "..." | null, "status": "..."}
    GET  /session/<id> -> the session as graph-flow serializes it
    GET  /health       -> OK
    GET  /             -> a page to chat with the workflow in the browser

``status`` is the name of graph-flow's ``ExecutionStatus`` variant: ``Paused`` (moved on, run
the next step when you like), ``WaitingForInput`` or ``Completed``. (The Rust service prints
Rust's debug text, which for ``Paused`` also lists the variant's fields.)

Every error is JSON, ``{"error": "..."}``, with a status that says whose fault it is: 400 for
a body or id that cannot be used, 404 for an unknown session, 405 for a wrong method, 409
when two messages for one session race or the session belongs to another workflow, 500
(details in the server log) otherwise.

As in the Rust service, a session's UUID is all it takes to read or continue it, so these
endpoints are for demos and trusted networks; the admin and the REST API need a login.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from graphflow_sessions.exceptions import (
    ContextSerializationError,
    InvalidSessionId,
    SessionConflict,
    SessionNotFound,
    StorageError,
)
from graphflow_sessions.models import Session

from .graph import GraphError, WrongGraph
from .runner import FlowRunner
from .tasks import claims_graph

logger = logging.getLogger(__name__)

runner = FlowRunner(claims_graph)

_EXAMPLE_BODY = '{"content": "My car was rear-ended"}'


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse:
    response = _error(405, f"method {request.method} is not allowed here; use {allowed}")
    response["Allow"] = allowed
    return response


def session_json(session: Session) -> dict[str, Any]:
    """The session as graph-flow's ``Session`` serializes (the Rust ``GET /session/{id}``)."""
    return {
        "id": str(session.id),
        "graph_id": session.graph_id,
        "current_task_id": session.current_task_id,
        "status_message": session.status_message,
        "context": session.context.to_dict(),
    }


def _parse_execute_body(body: bytes) -> tuple[str | None, str]:
    """``(session_id, content)`` from the request body; ValueError says what is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"the request body is not valid JSON ({exc}); send {_EXAMPLE_BODY}"
        ) from exc
    if not isinstance(payload, dict):
        raise ValueError(f"the request body must be a JSON object such as {_EXAMPLE_BODY}")
    content = payload.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ValueError('"content" is required and must be a non-empty string')
    session_id = payload.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise ValueError('"session_id" must be a string (a UUID) or null')
    return session_id, content


# The Rust service's /execute takes JSON from any HTTP client (curl, a chat front end) and
# has no login or cookie to protect, so there is no CSRF token to check. It is the only
# exempt view; the admin and the REST API keep Django's CSRF protection.
@csrf_exempt
def execute(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    try:
        session_id, content = _parse_execute_body(request.body)
    except ValueError as exc:
        return _error(400, str(exc))
    try:
        outcome = runner.start(content) if session_id is None else runner.run(session_id, content)
    except InvalidSessionId as exc:
        return _error(400, str(exc))
    except SessionNotFound:
        return _error(404, "Session not found", session_id=session_id)
    except SessionConflict:
        return _error(
            409,
            "the session changed while this message was processed (another message for it "
            "arrived at the same time); nothing was saved, send the message again",
            session_id=session_id,
        )
    except WrongGraph as exc:
        return _error(409, f"{exc}: /execute runs the insurance claims workflow only")
    except ContextSerializationError as exc:  # the message cannot be stored (NUL, too large)
        return _error(400, f"the message cannot be stored: {exc}")
    except (GraphError, StorageError):
        logger.exception("POST /execute failed for session %s", session_id)
        return _error(500, "the workflow step failed; nothing was saved (see the server log)")
    return JsonResponse(
        {
            "session_id": str(outcome.session.id),
            "response": outcome.result.response,
            "status": str(outcome.result.status),
        }
    )


def session_detail(request: HttpRequest, session_id: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    try:
        session = runner.storage.get(session_id)
    except InvalidSessionId as exc:
        return _error(400, str(exc))
    except StorageError:
        logger.exception("GET /session/%s failed", session_id)
        return _error(500, "the session could not be read (see the server log)")
    if session is None:
        return _error(404, "Session not found", session_id=session_id)
    return JsonResponse(session_json(session))


_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def index(request: HttpRequest) -> HttpResponse:
    """A page to chat with the workflow in the browser (through ``POST /execute``)."""
    try:
        api_url: str | None = reverse("graphflow_sessions_api:session-list")
    except NoReverseMatch:  # the REST API is optional
        api_url = None
    page_config = {
        "executeUrl": reverse("claims:execute"),
        "adminChangeUrl": reverse(
            "admin:graphflow_sessions_session_change", args=[_PLACEHOLDER_ID]
        ),
        "placeholderId": _PLACEHOLDER_ID,
        "labels": {
            "user": gettext("You"),
            "assistant": gettext("Assistant"),
            "error": gettext("Error"),
        },
    }
    return render(request, "claims/index.html", {"page_config": page_config, "api_url": api_url})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("OK", content_type="text/plain")
