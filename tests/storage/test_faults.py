"""Server faults under load: a restart and a ``kill -9`` of the postmaster, mid-run.

Eight writer threads write to a throwaway cluster (tests/support/cluster.py), each one
alternating between a ``connect()`` storage (its own psycopg pool) and a storage on a
configured Django alias that keeps its connections (``CONN_MAX_AGE=60``, as a project
configures one). The threads run outside any request cycle, as worker threads, management
commands and queue consumers do. Meanwhile the server is restarted (``pg_ctl restart -m
fast``) and later its postmaster is killed and started again. Afterwards:

- every write a storage acknowledged is stored (each new session, each appended message);
- every failure was one of the library's errors, never a psycopg or Django exception;
- each thread's operations, on both storages, succeed again within 5 s of the server being
  back.

The run reports its figures (``report_figure``; docs/reliability.md quotes them).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connections

from graphflow_sessions.context import Context
from graphflow_sessions.exceptions import GraphFlowSessionsError
from graphflow_sessions.models import Session
from graphflow_sessions.storage import DatabaseSessionStorage, PostgresSessionStorage
from tests.support import throwaway
from tests.support.cluster import Cluster, throwaway_cluster
from tests.support.databases import database_alias, postgres

pytestmark = [pytest.mark.postgres, pytest.mark.heavy]

WRITERS = 8
ALIAS = "gfs_faults_configured"
RECOVERY_BOUND = 5.0  # seconds from the server being back to a thread's next success
# Seconds of load before the first fault, between the faults, and after the last one.
STEADY = 2.5
# A failed operation waits this long before the next one, as a real retry loop would.
BACKOFF = 0.02


@dataclass
class Writer:
    """One thread's operations and what the storages acknowledged to it."""

    number: int
    storages: list[tuple[str, DatabaseSessionStorage]]
    created: dict[uuid.UUID, str] = field(default_factory=dict)
    appended: dict[str, list[str]] = field(default_factory=dict)
    running: dict[str, Session] = field(default_factory=dict)
    # (monotonic time, storage name) of each success; each failure's exception.
    successes: list[tuple[float, str]] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    foreign: list[BaseException] = field(default_factory=list)

    def operation(self, step: int) -> None:
        name, storage = self.storages[step % len(self.storages)]
        if step // len(self.storages) % 2 == 0:
            self.create(storage, step)
        else:
            self.append(name, storage, step)
        self.successes.append((time.monotonic(), name))

    def create(self, storage: DatabaseSessionStorage, step: int) -> None:
        text = f"writer {self.number} step {step}"
        session = Session(id=uuid.uuid4(), graph_id="faults", current_task_id="t")
        session.context = Context()
        session.context.add_user_message(text)
        storage.save(session)
        self.created[session.id] = text

    def append(self, name: str, storage: DatabaseSessionStorage, step: int) -> None:
        session = self.running.get(name)
        if session is None:
            session = Session(id=uuid.uuid4(), graph_id="faults", current_task_id="t")
            session.context = Context()
            self.running[name] = session
            self.appended[str(session.id)] = []
        text = f"writer {self.number} step {step}"
        # A failed save leaves the message in the session: the next save stores it, so a
        # message whose save failed may be stored too, but one acknowledged must be.
        session.context.add_user_message(text)
        storage.save(session)
        self.appended[str(session.id)].append(text)

    def run(self, stop: threading.Event) -> None:
        step = 0
        try:
            while not stop.is_set():
                try:
                    self.operation(step)
                except GraphFlowSessionsError as exc:
                    self.failures.append(exc)
                    time.sleep(BACKOFF)
                except Exception as exc:  # noqa: BLE001 - the assertion is that none come here
                    self.foreign.append(exc)
                    time.sleep(BACKOFF)
                step += 1
        finally:
            connections.close_all()  # this thread's connections to the configured alias

    def recovered_after(self, back: float) -> float:
        """Seconds from ``back`` until every storage of this thread succeeded again."""
        firsts = {}
        for when, name in self.successes:
            if when >= back:
                firsts.setdefault(name, when)
        missing = {name for name, _storage in self.storages} - set(firsts)
        assert not missing, f"writer {self.number}: no success on {missing} after the fault"
        return max(firsts.values()) - back


@pytest.fixture
def cluster(django_db_blocker: Any) -> Iterator[Cluster]:
    with (
        django_db_blocker.unblock(),
        throwaway_cluster("faults-") as cluster,
        throwaway.forgetting_new_aliases(),
    ):
        yield cluster


def configured_alias(cluster: Cluster) -> Any:
    """An alias as a project's settings configure one: connections kept for a minute."""
    return database_alias(
        ALIAS, **postgres(cluster.port, "postgres", CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    )


def timed(action: Callable[[], None]) -> float:
    """Run ``action`` (which returns once the server accepts connections); when it did."""
    action()
    return time.monotonic()


def test_acknowledged_writes_survive_a_restart_and_a_killed_postmaster(
    cluster: Cluster, report_figure: Callable[[str], None]
) -> None:
    pooled = PostgresSessionStorage.connect(cluster.url())  # creates the table
    with configured_alias(cluster):
        configured = DatabaseSessionStorage(using=ALIAS)
        writers = [
            Writer(n, [("connect()", pooled), ("configured alias", configured)])
            for n in range(WRITERS)
        ]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        for thread in threads:
            thread.start()
        try:
            time.sleep(STEADY)
            back_after_restart = timed(cluster.restart)
            time.sleep(STEADY)

            def kill_and_start() -> None:
                cluster.kill()
                cluster.start()

            back_after_kill = timed(kill_and_start)
            time.sleep(STEADY)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        connections[ALIAS].close()

    assert not any(t.is_alive() for t in threads), "a writer hung"
    foreign = [exc for w in writers for exc in w.foreign]
    assert not foreign, f"{len(foreign)} failures were not library errors: {foreign[:5]!r}"

    created = {sid: text for w in writers for sid, text in w.created.items()}
    appended = {sid: texts for w in writers for sid, texts in w.appended.items()}
    lost = []
    for session_id, text in created.items():
        stored = pooled.get(session_id)
        if stored is None or [m.content for m in stored.context.get_all_messages()] != [text]:
            lost.append(session_id)
    for session_id, texts in appended.items():
        stored = pooled.get(session_id)
        contents = [] if stored is None else [m.content for m in stored.context.get_all_messages()]
        lost.extend(f"{session_id}: {text}" for text in texts if text not in contents)
    acknowledged = len(created) + sum(len(texts) for texts in appended.values())

    recovery = {
        "restart": [w.recovered_after(back_after_restart) for w in writers],
        "kill -9": [w.recovered_after(back_after_kill) for w in writers],
    }
    failures = Counter(type(exc).__name__ for w in writers for exc in w.failures)
    report_figure(
        f"{acknowledged} acknowledged writes, {len(lost)} lost; "
        f"failures {dict(failures)}; recovery after the server was back (s, slowest "
        "thread): " + ", ".join(f"{fault} {max(times):.2f}" for fault, times in recovery.items())
    )
    assert not lost, f"{len(lost)} acknowledged writes are missing: {lost[:5]}"
    assert acknowledged > 0 and failures, "the run wrote nothing or no fault was felt"
    for fault, times in recovery.items():
        assert max(times) <= RECOVERY_BOUND, f"after {fault}: recovery took {times}"
