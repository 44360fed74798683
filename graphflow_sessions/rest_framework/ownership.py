"""The per-owner recipe: each user sees and changes only the sessions they own.

The owner is the user's primary key, stored in the context data under ``"owner_id"``, where
a graph-flow service can read (and write) it too. Enable it with::

    GRAPHFLOW_SESSIONS = {
        "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "API_QUERYSET_HOOK": "graphflow_sessions.rest_framework.ownership.owned_sessions",
        "API_CREATE_HOOK": "graphflow_sessions.rest_framework.ownership.stamp_owner",
    }

User A then gets 404 for user B's sessions (on every endpoint), never sees them in lists,
and cannot hand a session to B or create one for B (403: the result would leave A's scope),
nor choose the id of a new session (400: whether an id is taken would reveal B's session).
Staff users see everything, and choose ids. On PostgreSQL the filter is a jsonb containment that the
``gfs_context_data_gin`` index serves.

To keep owners elsewhere (a project model with a ``session_id`` column, a team), write the
same two functions against your model: the hook returns ``queryset.filter(...)``.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from rest_framework.request import Request

from ..models import Session

OWNER_KEY = "owner_id"


def owned_sessions(request: Request, queryset: QuerySet[Session]) -> QuerySet[Session]:
    user = request.user
    if user.is_staff:
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    owner = KeyTransform("data", "context")
    if connections[queryset.db].vendor == "postgresql":
        contains = {"_owner__contains": {OWNER_KEY: user.pk}}  # served by gfs_context_data_gin
        return queryset.alias(_owner=owner).filter(**contains)
    return queryset.alias(_owner=KeyTransform(OWNER_KEY, owner)).filter(_owner=user.pk)


def stamp_owner(request: Request, session: Session) -> None:
    if not request.user.is_staff or OWNER_KEY not in session.context:
        session.context.set(OWNER_KEY, request.user.pk)
