"""The ``sessions`` table exactly as graph-flow's PostgresSessionStorage creates it.

On PostgreSQL this runs that storage's own ``CREATE TABLE IF NOT EXISTS`` statement, so a table
a Rust service already created is adopted as it is; other databases get the equivalent
table from Django's schema editor (see ``migration_operations``).
"""

import uuid

import django.db.models.functions.datetime
from django.db import migrations, models

import graphflow_sessions.context
import graphflow_sessions.fields
import graphflow_sessions.migration_operations


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        graphflow_sessions.migration_operations.CreateSessionsTable(
            name="Session",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                        verbose_name="id",
                    ),
                ),
                ("graph_id", models.TextField(default="default", verbose_name="graph")),
                ("current_task_id", models.TextField(verbose_name="current task")),
                (
                    "status_message",
                    models.TextField(blank=True, null=True, verbose_name="status message"),
                ),
                (
                    "context",
                    graphflow_sessions.fields.ContextField(
                        default=graphflow_sessions.context.Context, verbose_name="context"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        editable=False,
                        null=True,
                        verbose_name="created",
                    ),
                ),
                (
                    "updated_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        editable=False,
                        null=True,
                        verbose_name="updated",
                    ),
                ),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "db_table": "sessions",
            },
        ),
    ]
