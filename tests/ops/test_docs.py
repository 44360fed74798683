"""The quickstart (docs/quickstart.md and the README's) works as written: every code block runs.

Python blocks without a title are pasted, line by line, into the interactive console that
``manage.py shell`` starts, with the names its automatic imports give, and a ``# => value``
comment must be what the console prints. Blocks titled ``settings.py`` or ``urls.py`` are
checked as that file of a project. Shell commands are run, or listed below with the reason
they are not.
"""

from __future__ import annotations

import asyncio
import code
import importlib.util
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.commands.shell import Command as ShellCommand
from django.db import connections
from django.db.utils import ConnectionHandler
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
QUICKSTARTS = ["docs/quickstart.md", "README.md"]

#: Commands a quickstart shows, run here as the test's own project would run them.
RUN_COMMANDS: dict[str, Callable[[], object]] = {
    "python manage.py migrate": lambda: call_command("migrate", verbosity=0),
}

#: Commands a quickstart shows that this test does not run, and why.
NOT_RUN: dict[str, str] = {
    'pip install "graphflow-sessions[postgres]"': "installs from PyPI; the suite runs on "
    "this checkout, installed with the same extras by `make venv`",
    'pip install "graphflow-sessions[postgres,drf]"': "installs from PyPI (see above)",
    'pip install "psycopg[binary]"': "installs from PyPI; psycopg is installed by the extra",
    "python manage.py shell": "starts the console the Python blocks are pasted into: the "
    "test gives them that console, with the shell's automatic imports",
    "python manage.py createsuperuser": "asks for a password interactively; the urls.py "
    "checks log in with a superuser made by the test",
    "make demo": "development: serves the example project until stopped",
    "make test": "development: this suite itself",
    "make matrix": "development: this suite on other Pythons and Djangos",
    "make bench": "development: benchmarks, timed on a quiet machine only",
    "make docs": "development: `make test` runs it (a strict MkDocs build)",
}

FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
TITLE = re.compile(r'title="([^"]+)"')
SHOWN = re.compile(r"#\s*=>\s*(.+)$")


@dataclass(frozen=True)
class Block:
    language: str
    title: str | None
    text: str
    line: int

    def __str__(self) -> str:
        return f"the {self.language} block at line {self.line}"


def code_blocks(page: str) -> list[Block]:
    source = (ROOT / page).read_text()
    blocks = []
    for match in FENCE.finditer(source):
        title = TITLE.search(match.group(2))
        blocks.append(
            Block(
                language=match.group(1),
                title=title.group(1) if title else None,
                text=match.group(3),
                line=source.count("\n", 0, match.start()) + 1,
            )
        )
    return blocks


def blocks_of(page: str, language: str, title: str | None) -> list[Block]:
    return [b for b in code_blocks(page) if (b.language, b.title) == (language, title)]


def commands(block: Block) -> Iterator[str]:
    for line in block.text.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command:
            yield command


class PastedBlockFailed(AssertionError):
    pass


class ShellConsole(code.InteractiveConsole):
    """Django's ``manage.py shell`` console (``code.interact``), that fails instead of
    printing a traceback, and records what it prints for each statement."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        super().__init__(locals=namespace)
        self.shown: list[str] = []

    def showtraceback(self) -> None:
        raise PastedBlockFailed(self._last_error())

    def showsyntaxerror(self, filename: str | None = None, **kwargs: Any) -> None:
        raise PastedBlockFailed(self._last_error())

    def _last_error(self) -> str:
        return f"{type(sys.exc_info()[1]).__name__}: {sys.exc_info()[1]}"

    def runcode(self, code_object: Any) -> None:
        def display(value: object) -> None:
            if value is not None:
                self.shown.append(repr(value))

        saved, sys.displayhook = sys.displayhook, display
        try:
            super().runcode(code_object)
        finally:
            sys.displayhook = saved


def paste(console: ShellConsole, block: Block) -> None:
    """Push each line as a paste into the console does; check each ``# => value``."""
    statement: list[str] = []
    for number, line in enumerate([*block.text.splitlines(), ""], start=block.line + 1):
        statement.append(line)
        console.shown.clear()
        try:
            more = console.push(line)
        except PastedBlockFailed as error:
            console.resetbuffer()
            raise PastedBlockFailed(f"{block}, line {number}: {error}") from error
        if more:
            continue
        expected = [m.group(1).strip() for s in statement if (m := SHOWN.search(s))]
        if expected:
            assert console.shown == expected, f"{block}, line {number}: printed {console.shown}"
        statement = []
    assert not statement or statement == [""], f"{block} ends inside a statement"


def shell_namespace() -> dict[str, Any]:
    return ShellCommand().get_namespace(verbosity=0)


def close_async_connections() -> None:
    # asyncio.run's sync_to_async calls run in asgiref's own thread, which keeps a connection.
    asyncio.run(sync_to_async(connections.close_all)())


@pytest.mark.parametrize("page", QUICKSTARTS)
@pytest.mark.django_db(transaction=True)
def test_the_python_blocks_run_pasted_into_manage_py_shell_and_print_what_they_show(page):
    blocks = blocks_of(page, "python", None)
    assert blocks, f"{page} has no shell code"
    console = ShellConsole(shell_namespace())
    try:
        for block in blocks:
            paste(console, block)
    finally:
        close_async_connections()


def test_a_pasted_block_that_raises_or_prints_something_else_fails():
    console = ShellConsole({})
    with pytest.raises(PastedBlockFailed, match="ZeroDivisionError"):
        paste(console, Block("python", None, "1 / 0\n", 1))
    with pytest.raises(AssertionError, match=r"printed \['2'\]"):
        paste(console, Block("python", None, "1 + 1  # => 3\n", 1))
    with pytest.raises(PastedBlockFailed, match="SyntaxError"):
        # A blank line must end an indented block before the next statement, as in the REPL.
        paste(console, Block("python", None, "if True:\n    x = 1\ny = 2\n", 1))


def test_the_shell_binds_session_to_django_sessions_which_is_why_the_quickstart_renames_ours():
    from graphflow_sessions.models import Session

    namespace = shell_namespace()
    assert namespace["Session"] is not Session
    assert namespace["Session"]._meta.app_label == "sessions"


@pytest.mark.parametrize("page", QUICKSTARTS)
def test_every_block_is_shell_code_a_settings_or_urls_file_or_a_known_command(page):
    for block in code_blocks(page):
        assert (block.language, block.title) in {
            ("python", None),
            ("python", "settings.py"),
            ("python", "urls.py"),
            ("bash", None),
        }, f"{page}: no test runs {block} (title {block.title!r})"


@pytest.mark.parametrize("page", QUICKSTARTS)
@pytest.mark.django_db
def test_the_shell_commands_run_or_are_listed_with_the_reason_they_are_not(page):
    for block in blocks_of(page, "bash", None):
        for command in commands(block):
            if command in RUN_COMMANDS:
                RUN_COMMANDS[command]()
            else:
                assert command in NOT_RUN, f"{page}: {block} runs {command!r}, which no test runs"


def check_installed_apps(apps: list[str], tmp_path: Path) -> None:
    missing = [app for app in apps if app not in settings.INSTALLED_APPS]
    assert not missing, f"the suite runs without {missing}, so nothing tested them"


def check_databases(databases: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """Each database connects; a PostgreSQL one with the suite's server and credentials."""
    suite = settings.DATABASES["default"]
    for alias, database in databases.items():
        if database["ENGINE"] == "django.db.backends.postgresql":
            if "postgresql" not in suite["ENGINE"]:
                continue  # no server on a SQLite run; the PostgreSQL run connects
            database = {**database, **{k: suite[k] for k in ("NAME", "USER", "PASSWORD", "HOST")}}
            database["PORT"] = suite["PORT"]
        handler = ConnectionHandler({alias: database})
        try:
            with handler[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchone() == (1,)
        finally:
            handler.close_all()


SETTINGS_CHECKS: dict[str, Callable[[Any, Path], None]] = {
    "INSTALLED_APPS": check_installed_apps,
    "DATABASES": check_databases,
}


# The quickstarts set up the REST API too; without the drf extra (the matrix's nodrf run)
# their settings and urls blocks cannot be tried, as the API's own tests cannot.
needs_drf = pytest.mark.skipif(
    importlib.util.find_spec("rest_framework") is None,
    reason="the drf extra is not installed (the quickstart's REST blocks need it)",
)


@needs_drf
@pytest.mark.parametrize("page", QUICKSTARTS)
@pytest.mark.django_db
def test_the_settings_blocks_name_installed_apps_and_databases_that_connect(page, tmp_path):
    blocks = blocks_of(page, "python", "settings.py")
    assert blocks
    for block in blocks:
        namespace: dict[str, Any] = {"BASE_DIR": tmp_path}
        exec(block.text, namespace)
        names = [name for name in namespace if name.isupper() and name != "BASE_DIR"]
        assert names, f"{block} sets nothing"
        for name in names:
            assert name in SETTINGS_CHECKS, f"{page}: no check for {name} ({block})"
            SETTINGS_CHECKS[name](namespace[name], tmp_path)


@needs_drf
@pytest.mark.parametrize("page", QUICKSTARTS)
@pytest.mark.django_db
def test_the_urls_blocks_serve_the_admin_and_the_api_with_its_login(page, monkeypatch):
    blocks = blocks_of(page, "python", "urls.py")
    assert blocks
    get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    for number, block in enumerate(blocks):
        urls = types.ModuleType(f"quickstart_urls_{number}")
        exec(block.text, urls.__dict__)
        monkeypatch.setitem(sys.modules, urls.__name__, urls)
        with override_settings(ROOT_URLCONF=urls.__name__):
            client = Client()
            assert client.get("/admin/login/").status_code == 200, block
            if "api/" not in block.text:
                continue
            pytest.importorskip("rest_framework", reason="the drf extra is not installed")
            browser = {"HTTP_ACCEPT": "text/html"}
            refused = client.get("/api/sessions/", **browser)
            assert refused.status_code == 403
            assert b"/api-auth/login/" in refused.content, "the browsable API offers no login"
            client.post("/api-auth/login/", {"username": "admin", "password": "pw"})
            assert client.get("/api/sessions/", **browser).status_code == 200, block
