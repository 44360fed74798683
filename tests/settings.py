"""Settings for the test suite: PostgreSQL when DATABASE_URL is set, else SQLite."""

import os
import tempfile

import dj_database_url

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "graphflow_sessions",
]
try:  # the suite also runs without the optional REST extra
    import rest_framework  # noqa: F401

    INSTALLED_APPS += ["rest_framework", "django_filters", "drf_spectacular"]
except ImportError:
    pass

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Accept-Language picks the language, so the tests can ask for the app's German and French.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

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

STATIC_URL = "/static/"

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
else:
    # A file, not :memory:, so that the concurrency tests' threads share one database
    # and SQLite's busy timeout serialises their writes.
    _sqlite_dir = os.environ.get("GRAPHFLOW_TEST_SQLITE_DIR", tempfile.gettempdir())
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_sqlite_dir, "graphflow-tests.sqlite3"),
            "TEST": {"NAME": os.path.join(_sqlite_dir, f"graphflow-tests-{os.getpid()}.sqlite3")},
            "OPTIONS": {"timeout": 60, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }

# The search index installed (the default, named here so the suite keeps it whatever the
# default), so every write the suite makes goes through its triggers; tests/support/search.py
# leaves it out where a test needs that.
GRAPHFLOW_SESSIONS: dict = {"SEARCH_INDEX": True}
