"""The example's chat page in a real headless Chromium: a whole claim, typed by a person."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import modify_settings

from example_project.claims.tasks import FinalSummaryTask
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.chromium import screenshot

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# the ORM calls the test makes.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("example_project.urls"),
]

HOSTILE = '<img src=x onerror="alert(1)"> & <script>alert(2)</script>'


@pytest.fixture(autouse=True)
def claims_app_installed() -> Iterator[None]:
    # The page's template lives in the example app, which the suite's settings leave out.
    with modify_settings(INSTALLED_APPS={"append": "example_project.claims"}):
        yield


def send(page: Any, text: str, replies: int) -> str:
    page.fill("#content", text)
    page.click("button[type=submit]")
    answers = page.locator("#transcript li.assistant, #transcript li.error")
    page.wait_for_function(
        "n => document.querySelectorAll('#transcript li.assistant, #transcript li.error')"
        ".length >= n",
        arg=replies,
    )
    return str(answers.nth(replies - 1).inner_text())


def test_a_person_files_a_claim_in_the_browser_and_every_text_stays_text(
    live_server: Any, watched_page: Any
) -> None:
    base = live_server.url
    page = watched_page
    page.goto(f"{base}/")
    assert page.locator("h1").inner_text() == "Insurance claims assistant"

    assert "claims assistant" in send(page, f"Hello {HOSTILE}", 1)
    assert "estimated repair" in send(page, "Someone rear-ended my car, the bumper is bent", 2)
    assert "auto-approved" in send(page, "The shop quoted $480", 3)
    summary = send(page, "Yes, please.", 4)

    assert "Decision: approved" in summary
    assert "\n- Type: car insurance" in summary  # line breaks kept, as text
    assert page.locator("#status").inner_text() == "Completed"
    session_id = page.locator("#session-id").inner_text()
    assert page.locator("#admin-link").get_attribute("href") == (
        f"/admin/graphflow_sessions/session/{session_id}/change/"
    )
    first = page.locator("#transcript li.user").first.locator("p").inner_text()
    assert first == f"Hello {HOSTILE}"
    assert page.locator("#transcript img").count() == 0
    assert page.dialogs == []
    assert page.offsite_requests == []
    screenshot(page, "example-chat")

    stored = DatabaseSessionStorage().get(session_id)
    assert stored is not None
    assert stored.current_task_id == FinalSummaryTask.task_id
    assert stored.context.get_all_messages()[0].content == f"Hello {HOSTILE}"


def test_an_error_from_the_service_is_shown_as_text(live_server: Any, watched_page: Any) -> None:
    base = live_server.url
    page = watched_page
    page.goto(f"{base}/")
    error = send(page, "a NUL \u0000 character", 1)

    assert "cannot be stored" in error
    assert page.locator("#session").is_hidden()
    assert page.dialogs == []
