"""Invoices bill time at a real rate (issue 14): a Zoho Projects project's hourly rate (``project_rate``) becomes
its Books project's (billed on project hours), so an invoice from the project side bills hours x that rate; time
Books gives no rate bills at the request's explicit rate, and a 0.00 invoice is refused, never sent. Real Postgres,
the sandbox over HTTP, a real Celery worker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scheduler.finance.create import Refused
from scheduler.finance.invoice import request_invoice
from shared.db.integrations import get_integration
from tests.worker.finance_support import BOOKS_PROJECT, CUSTOMER, PROJECT, TASK_T1, books_records, wait_request
from worker.connections import clients_for


def _invoice(h, **kw):
    return request_invoice(h.engine, h.settings, h.app, h.integration.id, PROJECT, customer_id=CUSTOMER, **kw)


def _total(invoice) -> Decimal:
    return sum((Decimal(str(ln["rate"])) * Decimal(str(ln["quantity"])) for ln in invoice["line_items"]), Decimal(0))


def test_the_projects_rate_is_the_books_projects_rate_and_invoices_bill_time_at_it(tiny):
    h = tiny
    projects, books = clients_for(h.settings, get_integration(h.engine, h.integration.id))
    rate = projects.get_project(PROJECT).rate
    assert rate is not None and rate > 0  # Zoho Projects' project_rate
    books_project = books.get_project(BOOKS_PROJECT)
    assert (books_project.billing_type, books_project.rate) == ("based_on_project_hours", rate)

    request = _invoice(h, scope="task", scope_id=TASK_T1)
    done = wait_request(h, request.id)
    assert done.state == "confirmed", done.error
    [invoice] = books_records(h, "invoices", done.reference)
    time_lines = [line for line in invoice["line_items"] if line.get("time_entry_ids")]
    assert time_lines and all(line["rate"] == rate for line in time_lines)
    hours = sum(Decimal(str(line["quantity"])) for line in time_lines)
    assert _total(invoice) >= (hours * Decimal(str(rate))).quantize(Decimal("0.01")) > 0
    assert done.as_json()["total"] == float(_total(invoice))


def test_time_without_a_books_rate_needs_an_explicit_rate_and_a_zero_invoice_is_never_sent(tiny):
    h = tiny
    _, books = clients_for(h.settings, get_integration(h.engine, h.integration.id))
    # an accountant bills the project on task hours in Books, and its tasks have no rate
    project = books.get_project(BOOKS_PROJECT)
    books.update_project(
        BOOKS_PROJECT,
        {"project_name": project.project_name, "customer_id": CUSTOMER, "billing_type": "based_on_task_hours"},
    )
    h.reset_requests()
    with pytest.raises(Refused) as refused:
        _invoice(h, scope="task", scope_id=TASK_T1)
    assert "total would be 0.00" in str(refused.value) and "--rate" in str(refused.value)
    assert not [w for w in h.books_writes() if "/invoices" in w[1]]

    with pytest.raises(Refused, match="rate: must be more than 0"):
        _invoice(h, scope="task", scope_id=TASK_T1, rate="-10")
    done = wait_request(h, _invoice(h, scope="task", scope_id=TASK_T1, rate="95").id)
    assert done.state == "confirmed", done.error
    [invoice] = books_records(h, "invoices", done.reference)
    assert {line["rate"] for line in invoice["line_items"]} == {95}
    assert _total(invoice) > 0
