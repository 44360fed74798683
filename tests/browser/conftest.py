"""What every browser test needs: Django's ORM usable beside Playwright, and an admin login."""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# the ORM calls that set up the data.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def superuser(django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "secret-pw")
    return "admin", "secret-pw"
