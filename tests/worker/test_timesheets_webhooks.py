"""The instant path through webhooks: Zoho Projects calls `bpsync web`, and the time log is in Books seconds later,
with no poll and no manual refresh. Real Postgres, the sandbox's webhook delivery over HTTP to the web app served
by uvicorn, a Celery worker."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from sandbox.generator import credentials
from scheduler.web.app import create_web_app
from scheduler.webhooks import webhook_path, webhook_token
from shared.db.schema import sync_runs, webhook_events
from tests.http_support import serving
from tests.sandbox_fixtures import access_token
from tests.sync_support import SyncHarness
from tests.worker.timesheet_support import entry_of, link_of, log_list_calls, synced_task

DEADLINE_S = 30.0


@pytest.fixture
def hooked(tiny: SyncHarness) -> Iterator[SyncHarness]:
    """The sandbox delivers every timelog.* event to the integration's webhook URL."""
    path = webhook_path(tiny.integration.id, webhook_token(tiny.engine, tiny.integration.id))
    with serving(create_web_app(tiny.settings, celery=tiny.app)) as base:
        subscription = {"url": f"{base}{path}", "events": ["timelog.*"]}
        assert requests.post(f"{tiny.sandbox.base_url}/_sandbox/webhooks", json=subscription, timeout=5).ok
        yield tiny


class Projects:
    """Zoho Projects' REST API as a portal admin (what a person's actions in Zoho Projects amount to)."""

    def __init__(self, h: SyncHarness) -> None:
        creds = credentials(h.sandbox.world)
        token = access_token(
            h.sandbox.base_url,
            creds["admin"]["refresh_token"],
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
        )
        self.base = f"{h.sandbox.base_url}/restapi/portal/{creds['portal_id']}/projects"
        self.headers = {"Authorization": f"Zoho-oauthtoken {token}"}

    def call(self, method: str, path: str, **data: Any) -> dict[str, Any]:
        response = requests.request(method, f"{self.base}/{path}", data=data, headers=self.headers, timeout=10)
        assert response.ok, response.text
        return response.json()


def _eventually(check, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {DEADLINE_S}s")


def _runs(h: SyncHarness) -> list[sa.Row]:
    with h.engine.connect() as conn:
        return conn.execute(sa.select(sync_runs).where(sync_runs.c.integration_id == h.integration.id)).all()


def _mdy(day: dt.date) -> str:
    return day.strftime("%m-%d-%Y")


def test_a_logged_and_approved_log_reaches_books_through_webhooks_alone(hooked):
    h = hooked
    project_id, task_id = synced_task(h)
    api = Projects(h)
    runs_before = len(_runs(h))
    h.reset_requests()
    made = api.call(
        "POST",
        f"{project_id}/tasks/{task_id}/logs/",
        date=_mdy(dt.date.today() - dt.timedelta(days=1)),
        hours="02:15",
        bill_status="Billable",
        notes="webhook path",
    )
    log_id = str(made["timelogs"]["tasklogs"][0]["id"])
    api.call("POST", f"{project_id}/tasks/{task_id}/logs/{log_id}/approval", approval_status="Approved")

    entry = _eventually(lambda: entry_of(h, log_id), "the time entry")
    assert (entry["minutes"], entry["notes"]) == (135, "webhook path")
    _eventually(lambda: len(_deliveries(h)) == 2, "both deliveries")
    assert [(d["event"], d["status"]) for d in _deliveries(h)] == [("timelog.created", 202), ("timelog.approved", 202)]
    _eventually(lambda: all(r.status not in ("queued", "running") for r in _runs(h)), "the runs' end")
    new_runs = _runs(h)[runs_before:]
    assert new_runs and {r.trigger for r in new_runs} == {"webhook"}
    # only the named project's recent months were read (a full run reads every project's every month)
    assert log_list_calls(h) <= 2 * 2 * len(new_runs)
    with h.engine.connect() as conn:
        events = conn.execute(sa.select(webhook_events)).all()
    assert [(e.event, e.project_id, e.log_id) for e in events] == [
        ("timelog.created", project_id, log_id),
        ("timelog.approved", project_id, log_id),
    ]
    assert all(e.handled_at is not None and e.module_run_id is not None for e in events)


def _deliveries(h: SyncHarness) -> list[dict[str, Any]]:
    return requests.get(f"{h.sandbox.base_url}/_sandbox/webhooks", timeout=5).json()["deliveries"]


def test_an_edit_and_a_deletion_of_an_old_log_reach_books_through_webhooks(hooked):
    h = hooked
    today = dt.date.today()
    old = next(
        log
        for log in h.sandbox.world.timelogs.values()
        if log.component == "task"
        and log.log_date < today - dt.timedelta(days=45)  # far outside the recent months
        and entry_of(h, log.id) is not None
    )
    project_id, task_id = old.project_id, old.task_id
    api = Projects(h)
    api.call("POST", f"{project_id}/tasks/{task_id}/logs/{old.id}/", hours="07:05", notes="corrected")
    edited = _eventually(
        lambda: (e := entry_of(h, old.id)) is not None and e["minutes"] == 425 and e, "the edit reaching Books"
    )
    assert edited["notes"] == "corrected"

    _eventually(lambda: all(r.status not in ("queued", "running") for r in _runs(h)), "the edit's runs' end")
    h.reset_requests()
    api.call("DELETE", f"{project_id}/tasks/{task_id}/logs/{old.id}/")
    _eventually(lambda: link_of(h, "timesheet", old.id) is None, "the deletion reaching Books")
    assert all(e["time_entry_id"] != edited["time_entry_id"] for e in h.state()["time_entries"])
    _eventually(lambda: all(r.status not in ("queued", "running") for r in _runs(h)), "the deletion's runs' end")
    # the event said "deleted": the log's month and the recent months are read, no other month is searched for it
    assert log_list_calls(h) <= 2 * 2 + 1


def test_a_new_log_dated_before_every_other_log_of_its_project_arrives_through_its_webhook(hooked):
    h = hooked
    project_id, task_id = synced_task(h)
    world = h.sandbox.world
    first_log = min(log.log_date for log in world.timelogs.values() if log.project_id == project_id)
    back_dated = world.projects[project_id].start_date + dt.timedelta(days=2)
    assert back_dated < first_log.replace(day=1), "tiny's project should start a month before its first log"
    assert back_dated < dt.date.today() - dt.timedelta(days=40), "the day must be outside the recent months"
    api = Projects(h)
    runs_before = len(_runs(h))
    h.reset_requests()
    made = api.call(
        "POST", f"{project_id}/tasks/{task_id}/logs/", date=_mdy(back_dated), hours="01:00", bill_status="Billable"
    )
    log_id = str(made["timelogs"]["tasklogs"][0]["id"])
    api.call("POST", f"{project_id}/tasks/{task_id}/logs/{log_id}/approval", approval_status="Approved")

    # no daily run reads before the project's first log until its next deep read: the event's date brings it now
    entry = _eventually(lambda: entry_of(h, log_id), "the back-dated time entry")
    assert (entry["log_date"], entry["minutes"]) == (back_dated.isoformat(), 60)
    _eventually(lambda: all(r.status not in ("queued", "running") for r in _runs(h)), "the runs' end")
    new_runs = _runs(h)[runs_before:]
    assert new_runs and {r.trigger for r in new_runs} == {"webhook"}
    # each run read the recent months (at most two per component) and the named month of the task component
    assert log_list_calls(h) <= (2 * 2 + 1) * len(new_runs)
