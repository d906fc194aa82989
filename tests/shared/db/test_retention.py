"""History retention: old finished runs go in batches; the newest N module runs of each module, the runs the
status points at and any unfinished run stay; idle instant polls go sooner; totals and current state hold."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from shared.clock import utcnow
from shared.config import load_settings
from shared.crypto import new_key
from shared.db import engine as dbe
from shared.db import module_states, runs, sync_errors
from shared.db.integrations import create_integration
from shared.db.retention import Retention, prune, prune_batch
from shared.db.schema import module_runs, sync_runs
from shared.db.schema import sync_errors as errors_table
from tests.shared.db.state_recompute import assert_states_match_history, kept

DAYS = 30


@pytest.fixture(params=["postgres", "sqlite"])
def engine(request):
    url = request.getfixturevalue("pg_migrated_url" if request.param == "postgres" else "sqlite_migrated_url")
    return dbe.make_engine(url)


def _integration(engine: sa.Engine, name: str) -> int:
    settings = load_settings(secret_key=new_key())
    return create_integration(engine, settings, name=name, organization_id=name, portal_id="p", credentials={}).id


def _complete(engine: sa.Engine, iid: int, module: str, trigger: str, status: str = "succeeded", **counts: int) -> int:
    """One run of one module through shared/db/runs.py, as a worker would do it; returns its module run id."""
    with engine.begin() as conn:
        request = runs.request_run(conn, iid, [module], trigger)
    assert request.start_module_run_id is not None
    mr = runs.claim_module(engine, request.start_module_run_id, lease_seconds=60)
    assert mr is not None
    with engine.begin() as conn:
        runs.add_counts(conn, mr, {"fetched": 1, **counts})
    runs.finish(engine, mr, status)
    return mr.id


def _left(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(module_runs.c.id)).scalars())


def test_retention_keeps_the_newest_runs_the_last_success_and_unfinished_runs(engine):
    iid = _integration(engine, "acme")
    success = _complete(engine, iid, "users", "beat")
    failures = [_complete(engine, iid, "users", "beat", status="failed") for _ in range(4)]
    idle = [_complete(engine, iid, "timesheets", "instant") for _ in range(3)]
    wrote = _complete(engine, iid, "timesheets", "instant", created=1)
    newest_idle = [_complete(engine, iid, "timesheets", "instant") for _ in range(2)]
    other = _integration(engine, "other")
    with engine.begin() as conn:  # a sync of another tenant that has run for days (it never ends by itself)
        run_id = conn.execute(
            sync_runs.insert().values(
                integration_id=other,
                trigger="beat",
                modules=["users"],
                status="running",
                requested_at=utcnow() - dt.timedelta(days=90),
            )
        ).inserted_primary_key[0]
        running = conn.execute(
            module_runs.insert().values(
                sync_run_id=run_id, integration_id=other, module="users", position=0, status="running"
            )
        ).inserted_primary_key[0]
        later_id = conn.execute(  # a newer finished one (rows by hand): only its status keeps the running one
            sync_runs.insert().values(
                integration_id=other, trigger="beat", modules=["users"], status="succeeded", requested_at=utcnow()
            )
        ).inserted_primary_key[0]
        later = conn.execute(
            module_runs.insert().values(
                sync_run_id=later_id, integration_id=other, module="users", position=0, status="succeeded"
            )
        ).inserted_primary_key[0]
        module_states.rebuild(conn, other)
        sync_errors.record(  # an error found by a run retention deletes: it stays, without the run
            conn,
            iid,
            module="users",
            entity_type="user",
            source_id="7",
            source_name=None,
            problem=sync_errors.Problem("x", "y"),
            module_run_id=failures[0],
        )
    totals_before = kept(engine)
    everything = _left(engine)
    policy = Retention(days=DAYS, idle_hours=1, keep_runs=2)

    # two hours on: only idle instant polls are old enough, and the newest two of the module stay
    assert prune(engine, policy, now=utcnow() + dt.timedelta(hours=2)) == 3
    assert _left(engine) == everything - set(idle)

    # a month on: everything old goes but the newest two per module, the last success and the running run
    policy_now = utcnow() + dt.timedelta(days=DAYS + 1)
    assert prune_batch(engine, policy, now=policy_now, limit=1) == 1  # batches: the oldest first
    assert prune(engine, policy, now=policy_now) == 2
    assert _left(engine) == {success, *failures[-2:], *newest_idle, running, later}
    assert wrote not in _left(engine)
    assert prune(engine, policy, now=policy_now) == 0  # nothing left to prune
    keep_one = Retention(days=DAYS, idle_hours=1, keep_runs=1)
    assert prune(engine, keep_one, now=policy_now) == 2  # the older of each pair; never the running run
    assert _left(engine) == {success, failures[-1], newest_idle[-1], running, later}

    with engine.connect() as conn:
        error = conn.execute(sa.select(errors_table)).one()
    assert error.module_run_id is None and error.resolved_at is None
    # what the status shows is unchanged, and the /metrics totals are not lowered
    assert_states_match_history(engine, with_totals=False)
    assert kept(engine)["states"] == totals_before["states"]
    assert kept(engine)["sync_runs"] == totals_before["sync_runs"]


def test_the_migrate_run_is_never_pruned(engine):
    """The one-way rule of bpsync migrate rests on its run: retention keeps it whatever its age or the keep count."""
    iid = _integration(engine, "acme")

    def finished(trigger: str) -> int:
        with engine.begin() as conn:
            run_id = conn.execute(
                sync_runs.insert().values(
                    integration_id=iid,
                    trigger=trigger,
                    modules=["migrate_clients"],
                    status="succeeded",
                    requested_at=utcnow(),
                )
            ).inserted_primary_key[0]
            return conn.execute(
                module_runs.insert().values(
                    sync_run_id=run_id, integration_id=iid, module="migrate_clients", position=0, status="succeeded"
                )
            ).inserted_primary_key[0]

    migrated = finished("migrate")
    later = finished("manual")  # a later run of that module name (none is made today): only the trigger keeps it
    policy = Retention(days=DAYS, idle_hours=1, keep_runs=1)
    prune(engine, policy, now=utcnow() + dt.timedelta(days=DAYS * 10))
    assert _left(engine) == {migrated, later}


def test_retention_off_keeps_everything(engine):
    iid = _integration(engine, "acme")
    ids = {_complete(engine, iid, "users", "instant") for _ in range(3)}
    off = Retention(days=0, idle_hours=1, keep_runs=1)
    assert prune(engine, off, now=utcnow() + dt.timedelta(days=400)) == 0
    assert _left(engine) == ids
