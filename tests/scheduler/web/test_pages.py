"""The HTML pages render what the database holds after a real sync; buttons request syncs."""

from __future__ import annotations

import re

from scheduler.embedded import running_worker
from scheduler.status import error_details, project_summaries
from shared.db.integrations import get_integration, update_integration
from shared.modules import MODULE_ORDER, modules_for_refresh
from tests.ops_sync import wait_for_run


def badge_of(html: str, module: str) -> str:
    row = re.search(rf'<tr data-module="{module}">(.*?)</tr>', html, re.S)
    assert row, module
    return re.search(r'class="badge [a-z_]+" data-state="[a-z_]+">([^<]+)<', row.group(1)).group(1)


def test_integrations_and_status_page(client, synced):
    listing = client.get("/integrations")
    assert listing.status_code == 200
    assert 'href="/integrations/1">acme</a>' in listing.text and ">Active</span>" in listing.text

    page = client.get("/integrations/acme").text
    for module in MODULE_ORDER:
        assert badge_of(page, module) == "Active"
        assert f'<button type="submit" class="refresh" data-module="{module}">Refresh</button>' in page
    assert 'id="refresh-all"' in page
    assert "no_primary_client" in page and "Associate the project with a primary client" in page  # error summary
    assert page.count("<td>#1</td>") == len(MODULE_ORDER)  # recent runs: one row per module of run 1
    assert "/api/integrations/1" in page  # the live-update script polls the JSON API


def test_history_errors_and_project_pages(client, synced):
    history = client.get("/integrations/1/history?module=tasks").text
    assert history.count("<td>tasks</td>") == 1 and "<td>users</td>" not in history

    errors = client.get("/integrations/1/errors").text
    details = error_details(synced.engine, 1)
    assert errors.count('<button type="submit">Retry</button>') == len(details)
    blocked = next(e for e in details if e.blocked_by)
    assert f'href="#error-{blocked.blocked_by}">#{blocked.blocked_by}</a>' in errors
    only_projects = client.get("/integrations/1/errors?module=projects").text
    assert "parent_failed" not in only_projects.split("<h2>Details</h2>")[0]

    projects = project_summaries(synced.engine, 1)
    listing = client.get("/integrations/1/projects").text
    assert all(p.projects_id in listing for p in projects)
    failed = next(p for p in projects if p.error_id and p.blocked)
    page = client.get(f"/integrations/1/projects/{failed.projects_id}").text
    assert "not in Books" in page and f"Blocked or failing ({failed.blocked})" in page and "Fix: " in page
    ok = next(p for p in projects if p.synced.get("task"))
    page = client.get(f"/integrations/1/projects/{ok.projects_id}").text
    assert f"Synced ({sum(ok.synced.values())})" in page and "Nothing synced under" not in page
    assert client.get("/integrations/1/projects/123").status_code == 404


def test_refresh_and_retry_buttons_request_syncs(client, synced):
    response = client.post("/integrations/1/refresh", data={"module": "tasks"}, follow_redirects=False)
    assert response.status_code == 303
    run_id = int(response.headers["location"].rsplit("requested=", 1)[1])
    page = client.get(response.headers["location"]).text
    assert f"Run #{run_id} requested" in page
    for module in MODULE_ORDER:  # no worker yet: queued; a module refresh runs it and what depends on it only
        expected = "Sync in Progress" if module in modules_for_refresh("tasks") else "Active"
        assert badge_of(page, module) == expected, module

    with running_worker(synced.app):
        assert wait_for_run(synced.engine, run_id) == "partial"
        error = next(e for e in error_details(synced.engine, 1) if e.module == "projects")
        retried = client.post(f"/errors/{error.id}/retry", follow_redirects=False)
        assert retried.status_code == 303
        wait_for_run(synced.engine, int(retried.headers["location"].rsplit("=", 1)[1]))
    page = client.get("/integrations/1").text
    assert badge_of(page, "tasks") == "Active"


def test_bad_or_refused_actions_explain_themselves(client, synced):
    bad = client.post("/integrations/1/refresh", data={"module": "invoices"})
    assert bad.status_code == 400 and "unknown module &#39;invoices&#39;" in bad.text
    assert client.get("/integrations/nope").status_code == 404
    update_integration(synced.engine, 1, state="disabled")
    refused = client.post("/integrations/1/refresh", data={})
    assert refused.status_code == 409 and "is disabled" in refused.text
    assert badge_of(client.get("/integrations/1").text, "users") == "Disabled"


def test_the_disable_and_enable_buttons(client, synced):
    page = client.get("/integrations/1").text
    assert 'id="disable"' in page and 'id="enable"' not in page
    off = client.post("/integrations/1/disable", follow_redirects=False)
    assert off.status_code == 303 and off.headers["location"] == "/integrations/1?state=disabled"
    page = client.get(off.headers["location"]).text
    assert "Disabled: no syncs" in page and 'id="enable"' in page and "never (disabled)" in page
    assert badge_of(page, "tasks") == "Disabled"
    on = client.post("/integrations/1/enable", follow_redirects=False)
    assert on.status_code == 303
    page = client.get(on.headers["location"]).text
    assert "a sync is due now" in page and 'id="disable"' in page and badge_of(page, "tasks") != "Disabled"


def test_the_preferences_form_shows_and_saves_them(client, synced):
    page = client.get("/integrations/1").text
    assert 'id="preferences"' in page and '<option value="merge" selected>' in page
    assert 'name="sync_interval_hours" min="0.02" max="8784" step="any" value="24"' in page
    saved = client.post(
        "/integrations/1/preferences",
        data={"contact_duplication": "clone", "sync_interval_hours": "6"},  # the box unticked: not sent
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"]).text
    assert "Preferences saved" in page and '<option value="clone" selected>' in page
    integration = get_integration(synced.engine, 1)
    assert (integration.contact_duplication, integration.general_timesheets) == ("clone", False)
    assert integration.sync_interval_seconds == 6 * 3600
    bad = client.post("/integrations/1/preferences", data={"sync_interval_hours": "six"})
    assert bad.status_code == 400 and "must be a number of hours" in bad.text
