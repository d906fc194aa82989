"""Helpers of the finance (project side) tests: a synced tiny world's facts, Books reads, expense rows."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import requests
import sqlalchemy as sa

from shared import finance_requests as requests_db
from shared.db import transactions
from shared.db.schema import billing_claims
from shared.db.transactions import TransactionRecord
from tests.sync_support import SyncHarness

# the tiny world (seed 1) after a full sync
PROJECT = "170876000000000021"  # Website Redesign 0001 (Books 460000000000152, customer Bowman and Co)
BOOKS_PROJECT = "460000000000152"
CUSTOMER = "460000000000127"  # Bowman and Co, USD
OTHER_CUSTOMER = "460000000000128"  # Zylker Imports, USD
OTHER_CURRENCY_CUSTOMER = "460000000000135"  # Dynamo Holdings 3, another currency
VENDOR = "460000000000136"
PROJECT_ENTRIES = {"460000000000166", "460000000000167", "460000000000168", "460000000000169"}
OTHER_PROJECT = "170876000000000025"  # Brand Refresh 0005 (Books 460000000000153, customer 460000000000148)
OTHER_BOOKS_PROJECT = "460000000000153"
OTHER_PROJECT_CUSTOMER = "460000000000148"  # Northwind Traders
OTHER_PROJECT_ENTRIES = {"460000000000170", "460000000000171"}
TASK_T1 = "170876000000000035"  # Configure invoices export (tasklist Phase 1, milestone Phase 1 delivered)
TASK_T1_ENTRIES = {"460000000000167", "460000000000168"}
TASK_T2 = "170876000000000036"  # Prepare data model, completed (tasklist Phase 1)
TASK_T2_ENTRIES = {"460000000000166"}
TASKLIST_PHASE1 = "170876000000000034"
MILESTONE_PHASE1 = "170876000000000032"
BUG = "170876000000000038"
BUG_ENTRIES = {"460000000000169"}
ACCOUNT = "460000000000138"
PAID_THROUGH = "460000000000139"


def books_state(h: SyncHarness) -> dict[str, Any]:
    return h.state()


def books_records(h: SyncHarness, kind: str, reference: str) -> list[dict[str, Any]]:
    """What Books holds under a reference (``kind``: invoices, estimates, expenses, recurring_invoices)."""
    return [r for r in h.state()[kind] if r.get("reference_number") == reference]


def billed_items(invoice: dict[str, Any]) -> tuple[set[str], set[str]]:
    entries = {e for line in invoice["line_items"] for e in line.get("time_entry_ids") or []}
    expenses = {line["expense_id"] for line in invoice["line_items"] if line.get("expense_id")}
    return entries, expenses


def wait_request(h: SyncHarness, request_id: int, timeout: float = 30.0) -> requests_db.FinanceRequest:
    request = requests_db.wait(h.engine, request_id, timeout=timeout)
    assert request.finished, f"request {request_id} still {request.state}: {request.error}"
    return request


def claims_of(h: SyncHarness) -> list[sa.Row]:
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(billing_claims)
            .where(billing_claims.c.integration_id == h.integration.id)
            .order_by(billing_claims.c.item_type, billing_claims.c.item_id)
        ).all()


def expense_row(h: SyncHarness, books_id: str, books_project_id: str | None, customer_id: str, amount: str) -> None:
    """A Books expense as the transactions poll records it."""
    record = TransactionRecord(
        kind="expense",
        books_id=books_id,
        books_project_id=books_project_id,
        projects_project_id=None,
        customer_id=customer_id,
        status="unbilled",
        total=Decimal(amount),
        payload={"is_billable": True, "description": f"expense {books_id}"},
    )
    with h.engine.begin() as conn:
        transactions.upsert(conn, h.integration.id, record, origin="books")


def add_fault(h: SyncHarness, **spec: Any) -> None:
    response = requests.post(f"{h.sandbox.base_url}/_sandbox/faults", json=spec, timeout=10)
    assert response.status_code == 201, response.text


def clear_faults(h: SyncHarness) -> None:
    requests.delete(f"{h.sandbox.base_url}/_sandbox/faults", timeout=10)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
