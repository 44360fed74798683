"""/admin/, the REST API at /api/ (when the ``drf`` extra is installed), the claims service."""

from __future__ import annotations

import importlib

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

# Missing modules that only mean "the REST API is not available"; any other import error
# is a real bug in the API package and is raised.
_OPTIONAL_MODULES = {
    "rest_framework",
    "graphflow_sessions.rest_framework",
    "graphflow_sessions.rest_framework.urls",
}


def _rest_api_urls() -> list[URLPattern | URLResolver]:
    try:
        importlib.import_module("graphflow_sessions.rest_framework.urls")
    except ModuleNotFoundError as exc:
        if exc.name in _OPTIONAL_MODULES:
            return []
        raise
    return [path("api/", include("graphflow_sessions.rest_framework.urls"))]


urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    *_rest_api_urls(),
    path("", include("example_project.claims.urls")),
]
