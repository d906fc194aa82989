"""Fixtures of the worker tests."""

from __future__ import annotations

import pytest

from tests.sync_support import HarnessSnapshot


@pytest.fixture(scope="session")
def tiny_snapshot(pg_admin_engine, pg_template):
    """A `tiny` world after one full sync on PostgreSQL, made once per test process (see ``tiny``)."""
    with HarnessSnapshot.made(pg_admin_engine, pg_template, size="tiny") as snapshot:
        yield snapshot


@pytest.fixture(name="tiny")
def tiny_synced(tiny_snapshot, sandbox_factory, pg_admin_engine):
    """A Postgres-backed harness over a `tiny` sandbox, after one full sync: this test's own copy (database from a
    template, sandbox serving a deep copy of the world) of the sync ``tiny_snapshot`` made once per process."""
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory) as h:
        yield h
