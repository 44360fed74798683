"""``scripts/system-deps``, which ``make test`` runs first: it finds every system program the
suite drives, or stops at once with the command that installs them.

The programs are hidden the way a fresh machine lacks them: PATH is a folder of links to
everything on the real PATH except them.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.programs import MissingProgram, program

ROOT = Path(__file__).resolve().parents[2]
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres", "pg_basebackup")

pytestmark = pytest.mark.database_independent


def path_without(folder: Path, *hidden: str) -> str:
    """A PATH of links to every program on the real PATH but ``hidden``."""
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = folder / entry.name
            if entry.name in hidden or link.exists() or link.is_symlink():
                continue
            if os.access(entry.path, os.X_OK) and not entry.is_dir():
                link.symlink_to(entry.path)
    return str(folder)


def run(script: str, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_with_every_program_present_it_says_nothing_and_succeeds() -> None:
    result = run("system-deps", os.environ["PATH"])

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_without_the_programs_or_apt_get_it_stops_at_once_with_the_install_command(
    tmp_path: Path,
) -> None:
    hidden = ("chromium", "pgbouncer", "pg_config", *SERVER_PROGRAMS, "apt-get")
    started = time.monotonic()

    result = run("system-deps", path_without(tmp_path / "bin", *hidden))

    assert result.returncode == 1
    assert time.monotonic() - started < 10  # nothing installed, nothing downloaded
    for name in hidden[:-1]:
        assert f"system-deps: {name} not found on PATH" in result.stderr
    assert (
        "  sudo apt-get update && sudo apt-get install -y chromium pgbouncer libpq-dev postgresql\n"
        in result.stderr
    )


def test_only_the_missing_programs_packages_are_named(tmp_path: Path) -> None:
    result = run("system-deps", path_without(tmp_path / "bin", "pgbouncer", "apt-get"))

    assert result.returncode == 1
    assert "system-deps: pgbouncer not found" in result.stderr
    assert "chromium not found" not in result.stderr
    assert "sudo apt-get install -y pgbouncer\n" in result.stderr


def test_postgresql_server_programs_off_path_are_found_through_pg_config(
    tmp_path: Path,
) -> None:
    path = path_without(tmp_path / "bin", *SERVER_PROGRAMS)
    bindir = subprocess.run(
        ["pg_config", "--bindir"], capture_output=True, text=True, check=True
    ).stdout.strip()

    for name in SERVER_PROGRAMS:
        found = run("find-program", path, name)
        assert (found.returncode, found.stdout) == (0, f"{bindir}/{name}\n")
    assert run("system-deps", path).returncode == 0


def test_the_suite_names_a_missing_program_and_the_setup_command() -> None:
    with pytest.raises(MissingProgram, match="no-such-program is not on PATH.*scripts/system-deps"):
        program("no-such-program")
