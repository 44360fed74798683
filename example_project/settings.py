"""Settings of the example project: SQLite by default, PostgreSQL when DATABASE_URL is set.

Environment variables (development defaults in brackets):

    DATABASE_URL          postgres://user@host:5432/db  [SQLite file example.sqlite3 in the repo]
    DATABASE_POOL_MAX_SIZE  PostgreSQL connections per server process, pooled  [10]
    DJANGO_SECRET_KEY     required when DJANGO_DEBUG is off  [a fixed, public development key]
    DJANGO_DEBUG          1/0, true/false  [1]
    DJANGO_ALLOWED_HOSTS  comma-separated host names  [127.0.0.1,localhost]
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, got {value!r}")


DEBUG = _env_flag("DJANGO_DEBUG", True)

_DEVELOPMENT_KEY = "django-insecure-graphflow-sessions-example-development-only"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _DEVELOPMENT_KEY
if not DEBUG and SECRET_KEY == _DEVELOPMENT_KEY:
    # The development key is published in this file: never sign real sessions with it.
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY when DJANGO_DEBUG is off.")


def _env_count(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    if not value.isdecimal() or int(value) < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of 1 or more, got {value!r}")
    return int(value)


DATABASE_POOL_MAX_SIZE = _env_count("DATABASE_POOL_MAX_SIZE", 10)

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


#: The REST API is the optional ``drf`` extra; without it the project runs with no /api/.
REST_FRAMEWORK_INSTALLED = _installed("rest_framework")

INSTALLED_APPS = [
    # First, so that its runserver (a deeper listen queue) replaces staticfiles' one.
    "example_project.claims",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "graphflow_sessions",
]
if REST_FRAMEWORK_INSTALLED:
    INSTALLED_APPS += ["rest_framework"]
    INSTALLED_APPS += [app for app in ("django_filters", "drf_spectacular") if _installed(app)]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A pool shared by the server's threads, not persistent connections (CONN_MAX_AGE):
        # those belong to a thread, and runserver answers each request in a new thread, so
        # each request would leave a connection open until the server has no more to give.
        # A request waits (up to "timeout" seconds) for one of "max_size" connections per
        # process; with CONN_HEALTH_CHECKS Django has the pool check a connection before
        # handing it out, replacing one the server dropped.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"]["OPTIONS"] = {
            **DATABASES["default"].get("OPTIONS", {}),
            "pool": {"min_size": 1, "max_size": DATABASE_POOL_MAX_SIZE, "timeout": 20},
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / "example.sqlite3"),
            # runserver answers in threads: wait for the write lock instead of failing, and
            # take it at BEGIN so a read-then-write step cannot deadlock on upgrade.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

SILENCED_SYSTEM_CHECKS = []
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # W001 recommends PostgreSQL for production; SQLite is this example's deliberate default.
    SILENCED_SYSTEM_CHECKS.append("graphflow_sessions.W001")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".tmp" / "example-static"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "admin:login"

# The search index on PostgreSQL (the default, named here): the demo's search box covers
# every session.
GRAPHFLOW_SESSIONS: dict = {"SEARCH_INDEX": True}

if REST_FRAMEWORK_INSTALLED:
    REST_FRAMEWORK: dict[str, object] = {
        # Session login for the browsable API; HTTP Basic so that curl works in the demo
        # (send it over HTTPS only in a real deployment).
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.SessionAuthentication",
            "rest_framework.authentication.BasicAuthentication",
        ],
    }
    if _installed("drf_spectacular"):
        REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"example_project": {"handlers": ["console"], "level": "INFO"}},
}
