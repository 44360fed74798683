"""PgBouncer (``pgbouncer`` on PATH) in transaction pooling mode in front of a database.

    with pgbouncer(upstream_port=5432) as port: ...

It runs in the foreground of its own process (as ``postgres`` when the suite is root),
with its own ini, userlist, log and pid file in a scratch directory, and is terminated
when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .processes import (
    as_server_user,
    free_port,
    query,
    scratch_directory,
    stop_process,
    wait_for,
)
from .programs import program


def _write_config(root: Path, port: int, upstream_port: int, pool_size: int) -> Path:
    (root / "userlist.txt").write_text('"postgres" ""\n')
    ini = root / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={upstream_port}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {root / 'userlist.txt'}\n"
        "admin_users = postgres\n"
        "pool_mode = transaction\n"
        # Fewer server connections than client threads: they must share them.
        f"default_pool_size = {pool_size}\n"
        "max_client_conn = 100\n"
        # Publish SHOW STATS counters every second (the tests read them).
        "stats_period = 1\n"
        f"logfile = {root / 'pgbouncer.log'}\n"
        f"pidfile = {root / 'pgbouncer.pid'}\n"
        # psycopg may send these at startup; PgBouncer must not refuse the connection.
        "ignore_startup_parameters = extra_float_digits, options\n"
    )
    if os.geteuid() == 0:
        for path in (ini, root / "userlist.txt"):
            shutil.chown(path, "postgres", "postgres")
    return ini


def _accepts_connections(process: subprocess.Popen[bytes], port: int) -> bool:
    if process.poll() is not None:
        return True  # exited: stop waiting, the caller looks at why
    return bool(query(port, "SHOW VERSION", "pgbouncer"))


@contextlib.contextmanager
def pgbouncer(
    upstream_port: int = 5432, preferred_port: int = 56432, pool_size: int = 2
) -> Iterator[int]:
    with scratch_directory("pgbouncer-") as root:
        port = free_port(preferred_port)
        for attempt in range(3):
            ini = _write_config(root, port, upstream_port, pool_size)
            process = subprocess.Popen(
                [program("pgbouncer"), str(ini)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **as_server_user(),
            )
            try:
                wait_for(
                    "PgBouncer to accept connections",
                    lambda: _accepts_connections(process, port),  # noqa: B023 (waited for here)
                    timeout=15,
                )
            except BaseException:
                stop_process(process)
                raise
            if process.poll() is None:
                break
            log = (root / "pgbouncer.log").read_text(errors="replace")[-2000:]
            # The port may have been taken between the probe and the bind: try another.
            if attempt == 2 or "Address already in use" not in log:
                raise RuntimeError(f"pgbouncer exited ({process.returncode}):\n{log}")
            port = free_port(0)
        try:
            yield port
        finally:
            stop_process(process)
