"""The search index's functions and triggers as this release writes them, where the index is
installed (0004, or ``graphflow_sessions_index --install``): an update is indexed before it
is stored, deletes once per statement (see search/postgres.py and docs/search.md).

A no-op on other databases and where the index is not installed; the side tables and what
they hold are kept. Unapplying it keeps the new functions (they index the same rows the
same way).
"""

from typing import Any

from django.db import migrations


def reinstall(apps: Any, schema_editor: Any) -> None:
    from graphflow_sessions.search import postgres

    postgres.reinstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("graphflow_sessions", "0005_long_text_indexes")]

    operations = [
        # The hint routes it like the Session model (to GRAPHFLOW_SESSIONS["DATABASE"]).
        migrations.RunPython(reinstall, migrations.RunPython.noop, hints={"model_name": "session"}),
    ]
