from django.urls import path

from . import views

app_name = "claims"

# The Rust service's routes, without trailing slashes, so its clients work unchanged.
urlpatterns = [
    path("execute", views.execute, name="execute"),
    path("session/<str:session_id>", views.session_detail, name="session"),
    path("health", views.health, name="health"),
    path("", views.index, name="index"),
]
