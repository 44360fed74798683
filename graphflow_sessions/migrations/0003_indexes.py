"""Named indexes for the list, filter, pagination and retention queries (see Session.Meta).

On PostgreSQL also a GIN index on the context's ``data`` object, which serves containment
filters such as ``context__data__contains={"insurance_type": "car"}`` (the REST API's
``?data.insurance_type=car``). jsonb_path_ops keeps it small: it indexes values, not keys.
"""

from django.db import migrations, models

import graphflow_sessions.migration_operations


class Migration(migrations.Migration):
    dependencies = [
        ("graphflow_sessions", "0002_version"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="session",
            index=models.Index(fields=["updated_at", "id"], name="gfs_updated_id_idx"),
        ),
        # In Django's state only: a btree of whole graph and task values refuses a long
        # incompressible one, so adopting a table that already holds such a row would fail
        # here. 0005 replaces both with indexes of the values' first characters.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="session",
                    index=models.Index(
                        fields=["graph_id", "updated_at"], name="gfs_graph_updated_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="session",
                    index=models.Index(
                        fields=["current_task_id", "updated_at"], name="gfs_task_updated_idx"
                    ),
                ),
            ]
        ),
        migrations.AddIndex(
            model_name="session",
            index=models.Index(fields=["created_at"], name="gfs_created_idx"),
        ),
        # Serves filters of the form ``context -> 'data' @> '{"key": value}'``.
        graphflow_sessions.migration_operations.PostgresOnlySQL(
            sql="CREATE INDEX IF NOT EXISTS gfs_context_data_gin "
            "ON sessions USING GIN ((context -> 'data') jsonb_path_ops)",
            reverse_sql="DROP INDEX IF EXISTS gfs_context_data_gin",
        ),
    ]
