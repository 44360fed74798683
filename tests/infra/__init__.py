"""Real servers for the operations tests: a streaming replica pair and PgBouncer.

Each helper starts its processes in a fresh directory under ``.tmp/`` (gitignored) on a
free port, as the ``postgres`` user when the suite runs as root (initdb and pgbouncer
refuse root), and stops them and removes the directory when the fixture ends.
"""
