"""Migration operations that adopt graph-flow's table instead of fighting it.

A Rust graph-flow service creates ``sessions`` itself, with ``CREATE TABLE IF NOT EXISTS``
on every connect. These operations keep Django's migration state exact while, on the
database, doing what the Rust service does: create the table only when it is missing, and
add a column only when it is missing. So ``manage.py migrate`` works on an empty database
and on one a Rust service got to first.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from .storage import sql


class CreateSessionsTable(migrations.CreateModel):
    """CreateModel whose PostgreSQL DDL is graph-flow's own statement, and a no-op elsewhere
    when the table already exists."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        connection = schema_editor.connection
        model = to_state.apps.get_model(app_label, self.name)
        if not self.allow_migrate_model(connection.alias, model):  # routed to another database
            return
        if connection.vendor == "postgresql":
            schema_editor.execute(sql.graph_flow_create_table(model._meta.db_table))
            return
        if model._meta.db_table in connection.introspection.table_names():
            return
        super().database_forwards(app_label, schema_editor, from_state, to_state)


class AddVersionColumn(migrations.AddField):
    """AddField for graph-flow 0.6's ``version`` that tolerates a table 0.6 already extended.

    On PostgreSQL it also stores new large contexts with lz4 where the server has it.
    """

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        connection = schema_editor.connection
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(connection.alias, model):  # routed to another database
            return
        if connection.vendor == "postgresql":
            table = model._meta.db_table
            schema_editor.execute(sql.add_version_column(table))
            if _postgres_has_lz4(connection):
                schema_editor.execute(sql.set_context_compression(table, "lz4"))
            return
        with connection.cursor() as cursor:
            columns = {
                column.name
                for column in connection.introspection.get_table_description(
                    cursor, model._meta.db_table
                )
            }
        if self.name in columns:
            return
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql" and _postgres_has_lz4(
            schema_editor.connection
        ):
            schema_editor.execute(sql.set_context_compression(model._meta.db_table, "default"))
        super().database_backwards(app_label, schema_editor, from_state, to_state)


def _postgres_has_lz4(connection: Any) -> bool:
    # Column compression is PostgreSQL 14+, and lz4 only where the server was built with it.
    if connection.pg_version < 140000:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        return cursor.fetchone() is not None


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL that runs on PostgreSQL only (jsonb indexes and the like); a no-op elsewhere."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
