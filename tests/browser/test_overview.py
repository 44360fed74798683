"""The overview in a real headless Chromium: screenshots in the light and dark themes, and a
click on a "where sessions wait" bar landing on the list of exactly those sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from graphflow_sessions.models import Session
from tests.support.admin import RUST_TASK, XSS_IMG, XSS_SCRIPT, chat_context, make_session
from tests.support.chromium import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sessions() -> None:
    now = timezone.now()
    ages = [timedelta(minutes=10), timedelta(hours=3), timedelta(days=2), timedelta(days=12)]
    for index in range(24):
        age = ages[index % 4] + timedelta(days=index % 9)
        session = make_session(
            graph_id="claims" if index % 3 else "support",
            task=RUST_TASK if index % 2 else "ask_details",
            context=chat_context(index * 3 + 1),
            updated_at=now - age,
            created_at=now - age - timedelta(days=index % 5),
        )
        assert session.pk
    make_session(graph_id=XSS_SCRIPT, task=XSS_IMG, updated_at=now - timedelta(minutes=5))


def test_overview_in_both_themes_and_a_wait_bar_opens_its_sessions(
    live_server, watched_page, superuser
):
    _sessions()
    base = live_server.url
    page = watched_page
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, base, *superuser)

    page.goto(f"{base}/admin/graphflow_sessions/session/")
    page.click("a.gfs-overview-link")
    page.wait_for_selector("#gfs-waiting")
    assert page.locator("strong.gfs-total").inner_text() == "25"
    # The hostile names are text, not markup.
    hostile = page.locator(f'.gfs-graph[data-graph="{XSS_SCRIPT}"]')
    assert hostile.locator("h3").inner_text() == XSS_SCRIPT
    assert page.locator(".gfs-overview img, .gfs-overview script").count() == 0

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.evaluate("localStorage.setItem('theme', 'auto')")
        page.reload()
        page.wait_for_selector("#gfs-waiting")
        fill = page.locator(".gfs-chart").first.evaluate("el => getComputedStyle(el).color")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert fill != background
        screenshot(page, f"admin-overview-{scheme}")
        page.locator("#gfs-waiting").scroll_into_view_if_needed()
        screenshot(page, f"admin-overview-waiting-{scheme}")
    page.emulate_media(color_scheme="light")

    row = page.locator('.gfs-graph[data-graph="claims"] tr.gfs-wait-row').first
    bar = row.locator("svg.gfs-bar a").first
    title = bar.locator("title").text_content()
    count = int(title.rsplit(": ", 1)[1])
    assert count > 0
    task = row.get_attribute("data-task")
    bar.click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == count
    shown = {
        cell.get_attribute("title")
        for cell in page.locator("#result_list tbody td.field-task span.gfs-task").all()
    }
    assert shown == {task}
    assert Session.objects.filter(graph_id="claims", current_task_id=task).count() >= count

    assert page.dialogs == []
    assert page.offsite_requests == []
