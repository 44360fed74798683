"""Plumbing for the tests that start real servers (a streaming replica pair, PgBouncer).

Each server starts in a fresh directory under ``.tmp/`` (gitignored) on a free port, as the
``postgres`` user when the suite runs as root (initdb and pgbouncer refuse root), and is
stopped and its directory removed when its fixture ends.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
SCRATCH = ROOT / ".tmp" / "infra"


def as_server_user() -> dict[str, Any]:
    """subprocess options that drop root to ``postgres``; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@contextlib.contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A new directory under .tmp/infra owned by the server user, removed afterwards."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=SCRATCH))
    if os.geteuid() == 0:
        os.chmod(SCRATCH, 0o755)
        os.chmod(SCRATCH.parent, 0o755)
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there, else any free port the kernel picks."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free TCP port on 127.0.0.1")


def run(args: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    """Run a server tool as the server user; on failure, raise with its output."""
    done = subprocess.run(
        args, capture_output=True, text=True, **as_server_user(), **options, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def accepts_tcp(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serving(
    args: list[str], port: int, log: Path, timeout: float = 60.0, **options: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process (``args``) with its output in ``log``, once it listens on ``port``;
    stopped on exit. One that exits before listening raises with the end of its log."""
    with log.open("wb") as output:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, **options)
        try:
            wait_for(
                f"{args[0]} to listen on port {port}",
                lambda: process.poll() is not None or accepts_tcp(port),
                timeout,
            )
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{' '.join(args)} exited ({process.returncode}):\n{tail}")
            yield process
        finally:
            stop_process(process)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except psycopg.Error:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def query(port: int, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
    """One statement on 127.0.0.1:port as postgres, in its own short connection."""
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname=dbname, autocommit=True,
        connect_timeout=5,
    ) as connection:  # fmt: skip
        cursor = connection.execute(sql)
        return cursor.fetchall() if cursor.description else []
