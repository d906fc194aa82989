"""A partial first sync: a refresh of `users` (which runs projects, not clients) before any client was synced."""

from __future__ import annotations

from shared.db.links import links_of
from tests.sync_support import sync_harness


def test_projects_run_before_any_client_synced_come_back_once_the_clients_are_there(sandbox_factory, sqlite_url):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, sqlite_url) as h:
        first = h.sync(module="users")  # users and everything below it: projects, tasks... but not clients
        assert "clients" not in first.modules
        # not "skipped" (as for an archived parent): an open error brings them back in the incremental listing
        assert first.modules["projects"].blocked > 0
        assert {e.reason_code for e in h.errors()} >= {"parent_not_synced"}
        second = h.sync()
        assert second.modules["projects"].created > 0
        with h.engine.connect() as conn:
            assert len(links_of(conn, h.integration.id, "project")) == second.modules["projects"].created
        assert "parent_not_synced" not in {e.reason_code for e in h.errors()}
