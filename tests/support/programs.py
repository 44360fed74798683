"""The system programs the suite drives, found where ``scripts/system-deps`` finds them.

    program("pgbouncer")  # "/usr/sbin/pgbouncer", or MissingProgram saying how to get it

One lookup rule, in ``scripts/find-program``: on PATH, else in PostgreSQL's own program
directory (``pg_config --bindir``).
"""

from __future__ import annotations

import functools
import subprocess

from .processes import ROOT

SETUP_COMMAND = "scripts/system-deps"


class MissingProgram(FileNotFoundError):
    pass


@functools.cache
def program(name: str) -> str:
    found = subprocess.run(
        [str(ROOT / "scripts" / "find-program"), name],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise MissingProgram(
            f"{name} is not on PATH nor in `pg_config --bindir`: run {SETUP_COMMAND} "
            "(make test runs it), which installs it or prints the command that does"
        )
    return found.stdout.strip()
