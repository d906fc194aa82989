"""End-to-end syncs of the `small` preset: real Postgres, Redis broker, Celery worker, sandbox over HTTP.

Expectations are computed from the sandbox's ground truth (/_sandbox/state) with the product rules of the
Zoho help page, then compared with what Books holds after the sync.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.generator import credentials
from sandbox.limits import preset
from sandbox.server import SandboxServer
from tests.sync_support import SyncHarness, small_snapshot_test, sync_harness
from worker.matching import normalize_company, normalize_email


@pytest.fixture
def synced(small_snapshot, sandbox_factory, pg_admin_engine, redis_url):
    """A copy of the first sync (database and sandbox world) with a worker on this test's Redis database."""
    with small_snapshot.harness(pg_admin_engine, sandbox_factory, broker_url=redis_url) as harness:
        yield harness


@pytest.fixture(scope="module")
def synced_once(small_snapshot, pg_admin_engine):
    """A copy of the first sync shared by the tests that only read its outcome (they never sync, act or reset
    anything); it has no worker, so it cannot take another test's tasks."""
    servers: list[SandboxServer] = []

    def start(**kwargs):
        servers.append(SandboxServer(config=SandboxConfig(rate_limits=preset("off")), **kwargs).start())
        return servers[-1]

    try:
        with small_snapshot.harness(pg_admin_engine, start, worker=False) as harness:
            yield harness
    finally:
        for server in servers:
            server.stop()


class Truth:
    """The sandbox's ground truth, indexed the way the product rules need it."""

    def __init__(self, harness: SyncHarness) -> None:
        state = harness.state()
        creds = credentials(harness.sandbox.world)
        self.portal, self.org = creds["portal_id"], creds["organization_id"]
        self.projects = [p for p in state["projects"] if p["portal_id"] == self.portal]
        self.clients = {c["id"]: c for c in state["clients"] if c["portal_id"] == self.portal}
        self.contacts = [c for c in state["contacts"] if c["organization_id"] == self.org]
        self.currency_code = {c["currency_id"]: c["currency_code"] for c in state["currencies"]}
        self.books_projects = [p for p in state["books_projects"] if p["organization_id"] == self.org]
        self.books_tasks = [t for t in state["books_tasks"] if t["organization_id"] == self.org]
        self.books_users = [u for u in state["books_users"] if u["organization_id"] == self.org]
        self.tasks = state["tasks"]
        self.bugs = state["bugs"]
        self.portal_users = [u for u in state["portal_users"] if u["portal_id"] == self.portal]
        self.awkward = state["awkward"]
        self.seeded_contacts = {
            c["contact_id"]
            for c in self.contacts
            if c["contact_id"] in set(harness.sandbox.world.awkward.get("duplicate_normalized_contacts", []))
        }

    def customer_of(self, client: dict[str, Any]) -> dict[str, Any] | None:
        """The Books customer a client must end up linked to (merge): the same normalized name, never the same
        mailbox alone; a tie goes to the exact spelling, then to the client's e-mail. None: none of that name.

        Read after the sync, so a customer the sync created for the client (named after it) is found too."""
        named = [c for c in self.contacts if normalize_company(c["contact_name"]) == normalize_company(client["name"])]
        if len(named) > 1:
            exact = [c for c in named if c["contact_name"] == client["name"]]
            emailed = [
                c for c in named if client["email"] and normalize_email(c["email"]) == normalize_email(client["email"])
            ]
            named = exact if len(exact) == 1 else emailed
        return named[0] if named else None

    def expected_projects(self) -> dict[str, dict[str, Any]]:
        """Active projects with a primary client whose Books customer uses the project's currency."""
        expected = {}
        for project in self.projects:
            client = self.clients.get(project["primary_client_id"] or "")
            if project["status"] != "active" or client is None:
                continue
            customer = self.customer_of(client)
            currency = self.currency_code.get(customer["currency_id"]) if customer else client["currency_code"]
            if currency == project["currency_code"]:
                expected[project["name"]] = project
        return expected


@small_snapshot_test
def test_full_sync_leaves_books_holding_exactly_the_expected_records(synced_once):
    truth = Truth(synced_once)
    expected = truth.expected_projects()
    assert len(expected) >= 10
    books_projects = Counter(p["project_name"] for p in truth.books_projects)
    assert books_projects == Counter(expected.keys())  # each once, nothing else

    contacts_by_id = {c["contact_id"]: c for c in truth.contacts}
    for books_project in truth.books_projects:
        source = expected[books_project["project_name"]]
        customer = contacts_by_id[books_project["customer_id"]]
        # by name only: a shared mailbox (ap@ of a group) never makes one company's customer another's
        assert normalize_company(customer["contact_name"]).startswith(
            normalize_company(truth.clients[source["primary_client_id"]]["name"])
        )
        tasks = Counter(t["task_name"] for t in truth.books_tasks if t["project_id"] == books_project["project_id"])
        want = Counter(t["name"] for t in truth.tasks if t["project_id"] == source["id"])
        want.update(f"{b['key']}: {b['title']}" for b in truth.bugs if b["project_id"] == source["id"])
        assert tasks == want, books_project["project_name"]

    # every staff user of the portal is a Books user exactly once; the missing ones became inactive staff
    books_by_email = Counter(normalize_email(u["email"]) for u in truth.books_users)
    missing = set(truth.awkward["users_missing_in_books"])
    for user in truth.portal_users:
        if user["role"] == "client":
            continue
        assert books_by_email[normalize_email(user["email"])] == 1, user["email"]
        if user["id"] in missing:
            books_user = next(
                u for u in truth.books_users if normalize_email(u["email"]) == normalize_email(user["email"])
            )
            assert books_user["status"] == "inactive"

    # no customer was duplicated: "Acme Ltd" found "ACME Ltd.", and only the seeded Globex pair shares a name
    names = Counter(normalize_company(c["contact_name"]) for c in truth.contacts)
    assert {n for n, count in names.items() if count > 1} == {"globex"}


@small_snapshot_test
def test_awkward_cases_become_errors_with_hints_and_blocked_children(synced_once):
    truth = Truth(synced_once)
    errors = {(e.entity_type, e.source_id): e for e in synced_once.errors()}
    for project_id in truth.awkward["no_primary_client"]:
        error = errors[("project", project_id)]
        assert error.reason_code == "no_primary_client"
        assert "primary client" in error.hint
        children = [t["id"] for t in truth.tasks if t["project_id"] == project_id]
        for task_id in children:
            assert errors[("task", task_id)].reason_code == "parent_failed"
            assert errors[("task", task_id)].blocked_by == error.id
    for project_id in truth.awkward["archived_projects"]:
        assert ("project", project_id) not in errors
    mismatch = [e for e in errors.values() if e.reason_code == "currency_mismatch"]
    assert len(mismatch) == 1
    assert "Zylker Imports" in mismatch[0].message and "currency" in mismatch[0].hint
    assert not [e for e in errors.values() if e.entity_type in ("user", "client")]


@small_snapshot_test
def test_second_run_writes_nothing(synced):
    synced.reset_requests()
    again = synced.sync()
    assert synced.books_writes() == []
    for module in again.modules.values():
        assert (module.created, module.updated) == (0, 0), module.module
    assert again.modules["tasks"].unchanged > 100
    # incremental: only projects modified since the last run are listed, plus those with an open error
    failed_projects = {e.source_id for e in synced.errors() if e.entity_type == "project"}
    assert again.modules["projects"].fetched == len(failed_projects) > 0


@small_snapshot_test
def test_a_change_in_projects_is_propagated_alone(synced):
    truth = Truth(synced)
    task = next(t for t in truth.tasks if t["project_id"] in {p["id"] for p in truth.expected_projects().values()})
    synced.act("rename_task", task_id=task["id"], name="Renamed by a person")
    synced.reset_requests()
    run = synced.sync()
    assert run.modules["tasks"].updated == 1
    assert [w for w in synced.books_writes()] == [("PUT", "/books/v3/projects/{project_id}/tasks/{task_id}", 1)]
    assert "Renamed by a person" in {t["task_name"] for t in Truth(synced).books_tasks}


@small_snapshot_test
def test_fixing_a_parent_syncs_its_blocked_children_on_the_next_run(synced):
    truth = Truth(synced)
    project_id = truth.awkward["no_primary_client"][0]
    project = next(p for p in truth.projects if p["id"] == project_id)
    synced.act("set_primary_client", project_id=project_id)
    run = synced.sync()
    assert run.modules["projects"].created == 1
    after = Truth(synced)
    assert project["name"] in {p["project_name"] for p in after.books_projects}
    open_errors = {(e.entity_type, e.source_id) for e in synced.errors()}
    assert ("project", project_id) not in open_errors
    children = [t["id"] for t in truth.tasks if t["project_id"] == project_id]
    assert children and not any(("task", t) in open_errors for t in children)
    assert run.modules["tasks"].created == len(children)


def test_revoked_credentials_fail_the_run_with_a_hint_and_skip_the_rest(sandbox, pg_migrated_url, redis_url):
    with sync_harness(sandbox, pg_migrated_url, broker_url=redis_url) as harness:
        refresh_token = credentials(sandbox.world)["admin"]["refresh_token"]
        requests.post(f"{sandbox.base_url}/oauth/v2/token/revoke", params={"token": refresh_token}, timeout=5)
        run = harness.sync()
        assert run.status == "failed"
        # users and clients start at once: either meets the revoked token first (the other fails too, or is skipped)
        failed = [m for m in run.modules.values() if m.status == "failed"]
        assert failed and {m.module for m in failed} <= {"users", "clients"}
        for module in failed:
            assert "refused the refresh token" in module.error and "bpsync update-credentials" in module.error
        assert {m.status for m in run.modules.values() if m not in failed} <= {"skipped"}
        assert harness.books_writes() == []
