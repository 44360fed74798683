"""graph-flow's own serde types and SQL, compiled: the Cargo crate in tests/rust_client/.

The crate builds offline from Debian's packaged crates (its .cargo/config.toml points cargo
at /usr/share/cargo/registry), once per test run, in the ``rust_client_binary`` fixture:

    from tests.support.rust_client import rust_client_binary  # noqa: F401 (the fixture)

A missing toolchain or crate fails the run, naming the packages to install; it never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CRATE = ROOT / "tests" / "rust_client"
# Where tests/rust_client/.cargo/config.toml sends the build (under the git-ignored .tmp/).
BINARY = ROOT / ".tmp" / "rust-client-target" / "debug" / "graphflow-client"
DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")
APT_PACKAGES = (
    "librust-tokio-postgres-dev",
    "librust-postgres-types-dev",
    "librust-serde-json-dev",
    "librust-serde-dev",
    "librust-chrono-dev",
    "librust-uuid-dev",
    "librust-tokio-dev",
)
INSTALL = "apt-get update && apt-get install -y " + " ".join(APT_PACKAGES)

# The crate's exit codes (see tests/rust_client/src/main.rs).
STORAGE_ERROR, USAGE_ERROR, SESSION_CONFLICT, SESSION_NOT_FOUND = 1, 2, 3, 4


def find_cargo() -> str | None:
    """cargo on PATH, else rustup's default place (PATH may not carry ~/.cargo/bin)."""
    rustup_cargo = Path.home() / ".cargo" / "bin" / "cargo"
    return shutil.which("cargo") or (str(rustup_cargo) if rustup_cargo.exists() else None)


def build() -> Path:
    """Build the crate (a no-op when nothing changed) and return the binary's path."""
    cargo = find_cargo()
    if cargo is None:
        pytest.fail(
            "cargo is not installed: the Rust client tests need a Rust toolchain (rustup's, or "
            f"Debian's with `apt-get install -y cargo`) and the packaged crates: {INSTALL}",
            pytrace=False,
        )
    needed = ("tokio-postgres-0.7.7", "postgres-types-0.2.4", "chrono-0.4.23", "uuid-1.2.1")
    missing = [crate for crate in needed if not (DEBIAN_REGISTRY / crate).is_dir()]
    if missing:
        pytest.fail(
            f"Debian's Rust crates are not installed ({', '.join(missing)} missing from "
            f"{DEBIAN_REGISTRY}): {INSTALL}",
            pytrace=False,
        )
    # The working directory matters: cargo reads .cargo/config.toml from there upwards.
    done = subprocess.run(
        [cargo, "build", "--offline", "--locked", "--quiet"],
        cwd=CRATE,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"building {CRATE} failed ({done.returncode}):\n{done.stderr}\n"
            f"If crates are missing: {INSTALL}",
            pytrace=False,
        )
    return BINARY


@pytest.fixture(scope="session")
def rust_client_binary() -> Path:
    return build()


class RustClientError(Exception):
    """The client exited non-zero: ``code`` (the constants above) and its stderr."""

    def __init__(self, code: int, stderr: str) -> None:
        super().__init__(f"graphflow-client exited {code}: {stderr.strip()}")
        self.code = code
        self.stderr = stderr.strip()


@dataclass(frozen=True)
class Written:
    """What a Rust write reports: the rows its statement affected and the session it sent."""

    rows_affected: int
    session: dict[str, Any]


@dataclass(frozen=True)
class RustClient:
    """A graph-flow service of one release (``"0.5"`` is 0.5.1, ``"0.6"`` is 0.6+) on ``url``.

    Every call is a new process, so every call connects and runs that release's
    connect-time DDL first, as a restarted service would.
    """

    binary: Path
    url: str
    flavour: str

    def run(self, *args: str, stdin: str | None = None) -> Any:
        done = subprocess.run(
            [str(self.binary), "--url", self.url, "--flavour", self.flavour, *args],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={**os.environ, "RUST_BACKTRACE": "1"},
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RustClientError(done.returncode, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else None

    def connect(self) -> None:
        self.run("connect")

    def get(self, session_id: Any) -> dict[str, Any] | None:
        """The session as graph-flow's serde loaded it (and wrote it back out), or None."""
        found: dict[str, Any] | None = self.run("get", str(session_id))
        return found

    def save(self, session: dict[str, Any]) -> Written:
        return self._written(self.run("save", stdin=json.dumps(session)))

    def delete(self, session_id: Any) -> int:
        return int(self.run("delete", str(session_id))["rows_affected"])

    def resave(self, session_id: Any) -> Written:
        return self._written(self.run("resave", str(session_id)))

    def append(self, session_id: Any, role: str, content: str) -> Written:
        return self._written(self.run("append", str(session_id), role, content))

    def write_sample(self, session_id: Any, messages: int, max_messages: int | None) -> Written:
        limit = "null" if max_messages is None else str(max_messages)
        return self._written(self.run("write-sample", str(session_id), str(messages), limit))

    @staticmethod
    def _written(report: dict[str, Any]) -> Written:
        return Written(int(report["rows_affected"]), report["session"])
