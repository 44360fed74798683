"""The example project under concurrent HTTP load, on PostgreSQL, served two ways.

- As ``make demo`` serves it: ``scripts/demo`` (migrate, demo login, then ``manage.py
  runserver``, which answers each request in a new thread).
- By gunicorn, a real WSGI server: 2 worker processes with 8 threads each, ``DEBUG`` off.

Against each, 8 clients append messages to one session while 50 clients append to 50
sessions of their own, all at once, through the REST API (``POST .../messages/``). Then:
0 errors, every session read back holds each sent message exactly once (in each client's
order), and the connections to the database (``pg_stat_activity``, sampled throughout)
never exceed the example's connection pool: ``DATABASE_POOL_MAX_SIZE`` per server process.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support import throwaway
from tests.support.processes import ROOT, free_port, scratch_directory, serving

pytestmark = [pytest.mark.postgres, pytest.mark.heavy]

ONE_SESSION_CLIENTS, APPENDS_TO_ONE = 8, 15
OWN_SESSION_CLIENTS, APPENDS_TO_OWN = 50, 3
GUNICORN_WORKERS, GUNICORN_THREADS = 2, 8
POOL_MAX_SIZE = 5  # DATABASE_POOL_MAX_SIZE for both servers (the example's default is 10)


@dataclass
class Figures:
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    max_connections: int = 0
    seconds: float = 0.0


@dataclass
class Api:
    """HTTP to one server, as the demo user logged in through the admin's login form."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: Any = None, form: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Connection": "close", "Accept": "application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        payload = None
        if form is not None:
            payload = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, value = header.split(";", 1)[0].split("=", 1)
                self.cookies[name] = value
            text = response.read().decode()
        finally:
            connection.close()
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        return response.status, json.loads(text) if is_json else text

    def log_in(self, password: str) -> None:
        status, page = self.request("GET", "/admin/login/")
        assert status == 200, page
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None, page
        form = {"username": "demo", "password": password, "csrfmiddlewaretoken": token[1]}
        status, _page = self.request("POST", "/admin/login/?next=/admin/", form=form)
        assert status == 302 and "sessionid" in self.cookies, (status, _page)

    def new_session(self) -> str:
        body = {"graph_id": "load", "current_task_id": "append"}
        status, created = self.request("POST", "/api/sessions/", body)
        assert status == 201, created
        return str(created["id"])

    def messages(self, session_id: str) -> list[str]:
        status, session = self.request("GET", f"/api/sessions/{session_id}/")
        assert status == 200, session
        return [m["content"] for m in session["context"]["chat_history"]["messages"]]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = throwaway.throwaway_name("example_load")
    throwaway.create_database(name)
    yield name
    throwaway.drop_database(name)


def example_environment(database: str, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(
        DATABASE_URL=throwaway.url_for(database),
        DATABASE_POOL_MAX_SIZE=str(POOL_MAX_SIZE),
        VENV=sys.prefix,  # scripts/demo runs the interpreter running the tests
        DEMO_SESSIONS="0",
        **extra,
    )
    return environment


def demo_password(output: str) -> str:
    found = re.search(r"username demo  password (\S+)", output)
    assert found, output
    return found[1]


@pytest.fixture(scope="module")
def prepared(database: str) -> str:
    """The demo's database and login, made by scripts/demo; the login's password."""
    done = subprocess_run(
        [str(ROOT / "scripts" / "demo")], example_environment(database, DEMO_NO_SERVE="1")
    )
    return demo_password(done)


def subprocess_run(args: list[str], environment: dict[str, str]) -> str:
    done = subprocess.run(
        args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextlib.contextmanager
def sampled_connections(database: str, figures: Figures) -> Iterator[None]:
    """Count the server processes connected to ``database`` every 50 ms meanwhile."""
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            count = throwaway.server_connections(database)
            figures.max_connections = max(figures.max_connections, count)
            stop.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()


def run_load(api: Api, database: str) -> Figures:
    figures = Figures()
    shared = api.new_session()
    own = [api.new_session() for _client in range(OWN_SESSION_CLIENTS)]
    # (session, texts in the order one client sent them) for each client.
    plans = [
        (shared, [f"shared client {c} message {i}" for i in range(APPENDS_TO_ONE)])
        for c in range(ONE_SESSION_CLIENTS)
    ] + [
        (session, [f"own client {c} message {i}" for i in range(APPENDS_TO_OWN)])
        for c, session in enumerate(own)
    ]
    start = threading.Barrier(len(plans))
    lock = threading.Lock()

    def client(session_id: str, texts: list[str]) -> None:
        start.wait()
        for text in texts:
            body = {"role": "User", "content": text}
            try:
                status, answer = api.request("POST", f"/api/sessions/{session_id}/messages/", body)
                failure = None if status == 201 else f"{status}: {str(answer)[:300]}"
            except OSError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            with lock:
                figures.requests += 1
                if failure:
                    figures.errors.append(failure)

    threads = [threading.Thread(target=client, args=plan) for plan in plans]
    began = time.monotonic()
    with sampled_connections(database, figures):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    figures.seconds = time.monotonic() - began
    assert not figures.errors, f"{len(figures.errors)} appends failed: {figures.errors[:5]}"

    stored = {session: api.messages(session) for session in {shared, *own}}
    for session, texts in plans:
        kept = [text for text in stored[session] if text in texts]
        assert kept == texts, f"session {session}: sent {texts}, stored {kept}"
    for session, contents in stored.items():
        sent = [text for plan_session, texts in plans if plan_session == session for text in texts]
        assert sorted(contents) == sorted(sent), f"session {session}: lost or extra messages"
    return figures


def check(figures: Figures, bound: int, report: Callable[[str], None], served: str) -> None:
    report(
        f"{served}: {figures.requests} appends in {figures.seconds:.1f} s, "
        f"{len(figures.errors)} errors, at most {figures.max_connections} database "
        f"connections (pool bound {bound})"
    )
    assert figures.requests == (
        ONE_SESSION_CLIENTS * APPENDS_TO_ONE + OWN_SESSION_CLIENTS * APPENDS_TO_OWN
    )
    assert not figures.errors, figures.errors[:5]
    assert 0 < figures.max_connections <= bound


def test_the_demo_server_answers_concurrent_appends_on_a_bounded_pool(
    database: str, report_figure: Callable[[str], None]
) -> None:
    port = free_port(0)
    environment = example_environment(database, DEMO_ADDR=f"127.0.0.1:{port}")
    with (
        scratch_directory("load-demo-") as root,
        serving(
            [str(ROOT / "scripts" / "demo")], port, root / "demo.log", cwd=ROOT, env=environment
        ),
    ):
        api = Api(port)
        # scripts/demo sets a new password each run: the one this run printed.
        api.log_in(demo_password((root / "demo.log").read_text()))
        figures = run_load(api, database)

    check(figures, POOL_MAX_SIZE, report_figure, "make demo (runserver)")


def test_gunicorn_with_threads_answers_concurrent_appends_on_a_bounded_pool(
    database: str, prepared: str, report_figure: Callable[[str], None]
) -> None:
    port = free_port(0)
    environment = example_environment(
        database,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="load-test-secret-not-the-public-development-key",
        DJANGO_SETTINGS_MODULE="example_project.settings",
    )
    gunicorn = [
        str(Path(sys.prefix) / "bin" / "gunicorn"),
        "example_project.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(GUNICORN_WORKERS),
        "--threads", str(GUNICORN_THREADS),
    ]  # fmt: skip
    with (
        scratch_directory("load-gunicorn-") as root,
        serving(gunicorn, port, root / "gunicorn.log", cwd=ROOT, env=environment),
    ):
        api = Api(port)
        api.log_in(prepared)
        figures = run_load(api, database)

    check(figures, GUNICORN_WORKERS * POOL_MAX_SIZE, report_figure, "gunicorn 2x8 threads")
