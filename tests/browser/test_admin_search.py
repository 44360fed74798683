"""Admin search in a real headless Chromium, with JavaScript off: search the list, open the
result, see the matches marked, and follow "next match" / "previous match" across transcript
pages of a long history."""

from __future__ import annotations

import os

import pytest

from tests.support.admin import XSS_SCRIPT, chat_context, make_session
from tests.support.chromium import log_in, screenshot, watch

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Message numbers (1-based) that mention the needle, on transcript pages 1, 2 and 3.
NEEDLES = {7: "The Blue Volvo was hit", 260: f"volvo again {XSS_SCRIPT}", 431: "VOLVO, final"}


@pytest.fixture
def superuser(django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "secret-pw")
    return "admin", "secret-pw"


@pytest.fixture
def page_without_javascript(browser, browser_context_args, live_server):
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    page = watch(context.new_page(), live_server.url)
    yield page
    context.close()


def _long_session():
    context = chat_context(0)
    for number in range(1, 451):
        context.add_message("User", NEEDLES.get(number, f"filler {number}"))
    return make_session(graph_id="claims", context=context)


def _marked(page) -> list[tuple[int, str]]:
    matches = page.locator("li.gfs-message[data-match]")
    return [
        (
            int(matches.nth(i).get_attribute("data-number")),
            matches.nth(i).locator("mark").first.inner_text(),
        )
        for i in range(matches.count())
    ]


def test_search_highlight_and_next_match_across_pages(
    live_server, page_without_javascript, superuser
):
    session = _long_session()
    for index in range(3):
        make_session(graph_id="support", context=chat_context(index + 1))
    base = live_server.url
    page = page_without_javascript
    log_in(page, base, *superuser)

    page.goto(f"{base}/admin/graphflow_sessions/session/")
    page.fill("#searchbar", "volvo")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**/?q=volvo")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert page.locator(".gfs-search-notice").count() in (0, 1)  # what was searched, if partial
    rows.nth(0).locator("th a").click()
    page.wait_for_url(f"**/{session.pk}/change/**")

    # Opened from the search: the first match's page, its match marked, the total given.
    assert "Page 1 of 3" in page.locator(".gfs-page-of").first.inner_text()
    assert _marked(page) == [(7, "Volvo")]
    assert "3 messages match “volvo”" in page.locator(".gfs-match-count").first.inner_text()
    mark = page.locator("li[data-match] mark").first
    assert mark.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
    page.locator("a.gfs-match-here").first.click()
    page.wait_for_url("**#message-7")
    assert page.locator("#message-7").evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight }"
    )
    screenshot(page, "admin-search-match")

    page.locator("a.gfs-next-match").first.click()
    page.wait_for_url("**#message-260")
    assert "Page 2 of 3" in page.locator(".gfs-page-of").first.inner_text()
    assert _marked(page) == [(260, "volvo")]
    # The message's HTML is text, with only the match marked.
    content = page.locator("#message-260 .gfs-content")
    assert content.inner_text() == f"volvo again {XSS_SCRIPT}"
    assert content.locator("script").count() == 0
    # The jump lands on the match: scrolled to it (page 2 is 15,000 pixels long).
    assert page.locator("#message-260").evaluate(
        "el => { const r = el.getBoundingClientRect(); "
        "return scrollY > 0 && r.bottom > 0 && r.top < innerHeight }"
    )

    page.locator("a.gfs-next-match").first.click()
    page.wait_for_url("**#message-431")
    assert "Page 3 of 3" in page.locator(".gfs-page-of").first.inner_text()
    assert _marked(page) == [(431, "VOLVO")]
    assert page.locator("a.gfs-next-match").count() == 0

    page.locator("a.gfs-previous-match").first.click()
    page.wait_for_url("**#message-260")
    assert _marked(page) == [(260, "volvo")]
    # The ordinary page links keep the search: "Newer" still marks.
    page.locator("a.gfs-next").first.click()
    assert _marked(page) == [(431, "VOLVO")]
    assert page.dialogs == [] and page.offsite_requests == []
