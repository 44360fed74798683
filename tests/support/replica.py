"""A primary PostgreSQL cluster and a hot-standby replica made from it with pg_basebackup.

    with streaming_replica() as pair:
        pair.primary_port, pair.replica_port
        pair.wait_for_replay()            # the replica has replayed everything committed
        with pair.replay_paused(): ...    # the replica stops applying WAL meanwhile

Both are throwaway clusters (initdb with trust auth, fsync off) under .tmp/infra, so the
shared server on 5432 needs no replication permission and is never touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .cluster import SERVER_OPTIONS, initdb, start, stop
from .processes import query, run, scratch_directory, wait_for
from .programs import program

# A primary must stream its WAL to the replica.
_REPLICATION_OPTIONS = (
    f"{SERVER_OPTIONS} -c wal_level=replica -c max_wal_senders=4 -c hot_standby=on"
)


@dataclass
class ReplicaPair:
    primary_port: int
    replica_port: int

    def wait_for_replay(self, timeout: float = 30.0) -> None:
        (target,) = query(self.primary_port, "SELECT pg_current_wal_insert_lsn()::text")[0]
        wait_for(
            "the replica to replay the primary's WAL",
            lambda: bool(
                query(
                    self.replica_port,
                    f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn",
                )[0][0]
            ),
            timeout,
        )

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The replica keeps receiving WAL but applies none of it: it falls behind."""
        self.wait_for_replay()
        query(self.replica_port, "SELECT pg_wal_replay_pause()")
        wait_for(
            "replay to pause",
            lambda: (
                query(self.replica_port, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused"
            ),
        )
        try:
            yield
        finally:
            query(self.replica_port, "SELECT pg_wal_replay_resume()")


@contextlib.contextmanager
def streaming_replica(
    primary_port: int = 55432, replica_port: int = 55433
) -> Iterator[ReplicaPair]:
    with scratch_directory("replica-") as root:
        primary, replica = root / "primary", root / "replica"
        try:
            initdb(primary)
            # initdb's pg_hba.conf already trusts replication connections from localhost.
            primary_port = start(primary, primary_port, root, _REPLICATION_OPTIONS)
            run([program("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port),
                 "-U", "postgres", "-D", str(replica), "-R", "-X", "stream", "-c", "fast",
                 "--no-sync"])  # fmt: skip
            replica_port = start(replica, replica_port, root, _REPLICATION_OPTIONS)
            pair = ReplicaPair(primary_port, replica_port)
            wait_for(
                "the replica to stream from the primary",
                lambda: (
                    query(
                        primary_port,
                        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                    )[0][0]
                    == 1
                ),
            )
            yield pair
        finally:
            stop(replica)
            stop(primary)


def routed_settings(primary: str, replica: str) -> dict[str, Any]:
    """Settings that put sessions on ``primary`` and list-style reads on ``replica``."""
    return {
        "GRAPHFLOW_SESSIONS": {"DATABASE": primary, "REPLICA_DATABASE": replica},
        "DATABASE_ROUTERS": ["graphflow_sessions.routers.SessionsRouter"],
    }


@contextlib.contextmanager
def routed_replica(primary: str, replica: str, **ports: int) -> Iterator[ReplicaPair]:
    """A streaming replica with the aliases ``primary`` and ``replica`` on its two servers,
    routed by :func:`routed_settings`, the sessions schema migrated and replayed.

    Open it where database access is allowed (``django_db_blocker.unblock()``).
    """
    from django.core.management import call_command
    from django.db import connections
    from django.test import override_settings

    from .databases import database_alias, postgres

    with (
        streaming_replica(**ports) as pair,
        database_alias(primary, **postgres(pair.primary_port, "postgres")),
        database_alias(replica, **postgres(pair.replica_port, "postgres")),
        override_settings(**routed_settings(primary, replica)),
    ):
        call_command("migrate", database=primary, verbosity=0)
        pair.wait_for_replay()
        yield pair
        connections[primary].close()
        connections[replica].close()
