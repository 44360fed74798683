from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClaimsConfig(AppConfig):
    name = "example_project.claims"
    label = "claims"
    verbose_name = _("Insurance claims (example)")
    default_auto_field = "django.db.models.BigAutoField"
