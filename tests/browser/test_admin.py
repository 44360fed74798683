"""The admin in a real headless Chromium: log in, read the list and a long transcript with an
HTML payload, and check what a person sees (roles, order, text, no alert ever runs)."""

from __future__ import annotations

import pytest

from tests.support.admin import (
    RUST_TASK,
    XSS_IMG,
    XSS_SCRIPT,
    chat_context,
    insert_raw,
    make_session,
    rust_context_json,
)
from tests.support.chromium import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _hostile_long_session():
    context = chat_context(450, data={"claim_details": {"insurance_type": "car"}, "html": XSS_IMG})
    context.add_message("User", f"Here is my photo {XSS_IMG}\nand {XSS_SCRIPT}")
    context.add_message("Assistant", "Thanks,\nI cannot open attachments.")
    return make_session(
        graph_id="claims", task=RUST_TASK, status=f"Waiting {XSS_SCRIPT}", context=context
    )


def test_admin_list_and_long_transcript_in_chromium(live_server, watched_page, superuser, settings):
    settings.TIME_ZONE = "America/New_York"
    session = _hostile_long_session()
    for index in range(5):
        make_session(graph_id="support", task="answer", context=chat_context(index + 1))
    insert_raw(rust_context_json())
    insert_raw({"data": {}, "chat_history": {"messages": [{"role": "robot"}]}})
    base = live_server.url

    page = watched_page
    log_in(page, base, *superuser)

    page.goto(f"{base}/admin/graphflow_sessions/session/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 8
    first_row = rows.nth(0)
    # Most recently updated first: the last inserted row.
    assert "robot" not in first_row.inner_text()
    hostile_row = page.locator(
        "#result_list tbody tr", has=page.locator(f'code[title="{session.pk}"]')
    )
    assert hostile_row.locator("td.field-messages_count").inner_text() == "452"
    assert "Thanks, I cannot open attachments." in hostile_row.inner_text()
    assert f"Waiting {XSS_SCRIPT}"[:30] in hostile_row.inner_text()
    screenshot(page, "admin-list")

    page.goto(f"{base}/admin/graphflow_sessions/session/{session.pk}/change/")
    messages = page.locator("li.gfs-message")
    assert messages.count() == 200
    assert messages.nth(0).get_attribute("data-role") == "User"
    assert messages.nth(1).get_attribute("data-role") == "Assistant"
    assert messages.nth(9).get_attribute("data-role") == "System"
    assert messages.nth(0).locator(".gfs-content").inner_text() == "message 1"
    # Roles look different: each has its own border colour.
    colours = {
        role: page.locator(f"li.gfs-message.gfs-role-{role}").first.evaluate(
            "el => getComputedStyle(el).borderLeftColor"
        )
        for role in ("user", "assistant", "system")
    }
    assert len(set(colours.values())) == 3
    # Times in the viewer's zone (Django's, New York here), the full time and UTC on hover.
    time = messages.nth(0).locator("time")
    assert time.get_attribute("title") == (
        "2026-03-01 07:00:00 EST (UTC-0500) · 2026-03-01T12:00:00Z UTC"
    )
    assert time.inner_text() == "2026-03-01 07:00"
    screenshot(page, "admin-session")
    page.locator("#transcript").scroll_into_view_if_needed()
    screenshot(page, "admin-transcript")

    page.click("a.gfs-newest >> nth=0")
    page.wait_for_selector("li.gfs-message[data-number='452']")
    messages = page.locator("li.gfs-message")
    numbers = [int(n) for n in messages.evaluate_all("els => els.map(e => e.dataset.number)")]
    assert numbers == list(range(401, 453))
    payload = page.locator("li.gfs-message[data-number='451'] .gfs-content")
    assert payload.inner_text() == f"Here is my photo {XSS_IMG}\nand {XSS_SCRIPT}"
    assert payload.locator("img, script").count() == 0
    assert page.locator("li.gfs-message[data-number='452']").get_attribute("data-role") == (
        "Assistant"
    )
    page.locator("li.gfs-message[data-number='451']").scroll_into_view_if_needed()
    screenshot(page, "admin-transcript-newest")

    page.goto(f"{base}/admin/graphflow_sessions/session/?q={str(session.pk)[:8]}")
    assert page.locator("#result_list tbody tr").count() == 1

    page.goto(f"{base}/admin/graphflow_sessions/session/?q=raw")
    broken = page.locator("#result_list tbody tr a").first
    assert broken.count() == 1

    assert page.dialogs == []
    assert page.offsite_requests == []


def test_contract_breaking_session_page_shows_the_notice_in_chromium(
    live_server, watched_page, superuser
):
    session_id = insert_raw({"data": {"note": XSS_SCRIPT}, "chat_history": {"messages": 3}})
    base = live_server.url
    page = watched_page
    log_in(page, base, *superuser)
    page.goto(f"{base}/admin/graphflow_sessions/session/{session_id}/change/")
    notice = page.locator(".gfs-notice")
    assert "breaks the graph-flow contract" in notice.inner_text()
    assert "chat_history.messages" in notice.inner_text()
    assert XSS_SCRIPT in page.locator("pre.gfs-json").inner_text()
    screenshot(page, "admin-broken-context")
    assert page.dialogs == []
