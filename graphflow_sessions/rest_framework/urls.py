"""Mount the API with ``path("api/", include("graphflow_sessions.rest_framework.urls"))``.

Gives ``api/sessions/...`` (see ``views``) and ``api/schema/`` (OpenAPI 3). URL names are
in the ``graphflow_sessions_api`` namespace: ``session-list``, ``session-detail``,
``session-messages``, ``session-data``, ``schema``.
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from .schema import SessionSchemaView
from .views import SessionViewSet

app_name = "graphflow_sessions_api"

router = DefaultRouter()
router.register("sessions", SessionViewSet, basename="session")

urlpatterns = [
    path("schema/", SessionSchemaView.as_view(), name="schema"),
    *router.urls,
]
