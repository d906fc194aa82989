"""Transactions made in Zoho Books reach the product (issue 14, Books -> product): through Books webhooks to the
served web app, and with webhooks off through the beat's fallback poll. Real Postgres, the sandbox over HTTP (a
person's acts and Books' API), a real Celery worker; the billing ledger then refuses items Books already bills."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from scheduler.books_webhooks import books_webhook_path
from scheduler.web.app import create_web_app
from scheduler.webhooks import webhook_token
from shared.db import claims
from shared.db.integrations import get_integration
from shared.db.schema import sync_errors, transactions
from shared.finance_dispatch import dispatch_transaction_polls
from tests.http_support import serving
from tests.sync_support import SyncHarness
from tests.worker.timesheet_support import entry_of, link_of, log_time, run_timesheets, synced_task
from worker.connections import clients_for
from worker.finance import pull as pull_module

DEADLINE_S = 30.0
BOOKS_EVENTS = ["invoice.*", "estimate.*", "expense.*", "recurring_invoice.*"]


@pytest.fixture
def hooked(tiny: SyncHarness) -> Iterator[SyncHarness]:
    """The sandbox delivers every Books transaction event to the integration's Books webhook URL; no poll runs."""
    path = books_webhook_path(tiny.integration.id, webhook_token(tiny.engine, tiny.integration.id))
    with serving(create_web_app(tiny.settings, celery=tiny.app)) as base:
        subscription = {"url": f"{base}{path}", "events": BOOKS_EVENTS}
        assert requests.post(f"{tiny.sandbox.base_url}/_sandbox/webhooks", json=subscription, timeout=5).ok
        yield tiny


@pytest.fixture
def polled(tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch) -> Iterator[SyncHarness]:
    """No webhook: the tick's poll every second (quotas so high that the quota share never spaces polls out)."""
    monkeypatch.setattr(pull_module, "RECONCILE_EVERY", dt.timedelta(0))
    quota = {"books_daily_limit": 10_000_000, "books_requests_per_minute": 100_000}
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, transactions_poll_seconds=1, **quota) as h:
        yield h


def _eventually(check, what: str, tick=None) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {DEADLINE_S}s")


def _books_act(h: SyncHarness, action: str, **params: Any) -> dict[str, Any]:
    """A person's act in the Books UI of the integration's organization."""
    return h.act(action, organization_id=h.integration.books_organization_id, **params)


def _row(h: SyncHarness, kind: str, books_id: str) -> sa.Row | None:
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(transactions).where(
                transactions.c.integration_id == h.integration.id,
                transactions.c.kind == kind,
                transactions.c.books_id == books_id,
            )
        ).first()


def _holders(h: SyncHarness, *items: tuple[str, str]) -> list[claims.Claim]:
    with h.engine.connect() as conn:
        return claims.holders(conn, h.integration.id, items)


def _project(h: SyncHarness) -> tuple[str, str, str]:
    """(Projects project id, Books project id, Books customer id) of a synced project with a synced task."""
    project_id, _ = synced_task(h)
    link = link_of(h, "project", project_id)
    assert link is not None and link.books_id
    books_project = next(p for p in h.state()["books_projects"] if p["project_id"] == link.books_id)
    return project_id, link.books_id, books_project["customer_id"]


def _billable_entry(h: SyncHarness, project_id: str) -> str:
    _, task_id = synced_task(h)
    log_id = log_time(h, project_id, task_id=task_id)
    run_timesheets(h)
    entry = entry_of(h, log_id)
    assert entry is not None, "the approved log did not reach Books"
    return entry["time_entry_id"]


def _line(books_project_id: str, name: str = "Consulting", **extra: Any) -> dict[str, Any]:
    return {"name": name, "rate": 100, "quantity": 1, "project_id": books_project_id, **extra}


def _expense(books_project_id: str, customer_id: str, amount: float = 42.5) -> dict[str, Any]:
    return {
        "account_id": "1",
        "paid_through_account_id": "2",
        "date": dt.date.today().isoformat(),
        "amount": amount,
        "is_billable": True,
        "customer_id": customer_id,
        "project_id": books_project_id,
        "description": "Train tickets",
    }


def test_transactions_made_in_books_arrive_through_webhooks_and_bill_their_items(hooked):
    h = hooked
    project_id, books_project_id, customer_id = _project(h)
    entry_id = _billable_entry(h, project_id)
    _, books = clients_for(h.settings, get_integration(h.engine, h.integration.id))

    # an invoice made in Books for the project's time entry
    invoice = _books_act(
        h, "create_invoice", customer_id=customer_id, line_items=[_line(books_project_id, time_entry_ids=[entry_id])]
    )
    row = _eventually(lambda: _row(h, "invoice", invoice["invoice_id"]), "the invoice row")
    assert (row.projects_project_id, row.books_project_id, row.number, row.origin, row.status) == (
        project_id,
        books_project_id,
        invoice["invoice_number"],
        "books",
        "draft",
    )
    assert row.customer_id == customer_id and float(row.total) == 100.0
    [holder] = _holders(h, ("time_entry", entry_id))
    assert (holder.side, holder.books_invoice_id) == ("books", invoice["invoice_id"])

    # the project side now refuses the item, naming the invoice
    with h.engine.begin() as conn, pytest.raises(claims.AlreadyClaimed) as refused:
        claims.claim(conn, h.integration.id, [("time_entry", entry_id)], side="projects", reference="r-1")
    assert invoice["invoice_number"] in str(refused.value)

    # a quote, an expense and a recurring profile (and the invoice it generates)
    quote = _books_act(h, "create_quote", customer_id=customer_id, line_items=[_line(books_project_id, "Phase 2")])
    expense = _books_act(h, "create_expense", **_expense(books_project_id, customer_id))
    profile = _books_act(
        h,
        "create_recurring_invoice",
        recurrence_name="Monthly retainer",
        customer_id=customer_id,
        recurrence_frequency="months",
        line_items=[_line(books_project_id, "Retainer")],
    )
    generated = _books_act(h, "generate_recurring_invoice", recurring_invoice_id=profile["recurring_invoice_id"])
    assert (
        _eventually(lambda: _row(h, "quote", quote["estimate_id"]), "the quote row").number == quote["estimate_number"]
    )
    expense_row = _eventually(lambda: _row(h, "expense", expense["expense_id"]), "the expense row")
    assert (expense_row.projects_project_id, float(expense_row.total)) == (project_id, 42.5)
    profile_row = _eventually(lambda: _row(h, "recurring_invoice", profile["recurring_invoice_id"]), "the profile")
    assert (profile_row.number, profile_row.projects_project_id) == ("Monthly retainer", project_id)
    generated_row = _eventually(lambda: _row(h, "invoice", generated["invoice_id"]), "the generated invoice")
    assert generated_row.recurring_invoice_id == profile["recurring_invoice_id"]

    # edit: the invoice now bills the expense instead of the time entry -> the entry is free, the expense claimed
    _books_act(
        h,
        "edit_invoice",
        invoice_id=invoice["invoice_id"],
        line_items=[_line(books_project_id, "Travel", expense_id=expense["expense_id"])],
    )
    _eventually(lambda: not _holders(h, ("time_entry", entry_id)), "the edited invoice releasing the time entry")
    [expense_claim] = _holders(h, ("expense", expense["expense_id"]))
    assert (expense_claim.side, expense_claim.books_invoice_id) == ("books", invoice["invoice_id"])

    # edits through Books' API arrive the same way
    books.update_estimate(quote["estimate_id"], {"reference_number": "PO-77"})
    _eventually(lambda: _row(h, "quote", quote["estimate_id"]).reference_number == "PO-77", "the quote edit")

    # void releases every claim of the invoice; delete takes the row out of the Finance view
    _books_act(h, "void_invoice", invoice_id=invoice["invoice_id"])
    _eventually(lambda: _row(h, "invoice", invoice["invoice_id"]).status == "void", "the void")
    assert not _holders(h, ("expense", expense["expense_id"]))
    _books_act(h, "delete_invoice", invoice_id=generated["invoice_id"])
    _eventually(lambda: _row(h, "invoice", generated["invoice_id"]).deleted_at is not None, "the delete")
    books.delete_recurring_invoice(profile["recurring_invoice_id"])
    _eventually(
        lambda: _row(h, "recurring_invoice", profile["recurring_invoice_id"]).deleted_at is not None,
        "the profile's delete",
    )


def test_an_item_books_bills_twice_is_reported_and_cleared_once_one_invoice_lets_it_go(hooked):
    h = hooked
    project_id, books_project_id, customer_id = _project(h)
    expense = _books_act(h, "create_expense", **_expense(books_project_id, customer_id))
    first = _books_act(
        h,
        "create_invoice",
        customer_id=customer_id,
        line_items=[_line(books_project_id, expense_id=expense["expense_id"])],
    )
    _eventually(lambda: _holders(h, ("expense", expense["expense_id"])), "the first claim")
    # the sandbox bills an item once, like Books; a second invoice billing it anyway is what the ledger must survive
    _, books = clients_for(h.settings, get_integration(h.engine, h.integration.id))
    second = books.create_invoice({"customer_id": customer_id, "line_items": [_line(books_project_id, "Other work")]})
    _eventually(lambda: _row(h, "invoice", second.invoice_id), "the second invoice")
    # write the double billing straight into the pull's view of Books: the second invoice names the same expense
    record = pull_module.detail_of(
        "invoice",
        {
            "invoice_id": second.invoice_id,
            "invoice_number": second.invoice_number,
            "customer_id": customer_id,
            "status": "draft",
            "last_modified_time": "2030-01-01T00:00:00+0000",
            "line_items": [{"project_id": books_project_id, "expense_id": expense["expense_id"], "name": "x"}],
        },
    )
    puller = pull_module.Pull(h.engine, books, h.integration.id, {}, now=dt.datetime.now(dt.UTC))
    puller.load()
    puller.write(record, {})
    [error] = _billing_errors(h)
    assert error.reason_code == "billed_twice" and first["invoice_number"] in error.message
    assert second.invoice_number in error.message
    [holder] = _holders(h, ("expense", expense["expense_id"]))
    assert holder.books_invoice_id == first["invoice_id"]  # the ledger never moves an item on a guess
    # the first invoice is voided: the pull re-reads the other one (which, in Books, does not bill it) and the
    # error clears
    _books_act(h, "void_invoice", invoice_id=first["invoice_id"])
    _eventually(lambda: not _billing_errors(h), "the billed-twice error clearing")
    assert not _holders(h, ("expense", expense["expense_id"]))
    assert project_id


def _billing_errors(h: SyncHarness) -> list[sa.Row]:
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(sync_errors).where(sync_errors.c.module == "transactions", sync_errors.c.resolved_at.is_(None))
        ).all()


def test_with_webhooks_off_the_poll_brings_creates_edits_voids_and_deletes(polled):
    h = polled
    project_id, books_project_id, customer_id = _project(h)
    entry_id = _billable_entry(h, project_id)

    def tick() -> None:
        dispatch_transaction_polls(h.engine, h.app, h.settings)

    invoice = _books_act(
        h, "create_invoice", customer_id=customer_id, line_items=[_line(books_project_id, time_entry_ids=[entry_id])]
    )
    quote = _books_act(h, "create_quote", customer_id=customer_id, line_items=[_line(books_project_id, "Phase 2")])
    expense = _books_act(h, "create_expense", **_expense(books_project_id, customer_id))
    row = _eventually(lambda: _row(h, "invoice", invoice["invoice_id"]), "the polled invoice", tick)
    assert (row.projects_project_id, row.origin) == (project_id, "books")
    _eventually(lambda: _row(h, "quote", quote["estimate_id"]), "the polled quote", tick)
    _eventually(lambda: _row(h, "expense", expense["expense_id"]), "the polled expense", tick)
    assert _holders(h, ("time_entry", entry_id))[0].side == "books"

    _books_act(h, "edit_invoice", invoice_id=invoice["invoice_id"], line_items=[_line(books_project_id, "Fixed fee")])
    _eventually(lambda: not _holders(h, ("time_entry", entry_id)), "the polled edit releasing the entry", tick)
    _books_act(h, "void_invoice", invoice_id=invoice["invoice_id"])
    _eventually(lambda: _row(h, "invoice", invoice["invoice_id"]).status == "void", "the polled void", tick)
    _books_act(h, "delete_invoice", invoice_id=invoice["invoice_id"])
    _eventually(lambda: _row(h, "invoice", invoice["invoice_id"]).deleted_at is not None, "the polled delete", tick)
    _, books = clients_for(h.settings, get_integration(h.engine, h.integration.id))
    books.delete_expense(expense["expense_id"])
    _eventually(lambda: _row(h, "expense", expense["expense_id"]).deleted_at is not None, "the expense delete", tick)
