"""The all-integrations listing: each integration's badge ranked in SQL equals the badge the status computes in
Python, for every badge rule; filters by badge and name, badge counts and pages."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from scheduler.cli_support import json_text
from scheduler.status import integration_statuses
from scheduler.status.badges import URGENCY
from scheduler.status.listing import BadFilter, integration_page, integration_page_json
from scheduler.status.overview import integration_statuses_json
from scheduler.status.reads import Reader
from scheduler.status.source import status_source
from scheduler.status.timefmt import as_written
from shared.clock import utcnow
from shared.config import get_settings, load_settings
from shared.crypto import new_key
from shared.db import engine as dbe
from shared.db import module_states
from shared.db.integrations import create_integration, update_integration
from shared.db.schema import module_runs, sync_runs

NOW = utcnow()
# far enough that the API and CLI tests, which read at their own time, see the same badges
SOON, PAST = NOW + dt.timedelta(hours=6), NOW - dt.timedelta(minutes=3)

# name -> (integration values, {module: module run values} of one run, its status); one integration each
SCENARIOS: dict[str, tuple[dict, dict, str]] = {
    "never-ran": ({}, {}, ""),
    "active": ({}, {"users": {"status": "succeeded", "finished_at": PAST}}, "succeeded"),
    "partial": ({}, {"users": {"status": "partial", "finished_at": PAST}}, "partial"),
    "failed": (
        {},
        {"users": {"status": "succeeded", "finished_at": PAST}, "clients": {"status": "failed", "finished_at": PAST}},
        "failed",
    ),
    "skipped": ({}, {"users": {"status": "skipped", "finished_at": PAST}}, "failed"),
    "quota-wait": ({}, {"users": {"status": "running", "waiting_until": SOON, "wait_reason": "quota"}}, "running"),
    "old-wait-row": ({}, {"users": {"status": "running", "waiting_until": SOON}}, "running"),
    "wait-over": ({}, {"users": {"status": "running", "waiting_until": PAST, "wait_reason": "quota"}}, "running"),
    "retrying": ({}, {"users": {"status": "running", "waiting_until": SOON, "wait_reason": "retry"}}, "running"),
    "stalled": ({}, {"users": {"status": "running", "lease_until": PAST}}, "running"),
    "queued": ({}, {"users": {"status": "queued"}}, "running"),
    "paused-running": ({"paused_until": SOON}, {"users": {"status": "running"}}, "running"),
    "paused-done": ({"paused_until": SOON}, {"users": {"status": "succeeded", "finished_at": PAST}}, "succeeded"),
    "pause-over": ({"paused_until": PAST}, {"users": {"status": "running"}}, "running"),
    "disabled": ({"state": "disabled"}, {"users": {"status": "running"}}, "running"),
}


KEY = new_key()


def seed(url: str) -> sa.Engine:
    dbe.upgrade(url)
    engine = dbe.make_engine(url)
    settings = load_settings(secret_key=KEY)
    for n, (name, (values, modules, run_status)) in enumerate(SCENARIOS.items()):
        iid = create_integration(
            engine, settings, name=name, organization_id=str(n), portal_id="p", credentials={"x": 1}
        ).id
        if values:
            update_integration(engine, iid, **values)
        if not modules:
            continue
        with engine.begin() as conn:
            run_id = conn.execute(
                sync_runs.insert().values(
                    integration_id=iid, trigger="beat", modules=list(modules), status=run_status, requested_at=PAST
                )
            ).inserted_primary_key[0]
            for position, (module, row) in enumerate(modules.items()):
                conn.execute(
                    module_runs.insert().values(
                        sync_run_id=run_id, integration_id=iid, module=module, position=position, **row
                    )
                )
            module_states.rebuild(conn, iid)
    return engine


@pytest.fixture(params=["postgres", "sqlite"])
def engine(request):
    return seed(request.getfixturevalue("pg_migrated_url" if request.param == "postgres" else "sqlite_migrated_url"))


def test_the_sql_badge_of_every_rule_equals_the_status_badge(engine):
    page = integration_page(engine, now=NOW)
    assert page.total == len(SCENARIOS) and page.next_offset is None
    python = {s.integration.name: s.badge.state for s in integration_statuses(engine, now=NOW)}
    assert python == {
        "never-ran": "not_synced",
        "active": "active",
        "partial": "active",
        "failed": "failed",
        "skipped": "failed",
        "quota-wait": "waiting",
        "old-wait-row": "waiting",
        "wait-over": "in_progress",
        "retrying": "in_progress",
        "stalled": "in_progress",
        "queued": "in_progress",
        "paused-running": "waiting",
        "paused-done": "active",
        "pause-over": "in_progress",
        "disabled": "disabled",
    }
    for state in set(python.values()):
        chosen = integration_page(engine, badge=state, now=NOW)
        assert {s.integration.name for s in chosen.statuses} == {n for n, b in python.items() if b == state}
        assert all(s.badge.state == state for s in chosen.statuses)
    counts = {b: list(python.values()).count(b) for b in set(python.values())}
    assert page.badge_counts == counts  # every integration: counted from their statuses
    assert integration_page(engine, limit=1000, now=NOW).badge_counts == counts  # a page: counted by the SQL rank
    assert page.counts_line().startswith("1 Disabled, 3 Waiting for API quota, 5 Sync in Progress, 2 Failed")


def test_pages_filters_and_bad_parameters(engine):
    first = integration_page(engine, limit=4, now=NOW)
    assert [s.integration.name for s in first.statuses] == list(SCENARIOS)[:4]
    assert (first.total, first.next_offset) == (len(SCENARIOS), 4)
    last = integration_page(engine, limit=4, offset=12, now=NOW)
    assert [s.integration.name for s in last.statuses] == list(SCENARIOS)[12:]
    assert last.next_offset is None
    assert integration_page(engine, limit=4, offset=100, now=NOW).statuses == []
    waits = integration_page(engine, name="WAIT", now=NOW)  # a substring, any case
    assert [s.integration.name for s in waits.statuses] == ["quota-wait", "old-wait-row", "wait-over"]
    assert waits.badge_counts == {"waiting": 2, "in_progress": 1}  # counts follow the name filter only
    label = integration_page(engine, badge="Sync in Progress", name="wait", now=NOW)
    assert [s.integration.name for s in label.statuses] == ["wait-over"] and label.total == 1
    assert integration_page(engine, name="100%_", now=NOW).total == 0  # LIKE wildcards are plain characters
    for bad in ({"badge": "broken"}, {"limit": 0}, {"limit": 5000}, {"offset": -1}):
        with pytest.raises(BadFilter):
            integration_page(engine, now=NOW, **bad)
    keys = set(first.as_json())
    assert keys == {"generated_at", "integrations", "total", "offset", "limit", "next_offset", "badge_counts"}
    with engine.connect() as conn:  # nothing above wrote
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar() == len(SCENARIOS) - 1


def test_the_status_built_as_json_from_the_rows_is_the_statuses_as_json(engine):
    """``bpsync status --json`` writes its statuses straight from the rows (integration_statuses_json); the web
    and the text output build the objects: both say the same, for every badge rule, with open errors on a
    module that ran, one that never ran and one not built yet."""
    from shared.db.schema import open_error_counts

    with engine.begin() as conn:
        ids = dict(conn.execute(sa.text("SELECT name, id FROM integrations")).all())
        conn.execute(
            open_error_counts.insert(),
            [
                {"integration_id": ids["failed"], "module": "clients", "open_errors": 3},
                {"integration_id": ids["failed"], "module": "bugs", "open_errors": 1},
                {"integration_id": ids["stalled"], "module": "expenses", "open_errors": 2},
                {"integration_id": ids["active"], "module": "users", "open_errors": 0},
            ],
        )
    everything = integration_page_json(engine, now=NOW)
    assert everything == integration_page(engine, now=NOW).as_json()
    assert {m["module"] for m in everything["integrations"][0]["modules"]} >= {"expenses"}
    assert sum(i["open_errors"] for i in everything["integrations"]) == 6
    for filters in ({"badge": "in_progress"}, {"name": "WAIT"}, {"limit": 4, "offset": 2}, {"offset": 100}):
        assert (
            integration_page_json(engine, now=NOW, **filters) == integration_page(engine, now=NOW, **filters).as_json()
        )
    for name in SCENARIOS:
        objects = [s.as_json() for s in integration_statuses(engine, name, now=NOW)]
        assert integration_statuses_json(engine, name, now=NOW) == objects
        assert integration_statuses_json(engine, ids[name], now=NOW) == objects
        # the command's way: timestamps left to the JSON writer, the same text
        written = integration_statuses_json(engine, name, now=NOW, when=as_written)
        assert json_text(written, utc_datetimes=True) == json_text(objects)
    written_page = integration_page_json(engine, now=NOW, when=as_written)
    assert json_text(written_page, utc_datetimes=True) == json_text(everything)
    assert any(isinstance(i["paused_until"], dt.datetime) for i in written_page["integrations"])
    # the command's own reader: the driver's connection (on PostgreSQL with its session in UTC), the same text
    with status_source(engine.url.render_as_string(hide_password=False)) as direct:
        assert isinstance(direct, Reader)
        by_driver = integration_page_json(direct, now=NOW, when=as_written)
        assert json_text(by_driver, utc_datetimes=True) == json_text(everything)
        for name in SCENARIOS:
            assert integration_statuses_json(direct, name, now=NOW) == integration_statuses_json(engine, name, now=NOW)


def test_the_json_writer_writes_utc_timestamps_as_the_status_does():
    from zoneinfo import ZoneInfo

    from scheduler.status.timefmt import iso

    berlin = dt.datetime(2026, 7, 1, 12, 0, 0, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    for value in (
        dt.datetime(2026, 11, 29, 4, 13, 53, 7766, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 29, 4, 13, 53, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 29, 4, 13, 53, 7766),  # SQLite's: naive, meaning UTC
        dt.datetime(2026, 11, 29, 4, 13, 53, 1, tzinfo=ZoneInfo("Etc/UTC")),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        berlin,  # another zone: written by iso itself
        dt.datetime(1800, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")),  # an offset with seconds (+00:19:32)
        None,
    ):
        assert json_text({"t": as_written(value)}, utc_datetimes=True) == json_text({"t": iso(value)}), value
    assert as_written(berlin) == iso(berlin)


# ------------------------------------------------------------------------------------------------ API, page, CLI
TOKEN = "listing-test-token-0123456789abcdef"


@pytest.fixture
def listing_url(sqlite_migrated_url) -> str:
    seed(sqlite_migrated_url)
    return sqlite_migrated_url


def test_the_api_pages_and_filters(listing_url):
    from starlette.testclient import TestClient

    from scheduler.web.app import create_web_app

    settings = load_settings(database_url=listing_url, secret_key=KEY, web_token=TOKEN)
    with TestClient(create_web_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        first = client.get("/api/integrations?limit=4").json()
        assert [i["name"] for i in first["integrations"]] == list(SCENARIOS)[:4]
        assert (first["total"], first["offset"], first["limit"], first["next_offset"]) == (len(SCENARIOS), 0, 4, 4)
        assert first["badge_counts"]["failed"] == 2 and set(first["badge_counts"]) == set(URGENCY)
        rest = client.get(f"/api/integrations?limit=4&offset={first['next_offset']}").json()
        assert [i["name"] for i in rest["integrations"]] == list(SCENARIOS)[4:8]
        failed = client.get("/api/integrations?badge=failed").json()
        assert [i["name"] for i in failed["integrations"]] == ["failed", "skipped"]
        assert all(i["badge_state"] == "failed" for i in failed["integrations"])
        named = client.get("/api/integrations", params={"name": "PAUSE", "badge": "Sync in Progress"}).json()
        assert [i["name"] for i in named["integrations"]] == ["pause-over"]
        assert len(client.get("/api/integrations").json()["integrations"]) == len(SCENARIOS)  # within the default
        for bad in ("badge=nope", "limit=0", "limit=abc", "offset=-1", "offset=x"):
            answer = client.get(f"/api/integrations?{bad}")
            assert answer.status_code == 400 and answer.json()["error"], bad

        page = client.get("/integrations?badge=failed")
        assert page.status_code == 200
        counts = re.sub(r"<[^>]+>", "", page.text.split('id="badge-counts">')[1].split("</p>")[0])
        assert counts.startswith("1 Disabled, 3 Waiting for API quota, 5 Sync in Progress, 2 Failed")
        assert 'href="/integrations?badge=failed">2 Failed</a>' in page.text  # each count filters the list
        assert ">failed<" in page.text and ">skipped<" in page.text and ">active<" not in page.text
        paged = client.get("/integrations?limit=4&offset=4")
        assert 'rel="next" href="/integrations?offset=8"' in paged.text and 'rel="prev"' in paged.text
        assert client.get("/integrations?badge=nope").status_code == 400


def invoke(url: str, *args: str):
    from click.testing import CliRunner

    from scheduler.cli import main

    env = {"BPSYNC_DATABASE_URL": url, "BPSYNC_SECRET_KEY": KEY, "BPSYNC_BROKER_URL": "memory://"}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, ["status", *args], env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def test_bpsync_status_pages_and_filters(listing_url):
    out = invoke(listing_url, "--badge", "failed")
    assert out.exit_code == 0, out.output
    assert out.output.startswith("1 Disabled, 3 Waiting for API quota, 5 Sync in Progress, 2 Failed")
    assert "failed (#" in out.output and "skipped (#" in out.output and "active (#" not in out.output
    data = json.loads(invoke(listing_url, "--json", "--limit", "3", "--offset", "3", "--name", "a").output)
    named = [n for n in SCENARIOS if "a" in n]
    assert [i["name"] for i in data["integrations"]] == named[3:6]
    assert (data["total"], data["next_offset"]) == (len(named), 6)
    everything = json.loads(invoke(listing_url, "--json").output)
    assert len(everything["integrations"]) == len(SCENARIOS) and everything["next_offset"] is None
    one = json.loads(invoke(listing_url, "failed", "--json").output)
    assert [i["name"] for i in one["integrations"]] == ["failed"]
    bad = invoke(listing_url, "--badge", "nope")
    assert bad.exit_code == 2 and "unknown badge 'nope'" in bad.output


def test_the_bpsync_program_ends_with_its_whole_status_written(listing_url):
    """Run as the program, ``bpsync status`` ends its process as soon as its output is out (os._exit: no
    teardown, issue 19): what it wrote is all of it, and the exit code says success."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    def timeless(text: str) -> dict:
        """The document but for what depends on when it was read: a stalled module resumes a sweep after now."""
        document = json.loads(text)
        document.pop("generated_at")
        for status in document["integrations"]:
            for module in status["modules"]:
                if (module["detail"] or "").startswith("stalled"):
                    module.pop("resumes_at")
        return document

    bpsync = str(Path(sys.executable).parent / "bpsync")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_DATABASE_URL": listing_url, "BPSYNC_SECRET_KEY": KEY, "BPSYNC_BROKER_URL": "memory://"}
    for args in (["--json"], ["failed", "--json"], ["--badge", "failed"]):
        done = subprocess.run([bpsync, "status", *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        expected = invoke(listing_url, *args).output
        if "--json" in args:
            assert timeless(done.stdout) == timeless(expected)
        else:
            assert done.stdout == expected
