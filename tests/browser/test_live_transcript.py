"""Live transcripts in a real Chromium: a message another process appends appears on the open
page without a reload, marked new; polling stops while the tab is hidden; an older page
says how many messages are waiting."""

from __future__ import annotations

import time

import pytest

from graphflow_sessions.routers import sessions_database
from graphflow_sessions.storage import DatabaseSessionStorage
from tests.support.admin import XSS_SCRIPT, chat_context, make_session
from tests.support.chromium import log_in, screenshot
from tests.support.writer_process import append_in_another_process

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _change_url(base: str, session) -> str:
    return f"{base}/admin/graphflow_sessions/session/{session.pk}/change/"


def _live_requests(page) -> list[str]:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/live/" in r.url else None)
    return requests


def _pretend_the_tab_is(page, state: str) -> None:
    # Headless Chromium keeps every tab visible; what the script sees is set instead.
    page.evaluate(
        """state => {
            Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def test_a_message_from_another_process_appears_without_a_reload(
    live_server, watched_page, superuser
):
    session = make_session(context=chat_context(3))
    page = watched_page
    log_in(page, live_server.url, *superuser)
    page.goto(_change_url(live_server.url, session))
    page.evaluate("window.gfsSameDocument = true")  # gone if the page reloads
    assert page.locator("li.gfs-message").count() == 3

    append_in_another_process(str(session.pk), "User", f"sent from elsewhere {XSS_SCRIPT}")
    appended = time.monotonic()
    new = page.locator("li.gfs-message.gfs-new[data-number='4']")
    new.wait_for(timeout=10_000)
    assert time.monotonic() - appended < 10

    assert page.evaluate("window.gfsSameDocument") is True
    assert new.locator(".gfs-content").inner_text() == f"sent from elsewhere {XSS_SCRIPT}"
    assert new.locator("script").count() == 0
    assert new.locator(".gfs-new-badge").inner_text() == "new"
    assert page.locator(".gfs-live").inner_text() == "1 new message."
    assert page.locator(".gfs-count").inner_text() == "Messages 1–4 of 4, oldest first."
    numbers = page.locator("li.gfs-message").evaluate_all("els => els.map(e => e.dataset.number)")
    assert numbers == ["1", "2", "3", "4"]  # the history was not appended again
    new.scroll_into_view_if_needed()
    screenshot(page, "admin-live-transcript")
    assert page.dialogs == [] and page.offsite_requests == []


def test_a_full_bounded_history_moves_up_and_shows_the_new_message(
    live_server, watched_page, superuser
):
    session = make_session(context=chat_context(3, max_messages=3))
    page = watched_page
    log_in(page, live_server.url, *superuser)
    page.goto(_change_url(live_server.url, session))
    page.evaluate("window.gfsSameDocument = true")

    append_in_another_process(str(session.pk), "User", "pushes the oldest out")
    page.locator("li.gfs-message.gfs-new").wait_for(timeout=10_000)

    assert page.evaluate("window.gfsSameDocument") is True
    items = page.locator("li.gfs-message")
    numbers = items.evaluate_all("els => els.map(e => e.dataset.number)")
    assert numbers == ["1", "2", "3"]
    assert items.nth(0).locator(".gfs-content").inner_text() == "message 2"
    assert items.nth(2).locator(".gfs-content").inner_text() == "pushes the oldest out"
    assert items.nth(0).locator(".gfs-number").inner_text() == "#1"
    assert page.locator(".gfs-count").inner_text() == "Messages 1–3 of 3, oldest first."


def test_polling_stops_while_the_tab_is_hidden_and_resumes_when_shown(
    live_server, watched_page, superuser
):
    session = make_session(context=chat_context(2))
    page = watched_page
    log_in(page, live_server.url, *superuser)
    requests = _live_requests(page)
    page.goto(_change_url(live_server.url, session))
    page.wait_for_timeout(2_500)
    assert requests, "the page polls while visible"

    _pretend_the_tab_is(page, "hidden")
    page.wait_for_timeout(500)  # a poll under way may still finish
    hidden_from = len(requests)
    page.wait_for_timeout(5_000)
    assert len(requests) == hidden_from

    _pretend_the_tab_is(page, "visible")
    page.wait_for_timeout(1_000)
    assert len(requests) > hidden_from


def test_an_older_page_says_how_many_messages_wait_and_links_to_them(
    live_server, watched_page, superuser, settings
):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_TRANSCRIPT_PAGE_SIZE": 5}
    session = make_session(context=chat_context(12))
    page = watched_page
    log_in(page, live_server.url, *superuser)
    page.goto(_change_url(live_server.url, session) + "?transcript_page=1")

    storage = DatabaseSessionStorage(using=sessions_database())
    stored = storage.get(str(session.pk))
    stored.context.add_message("User", "thirteen")
    stored.context.add_message("Assistant", "fourteen")
    storage.save(stored)

    notice = page.locator(".gfs-live")
    notice.wait_for(state="visible", timeout=10_000)
    assert notice.inner_text() == (
        "2 new messages since this page was loaded. Show the newest messages"
    )
    assert page.locator("li.gfs-message").count() == 5  # nothing appended to an old page
    page.click(".gfs-live a")
    page.wait_for_selector("li.gfs-message[data-number='14']")
    assert page.locator("li.gfs-message").count() == 4  # the last page: 11 to 14


def test_polls_slow_down_while_the_session_is_idle_and_speed_up_after_a_change(
    live_server, watched_page, superuser, settings
):
    settings.GRAPHFLOW_SESSIONS = {"ADMIN_LIVE_POLL_SECONDS": (0.5, 2)}
    session = make_session(context=chat_context(2))
    page = watched_page
    # When each poll starts, as the page's own clock sees it.
    page.add_init_script(
        """(() => {
            const fetch = window.fetch;
            window.gfsPolls = [];
            window.fetch = function (url, options) {
                if (String(url).includes("/live/")) window.gfsPolls.push(performance.now());
                return fetch.call(this, url, options);
            };
        })()"""
    )
    log_in(page, live_server.url, *superuser)
    page.goto(_change_url(live_server.url, session))
    page.wait_for_function("window.gfsPolls.length >= 6", timeout=20_000)
    polls = page.evaluate("window.gfsPolls")
    gaps = [(later - earlier) / 1000 for earlier, later in zip(polls, polls[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2], gaps  # 0.5 s, 0.75 s, 1.1 s...
    assert all(gap < 2 + 0.5 for gap in gaps), gaps  # ...never more than the longest wait

    storage = DatabaseSessionStorage(using=sessions_database())
    stored = storage.get(str(session.pk))
    stored.context.add_message("User", "wake up")
    storage.save(stored)
    page.wait_for_selector("li.gfs-message.gfs-new[data-number='3']", timeout=10_000)
    seen = page.evaluate("window.gfsPolls.length")
    page.wait_for_function(f"window.gfsPolls.length >= {seen + 1}", timeout=10_000)
    polls = page.evaluate("window.gfsPolls")
    assert (polls[seen] - polls[seen - 1]) / 1000 < 1.0  # back to the shortest wait
