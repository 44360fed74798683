"""The index the admin overview counts "where sessions wait" from (see Session.Meta)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("graphflow_sessions", "0003_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="session",
            index=models.Index(
                fields=["graph_id", "current_task_id", "updated_at"], name="gfs_graph_task_idx"
            ),
        ),
    ]
