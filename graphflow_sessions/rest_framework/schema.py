"""The OpenAPI 3 schema of this API alone (drf-spectacular), served at ``schema/``.

The generator walks the project's URLconf, so paths carry the prefix the project mounted
the API under, and keeps only this API's endpoints. The schema is served to whoever may
use the API (the same permission classes), not to everyone.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import BasePermission

from .. import __version__
from .permissions import permission_classes
from .views import SessionViewSet

DESCRIPTION = (
    "graph-flow sessions: list, read and write sessions, append chat messages and "
    "merge-patch context data. Single reads send an ETag; writes honour If-Match."
)


class SessionSchemaGenerator(SchemaGenerator):
    def _initialise_endpoints(self) -> None:
        super()._initialise_endpoints()
        endpoints: list[Any] = list(self.endpoints or [])
        # (DRF's stubs describe 3-tuples; drf-spectacular's enumerator makes 4-tuples.)
        kept: Any = [
            (path, regex, method, callback)
            for path, regex, method, callback in endpoints
            if issubclass(getattr(callback, "cls", type(None)), SessionViewSet)
        ]
        self.endpoints = kept


class SessionSchemaView(SpectacularAPIView):
    generator_class = SessionSchemaGenerator
    custom_settings: dict[str, Any] = {
        "TITLE": "graphflow-sessions API",
        "DESCRIPTION": DESCRIPTION,
        "VERSION": __version__,
        "COMPONENT_SPLIT_REQUEST": True,
    }

    def get_permissions(self) -> list[BasePermission]:
        return [cls() for cls in permission_classes()]
