"""Request and response shapes. The context is validated by the library, not re-described.

``ContextField`` hands a received context to ``contract.check_context`` (the graph-flow
contract, and the encoded size/NUL/NaN checks of every save), so the API accepts exactly
what the storage backend and a Rust service accept. The nested serializers below
(``ContextSchemaSerializer`` and friends) only describe that shape in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ..conf import app_settings
from ..contract.codec import check_context
from ..contract.shape import MAX_MESSAGES_LIMIT, MessageRole
from ..contract.types import Context
from ..exceptions import ContextError, ContextTooLarge, InvalidSessionId
from ..ids import SessionId, id_text
from ..storage import DatabaseSessionStorage
from ..storage.sql import INDEXED_TEXT_CHARS
from .parsers import RequestTooLarge

ROLE_CHOICES = [(role.value, role.value) for role in MessageRole]
_QUOTED_ROLES = [f'"{role.value}"' for role in MessageRole]


class TextField(serializers.CharField):
    """A string, as the contract says: no number turned into text on the way in."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IndexedTextField(TextField):
    """Graph and task: at most as many characters as their indexes hold (the storage's own
    limit, answered here as a 400 on the field, with the schema stating it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=INDEXED_TEXT_CHARS, **kwargs)


@extend_schema_field({"type": "string", "format": "date-time"})
class TimestampField(TextField):
    """RFC 3339 text, kept verbatim (graph-flow writes nanoseconds; Python keeps micro)."""


class RoleField(serializers.ChoiceField):
    """A message's role; a wrong one is answered with the roles there are."""

    default_error_messages = {
        "invalid_choice": _('"{input}" is not a valid role: expected {roles} or {last}.')
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ROLE_CHOICES, **kwargs)

    def fail(self, key: str, **kwargs: Any) -> NoReturn:
        roles, last = ", ".join(_QUOTED_ROLES[:-1]), _QUOTED_ROLES[-1]
        super().fail(key, roles=roles, last=last, **kwargs)


class MessageSerializer(serializers.Serializer):
    role = RoleField()
    content = TextField(allow_blank=True, trim_whitespace=False)
    timestamp = TimestampField(
        help_text=_("RFC 3339, e.g. 2026-01-01T00:00:00Z (graph-flow writes UTC with Z).")
    )


class MatchingMessageSerializer(MessageSerializer):
    """A message of ``GET .../messages/``; with ``?search=`` it carries its position."""

    position = serializers.IntegerField(
        min_value=0,
        required=False,
        help_text=_(
            "With ?search= only: the message's 0-based position in the history, the offset "
            "that reads it."
        ),
    )


class NewMessageSerializer(serializers.Serializer):
    """Body of ``POST .../messages/``: the server stamps the time."""

    role = RoleField()
    content = TextField(allow_blank=True, trim_whitespace=False)


@extend_schema_serializer(component_name="ChatHistory")
class ChatHistorySchemaSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True, help_text=_("Oldest first."))
    max_messages = serializers.IntegerField(
        min_value=0,
        max_value=MAX_MESSAGES_LIMIT,
        allow_null=True,
        required=False,
        help_text=_("Newest messages kept on append; null keeps all (graph-flow: 1000)."),
    )


@extend_schema_serializer(component_name="Context")
class ContextSchemaSerializer(serializers.Serializer):
    # DRF's metaclass moves declared fields off the class, so "data" shadows nothing.
    data = serializers.DictField(  # type: ignore[assignment]
        help_text=_("Workflow data: any JSON values by key.")
    )
    chat_history = ChatHistorySchemaSerializer()


def context_errors(exc: ContextError) -> dict[str, list[str]] | list[str]:
    """The error under its path inside the context (``chat_history.messages[3].role``); the
    view's exception handler joins it to the field name: ``context.chat_history...``."""
    if exc.path and exc.path != "(root)":
        return {exc.path: [str(exc)]}
    return [str(exc)]


def too_large(exc: ContextTooLarge) -> RequestTooLarge:
    return RequestTooLarge(str(exc))


@extend_schema_field(ContextSchemaSerializer)
class ContextField(serializers.Field):
    """A graph-flow context: contract JSON in, :class:`Context` out, stored JSON back."""

    default_error_messages = {"invalid": _("expected a graph-flow context object")}

    def to_internal_value(self, data: Any) -> Context:
        try:
            context = check_context(data, max_bytes=app_settings.MAX_CONTEXT_BYTES)
        except ContextTooLarge as exc:
            raise too_large(exc) from exc
        except ContextError as exc:
            raise serializers.ValidationError(context_errors(exc)) from exc
        return context

    def to_representation(self, value: Any) -> Any:
        return value.to_dict() if isinstance(value, Context) else value


@extend_schema_field(
    {
        "type": "string",
        "description": "A UUID, or on graph-flow 0.6's text-id table any other text; in URL "
        "paths / . ~ are written ~2F ~2E ~7E (the rest percent-encoded as usual).",
    }
)
class SessionIdField(serializers.Field):
    """A session id: a JSON string the sessions table can hold (see ``ids.py``)."""

    default_error_messages = {"invalid": _("expected a session id (a string)")}

    def to_internal_value(self, data: Any) -> SessionId:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return DatabaseSessionStorage().session_id(data)
        except InvalidSessionId as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: Any) -> str:
        return id_text(value)


class SessionSummarySerializer(serializers.Serializer):
    """One row of the list: everything but the context, plus facts the database computes."""

    id = SessionIdField(read_only=True)
    graph_id = serializers.CharField(read_only=True)
    current_task_id = serializers.CharField(read_only=True)
    status_message = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    version = serializers.IntegerField(read_only=True)
    message_count = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("null when the stored history is not a list")
    )
    last_message_at = serializers.CharField(
        read_only=True, allow_null=True, help_text=_("Timestamp of the newest message (RFC 3339).")
    )
    last_message_role = serializers.CharField(read_only=True, allow_null=True)
    last_message_preview = serializers.CharField(
        read_only=True, allow_null=True, help_text=_("The newest message's first characters.")
    )


class SessionSerializer(serializers.Serializer):
    """A whole session. On create, ``id`` is optional (the server makes a UUID)."""

    id = SessionIdField(required=False)
    graph_id = IndexedTextField(default="default", trim_whitespace=False)
    current_task_id = IndexedTextField(
        trim_whitespace=False, help_text=_("The task the next step runs: the resume point.")
    )
    status_message = TextField(
        required=False, allow_null=True, allow_blank=True, default=None, trim_whitespace=False
    )
    context = ContextField(required=False)  # type: ignore[assignment]
    created_at = serializers.DateTimeField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    version = serializers.IntegerField(read_only=True)

    def to_representation(self, instance: Any) -> Any:
        # The stored JSON as it is, even if another writer broke the contract: reading a
        # session must never fail because of what is in it.
        return super().to_representation(_WithRawContext(instance))


class SessionUpdateSerializer(SessionSerializer):
    """PUT/PATCH: the id is the URL's; the rest replaces (PUT) or updates (PATCH)."""

    id = SessionIdField(read_only=True)
    graph_id = IndexedTextField(trim_whitespace=False)
    context = ContextField()


class _WithRawContext:
    """Attribute proxy that reads ``context`` as stored, not through contract validation."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        if name == "context":
            return self._session.raw_context
        return getattr(self._session, name)
