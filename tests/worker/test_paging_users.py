"""The users module reads the portal's users page by page (a FlatList), not the whole portal in one page: its
memory stays flat in the portal's size (issue 18), and a slice resumes the listing at the page after its last.

Real Postgres and the sandbox over HTTP (its request counts per route); the slices are run by hand.
"""

from __future__ import annotations

import dataclasses
import math

import requests
import sqlalchemy as sa

from sandbox.generator import credentials
from sandbox.world import PortalUser
from shared.db import runs
from shared.db.schema import module_runs
from shared.dispatch import request_sync
from tests.sync_support import SyncHarness, sync_harness
from worker.connections import clients_for
from worker.engine import run_slice
from worker.modules.base import SyncContext
from worker.modules.users import USERS

USERS_ROUTE = "/restapi/portal/{portal}/users/"
PAGE = 100  # the classic API's page size


def _listing_reads(h: SyncHarness) -> int:
    rows = requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=10).json()["requests"]
    return sum(r["count"] for r in rows if r["method"] == "GET" and r["path"] == USERS_ROUTE)


def test_the_users_module_reads_the_portal_a_page_a_slice_and_syncs_every_staff_member(
    sandbox_factory, pg_migrated_url
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, worker=False) as h:
        world = h.sandbox.world
        portal = credentials(world)["portal_id"]
        with world.lock:
            for i in range(230):
                role = "client" if i % 23 == 0 else "employee"  # client users are not staff
                email = "" if i % 37 == 0 else f"paged{i:03d}@staff.example"  # nor is a user without an e-mail
                zuid = world.projects_id()
                world.portal_users[(portal, zuid)] = PortalUser(
                    zuid, world.projects_id(), portal, f"Paged {i:03d}", email, role
                )
            listed = [u for (p, _), u in world.portal_users.items() if p == portal]
        assert len(listed) % PAGE, "a listing of whole pages ends with an empty one"
        staff = {u.email.lower() for u in listed if u.role.lower() != "client" and u.email}
        request = request_sync(h.engine, h.app, h.integration.id, module="users")
        module_run = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
        assert module_run is not None
        projects, books = clients_for(h.settings, h.integration)
        h.reset_requests()
        slices = 0
        while True:
            ctx = SyncContext(h.engine, h.settings, h.integration, module_run, projects, books)
            result = run_slice(ctx, USERS, max_pages=1)
            slices += 1
            assert _listing_reads(h) == slices  # one page of the listing a slice, never the whole portal
            if result.done:
                break
            assert result.checkpoint == {"page": str(1 + slices * PAGE)}
            module_run = dataclasses.replace(module_run, checkpoint=result.checkpoint)
        assert slices == math.ceil(len(listed) / PAGE)
        with h.engine.connect() as conn:
            row = conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run.id)).one()
        assert row.fetched == len(staff)  # every staff member once, however many slices
        org = credentials(world)["organization_id"]
        in_books = {u["email"].lower() for u in h.state()["books_users"] if u["organization_id"] == org}
        assert staff <= in_books
