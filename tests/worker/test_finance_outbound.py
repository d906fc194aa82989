"""Project-side invoicing end to end: real Postgres, Redis broker, a Celery worker, the sandbox over HTTP.

Each create path (invoice, quote, expense, recurring invoice) is written to Books with the project and customer
set and shows in the transactions table once Books confirms it; the invoice bills exactly the project's unbilled
approved time and that customer's project expenses; drafts wait for their customer; task, milestone and task list
scopes; a crash between the Books POST and the commit is reconciled by the reference, not repeated.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from scheduler.finance.create import Refused, request_expense, request_quote, request_recurring_invoice
from scheduler.finance.invoice import choose_customer, request_invoice
from shared import finance_requests as requests_db
from shared.db.schema import transactions
from tests.worker.finance_support import (
    ACCOUNT,
    BOOKS_PROJECT,
    BUG,
    BUG_ENTRIES,
    CUSTOMER,
    MILESTONE_PHASE1,
    OTHER_BOOKS_PROJECT,
    OTHER_CURRENCY_CUSTOMER,
    OTHER_CUSTOMER,
    OTHER_PROJECT_CUSTOMER,
    OTHER_PROJECT_ENTRIES,
    PAID_THROUGH,
    PROJECT,
    PROJECT_ENTRIES,
    TASK_T1,
    TASK_T1_ENTRIES,
    TASK_T2,
    TASK_T2_ENTRIES,
    TASKLIST_PHASE1,
    VENDOR,
    add_fault,
    billed_items,
    books_records,
    claims_of,
    expense_row,
    wait_request,
)

pytestmark = pytest.mark.slow

# what a create answers: the live worker may already be sending it, or be done
ON_ITS_WAY = ("queued", "sending", "confirmed")


@pytest.fixture(name="fin")
def finance_harness(tiny_snapshot, sandbox_factory, pg_admin_engine, redis_url):
    """A tiny world after one full sync (this test's copy of ``tiny_snapshot``), a Redis broker and an in-process
    worker (subprocess workers: below)."""
    overrides = {"broker_url": redis_url, "retry_backoff_seconds": 0.1}
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, **overrides) as h:
        yield h


def _invoice(h, **kw):
    return request_invoice(h.engine, h.settings, h.app, h.integration.id, PROJECT, **kw)


def _expense(h, amount="120.50", **kw):
    return request_expense(
        h.engine, h.settings, h.app, h.integration.id, PROJECT, amount=amount, account_id=ACCOUNT,
        paid_through_account_id=PAID_THROUGH, date="2026-11-20", description="Taxi to the client", **kw,
    )  # fmt: skip


def _transaction(h, kind, books_id):
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(transactions).where(transactions.c.kind == kind, transactions.c.books_id == books_id)
        ).one()


def test_invoice_bills_the_projects_time_and_that_customers_project_expenses_only(fin):
    expense = wait_request(fin, _expense(fin).id)
    assert expense.state == "confirmed", expense.error
    [books_expense] = books_records(fin, "expenses", expense.reference)
    assert (books_expense["project_id"], books_expense["customer_id"]) == (BOOKS_PROJECT, CUSTOMER)
    assert _transaction(fin, "expense", expense.books_id).origin == "projects"
    # what the poll would have seen: another customer's expense on this project, another project's expense,
    # and this customer's expense without a project
    expense_row(fin, "990000000000001", BOOKS_PROJECT, OTHER_CUSTOMER, "50")
    expense_row(fin, "990000000000002", OTHER_BOOKS_PROJECT, OTHER_PROJECT_CUSTOMER, "60")
    expense_row(fin, "460000000000140", None, CUSTOMER, "377")

    request = _invoice(fin, customer_id=CUSTOMER, date="2026-11-28", notes="November")
    assert request.state in ON_ITS_WAY and request.reference == f"BPS-{fin.integration.id}-{request.id}"
    done = wait_request(fin, request.id)
    assert done.state == "confirmed", done.error
    [invoice] = books_records(fin, "invoices", done.reference)
    assert invoice["customer_id"] == CUSTOMER and invoice["invoice_number"] == done.number
    entries, expenses = billed_items(invoice)
    assert entries == PROJECT_ENTRIES and not entries & OTHER_PROJECT_ENTRIES
    assert expenses == {expense.books_id}
    assert {line["project_id"] for line in invoice["line_items"]} == {BOOKS_PROJECT}
    state = fin.state()
    billed = {e["time_entry_id"] for e in state["time_entries"] if e["billed_status"] == "invoiced"}
    assert billed == PROJECT_ENTRIES
    claims = claims_of(fin)
    assert {(c.item_type, c.item_id) for c in claims} == {("time_entry", e) for e in PROJECT_ENTRIES} | {
        ("expense", expense.books_id)
    }
    assert {(c.side, c.state, c.books_invoice_id, c.request_id) for c in claims} == {
        ("projects", "claimed", done.books_id, done.id)
    }
    row = _transaction(fin, "invoice", done.books_id)
    assert (row.origin, row.number, row.projects_project_id, row.customer_id) == (
        "projects", done.number, PROJECT, CUSTOMER,
    )  # fmt: skip

    with pytest.raises(Refused, match=f"already billed by invoice '{done.number}'"):
        _invoice(fin, customer_id=CUSTOMER)


def test_bad_input_is_refused_and_nothing_is_sent(fin):
    fin.reset_requests()
    cases = [
        (dict(project="999"), "not a synced project"),
        (dict(customer_id="123456"), "not a Zoho Books customer"),
        (dict(customer_id=VENDOR), "not a customer"),
        (dict(customer_id=CUSTOMER, currency="EUR"), "does not match"),
        (dict(customer_id=OTHER_CURRENCY_CUSTOMER), "bills in"),
        (dict(customer_id=CUSTOMER, date="2026-02-30"), "date: '2026-02-30' is not a date"),
        (dict(customer_id=CUSTOMER, scope="task", scope_id="42"), "not a synced task"),
    ]
    for kwargs, message in cases:
        project = kwargs.pop("project", PROJECT)
        with pytest.raises(Refused, match=message):
            request_invoice(fin.engine, fin.settings, fin.app, fin.integration.id, project, **kwargs)
    with pytest.raises(Refused, match="amount: must be more than 0"):
        _expense(fin, amount="-5")
    with pytest.raises(Refused, match="not a number"):
        _expense(fin, amount="ten")
    assert fin.books_writes() == []
    with fin.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from finance_requests")).scalar() == 0
    assert claims_of(fin) == []


def test_a_blank_customer_waits_as_a_draft_until_one_is_chosen(fin):
    fin.reset_requests()
    draft = _invoice(fin)
    assert draft.state == "draft" and draft.customer_id is None
    assert requests_db.wait(fin.engine, draft.id, timeout=1).state == "draft"
    assert fin.books_writes() == [] and claims_of(fin) == []
    with pytest.raises(Refused, match="not a Zoho Books customer"):
        choose_customer(fin.engine, fin.settings, fin.app, fin.integration.id, draft.id, "777")
    chosen = choose_customer(fin.engine, fin.settings, fin.app, fin.integration.id, draft.id, CUSTOMER)
    assert chosen.state in ON_ITS_WAY and chosen.customer_id == CUSTOMER
    done = wait_request(fin, draft.id)
    assert done.state == "confirmed", done.error
    [invoice] = books_records(fin, "invoices", done.reference)
    assert billed_items(invoice)[0] == PROJECT_ENTRIES
    with pytest.raises(Refused, match="not a draft"):
        choose_customer(fin.engine, fin.settings, fin.app, fin.integration.id, draft.id, CUSTOMER)


def test_invoice_by_task_then_by_task_list_skips_what_is_billed(fin):
    by_task = wait_request(fin, _invoice(fin, customer_id=CUSTOMER, scope="task", scope_id=TASK_T1).id)
    assert by_task.state == "confirmed", by_task.error
    [invoice] = books_records(fin, "invoices", by_task.reference)
    assert billed_items(invoice) == (TASK_T1_ENTRIES, set())

    by_list = wait_request(fin, _invoice(fin, customer_id=CUSTOMER, scope="tasklist", scope_id=TASKLIST_PHASE1).id)
    assert by_list.state == "confirmed", by_list.error
    [invoice] = books_records(fin, "invoices", by_list.reference)
    assert billed_items(invoice) == (TASK_T2_ENTRIES, set())
    # the completed task is marked invoiced in the ledger: invoicing it again is refused, naming the invoice
    task_claims = [c for c in claims_of(fin) if c.item_type == "task"]
    assert [(c.item_id, c.books_invoice_id) for c in task_claims] == [(TASK_T2, by_list.books_id)]
    with pytest.raises(Refused, match=rf"task {TASK_T2} is already billed by invoice '{by_list.number}'"):
        _invoice(fin, customer_id=CUSTOMER, scope="task", scope_id=TASK_T2)

    by_bug = wait_request(fin, _invoice(fin, customer_id=CUSTOMER, scope="task", scope_id=BUG).id)
    assert billed_items(books_records(fin, "invoices", by_bug.reference)[0]) == (BUG_ENTRIES, set())


def test_invoice_by_milestone_bills_the_tasks_under_it(fin):
    done = wait_request(fin, _invoice(fin, customer_id=CUSTOMER, scope="milestone", scope_id=MILESTONE_PHASE1).id)
    assert done.state == "confirmed", done.error
    [invoice] = books_records(fin, "invoices", done.reference)
    assert billed_items(invoice) == (TASK_T1_ENTRIES | TASK_T2_ENTRIES, set())
    with pytest.raises(Refused, match="milestone 1 is not in project"):
        _invoice(fin, customer_id=CUSTOMER, scope="milestone", scope_id="1")


def test_quote_and_recurring_invoice_carry_the_project_and_customer(fin):
    quote = request_quote(
        fin.engine, fin.settings, fin.app, fin.integration.id, PROJECT,
        line_items=["Design work:1200", "Review:150:2"], expiry_date="2026-12-31",
    )  # fmt: skip
    recurring = request_recurring_invoice(
        fin.engine, fin.settings, fin.app, fin.integration.id, PROJECT, name="Monthly retainer",
        frequency="months", line_items=[{"name": "Retainer", "rate": 500}], start_date="2026-12-01",
    )  # fmt: skip
    quote, recurring = wait_request(fin, quote.id), wait_request(fin, recurring.id)
    assert (quote.state, recurring.state) == ("confirmed", "confirmed"), (quote.error, recurring.error)
    [estimate] = books_records(fin, "estimates", quote.reference)
    assert estimate["customer_id"] == CUSTOMER and estimate["estimate_number"] == quote.number
    assert {line["project_id"] for line in estimate["line_items"]} == {BOOKS_PROJECT}
    [profile] = books_records(fin, "recurring_invoices", recurring.reference)
    assert (profile["customer_id"], profile["project_id"], profile["recurrence_frequency"]) == (
        CUSTOMER, BOOKS_PROJECT, "months",
    )  # fmt: skip
    assert str(_transaction(fin, "quote", quote.books_id).total) == "1500.00"
    assert _transaction(fin, "recurring_invoice", recurring.books_id).origin == "projects"
    with pytest.raises(Refused, match="frequency: one of"):
        request_recurring_invoice(
            fin.engine, fin.settings, fin.app, fin.integration.id, PROJECT, name="x", frequency="hourly",
            line_items=["a:1"],
        )  # fmt: skip


def test_lost_answer_to_the_post_is_reconciled_by_the_reference(fin):
    """Books created the invoice but the worker never read the answer (the connection was cut mid-body): the
    retry finds the invoice by its reference instead of creating a second one."""
    add_fault(fin, api="books", kind="cut", path="/books/v3/invoices", method="POST", count=1)
    request = _invoice(fin, customer_id=CUSTOMER)
    assert requests_db.wait(fin.engine, request.id, timeout=10).state in ("queued", "sending", "confirmed")
    done = None
    for _ in range(100):  # the beat's tick: sweep requests whose retry time has come
        requests_db.sweep(fin.engine, fin.app, fin.settings)
        done = requests_db.wait(fin.engine, request.id, timeout=0.2)
        if done.finished:
            break
    assert done is not None and done.state == "confirmed", done
    assert done.attempts >= 2
    assert len(books_records(fin, "invoices", done.reference)) == 1
    assert {c.state for c in claims_of(fin)} == {"claimed"}
