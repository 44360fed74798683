"""Debian's Chromium under pytest-playwright, and what the browser tests do with a page.

Playwright's own browser download is not used: the suite launches the ``chromium`` on PATH
(``scripts/system-deps`` installs it), so what is tested is what a machine without network
access has. The fixtures that apply this live in ``tests/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.programs import program

# As root Chromium's sandbox cannot start; nothing may reach the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots kept on every run, for reviewing the pages (failures also get pytest-playwright's).
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def launch_options() -> dict[str, Any]:
    # Headless unless pytest-playwright is given --headed.
    return {"executable_path": program("chromium"), "args": CHROMIUM_ARGS}


def watch(page: Any, base_url: str) -> Any:
    """Record alert dialogs (dismissed) on ``page.dialogs`` and requests leaving the site on
    ``page.offsite_requests``."""
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
    return page


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
