"""The graph and task indexes hold the first 512 characters of each value, not the value.

A btree entry holds at most 2,704 bytes, so the indexes of 0003 made PostgreSQL refuse any
row (ours or a Rust service's) whose graph_id or current_task_id is a long incompressible
text. 512 characters are at most 2,048 bytes; equality filters compare the prefix first
(``fields.IndexedExact``), so they are still index-served.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("graphflow_sessions", "0004_search"),
    ]

    operations = [
        # Databases migrated before 0003 stopped creating these have them; newer ones do not.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="session", name="gfs_graph_updated_idx"),
                migrations.RemoveIndex(model_name="session", name="gfs_task_updated_idx"),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS gfs_graph_updated_idx",
                    reverse_sql=migrations.RunSQL.noop,
                    hints={"model_name": "session"},
                ),
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS gfs_task_updated_idx",
                    reverse_sql=migrations.RunSQL.noop,
                    hints={"model_name": "session"},
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="session",
            index=models.Index(
                models.Func(models.F("graph_id"), template="SUBSTR(%(expressions)s, 1, 512)"),
                models.F("updated_at"),
                name="gfs_graph_prefix_updated_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="session",
            index=models.Index(
                models.Func(
                    models.F("current_task_id"), template="SUBSTR(%(expressions)s, 1, 512)"
                ),
                models.F("updated_at"),
                name="gfs_task_prefix_updated_idx",
            ),
        ),
    ]
