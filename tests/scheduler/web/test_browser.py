"""A real browser (headless Chromium via Playwright) on the status page: click Refresh on one module, watch
it go "Sync in Progress" and then "Active" without touching the page (the live-update script does it).

Needs Debian's chromium (``apt-get install chromium``); locally it skips without it, under CI it fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests

from scheduler.embedded import running_worker
from scheduler.web.app import create_web_app
from shared.modules import modules_for_refresh
from tests.conftest import service_missing
from tests.http_support import serving
from tests.ops_sync import WEB_TOKEN, World

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def web_url(synced: World) -> Iterator[str]:
    with serving(create_web_app(synced.settings, celery=synced.app)) as url:
        yield url


@pytest.fixture
def browser():
    if not shutil.which("chromium") and not shutil.which(CHROMIUM):
        service_missing("Chromium", FileNotFoundError("apt-get install chromium chromium-driver"))
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


def test_refresh_one_module_shows_progress_then_active(synced, web_url, browser):
    from playwright.sync_api import expect

    # Books answers slowly for a while, so the refresh is visibly in progress for a few seconds.
    fault = {"kind": "latency", "api": "books", "latency_ms": 300, "count": 12}
    assert requests.post(f"{synced.sandbox.base_url}/_sandbox/faults", json=fault, timeout=5).status_code == 201

    page = browser.new_page()
    page.goto(f"{web_url}/login")
    page.fill('input[name="token"]', WEB_TOKEN)
    page.click('button[type="submit"]')
    page.goto(f"{web_url}/integrations/acme")
    tasks_badge = page.locator('tr[data-module="tasks"] .module-badge .badge')
    expect(tasks_badge).to_have_text("Active")

    with running_worker(synced.app):
        page.click('button.refresh[data-module="tasks"]')
        expect(page.locator(".notice")).to_contain_text("requested")
        expect(tasks_badge).to_have_text("Sync in Progress", timeout=10_000)
        expect(page.locator('tr[data-module="users"] .module-badge .badge')).to_have_text("Active")
        expect(tasks_badge).to_have_text("Active", timeout=60_000)  # updated by polling, no click
        for module in modules_for_refresh("tasks"):
            expect(page.locator(f'tr[data-module="{module}"] .module-badge .badge')).to_have_text("Active")
    # the page reloaded itself once the run settled: the new run is in "Recent runs"
    expect(page.locator("table").nth(1)).to_contain_text("#2")
