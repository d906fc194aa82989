"""The JSON API mirrors the pages with the keys documented in README; POSTs request syncs, disable and enable."""

from __future__ import annotations

import datetime as dt

from sandbox.accounts import mint_refresh_token, revoke_refresh_token
from sandbox.generator import credentials
from scheduler.embedded import running_worker
from scheduler.lifecycle import update_credentials
from scheduler.status import error_details
from shared.db.integrations import get_integration, update_integration
from shared.modules import MODULE_ORDER, modules_for_refresh
from shared.zoho.factory import ZohoCredentials
from tests.ops_sync import wait_for_run


def test_read_endpoints(client, synced):
    listing = client.get("/api/integrations").json()
    [acme] = listing["integrations"]
    assert acme["name"] == "acme" and acme["badge"] == "Active" and "generated_at" in listing
    assert client.get("/api/integrations/acme").json() == client.get("/api/integrations/1").json()
    assert [m["module"] for m in acme["modules"]] == list(MODULE_ORDER)

    history = client.get("/api/integrations/1/history", params={"module": "projects", "limit": 5}).json()["history"]
    assert [h["module"] for h in history] == ["projects"] and history[0]["counts"]["failed"] > 0

    errors = client.get("/api/integrations/1/errors").json()
    assert sum(g["count"] for g in errors["summary"]) == len(errors["details"]) == acme["open_errors"]
    first = errors["details"][0]
    assert client.get(f"/api/errors/{first['id']}").json() == first

    projects = client.get("/api/integrations/1/projects").json()["projects"]
    failed = next(p for p in projects if p["error_id"])
    detail = client.get(f"/api/integrations/1/projects/{failed['projects_id']}").json()
    assert detail["error"]["id"] == failed["error_id"] and len(detail["blocked"]) == failed["blocked"]


def test_refresh_coalesces_and_retry_resyncs(client, synced):
    first = client.post("/api/integrations/1/refresh", json={"module": "tasks"})
    assert first.status_code == 202
    body = first.json()
    assert body["modules"] == modules_for_refresh("tasks") and body["coalesced"] is False
    again = client.post("/api/integrations/acme/refresh", json={"module": "tasks"}).json()
    assert (again["run_id"], again["coalesced"]) == (body["run_id"], True)  # joins the sync not yet finished
    status = client.get("/api/integrations/1").json()
    assert {m["module"]: m["state"] for m in status["modules"]}["tasks"] == "in_progress"

    with running_worker(synced.app):
        assert wait_for_run(synced.engine, body["run_id"]) == "partial"
        error = next(e for e in error_details(synced.engine, 1) if e.module == "projects")
        retried = client.post(f"/api/errors/{error.id}/retry")
        assert retried.status_code == 202 and retried.json()["modules"] == modules_for_refresh("projects")
        wait_for_run(synced.engine, retried.json()["run_id"])
    assert client.post("/api/integrations/1/refresh").status_code == 202  # no body: all modules


def test_bad_input_gets_a_clear_error(client, synced):
    cases = [
        (client.post("/api/integrations/1/refresh", content=b"{nope"), 400, "the body must be JSON"),
        (client.post("/api/integrations/1/refresh", json=["tasks"]), 400, "must be a JSON object"),
        (client.post("/api/integrations/1/refresh", json={"module": "time"}), 400, "unknown module 'time'"),
        (client.get("/api/integrations/1/history?limit=abc"), 400, "limit must be a whole number"),
        (client.get("/api/integrations/9"), 404, "no integration '9'"),
        (client.get("/api/errors/999"), 404, "no sync error #999"),
        (client.post("/api/errors/x/retry"), 400, "an error id is a number"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]
    update_integration(synced.engine, 1, state="disabled")
    refused = client.post("/api/integrations/1/refresh", json={})
    assert refused.status_code == 409 and "disabled" in refused.json()["error"]


def test_disable_and_enable_over_the_api_and_enable_refused_when_the_credentials_no_longer_work(client, synced):
    off = client.post("/api/integrations/acme/disable")
    assert off.status_code == 200
    assert {k: off.json()[k] for k in ("integration_id", "state", "changed")} == {
        "integration_id": 1,
        "state": "disabled",
        "changed": True,
    }
    assert client.post("/api/integrations/1/disable").json()["changed"] is False
    assert client.post("/api/integrations/1/refresh", json={}).status_code == 409
    assert client.get("/api/integrations/1").json()["badge"] == "Disabled"

    creds = credentials(synced.sandbox.world)  # read before the admin's only token is revoked
    stored = get_integration(synced.engine, 1).credentials(synced.settings)["refresh_token"]
    revoke_refresh_token(synced.sandbox.world, stored)
    refused = client.post("/api/integrations/1/enable")
    assert refused.status_code == 409 and refused.json()["error"].startswith("cannot re-enable 'acme'")
    assert "bpsync update-credentials acme" in refused.json()["error"]
    assert get_integration(synced.engine, 1).state == "disabled"  # nothing changed

    fresh = mint_refresh_token(synced.sandbox.world, creds["admin"]["zuid"])
    new = ZohoCredentials(creds["client_id"], creds["client_secret"], fresh, "US")
    assert update_credentials(synced.engine, synced.settings, 1, new).changed
    on = client.post("/api/integrations/1/enable")
    assert on.status_code == 200 and (on.json()["state"], on.json()["changed"]) == ("active", True)
    assert client.post("/api/integrations/1/refresh", json={}).status_code == 202


def test_preferences_over_the_api_change_what_is_given_and_refuse_bad_values(client, synced):
    url = "/api/integrations/acme/preferences"
    changed = client.post(url, json={"general_timesheets": True, "sync_interval_hours": 12})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["changed"], body["general_timesheets"], body["sync_interval_hours"]) == (True, True, 12)
    assert body["contact_duplication"] == "merge" and body["timesheet_cutoff_date"] is None
    assert client.post(url, json={"sync_interval_hours": 12}).json()["changed"] is False
    for sent, complaint in (
        ({"cutoff_date": "2024-01-01"}, "unknown preference 'cutoff_date'"),
        ({"general_timesheets": "yes"}, '"general_timesheets" must be true or false'),
        ({"sync_interval_hours": True}, '"sync_interval_hours" must be a number of hours'),
        ({"sync_interval_hours": -1}, "sync interval -1 h is out of range"),
        ({"contact_duplication": "both"}, "'both' is not one of: merge, clone"),
    ):
        refused = client.post(url, json=sent)
        assert refused.status_code == 400 and complaint in refused.json()["error"], refused.text
    integration = get_integration(synced.engine, 1)
    assert (integration.general_timesheets, integration.sync_interval_seconds) == (True, 12 * 3600)
    update_integration(synced.engine, 1, timesheet_cutoff_date=dt.date(2024, 1, 31))  # set at connect
    assert client.post(url, json={}).json()["timesheet_cutoff_date"] == "2024-01-31"
