"""The optional REST API (``pip install graphflow-sessions[drf]``).

Mount it with one line in the project's urls::

    path("api/", include("graphflow_sessions.rest_framework.urls"))

or register :class:`~graphflow_sessions.rest_framework.views.SessionViewSet` on your own
router. Nothing here is imported by ``graphflow_sessions`` itself, so the app, its admin
and its migrations work with Django REST framework absent; this ``__init__`` imports
nothing either, so importing the sub-package costs nothing until a module is used.
"""
