"""REST API under real concurrency: threads with their own connections hit one session.

Each thread runs its own requests through the full stack (its own database connection,
committed transactions), on PostgreSQL and on SQLite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from tests.support.api import APIClient, client_for, detail, make_session, stored, user

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 8
APPENDS = 50


def run_in_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def target(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def appender(session_id: Any, staff_user: Any) -> Callable[[int], None]:
    def work(index: int) -> None:
        client = client_for(staff_user)
        for number in range(APPENDS):
            response = client.post(
                detail(session_id, "messages/"),
                {"role": "User", "content": f"client {index} message {number}"},
                format="json",
            )
            assert response.status_code == 201, response.content

    return work


def per_client(contents: list[str]) -> dict[int, list[int]]:
    seen: dict[int, list[int]] = {}
    for content in contents:
        _, index, _, number = content.split()
        seen.setdefault(int(index), []).append(int(number))
    return seen


def test_concurrent_appends_keep_every_message_in_order_per_client() -> None:
    staff_user = user("staff", staff=True)
    session = make_session(data={"untouched": True})
    run_in_threads(CLIENTS, appender(session.id, staff_user))
    after = stored(session.id)
    contents = [message.content for message in after.context.get_all_messages()]
    assert len(contents) == CLIENTS * APPENDS
    assert per_client(contents) == {index: list(range(APPENDS)) for index in range(CLIENTS)}
    assert after.version == 1 + CLIENTS * APPENDS
    assert after.context.data == {"untouched": True}


def test_concurrent_appends_keep_the_newest_max_messages() -> None:
    staff_user = user("staff", staff=True)
    session = make_session(max_messages=100)
    run_in_threads(CLIENTS, appender(session.id, staff_user))
    after = stored(session.id)
    contents = [message.content for message in after.context.get_all_messages()]
    assert len(contents) == 100
    # The newest 100 of each client's in-order stream: every client's kept messages are
    # the tail of its own sequence, consecutive and in order.
    for numbers in per_client(contents).values():
        assert numbers == list(range(APPENDS - len(numbers), APPENDS))
    assert after.version == 1 + CLIENTS * APPENDS


def test_concurrent_data_patches_of_different_keys_all_survive() -> None:
    staff_user = user("staff", staff=True)
    session = make_session(data={"shared": {"base": 0}}, messages=[("User", "hi")])
    rounds = 20

    def work(index: int) -> None:
        client: APIClient = client_for(staff_user)
        for number in range(rounds):
            patch = {f"key_{index}": number, "shared": {f"from_{index}": number}}
            response = client.patch(detail(session.id, "data/"), patch, format="json")
            assert response.status_code == 200, response.content

    run_in_threads(CLIENTS, work)
    after = stored(session.id)
    expected_shared = {"base": 0, **{f"from_{i}": rounds - 1 for i in range(CLIENTS)}}
    assert after.context.data == {
        "shared": expected_shared,
        **{f"key_{i}": rounds - 1 for i in range(CLIENTS)},
    }
    assert [m.content for m in after.context.get_all_messages()] == ["hi"]
    assert after.version == 1 + CLIENTS * rounds


def test_if_match_lets_exactly_one_of_racing_writers_win() -> None:
    staff_user = user("staff", staff=True)
    session = make_session()
    etag = client_for(staff_user).get(detail(session.id))["ETag"]
    statuses: list[int] = []

    def work(index: int) -> None:
        response = client_for(staff_user).patch(
            detail(session.id),
            {"current_task_id": f"task_{index}"},
            format="json",
            HTTP_IF_MATCH=etag,
        )
        statuses.append(response.status_code)

    run_in_threads(CLIENTS, work)
    assert sorted(statuses) == [200] + [412] * (CLIENTS - 1)
    assert stored(session.id).version == 2
