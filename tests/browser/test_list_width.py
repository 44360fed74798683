"""The session list at laptop width in a real Chromium: 1366 x 800 with the admin's
navigation sidebar open, every column visible without horizontal scrolling and no row
taller than two lines, whatever the lengths of task paths, statuses and messages."""

from __future__ import annotations

import pytest

from tests.support.admin import RUST_TASK, XSS_SCRIPT, chat_context, make_session
from tests.support.chromium import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 800}


def _long_sessions() -> list:
    sessions = []
    for index in range(12):
        context = chat_context(index + 2)
        context.add_message(
            "Assistant",
            "Thank you for the photos of the damage to the rear bumper; an assessor will "
            f"call you within two working days to arrange an inspection {index} " * 3,
        )
        sessions.append(
            make_session(
                graph_id="insurance_claims_processing_with_human_review_graph"
                if index % 2
                else "support",
                task=RUST_TASK if index % 3 else "workflows/claims/collect_vehicle_details",
                status=f"Waiting for the customer to upload photos of the damage {XSS_SCRIPT} " * 4,
                context=context,
            )
        )
    return sessions


def test_the_list_fits_a_laptop_screen_with_the_sidebar_open(
    live_server, watched_page, superuser, settings
):
    settings.TIME_ZONE = "America/New_York"
    sessions = _long_sessions()
    page = watched_page
    page.set_viewport_size(LAPTOP)
    log_in(page, live_server.url, *superuser)
    page.goto(f"{live_server.url}/admin/graphflow_sessions/session/")

    assert page.locator("#nav-sidebar").is_visible()
    assert page.locator("#changelist-filter").is_visible()
    assert page.locator("#result_list tbody tr").count() == len(sessions)

    results = page.locator("#changelist .results")
    assert results.evaluate("el => el.scrollWidth <= el.clientWidth"), "the list scrolls sideways"
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    # Every column header is on screen.
    rights = page.locator("#result_list thead th").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().right)"
    )
    assert len(rights) == 9 and max(rights) <= LAPTOP["width"]

    # Nothing is cut sideways (ids, dates), and each text column has room for a word.
    cut = page.locator("#result_list tbody td").evaluate_all(
        """cells => cells.filter(cell => cell.scrollWidth > cell.clientWidth)
            .map(cell => [cell.className, cell.scrollWidth, cell.clientWidth])"""
    )
    assert cut == []
    for column in ("graph", "task", "status", "last_message"):
        width = page.locator(f"#result_list th.column-{column}").evaluate(
            "th => th.getBoundingClientRect().width"
        )
        assert width >= 72, (column, width)

    # No row is taller than two lines of its text plus the cell's padding.
    heights = page.locator("#result_list tbody tr").evaluate_all(
        """rows => rows.map(row => {
            const cell = getComputedStyle(row.querySelector("td"));
            const line = parseFloat(cell.lineHeight);
            const padding = parseFloat(cell.paddingTop) + parseFloat(cell.paddingBottom);
            const border = parseFloat(cell.borderTopWidth) + parseFloat(cell.borderBottomWidth);
            return [row.getBoundingClientRect().height, 2 * line + padding + border + 1];
        })"""
    )
    assert all(height <= limit for height, limit in heights), heights

    # A long task path shows its last part, the whole path on hover; text is clipped, not lost.
    rust_row = page.locator("#result_list tbody tr", has=page.locator(f'[title="{RUST_TASK}"]'))
    assert rust_row.first.locator(".gfs-task").inner_text() == "InitialClaimQueryTask"
    path_task = page.locator('.gfs-task[title="workflows/claims/collect_vehicle_details"]')
    assert path_task.first.inner_text() == "collect_vehicle_details"
    status = page.locator(".gfs-status").first
    assert XSS_SCRIPT[:8] in status.get_attribute("title")
    # One date-time format, in Django's time zone, the full timestamp on hover.
    updated = page.locator("td.field-updated time").first
    assert updated.get_attribute("title").endswith("UTC")
    assert "(UTC-0500)" in updated.get_attribute("title")
    screenshot(page, "admin-list-1366")

    page.goto(f"{live_server.url}/admin/graphflow_sessions/session/{sessions[0].pk}/change/")
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    shown = page.locator("li.gfs-message time").first.inner_text()
    assert len(shown) == len("2026-03-01 07:00") and shown.startswith("2026-03-01 07:0")
    screenshot(page, "admin-session-1366")
    assert page.dialogs == [] and page.offsite_requests == []
