"""A throwaway PostgreSQL cluster (initdb, trust auth, fsync off) under .tmp/infra.

    with throwaway_cluster("faults-") as cluster:
        cluster.port                 # 127.0.0.1:port, user postgres, database postgres
        cluster.restart()            # pg_ctl restart -m fast
        cluster.kill()               # kill -9 of the postmaster
        cluster.start()              # on the same port again

The replica pair (``replica.py``) starts its two clusters with ``start`` and ``stop`` too;
nothing here touches the shared server on 5432.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .processes import free_port, query, run, scratch_directory, wait_for
from .programs import program

# Durability is irrelevant for a test cluster; speed and a small footprint are not.
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
    "-c shared_buffers=16MB -c max_connections=30"
)


def initdb(data: Path) -> None:
    run([program("initdb"), "-D", str(data), "-U", "postgres",
         "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"])  # fmt: skip


def _log(data: Path) -> Path:
    return data.parent / f"{data.name}.log"


def _pg_ctl_start(data: Path, port: int, sockets: Path, options: str) -> None:
    run(
        [
            program("pg_ctl"),
            "-D", str(data),
            "-l", str(_log(data)),
            "-o", f"-p {port} -k {sockets} {options}",
            "-w", "-t", "60",
            "start",
        ]
    )  # fmt: skip


def start(data: Path, preferred_port: int, sockets: Path, options: str = SERVER_OPTIONS) -> int:
    """Start the cluster on a free port and return it; retry elsewhere if the port is taken
    between the probe and the bind (other test runs share this machine)."""
    port = free_port(preferred_port)
    for attempt in range(3):
        try:
            _pg_ctl_start(data, port, sockets, options)
            return port
        except RuntimeError as exc:
            log = _log(data)
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            if attempt == 2 or "Address already in use" not in tail:
                raise RuntimeError(f"{exc}\nserver log:\n{tail}") from None
            port = free_port(0)
    raise AssertionError("unreachable")


def stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        with contextlib.suppress(RuntimeError):
            run([program("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])


@dataclass
class Cluster:
    data: Path
    sockets: Path
    port: int
    options: str = SERVER_OPTIONS

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def accepts_connections(self) -> bool:
        return bool(query(self.port, "SELECT 1"))

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: sessions are terminated, the server is back on return."""
        run([program("pg_ctl"), "-D", str(self.data), "-l", str(_log(self.data)),
             "-m", "fast", "-w", "-t", "60", "restart"])  # fmt: skip

    def kill(self) -> None:
        """``kill -9`` of the postmaster, then wait until its orphaned backends have noticed
        and exited: until they do, a new postmaster refuses the shared memory they hold."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        wait_for("the killed postmaster to be gone", lambda: not _alive(pid))

    def start(self) -> None:
        """Start again on the same port (the clients' URL), once the old backends are gone."""
        attempts: list[str] = []

        def started() -> bool:
            try:
                _pg_ctl_start(self.data, self.port, self.sockets, self.options)
            except RuntimeError as exc:
                attempts.append(str(exc))
                return False
            return True

        try:
            wait_for("the cluster to start again", started, timeout=30)
        except TimeoutError:
            raise RuntimeError(attempts[-1] if attempts else "no start attempted") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by its parent) is gone for our purpose.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


@contextlib.contextmanager
def throwaway_cluster(prefix: str, preferred_port: int = 55442) -> Iterator[Cluster]:
    with scratch_directory(prefix) as root:
        data = root / "data"
        try:
            initdb(data)
            port = start(data, preferred_port, root)
            yield Cluster(data=data, sockets=root, port=port)
        finally:
            stop(data)
