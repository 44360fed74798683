"""Another writer: a separate Python process that appends a message through the storage, as
a second service on the same database would (nothing in the test process is told)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# Django configured from the test database's settings (PostgreSQL or the SQLite file), so the
# process writes exactly where the test's live server reads.
_APPEND = """
import json, sys
import django
from django.conf import settings
settings.configure(
    DATABASES={"default": json.loads(sys.argv[1])},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "graphflow_sessions"],
    USE_TZ=True,
)
django.setup()
from graphflow_sessions.storage import DatabaseSessionStorage
storage = DatabaseSessionStorage()
session = storage.get(sys.argv[2])
session.context.add_message(sys.argv[3], sys.argv[4])
storage.save(session)
print(session.version)
"""


def append_in_another_process(session_id: str, role: str, content: str) -> int:
    """Append one message to ``session_id`` from a new process; the version it saved."""
    keys = ("ENGINE", "NAME", "HOST", "PORT", "USER", "PASSWORD", "OPTIONS")
    database = {
        key: connection.settings_dict[key] for key in keys if key in connection.settings_dict
    }
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", _APPEND, json.dumps(database), session_id, role, content],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the writer process failed:\n{done.stdout}\n{done.stderr}")
    return int(done.stdout.strip())
