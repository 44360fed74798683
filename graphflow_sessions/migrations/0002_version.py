"""graph-flow 0.6's ``version`` column (optimistic locking), and lz4 for large contexts.

``version`` has a constant default, so PostgreSQL adds it without rewriting the table and
graph-flow 0.5 services, which never name it, keep working. lz4 (PostgreSQL 14+, when the
server has it) compresses a large jsonb value several times faster than the default pglz,
which is where most of a megabyte-sized save's time goes; it applies to values written after
this migration.
"""

from django.db import migrations, models

import graphflow_sessions.migration_operations


class Migration(migrations.Migration):
    dependencies = [("graphflow_sessions", "0001_initial")]

    operations = [
        graphflow_sessions.migration_operations.AddVersionColumn(
            model_name="session",
            name="version",
            field=models.BigIntegerField(
                db_default=0, default=0, editable=False, verbose_name="version"
            ),
        ),
    ]
