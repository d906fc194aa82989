"""What Zoho Books bills that no invoice line of a synced project shows (issue 14): Books' own word on the item —
a time entry's ``billed_status``, an expense's ``status`` — is found by the transactions poll and claimed side
``books``, so the project side refuses the item naming the invoice; and a completed task invoiced here shows so in
the Finance view, and Books billing its time again is reported. Real Postgres, the sandbox over HTTP (a person's
acts in Books), a real Celery worker, the beat's poll."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from scheduler.finance.create import Refused
from scheduler.finance.invoice import request_invoice
from scheduler.finance.view import finance_view
from shared.db import claims
from shared.db.schema import sync_errors, transactions
from shared.finance_dispatch import dispatch_transaction_polls
from tests.sync_support import SyncHarness
from tests.worker.finance_support import BOOKS_PROJECT, CUSTOMER, PROJECT, TASK_T2, wait_request
from tests.worker.timesheet_support import entry_of, link_of, log_time, run_timesheets, synced_task
from worker.finance import billed
from worker.finance import pull as pull_module

DEADLINE_S = 30.0


@pytest.fixture
def polled(tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch) -> Iterator[SyncHarness]:
    """No webhook: the tick's poll (quotas so high that the quota share never spaces polls out)."""
    monkeypatch.setattr(pull_module, "RECONCILE_EVERY", dt.timedelta(0))
    monkeypatch.setattr(billed, "BILLED_SCAN_EVERY", dt.timedelta(0))
    quota = {"books_daily_limit": 10_000_000, "books_requests_per_minute": 100_000}
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, transactions_poll_seconds=1, **quota) as h:
        yield h


def _poll_until(h: SyncHarness, check, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        dispatch_transaction_polls(h.engine, h.app, h.settings)
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {DEADLINE_S}s")


def _books_act(h: SyncHarness, action: str, **params: Any) -> dict[str, Any]:
    return h.act(action, organization_id=h.integration.books_organization_id, **params)


def _holders(h: SyncHarness, *items: tuple[str, str]) -> list[claims.Claim]:
    with h.engine.connect() as conn:
        return claims.holders(conn, h.integration.id, items)


def _row(h: SyncHarness, kind: str, books_id: str) -> sa.Row | None:
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(transactions).where(
                transactions.c.integration_id == h.integration.id,
                transactions.c.kind == kind,
                transactions.c.books_id == books_id,
            )
        ).first()


def _project(h: SyncHarness) -> tuple[str, str, str, str]:
    """(Projects project id, Projects task id, Books project id, Books customer id) of a synced task's project."""
    project_id, task_id = synced_task(h)
    link = link_of(h, "project", project_id)
    assert link is not None and link.books_id
    books_project = next(p for p in h.state()["books_projects"] if p["project_id"] == link.books_id)
    return project_id, task_id, link.books_id, books_project["customer_id"]


def test_time_billed_by_an_invoice_of_no_synced_project_is_claimed_and_refused_naming_it(polled):
    h = polled
    project_id, _, _, customer_id = _project(h)
    # a task of its own, so the time entry below is all the time it has
    task_id = h.act("create_task", project_id=project_id, name="Audit")["task_id"]
    h.sync()
    log_id = log_time(h, project_id, task_id=task_id)
    run_timesheets(h)
    entry = entry_of(h, log_id)
    assert entry is not None, "the approved log did not reach Books"
    entry_id = entry["time_entry_id"]

    # a person bills the time entry on an invoice whose line names no project: no line ties it to a synced project
    line = {"name": "Consulting", "rate": 100, "quantity": 1.5, "time_entry_ids": [entry_id]}
    invoice = _books_act(h, "create_invoice", customer_id=customer_id, line_items=[line])
    [holder] = _poll_until(h, lambda: _holders(h, ("time_entry", entry_id)), "the claim from the billed status")
    assert (holder.side, holder.state, holder.books_invoice_id) == ("books", claims.BILLED, invoice["invoice_id"])

    # the invoice is read too: the project's Finance view shows it, under the item's project
    row = _poll_until(h, lambda: _row(h, "invoice", invoice["invoice_id"]), "the invoice found through its item")
    assert (row.projects_project_id, row.number, row.origin) == (project_id, invoice["invoice_number"], "books")

    # the project side refuses to invoice the task again, naming the Books invoice
    with pytest.raises(Refused) as refused:
        request_invoice(
            h.engine, h.settings, h.app, h.integration.id, project_id, customer_id=customer_id, scope="task",
            scope_id=task_id,
        )  # fmt: skip
    assert invoice["invoice_number"] in str(refused.value) and "Zoho Books" in str(refused.value)

    # the invoice's own lines never drop the claim (they do show the entry, but no project)...
    for _ in range(3):
        dispatch_transaction_polls(h.engine, h.app, h.settings)
        time.sleep(0.3)
    assert [c.state for c in _holders(h, ("time_entry", entry_id))] == [claims.BILLED]
    # ...but once its lines stop showing the entry (edited in Books to a fixed fee), the entry is free
    fixed = {"name": "Fixed fee", "rate": 100, "quantity": 1}
    _books_act(h, "edit_invoice", invoice_id=invoice["invoice_id"], line_items=[fixed])
    _poll_until(h, lambda: not _holders(h, ("time_entry", entry_id)), "the edit releasing the time entry")

    # a claim from a billed status that a whole round no longer lists as invoiced goes (Books unbilled it)
    with h.engine.begin() as conn:
        assert claims.claim_billed(conn, h.integration.id, ("time_entry", entry_id), invoice["invoice_id"])
    _poll_until(h, lambda: not _holders(h, ("time_entry", entry_id)), "a round releasing the stale claim")
    # and voiding an invoice releases what it billed
    again = _books_act(h, "create_invoice", customer_id=customer_id, line_items=[line])
    _poll_until(h, lambda: _holders(h, ("time_entry", entry_id)), "the second invoice's claim")
    _books_act(h, "void_invoice", invoice_id=again["invoice_id"])
    _poll_until(h, lambda: not _holders(h, ("time_entry", entry_id)), "the void releasing the time entry")


def test_an_expense_billed_by_an_invoice_of_no_synced_project_is_claimed_from_its_status(polled):
    h = polled
    project_id, _, books_project_id, customer_id = _project(h)
    expense = _books_act(
        h,
        "create_expense",
        account_id="1",
        paid_through_account_id="2",
        date=dt.date.today().isoformat(),
        amount=42.5,
        is_billable=True,
        customer_id=customer_id,
        project_id=books_project_id,
        description="Train tickets",
    )
    # billed before the poll saw the expense, on a line without the project: the invoice alone names no project
    line = {"name": "Travel", "rate": 42.5, "quantity": 1, "expense_id": expense["expense_id"]}
    invoice = _books_act(h, "create_invoice", customer_id=customer_id, line_items=[line])
    [holder] = _poll_until(h, lambda: _holders(h, ("expense", expense["expense_id"])), "the expense's claim")
    assert (holder.side, holder.books_invoice_id) == ("books", invoice["invoice_id"])
    row = _poll_until(h, lambda: _row(h, "invoice", invoice["invoice_id"]), "the invoice found through the expense")
    assert row.projects_project_id == project_id

    _books_act(h, "delete_invoice", invoice_id=invoice["invoice_id"])
    _poll_until(h, lambda: not _holders(h, ("expense", expense["expense_id"])), "the delete releasing the expense")


def _open_task_errors(h: SyncHarness) -> list[sa.Row]:
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(sync_errors).where(
                sync_errors.c.integration_id == h.integration.id,
                sync_errors.c.entity_type == "billed_task",
                sync_errors.c.resolved_at.is_(None),
            )
        ).all()


def test_a_completed_task_invoiced_here_shows_so_and_books_billing_it_again_is_reported(polled):
    h = polled
    # the project side invoices a completed task: its time, and the task itself, are claimed
    request = request_invoice(
        h.engine, h.settings, h.app, h.integration.id, PROJECT, customer_id=CUSTOMER, scope="task", scope_id=TASK_T2
    )
    done = wait_request(h, request.id)
    assert done.state == "confirmed", done.error
    [task] = finance_view(h.engine, h.settings, h.integration.id, PROJECT).as_json()["invoiced_tasks"]
    assert (task["task_id"], task["invoice"], task["side"]) == (TASK_T2, done.number, "projects")
    assert task["task_name"] == "Prepare data model" and done.number in task["held_by"]
    # the poll reads that invoice back from Books (its lines show time entries, never the task): the task stays held
    _poll_until(h, lambda: _row(h, "invoice", done.books_id).payload.get("read_at"), "the poll reading the invoice")
    assert [c.books_invoice_id for c in _holders(h, ("task", TASK_T2))] == [done.books_id]

    # time logged on it later, billed by a person directly in Books: reported, naming both invoices
    h.reset_requests()
    log_id = log_time(h, PROJECT, task_id=TASK_T2)
    run_timesheets(h)
    entry = entry_of(h, log_id)
    assert entry is not None
    line = {"name": "More modelling", "rate": 90, "quantity": 1.5, "project_id": BOOKS_PROJECT,
            "time_entry_ids": [entry["time_entry_id"]]}  # fmt: skip
    again = _books_act(h, "create_invoice", customer_id=CUSTOMER, line_items=[line])
    [error] = _poll_until(h, lambda: _open_task_errors(h), "the billed_twice error of the task")
    assert (error.source_id, error.reason_code) == (TASK_T2, "billed_twice")
    assert again["invoice_number"] in error.message and done.number in error.message
    # nothing is written to Books for it (no documented field marks a Books task invoiced)
    assert not [w for w in h.books_writes() if "/tasks" in w[1]]

    _books_act(h, "void_invoice", invoice_id=again["invoice_id"])
    _poll_until(h, lambda: not _open_task_errors(h), "the void clearing the error")
