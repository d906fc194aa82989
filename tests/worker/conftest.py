"""Fixtures of the worker tests."""

from __future__ import annotations

import pytest

from tests.sync_support import sync_harness


@pytest.fixture(name="tiny")
def tiny_synced(sandbox_factory, pg_migrated_url):
    """A Postgres-backed harness over a `tiny` sandbox, after one full sync."""
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url) as h:
        h.sync()
        yield h
