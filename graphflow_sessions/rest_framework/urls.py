"""Mount the API with ``path("api/", include("graphflow_sessions.rest_framework.urls"))``.

Gives ``api/sessions/...`` (see ``views``) and ``api/schema/`` (OpenAPI 3). URL names are
in the ``graphflow_sessions_api`` namespace: ``session-list``, ``session-detail``,
``session-messages``, ``session-data``, ``schema``. Any other path under the prefix is the
API's JSON 404.
"""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from .schema import SessionSchemaView
from .views import NoSuchEndpointView, SessionViewSet

app_name = "graphflow_sessions_api"

router = DefaultRouter()
router.register("sessions", SessionViewSet, basename="session")

urlpatterns = [
    path("schema/", SessionSchemaView.as_view(), name="schema"),
    *router.urls,
    re_path(r"", NoSuchEndpointView.as_view(), name="no-such-endpoint"),  # last: the rest
]
