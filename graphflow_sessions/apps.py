from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GraphflowSessionsConfig(AppConfig):
    name = "graphflow_sessions"
    label = "graphflow_sessions"
    verbose_name = _("Graph-flow sessions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the system checks)
