"""Issue 17: customers are matched by name, not by a shared accounts mailbox (sister companies of a group).

End to end against the sandbox's seed 5 (`bpsync sandbox --size small --seed 5`): "Xylo Energy GmbH" (INR) and
"Xylo Analytics GmbH" (USD) share ap@xylo.example, as do "Quartz Builders SA" (AUD) and "Quartz Analytics Co"
(USD); Books holds only the Analytics customers. Real Postgres, Redis broker, Celery worker, sandbox over HTTP.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sandbox.generator import credentials
from sandbox.world import Contact
from scheduler.cli import main
from shared.clock import utcnow
from shared.config import get_settings
from shared.db.schema import entity_links
from tests.sync_support import SyncHarness, sync_harness
from worker.matching import normalize_company

SEED = 5


def _client(h: SyncHarness, name: str) -> Any:
    return next(c for c in h.sandbox.world.clients.values() if c.name == name)


def _contact(h: SyncHarness, name: str) -> Any:
    org = credentials(h.sandbox.world)["organization_id"]
    return next(c for c in h.sandbox.world.contacts.values() if c.organization_id == org and c.contact_name == name)


def _currency(h: SyncHarness, contact: Any) -> str:
    return h.sandbox.world.currencies[contact.currency_id].currency_code


def _linked(h: SyncHarness) -> dict[str, str]:
    with h.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
                entity_links.c.integration_id == h.integration.id, entity_links.c.entity_type == "client"
            )
        )
        return {r.projects_id: r.books_id for r in rows}


def _books_project(h: SyncHarness, name: str) -> Any:
    return next((p for p in h.sandbox.world.books_projects.values() if p.project_name == name), None)


def _legacy_link(h: SyncHarness, client_id: str, books_id: str) -> None:
    """A link as the e-mail-first rule of an earlier version left it (adopted: no ``books_name``)."""
    with h.engine.begin() as conn:
        conn.execute(
            entity_links.insert().values(
                integration_id=h.integration.id,
                entity_type="client",
                projects_id=client_id,
                books_id=books_id,
                state="linked",
                attributes={},
                created_at=utcnow(),
            )
        )


@pytest.fixture
def cli(monkeypatch):
    for key in [k for k in os.environ if k.startswith("BPSYNC_")]:
        monkeypatch.delenv(key)

    def invoke(h: SyncHarness, *args: str) -> Any:
        env = {
            "BPSYNC_DATABASE_URL": h.settings.database_url,
            "BPSYNC_BROKER_URL": h.settings.broker_url,
            "BPSYNC_REDIS_KEY_PREFIX": h.settings.redis_key_prefix,
            "BPSYNC_SECRET_KEY": h.settings.secret_key or "",
        }
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    return invoke


def _add_customer(h: SyncHarness, name: str, email: str) -> str:
    world = h.sandbox.world
    org = credentials(world)["organization_id"]
    with world.lock:
        usd = next(c for c in world.currencies.values() if c.organization_id == org and c.currency_code == "USD")
        contact = Contact(world.books_id(), org, name, name, currency_id=usd.currency_id, email=email)
        world.contacts[contact.contact_id] = contact
    return contact.contact_id


@pytest.mark.slow  # a full sync of the small world and more: started early under xdist
def test_sister_companies_sharing_a_mailbox_each_get_their_own_customer(sandbox_factory, pg_migrated_url, redis_url):
    sandbox = sandbox_factory(seed=SEED)
    with sync_harness(sandbox, pg_migrated_url, broker_url=redis_url) as h:
        # two spellings of "Cedar Ventures Ltd" (USD, ap@cedar.example), neither exact: the mailbox breaks the tie
        _add_customer(h, "Cedar Ventures", "billing@cedar.example")
        cedar = _add_customer(h, "CEDAR Ventures Ltd.", "AP@cedar.example")
        assert h.sync().status == "partial"  # the seeded awkward cases fail on purpose
        assert _linked(h)[_client(h, "Cedar Ventures Ltd").id] == cedar
        assert _books_project(h, "Training Program 0012").customer_id == cedar
        linked, world = _linked(h), h.sandbox.world
        contacts = world.contacts
        shared = world.awkward["shared_mailbox_clients"]
        assert {world.clients[c].name for c in shared} >= {"Xylo Energy GmbH", "Quartz Builders SA"}
        for client_id in shared:  # each to a customer of its own name, never its sister's
            customer = contacts[linked[client_id]]
            assert normalize_company(customer.contact_name) == normalize_company(world.clients[client_id].name)

        energy, analytics = _client(h, "Xylo Energy GmbH"), _client(h, "Xylo Analytics GmbH")
        assert linked[analytics.id] == _contact(h, "Xylo Analytics GmbH").contact_id  # its own, by name
        made = contacts[linked[energy.id]]  # a new one, in the client's currency
        assert (made.contact_name, _currency(h, made)) == ("Xylo Energy GmbH", "INR")
        builders = contacts[linked[_client(h, "Quartz Builders SA").id]]
        assert (builders.contact_name, _currency(h, builders)) == ("Quartz Builders SA", "AUD")
        northwind = contacts[linked[_client(h, "Northwind Traders").id]]
        assert northwind.contact_name == "Northwind Traders"  # not "NW Trading Group", which only shares the mailbox

        errors = h.errors()
        assert [e.source_name for e in errors if e.reason_code == "currency_mismatch"] == ["Mobile App 0003"]
        assert not [e for e in errors if e.entity_type == "client"]
        assert _books_project(h, "Warehouse Automation 0015").customer_id == made.contact_id
        assert _books_project(h, "Payroll Integration 0014").customer_id == builders.contact_id


@pytest.mark.slow  # a full sync of the small world and more: started early under xdist
def test_links_made_by_email_alone_are_reported_kept_and_settled_by_the_admin(
    sandbox_factory, pg_migrated_url, redis_url, cli
):
    sandbox = sandbox_factory(seed=SEED)
    with sync_harness(sandbox, pg_migrated_url, broker_url=redis_url) as h:
        quartz_co, xylo_analytics = _contact(h, "Quartz Analytics Co"), _contact(h, "Xylo Analytics GmbH")
        nw_trading = _contact(h, "NW Trading Group")
        builders, northwind = _client(h, "Quartz Builders SA"), _client(h, "Northwind Traders")
        energy, analytics = _client(h, "Xylo Energy GmbH"), _client(h, "Xylo Analytics GmbH")
        # what the e-mail-first rule left: the sister companies on the Analytics customers, Northwind on NW Trading
        _legacy_link(h, builders.id, quartz_co.contact_id)
        _legacy_link(h, _client(h, "Quartz Analytics Co").id, quartz_co.contact_id)
        _legacy_link(h, northwind.id, nw_trading.contact_id)
        _legacy_link(h, energy.id, xylo_analytics.contact_id)
        before = _linked(h)

        h.sync()
        errors = {e.source_id: e for e in h.errors()}
        assert {e.source_name for e in errors.values() if e.reason_code == "linked_by_email"} == {
            "Quartz Builders SA",
            "Northwind Traders",
            "Xylo Energy GmbH",
        }
        reported = errors[builders.id]
        assert "'Quartz Builders SA'" in reported.message and "'Quartz Analytics Co'" in reported.message
        assert (
            "by e-mail alone" in reported.message and "also the customer of 'Quartz Analytics Co'" in reported.message
        )
        assert "rename" in reported.hint and "--relink" in reported.hint
        linked = _linked(h)
        assert {k: linked[k] for k in before} == before  # reported, never relinked
        # a customer already the counterpart of a differently named client is never adopted, even by its namesake
        own = h.sandbox.world.contacts[linked[analytics.id]]
        assert own.contact_id != xylo_analytics.contact_id and own.contact_name.startswith("Xylo Analytics GmbH (")
        # the link still carries its projects (same currency), and the mismatch says how the client came to it
        assert _books_project(h, "Brand Refresh 0005").customer_id == nw_trading.contact_id
        mismatch = next(e for e in errors.values() if e.source_name == "Payroll Integration 0014")
        assert mismatch.reason_code == "currency_mismatch"
        assert "'Quartz Builders SA' is linked to the Zoho Books customer 'Quartz Analytics Co'" in mismatch.message
        assert "by e-mail alone" in mismatch.message and "exists in Zoho Books as" not in mismatch.message
        assert "Don't change the currency of 'Quartz Analytics Co'" in mismatch.hint
        assert "change the customer's currency" not in mismatch.hint
        assert _currency(h, quartz_co) == "USD"

        shown = json.loads(cli(h, "errors", h.integration.name, "--json").output)  # `bpsync errors` shows them
        summary = next(s for s in shown["summary"] if s["reason_code"] == "linked_by_email")
        assert (summary["module"], summary["count"]) == ("clients", 3)

        refused = cli(h, "retry", str(mismatch.id), "--relink", "--no-wait")
        assert refused.exit_code == 2 and "--relink is for a client linked by e-mail alone" in refused.stderr
        assert _linked(h) == linked

        # Northwind and NW Trading Group are one company: one name for both keeps the link
        h.act("rename_client", client_id=northwind.id, name="NW Trading Group")
        # Quartz Builders is another company: relinked on the admin's word, it gets a customer of its own
        relinked = cli(h, "retry", str(reported.id), "--relink", "--no-wait")
        assert relinked.exit_code == 0, relinked.output
        run_id = int(re.search(r"run #(\d+)", relinked.output).group(1))  # type: ignore[union-attr]
        assert h.wait(run_id).status == "partial"

        after, still_open = _linked(h), {e.source_id: e for e in h.errors()}
        assert after[northwind.id] == nw_trading.contact_id and northwind.id not in still_open
        made = h.sandbox.world.contacts[after[builders.id]]
        assert (made.contact_name, _currency(h, made)) == ("Quartz Builders SA", "AUD")
        assert builders.id not in still_open and mismatch.source_id not in still_open
        assert _books_project(h, "Payroll Integration 0014").customer_id == made.contact_id
        assert still_open[energy.id].reason_code == "linked_by_email"  # nobody decided that one yet
        assert _currency(h, quartz_co) == "USD"
