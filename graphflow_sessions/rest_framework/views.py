"""``SessionViewSet``: sessions, their messages and their data over HTTP.

    GET    sessions/                 list (summaries: no context is loaded), filters, cursor,
                                     ?search= (words, prefix*, "phrases", ids)
    POST   sessions/                 create (the server makes the id unless the body has one)
    GET    sessions/{id}/            the whole session, with an ETag
    PUT    sessions/{id}/            replace            } If-Match honoured (412),
    PATCH  sessions/{id}/            update some fields } or required with
    DELETE sessions/{id}/            delete             } API_REQUIRE_IF_MATCH (428)
    GET    sessions/{id}/messages/   the chat history, paginated by offset; ?search= keeps
                                     the matching messages, each with its position
    POST   sessions/{id}/messages/   append one message atomically ({"role", "content"})
    GET    sessions/{id}/data/       the data object
    PATCH  sessions/{id}/data/       merge-patch (RFC 7396) data keys atomically

Lists read from ``routers.list_database()`` (the replica when configured); single reads and
every write use the primary. Writes go through ``writes.locked_session``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..contract.jsontext import check_structure
from ..contract.types import Context
from ..etags import etag_for, session_etag
from ..exceptions import InvalidSessionId, SessionExists
from ..expressions import MessageCount, MessagesSlice
from ..ids import SessionId, quote_id, unquote_id
from ..models import Session
from ..routers import list_database, sessions_database
from ..search.limits import bounded
from ..search.sessions import matching_messages, search_sessions
from .conditional import check_if_match, not_modified, require_if_match
from .errors import Conflict, exception_handler
from .filters import SessionFilterSet
from .pagination import MessagePagination, SessionCursorPagination
from .parsers import MergePatchParser, StrictJSONParser
from .permissions import may_choose_ids, permission_classes, prepare_new_session, scope
from .serializers import (
    MatchingMessageSerializer,
    MessageSerializer,
    NewMessageSerializer,
    SessionSerializer,
    SessionSummarySerializer,
    SessionUpdateSerializer,
)
from .writes import ensure_in_scope, locked_session, save_in_scope, storage

# Schema: the error answers every endpoint may give. Their bodies are DRF's
# {"detail": "..."} or, for 400, {"<field path>": ["..."]}.
_ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description=_("Error details."))
_COMMON_ERRORS = {
    400: _ERROR,
    401: _ERROR,
    403: _ERROR,
    404: _ERROR,
    406: _ERROR,
}
_WRITE_ERRORS = {**_COMMON_ERRORS, 409: _ERROR, 413: _ERROR, 415: _ERROR}
_CONDITIONAL_ERRORS = {**_WRITE_ERRORS, 412: _ERROR, 428: _ERROR}
_DELETE_ERRORS = {**_COMMON_ERRORS, 412: _ERROR, 428: _ERROR}
_IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description=_("The ETag you read: the write happens only if the session is still there."),
)
_IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description=_("An ETag you hold: 304 without a body if the session has not changed."),
)
# Response header of every answer that shows a session's state (used for If-Match).
_ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201, 304],
    description=_("The session's state: send it back in If-Match / If-None-Match."),
)
#: Query parameter of the list and the messages endpoint that searches.
SEARCH_PARAMETER = "search"
_SEARCH = OpenApiParameter(
    SEARCH_PARAMETER,
    str,
    OpenApiParameter.QUERY,
    description=_(
        "Sessions in which every word occurs (ignoring case and accents) in the graph, task, "
        'status message, a chat message or a data string: quok* is a prefix, "refund '
        'policy" a phrase; a session id or its first 8+ hex digits finds that session.'
    ),
)
_SEARCH_MESSAGES = OpenApiParameter(
    SEARCH_PARAMETER,
    str,
    OpenApiParameter.QUERY,
    description=_(
        "Only the messages in which a term occurs (ignoring case and accents), oldest first, "
        "each with its position in the history (the offset that reads it); offset and limit "
        "then page through the matches."
    ),
)
_SEARCH_COMPLETE = OpenApiParameter(
    "X-Search-Complete",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    enum=["true", "false"],
    description=_(
        "With ?search=: false when a matching session may be missing (the search index is "
        "still being built, or only the newest sessions were searched)."
    ),
)
_SEARCH_SCOPE = OpenApiParameter(
    "X-Search-Scope",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description=_(
        "With ?search=: what was searched: all, indexed (the sessions indexed so far) or "
        "newest=N (the N most recently updated sessions of the filtered list)."
    ),
)
_SEARCH_STOPPED = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=_("The search ran longer than the server allows and was stopped."),
)
_NOT_MODIFIED = OpenApiResponse(description=_("Not modified (If-None-Match matched)."))
_DATA = OpenApiResponse(
    OpenApiTypes.OBJECT, description=_("The session's data object (any JSON values by key).")
)


def documented(**kwargs: Any) -> Any:
    """``extend_schema`` built on drf-spectacular's AutoSchema even when the project's
    DEFAULT_SCHEMA_CLASS is DRF's own (we cannot ask every project to change it)."""

    def decorator(method: Any) -> Any:
        method.kwargs = {**getattr(method, "kwargs", {}), "schema": AutoSchema}
        return extend_schema(**kwargs)(method)

    return decorator


class SessionViewSet(viewsets.GenericViewSet):
    lookup_field = "id"
    lookup_url_kwarg = "id"
    # Anything but "/" and "." reaches the view, so a malformed id is our JSON 404.
    lookup_value_regex = "[^/.]+"
    parser_classes = [StrictJSONParser]
    pagination_class = SessionCursorPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = SessionFilterSet
    schema = AutoSchema()

    # Configuration read per request, so override_settings and settings changes apply.

    def get_permissions(self) -> list[BasePermission]:
        return [cls() for cls in permission_classes()]

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action == "list":
            return SessionSummarySerializer
        if self.action in ("update", "partial_update"):
            return SessionUpdateSerializer
        if self.action == "messages":
            return NewMessageSerializer if self.request.method == "POST" else MessageSerializer
        return SessionSerializer

    def get_queryset(self) -> QuerySet[Session]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return Session.objects.none()
        queryset: QuerySet[Session]
        if self.action == "list":
            # The page's summaries are read once it is cut (``_summarized``).
            queryset = Session.objects.using(list_database()).without_context()
        else:
            queryset = Session.objects.using(sessions_database())
        return scope(self.request, queryset)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.lookup_url_kwarg in self.kwargs:
            self.session_id()  # a malformed id is 404 before the body is even looked at

    def session_id(self) -> SessionId:
        # Ids are written in URLs with "/", "." and "~" escaped (``ids.quote_id``), so that
        # an id holding them still names one route.
        try:
            return storage.session_id(unquote_id(self.kwargs[self.lookup_url_kwarg]))
        except InvalidSessionId:
            raise NotFound() from None

    def get_object(self) -> Session:
        session = self.get_queryset().filter(pk=self.session_id()).first()
        if session is None:
            raise NotFound()
        self.check_object_permissions(self.request, session)
        return session

    # Sessions ------------------------------------------------------------------------------

    @documented(
        summary=_("List sessions (summaries, newest first)"),
        description=_(
            "Ordered by (updated_at, id), newest first, with a stable cursor. Filter on "
            "context data with data.<key>[.<key>...]=<value>, e.g. ?data.insurance_type=car: "
            "the value matches as text, and also as a JSON number, boolean or null when it "
            "reads as one. Search with ?search=; the X-Search-Complete and X-Search-Scope "
            "headers then say how completely."
        ),
        parameters=[_SEARCH, _SEARCH_COMPLETE, _SEARCH_SCOPE],
        responses={
            200: SessionSummarySerializer(many=True),
            **_COMMON_ERRORS,
            503: _SEARCH_STOPPED,
        },
    )
    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        text = request.query_params.get(SEARCH_PARAMETER, "")
        if not text.strip():
            page = self._summarized(queryset)
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        with bounded(queryset.db):  # the search, the page and its summaries
            search = search_sessions(queryset, text)
            page = self._summarized(search.queryset)
            data = self.get_serializer(page, many=True).data
        response = self.get_paginated_response(data)
        response["X-Search-Complete"] = "true" if search.complete else "false"
        response["X-Search-Scope"] = search.scope_header
        return response

    def _summarized(self, queryset: QuerySet[Session]) -> Sequence[Session]:
        # Summarized after the page is cut: annotated on the list query, they could be
        # computed for every matching row before the sort.
        page = self.paginate_queryset(queryset)
        assert page is not None
        Session.objects.using(queryset.db).summarize(page)
        return page

    @documented(
        summary=_("Retrieve a session (ETag from its version)"),
        parameters=[_IF_NONE_MATCH, _ETAG],
        responses={200: SessionSerializer, 304: _NOT_MODIFIED, **_COMMON_ERRORS},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        session = self.get_object()
        etag = session_etag(session)
        if not_modified(request, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(self.get_serializer(session).data, headers={"ETag": etag})

    @documented(
        summary=_("Create a session"),
        parameters=[_ETAG],
        request=SessionSerializer,
        responses={201: SessionSerializer, **_WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        if values.get("id") and not may_choose_ids(request):
            raise ValidationError(
                {"id": [_("Leave the id out: the server chooses the id of a session you create.")]}
            )
        session = Session(
            id=values.get("id") or uuid.uuid4(),
            graph_id=values["graph_id"],
            current_task_id=values["current_task_id"],
            status_message=values["status_message"],
            context=values.get("context") or Context(),
        )
        prepare_new_session(request, session)
        with transaction.atomic(using=sessions_database()):
            try:
                # Insert only: a client-chosen id that exists is a conflict, never an overwrite.
                storage.create(session)
            except SessionExists:
                raise Conflict(
                    _("A session with id %(id)s already exists.") % {"id": session.pk}
                ) from None
            ensure_in_scope(request, session.pk)
        location = request.build_absolute_uri(f"{quote_id(session.pk)}/")
        return Response(
            self.get_serializer(session).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": session_etag(session), "Location": location},
        )

    @documented(
        summary=_("Replace a session"),
        parameters=[_IF_MATCH, _ETAG],
        request=SessionUpdateSerializer,
        responses={200: SessionSerializer, **_CONDITIONAL_ERRORS},
    )
    def update(self, request: Request, id: str, partial: bool = False) -> Response:
        require_if_match(request)
        session_id = self.session_id()
        serializer = self.get_serializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)  # outside the lock: parsing can be slow
        with locked_session(request, session_id) as session:
            check_if_match(request, session_etag(session))
            for name, value in serializer.validated_data.items():
                setattr(session, name, value)
            save_in_scope(request, session, expected_version=session.version)
        return Response(self.get_serializer(session).data, headers={"ETag": session_etag(session)})

    @documented(
        summary=_("Update some fields of a session"),
        parameters=[_IF_MATCH, _ETAG],
        request=SessionUpdateSerializer,
        responses={200: SessionSerializer, **_CONDITIONAL_ERRORS},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        return self.update(request, id, partial=True)

    @documented(
        summary=_("Delete a session"),
        parameters=[_IF_MATCH],
        responses={204: None, **_DELETE_ERRORS},
    )
    def destroy(self, request: Request, id: str) -> Response:
        require_if_match(request)
        with locked_session(request, self.session_id()) as session:
            check_if_match(request, session_etag(session))
            storage.delete(session.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # Messages ------------------------------------------------------------------------------

    @extend_schema(
        methods=["GET"],
        summary=_("List a session's messages, oldest first (offset pagination)"),
        parameters=[_SEARCH_MESSAGES, _ETAG],
        responses={
            200: MatchingMessageSerializer(many=True),
            **_COMMON_ERRORS,
            503: _SEARCH_STOPPED,
        },
    )
    @extend_schema(
        methods=["POST"],
        summary=_("Append a message (atomic; the oldest are dropped beyond max_messages)"),
        parameters=[_IF_MATCH, _ETAG],
        request=NewMessageSerializer,
        responses={201: MessageSerializer, **_CONDITIONAL_ERRORS},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=MessagePagination,
        filter_backends=[],
        schema=AutoSchema(),  # so @extend_schema builds on drf-spectacular's, not DRF's
    )
    def messages(self, request: Request, id: str) -> Response:
        if request.method == "POST":
            return self._append_message(request)
        pagination = MessagePagination()
        limit, offset = pagination.get_limit(request), pagination.get_offset(request)
        text = request.query_params.get(SEARCH_PARAMETER, "")
        if text.strip():
            return self._matching_messages(request, pagination, text)
        row = (
            self.get_queryset()
            .filter(pk=self.session_id())
            .annotate(_count=MessageCount(), _page=MessagesSlice(offset, limit))
            .values_list("_count", "_page", "version", "updated_at")
            .first()
        )
        if row is None:
            raise NotFound()
        count, page, version, updated_at = row
        # (A history that is not a list, written by someone else, reads as empty.)
        pagination.request, pagination.limit, pagination.offset = request, limit, offset
        pagination.count = count or 0
        response = pagination.get_paginated_response(page if count else [])
        response["ETag"] = etag_for(version, updated_at)
        return response

    def _matching_messages(
        self, request: Request, pagination: MessagePagination, text: str
    ) -> Response:
        limit, offset = pagination.get_limit(request), pagination.get_offset(request)
        with bounded(sessions_database()):
            session = self.get_object()
            positions = matching_messages(session, text)
        messages = session.context.get_all_messages()
        page = [
            {"position": position, **messages[position].to_dict()}
            for position in positions[offset : offset + limit]
        ]
        pagination.request, pagination.limit, pagination.offset = request, limit, offset
        pagination.count = len(positions)
        response = pagination.get_paginated_response(page)
        response["ETag"] = session_etag(session)
        return response

    def _append_message(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with locked_session(request, self.session_id()) as session:
            check_if_match(request, session_etag(session))
            message = session.context.add_message(
                serializer.validated_data["role"], serializer.validated_data["content"]
            )
            save_in_scope(request, session, expected_version=session.version)
        return Response(
            message.to_dict(),
            status=status.HTTP_201_CREATED,
            headers={"ETag": session_etag(session)},
        )

    # Data ----------------------------------------------------------------------------------

    @extend_schema(
        methods=["GET"],
        summary=_("Read a session's data"),
        parameters=[_IF_NONE_MATCH, _ETAG],
        responses={200: _DATA, 304: _NOT_MODIFIED, **_COMMON_ERRORS},
    )
    @extend_schema(
        methods=["PATCH"],
        summary=_("Merge-patch a session's data (RFC 7396; null removes a key)"),
        parameters=[_IF_MATCH, _ETAG],
        request={
            "application/merge-patch+json": OpenApiTypes.OBJECT,
            "application/json": OpenApiTypes.OBJECT,
        },
        responses={200: _DATA, **_CONDITIONAL_ERRORS},
    )
    @action(
        detail=True,
        methods=["get", "patch"],
        filter_backends=[],
        pagination_class=None,
        parser_classes=[MergePatchParser, StrictJSONParser],
        schema=AutoSchema(),
    )
    def data(self, request: Request, id: str) -> Response:
        if request.method == "PATCH":
            return self._patch_data(request)
        row = (
            self.get_queryset()
            .filter(pk=self.session_id())
            .annotate(_data=KeyTransform("data", "context"))
            .values_list("_data", "version", "updated_at")
            .first()
        )
        if row is None:
            raise NotFound()
        data, version, updated_at = row
        etag = etag_for(version, updated_at)
        if not_modified(request, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})

    def _patch_data(self, request: Request) -> Response:
        patch = request.data
        if not isinstance(patch, dict):
            raise ValidationError(
                {"data": [_("expected a JSON object: keys to set, null to remove a key")]}
            )
        session_id = self.session_id()
        # The merge recurses once per level: a patch nested deeper than any context may be
        # is refused first, with the error the save would give.
        check_structure(patch, depth=2, path="data", session_id=session_id)
        with locked_session(request, session_id) as session:
            check_if_match(request, session_etag(session))
            context = session.context
            merged = merge_patch(dict(context.data), patch)
            context.clear()
            for key, value in merged.items():
                context.set(key, value)
            save_in_scope(request, session, expected_version=session.version)
        return Response(dict(session.context.data), headers={"ETag": session_etag(session)})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class NoSuchEndpointView(APIView):
    """Any path under the API that names no endpoint (such as an id with an unescaped "."
    before ``data/``): the API's JSON 404 for every method, not the project's HTML page."""

    schema = None  # not an endpoint to document

    def get_permissions(self) -> list[BasePermission]:
        return [cls() for cls in permission_classes()]

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # who may not use the API is told so first
        raise NotFound()
