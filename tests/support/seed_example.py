"""The seed's example, in Python, as a plain script: no Django project, no settings module.

Run by tests/storage/test_connect.py in a subprocess with only DATABASE_URL set (and
SESSION_ID when several copies run at once). Prints one JSON line saying what it found, so
the test can check every step.
"""

import json
import os

from graphflow_sessions.storage import PostgresSessionStorage

# Connect to PostgreSQL: this configures a minimal Django and creates the schema.
storage = PostgresSessionStorage.connect(os.environ["DATABASE_URL"])

from django.conf import settings  # noqa: E402 (configured by connect() above)

from graphflow_sessions.context import Context  # noqa: E402
from graphflow_sessions.models import Session  # noqa: E402

session_id = os.environ.get("SESSION_ID", "7f0f5a3e-2d8c-4b0e-9a55-3c1a0e6b9d21")

context = Context()
context.set("insurance_type", "car")
session = Session(
    id=session_id,
    graph_id="my-graph",
    current_task_id="task-1",
    status_message="Processing...",
    context=context,
)

# Save the session
storage.save(session)

# Retrieve the session
retrieved = storage.get(session_id)

# Delete the session
deleted = storage.delete(session_id)

print(  # noqa: T201 (the test reads this line)
    json.dumps(
        {
            "installed_apps": list(settings.INSTALLED_APPS),
            "use_tz": settings.USE_TZ,
            "found": retrieved
            and {
                "graph_id": retrieved.graph_id,
                "current_task_id": retrieved.current_task_id,
                "status_message": retrieved.status_message,
                "insurance_type": retrieved.context.get("insurance_type"),
            },
            "deleted": deleted,
            "after_delete": storage.get(session_id),
        }
    )
)
