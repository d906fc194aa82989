"""timesheets end to end: the `small` preset against the product rules, computed from the sandbox's ground truth.

Real Postgres, the sandbox over HTTP, an in-process Celery worker. Expected Books time entries are derived from
/_sandbox/state (logs, users) with the rules of issue 7, and compared with what Books holds after the sync.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa

from sandbox.config import SandboxConfig
from sandbox.limits import preset
from sandbox.server import SandboxServer
from shared.db.schema import billing_claims
from tests.sync_support import sync_harness
from tests.worker.timesheet_expectation import Expectation

CUTOFF_DAYS_AGO = 60
# under pytest-xdist the tests sharing ``small_synced`` run on one worker, which builds it once
pytestmark = pytest.mark.xdist_group("timesheets_small_synced")


@pytest.fixture(scope="module")
def small_synced(pg_admin_engine):
    """One synced `small` world shared by the read-only tests of this file (a full sync takes a while)."""
    name = f"bpsync_ts_{uuid.uuid4().hex[:10]}"
    with pg_admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_engine.url.set(database=name).render_as_string(hide_password=False)
    cutoff = dt.date.today() - dt.timedelta(days=CUTOFF_DAYS_AGO)
    prefs = {"general_timesheets": True, "timesheet_cutoff_date": cutoff}
    try:
        config = SandboxConfig(rate_limits=preset("off"))
        with (
            SandboxServer(seed=1, size="small", config=config) as sandbox,
            sync_harness(sandbox, url, prefs=prefs) as h,
        ):
            run = h.sync(timeout=300)
            yield h, run, cutoff
            h.engine.dispose()
    finally:
        with pg_admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_small_preset_books_holds_exactly_the_billable_approved_logs(small_synced):
    h, run, cutoff = small_synced
    expect = Expectation(h, general=True, cutoff=cutoff)
    written = expect.written()
    assert len(written) > 100
    assert Counter(expect.entry_key(e) for e in expect.entries) == Counter(expect.key(log) for log in written)
    assert all(e["is_billable"] and e["billed_status"] == "unbilled" for e in expect.entries)

    # general logs share one General task per Books project
    general = {e["project_id"] for e in expect.entries if expect.entry_key(e)[1] == "General"}
    assert general
    for project_id in general:
        names = [t["task_name"] for t in expect.books_tasks.values() if t["project_id"] == project_id]
        assert names.count("General") == 1

    # log owners are the project's staff in Books
    for entry in expect.entries:
        members = {m["user_id"] for m in expect.books_projects[entry["project_id"]]["users"]}
        assert entry["user_id"] in members

    # non-qualifying logs are counted as skipped, not reported
    timesheets = run.modules["timesheets"]
    assert timesheets.created == len(written)
    assert timesheets.skipped >= sum(1 for log in expect.logs if not expect.qualifies(log))
    reasons = Counter(e.reason_code for e in h.errors() if e.module == "timesheets")
    assert set(reasons) <= {"parent_failed"}


def test_logs_before_the_cutoff_are_claimed_and_never_written(small_synced):
    h, _run, cutoff = small_synced
    expect = Expectation(h, general=True, cutoff=cutoff)
    scanned = set(expect.projects) | {e.source_id for e in h.errors() if e.entity_type == "project"}
    before = {
        log["id"]
        for log in expect.logs
        if expect.qualifies(log) and expect.before_cutoff(log) and log["project_id"] in scanned
    }
    assert before
    with h.engine.connect() as conn:
        claims = conn.execute(sa.select(billing_claims).where(billing_claims.c.integration_id == h.integration.id))
        claimed = {(c.item_type, c.item_id, c.side) for c in claims}
    assert claimed == {("time_entry", log_id, "cutoff") for log_id in before}
    assert min(e["log_date"] for e in expect.entries) >= cutoff.isoformat()


def test_missing_users_become_inactive_timesheet_staff_once_and_a_second_run_writes_nothing(small_synced):
    h, _run, _cutoff = small_synced
    missing = h.sandbox.world.awkward["logs_of_users_missing_in_books"]
    h.reset_requests()
    again = h.sync(timeout=180)
    assert h.books_writes() == []
    assert again.modules["timesheets"].created == again.modules["timesheets"].updated == 0
    expect = Expectation(h, general=True, cutoff=None)
    owners = {log["owner_id"] for log in expect.logs if log["id"] in missing}
    for owner in owners:
        email = expect.portal_users[owner]["email"].lower()
        same = [u for u in expect.books_users.values() if u["email"].lower() == email]
        assert len(same) == 1 and same[0]["status"] == "inactive" and same[0]["user_role"] == "timesheetstaff"


def test_blocked_logs_point_at_their_parents_error(small_synced):
    h, _run, _cutoff = small_synced
    errors = {e.id: e for e in h.errors()}
    blocked = [e for e in errors.values() if e.module == "timesheets" and e.reason_code == "parent_failed"]
    assert blocked
    for error in blocked:
        parent = errors[error.blocked_by]
        assert parent.entity_type in {"task", "bug", "project"}
        assert "Error Details" in error.hint or f"#{parent.id}" in error.hint
