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


def test_connect_from_the_web_signs_in_with_zoho_and_lands_on_the_new_integration(
    sandbox_factory, sqlite_migrated_url, browser
):
    """The whole Connect flow as an admin clicks it: Connect -> Zoho's consent page (the sandbox approves the
    admin) -> back with code and state -> the chooser (portals and organizations that cannot be chosen greyed out
    with the reason) -> preferences -> the new integration's page. The accounts server is reached as `localhost`
    and the web app as `127.0.0.1`: two sites, so Zoho's redirect back is cross-site, as in production, and the
    SameSite=Strict token cookie does not ride on it."""
    from playwright.sync_api import expect

    from sandbox.generator import credentials
    from shared.db.integrations import credentials_of, get_integration
    from tests.ops_sync import connect

    sandbox = sandbox_factory(size="tiny")
    creds = credentials(sandbox.world)
    accounts = sandbox.base_url.replace("127.0.0.1", "localhost")
    world = connect(
        sandbox, sqlite_migrated_url, oauth_client_id=creds["client_id"], oauth_client_secret=creds["client_secret"]
    )
    world.settings.accounts_url = accounts
    with serving(create_web_app(world.settings, celery=world.app)) as web_url:
        # the port is known only now; the app reads this settings object on every request
        world.settings.oauth_redirect_uri = f"{web_url}/connect/callback"
        page = browser.new_page()
        page.goto(f"{web_url}/login")
        page.fill('input[name="token"]', WEB_TOKEN)
        page.click('button[type="submit"]')
        page.goto(f"{web_url}/integrations")
        page.click("#connect-link")
        expect(page.locator("#redirect-uri")).to_have_text(f"{web_url}/connect/callback")
        page.click("#connect-zoho")  # -> localhost (Zoho) -> consent approves itself -> 127.0.0.1 callback

        page.wait_for_url(f"{web_url}/connect/choose")
        partner = page.locator('label[data-portal="170876000000000010"]')
        expect(partner).to_have_class("choice unavailable")
        expect(partner.locator("input")).to_be_disabled()
        expect(partner).to_contain_text("you are 'employee' here; only the portal's owner or an admin can connect it")
        first_org, second_org = creds["organization_ids"]
        taken = page.locator(f'label[data-organization="{first_org}"]')
        expect(taken.locator("input")).to_be_disabled()
        expect(taken).to_contain_text("already connected as integration 'acme'")
        expect(page.locator(f'label[data-organization="{second_org}"] input')).to_be_checked()
        expect(page.locator('label[data-portal="170876000000000001"] input')).to_be_checked()
        assert not any(token in page.content() for token in sandbox.world.people[creds["admin"]["zuid"]].refresh_tokens)

        page.fill('input[name="name"]', "europe")
        page.select_option('select[name="contact_duplication"]', "clone")
        page.fill('input[name="cutoff_date"]', "2024-01-31")
        page.check('input[name="general_timesheets"]')
        page.click("#connect-submit")

        made = get_integration(world.engine, "europe")
        page.wait_for_url(f"{web_url}/integrations/{made.id}?connected=1")
        expect(page.locator(".notice")).to_contain_text("Connected. The first sync is due now")
        assert (made.books_organization_id, made.contact_duplication) == (second_org, "clone")
        assert made.general_timesheets and str(made.timesheet_cutoff_date) == "2024-01-31"
        assert credentials_of(world.settings, made).user_id == creds["admin"]["zuid"]
