"""Django REST framework stays optional: nothing outside ``graphflow_sessions.rest_framework``
imports it, and the app checks, migrates and serves its admin with it absent.

The check runs in a fresh interpreter where importing DRF, django-filter or drf-spectacular
fails, as in an installation without the ``drf`` extra. (scripts/matrix also runs the whole
suite in a virtualenv without them.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    OPTIONAL = ("rest_framework", "django_filters", "drf_spectacular")

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in OPTIONAL:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())

    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="x",
        USE_TZ=True,
        ROOT_URLCONF="tests.urls",
        INSTALLED_APPS=[
            "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
            "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
            "graphflow_sessions",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }],
        STATIC_URL="/static/",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    )
    django.setup()

    import graphflow_sessions

    imported = []
    for module in pkgutil.walk_packages(graphflow_sessions.__path__, "graphflow_sessions."):
        if module.name.startswith("graphflow_sessions.rest_framework."):
            continue  # the optional layer itself (its __init__ is imported below)
        importlib.import_module(module.name)
        imported.append(module.name)
    import graphflow_sessions.rest_framework  # imports nothing heavy

    from django.core.management import call_command
    call_command("check", fail_level="ERROR")
    call_command("migrate", verbosity=0)

    from django.contrib.auth.models import User
    from django.test import Client
    admin = User.objects.create_superuser("admin", "a@example.com", "pw")
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/graphflow_sessions/session/").status_code == 200
    assert client.get("/api/sessions/").status_code == 404  # not mounted without DRF

    leaked = sorted(name for name in sys.modules if name.split(".")[0] in OPTIONAL)
    assert not leaked, leaked
    assert "graphflow_sessions.admin" in imported and "graphflow_sessions.storage" in imported
    print("ok", len(imported))
    """
)


def test_the_app_and_its_admin_work_without_the_rest_framework_extra() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok ")
