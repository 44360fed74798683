"""The wheel and sdist as PyPI would get them: built from this checkout with ``python -m
build``, their file lists and metadata read back, and ``twine check`` run on both."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "graphflow_sessions"
DEVELOPMENT_TOOLS = ("pytest", "mypy", "ruff", "playwright", "schemathesis", "hypothesis", "tox")

# Building takes seconds and gives the same files on any database.
pytestmark = pytest.mark.database_independent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


@pytest.fixture(scope="module")
def wheel_files(dist: Path) -> set[str]:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def sdist_files(dist: Path) -> set[str]:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        # Paths inside the top folder, graphflow_sessions-<version>/.
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


@pytest.fixture(scope="module")
def metadata(dist: Path) -> Message:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode())


def package_source_files() -> set[str]:
    """Every file of the package in the checkout: modules, migrations, templates, static,
    locale, py.typed."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def expand_env_list(entry: str) -> list[str]:
    """tox's brace expansion: ``py3{12,13}-django{60,61}`` names four environments."""
    match = re.search(r"\{([^{}]*)\}", entry)
    if not match:
        return [entry]
    return [
        name
        for choice in match.group(1).split(",")
        for name in expand_env_list(entry[: match.start()] + choice + entry[match.end() :])
    ]


def tox_environments() -> list[str]:
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    return [name for line in tox["tox"]["env_list"].split() for name in expand_env_list(line)]


def test_the_wheel_holds_the_whole_package_and_its_license_but_no_tests(
    wheel_files: set[str],
) -> None:
    source = package_source_files()

    assert source <= wheel_files
    for kind in ("migrations/0001_initial.py", "py.typed", "templates/", "static/"):
        assert any(name.startswith(f"{PACKAGE}/{kind}") for name in wheel_files), kind
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in wheel_files)
    outside = {n for n in wheel_files if not n.startswith(f"{PACKAGE}/") and ".dist-info/" not in n}
    assert outside == set()
    assert not any(name.endswith((".pyc", ".sqlite3")) for name in wheel_files)


def test_the_sdist_holds_the_package_and_what_builds_it_but_no_tests(
    sdist_files: set[str],
) -> None:
    assert package_source_files() <= sdist_files
    assert {"LICENSE", "README.md", "pyproject.toml", "PKG-INFO"} <= sdist_files
    # The suite needs the repository (example project, settings, servers): none of it ships.
    assert not any(
        name.startswith(("tests/", "benchmarks/", "example_project/")) for name in sdist_files
    )


def test_the_metadata_names_license_links_and_only_runtime_extras(metadata: Message) -> None:
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    links = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL"))
    assert set(links) == {"Homepage", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith("https://github.com/graphflow-sessions/") for url in links.values())
    assert sorted(metadata.get_all("Provides-Extra")) == ["drf", "postgres"]
    requirements = metadata.get_all("Requires-Dist")
    # Libraries leave psycopg's build (binary wheels or system libpq) to the application.
    assert any(r.startswith("psycopg[pool]") and 'extra == "postgres"' in r for r in requirements)
    assert not any("binary" in r for r in requirements)
    assert not [r for r in requirements if r.split("[")[0].split(">")[0] in DEVELOPMENT_TOOLS]


def test_the_classifiers_name_exactly_the_tested_pythons_and_djangos(metadata: Message) -> None:
    classifiers = metadata.get_all("Classifier")
    pythons = {c.rsplit(" ", 1)[1] for c in classifiers if re.search(r"Python :: 3\.\d+$", c)}
    djangos = {c.rsplit(" ", 1)[1] for c in classifiers if re.search(r"Django :: \d", c)}
    tested = tox_environments()  # py310-django52, ...

    assert pythons == {f"3.{m}" for m in re.findall(r"py3(\d+)", " ".join(tested))}
    assert djangos == {f"{d[0]}.{d[1:]}" for d in re.findall(r"django(\d+)", " ".join(tested))}
    assert metadata["Requires-Python"] == f">={min(pythons, key=lambda v: int(v[2:]))}"
    assert any(c.startswith("Development Status :: ") for c in classifiers)


def test_twine_accepts_both_distributions(dist: Path) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2
