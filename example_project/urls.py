"""/admin/, the REST API at /api/ (when the ``drf`` extra is installed), the claims service."""

from __future__ import annotations

import importlib.util

from django.apps import apps
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path


def _rest_api_urls() -> list[URLPattern | URLResolver]:
    # The REST API is the optional ``drf`` extra: mounted when Django REST framework is an
    # installed app (settings add it when it is importable) and the API package exists.
    if not apps.is_installed("rest_framework"):
        return []
    if importlib.util.find_spec("graphflow_sessions.rest_framework") is None:
        return []
    return [path("api/", include("graphflow_sessions.rest_framework.urls"))]


urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    *_rest_api_urls(),
    path("", include("example_project.claims.urls")),
]
