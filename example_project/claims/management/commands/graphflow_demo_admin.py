"""``manage.py graphflow_demo_admin``: a superuser login for the demo, printed (demo only)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Create or reset the demo superuser and print its login. For the local demo only: "
        "the password is printed on the terminal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo", help="Default: demo.")
        parser.add_argument(
            "--password",
            help="Default: a new random password on every run (printed).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            # A printed superuser password has no place on a real deployment.
            raise CommandError("graphflow_demo_admin runs only with DEBUG on (DJANGO_DEBUG=1).")
        username: str = options["username"].strip()
        if not username:
            raise CommandError("--username must not be empty")
        password: str = options["password"] or secrets.token_urlsafe(12)
        user_model = get_user_model()
        lookup: dict[str, Any] = {user_model.USERNAME_FIELD: username}
        user, created = user_model._default_manager.get_or_create(**lookup)
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"{'Created' if created else 'Reset'} the demo admin login "
                f"(for this local demo only): username {username}  password {password}"
            )
        )
