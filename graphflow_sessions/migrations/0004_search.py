"""The PostgreSQL search index: side tables, their functions and the triggers on the sessions
table that keep them current (see search/postgres.py and docs/search.md).

A no-op on other databases, and where ``GRAPHFLOW_SESSIONS["SEARCH_INDEX"]`` is False when
migrating (``manage.py graphflow_sessions_index --install`` adds it later, ``--drop`` removes
it). Neither changes Django's model state: the side tables are not models.
"""

from typing import Any

from django.db import migrations


def install(apps: Any, schema_editor: Any) -> None:
    from graphflow_sessions.conf import app_settings
    from graphflow_sessions.search import postgres

    if schema_editor.connection.vendor == "postgresql" and app_settings.SEARCH_INDEX:
        postgres.install(schema_editor.connection)


def uninstall(apps: Any, schema_editor: Any) -> None:
    from graphflow_sessions.search import postgres

    if schema_editor.connection.vendor == "postgresql":
        postgres.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("graphflow_sessions", "0003_indexes")]

    operations = [
        # The hint routes it like the Session model (to GRAPHFLOW_SESSIONS["DATABASE"]).
        migrations.RunPython(install, uninstall, hints={"model_name": "session"}),
    ]
