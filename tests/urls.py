from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
]

try:  # the suite also runs without the optional REST extra
    import rest_framework  # noqa: F401
except ImportError:
    pass
else:
    urlpatterns += [path("api/", include("graphflow_sessions.rest_framework.urls"))]
