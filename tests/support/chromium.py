"""Drive Debian's Chromium with Playwright for the browser tests.

Playwright's own browser download is not used: the suite runs the system ``chromium``
(``.ci/run`` installs it), so what is tested is what a machine without network access has.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("GRAPHFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@contextmanager
def chromium_page(base_url: str) -> Iterator[Any]:
    """A page in a fresh headless Chromium; records alert dialogs and off-site requests on
    ``page.dialogs`` and ``page.offsite_requests``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 1000}, timezone_id="America/New_York"
            )
            page = context.new_page()
            page.dialogs = []
            page.offsite_requests = []

            def on_dialog(dialog: Any) -> None:
                page.dialogs.append(dialog.message)
                dialog.dismiss()

            def on_request(request: Any) -> None:
                if not request.url.startswith((base_url, "data:", "about:")):
                    page.offsite_requests.append(request.url)

            page.on("dialog", on_dialog)
            page.on("request", on_request)
            yield page
        finally:
            browser.close()


def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
