"""Who may use the API, and which sessions each request sees.

Secure by default: without configuration only staff users (``is_staff``) get in, and they
see every session. Projects change that with two settings::

    GRAPHFLOW_SESSIONS = {
        # DRF permission classes (dotted paths or classes)
        "API_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        # hook(request, queryset) -> queryset: the sessions this request may see
        "API_QUERYSET_HOOK": "myproject.api.my_sessions",
    }

The hook scopes every endpoint, reads and writes: a session outside the scope answers 404
(its existence is not revealed), and a write whose result would fall outside the scope is
refused with 403 and rolled back. ``ownership`` has a ready per-owner recipe.

Only a request that sees every session may choose the id of a session it creates: for any
other, "that id is taken" (409) or even "not found" against "created" would reveal a
session it cannot see, so the server makes the id and a client-sent one is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request

from ..conf import app_settings
from ..models import Session

QuerysetHook = Callable[[Request, "QuerySet[Session]"], "QuerySet[Session]"]
CreateHook = Callable[[Request, Session], None]


def _load(value: Any) -> Any:
    return import_string(value) if isinstance(value, str) else value


def permission_classes() -> list[type[BasePermission]]:
    configured = app_settings.API_PERMISSION_CLASSES
    if configured is None:
        return [IsAdminUser]
    return [_load(item) for item in configured]


def scope(request: Request, queryset: QuerySet[Session]) -> QuerySet[Session]:
    """The part of ``queryset`` this request may see (API_QUERYSET_HOOK, or all of it)."""
    hook: QuerysetHook | None = _load(app_settings.API_QUERYSET_HOOK)
    return queryset if hook is None else hook(request, queryset)


def is_scoped() -> bool:
    return app_settings.API_QUERYSET_HOOK is not None


def may_choose_ids(request: Request) -> bool:
    """Whether the request may create a session under an id of its choosing: only if its
    scope leaves out no session (the hook filters nothing for it, as for staff under the
    ownership recipe), since otherwise the answer for a taken id tells it exists."""
    if not is_scoped():
        return True
    return not scope(request, Session.objects.all()).query.has_filters()


def prepare_new_session(request: Request, session: Session) -> None:
    """Run API_CREATE_HOOK on a session about to be created (e.g. to stamp its owner)."""
    hook: CreateHook | None = _load(app_settings.API_CREATE_HOOK)
    if hook is not None:
        hook(request, session)
