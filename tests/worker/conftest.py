"""Fixtures of the worker tests."""

from __future__ import annotations

import pytest


@pytest.fixture(name="tiny")
def tiny_synced(tiny_snapshot, sandbox_factory, pg_admin_engine):
    """A Postgres-backed harness over a `tiny` sandbox, after one full sync: this test's own copy (database from a
    template, sandbox serving a deep copy of the world) of the sync ``tiny_snapshot`` (tests/conftest.py) made once
    per process."""
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory) as h:
        yield h
