"""Books acts over ``POST /_sandbox/act``: the same rules as the API, and a webhook event for each."""

from __future__ import annotations

from typing import Any

import requests

from tests.sandbox.books.conftest import BooksClient


def _act(books: BooksClient, action: str, **params: Any) -> requests.Response:
    return requests.post(f"{books.server.base_url}/_sandbox/act", json={"action": action, **params}, timeout=5)


def test_create_and_edit_invoice_bill_time_once(books: BooksClient) -> None:
    e1, e2 = books.ids.entries[:2]
    line = {"name": "Work", "rate": 100, "quantity": 1.5, "project_id": books.ids.project, "time_entry_ids": [e1]}
    created = _act(books, "create_invoice", customer_id=books.ids.acme, line_items=[line])
    assert created.status_code == 200, created.text
    invoice_id = created.json()["invoice_id"]
    assert created.json()["invoice_number"] == "INV-00001"
    assert books.get(f"/projects/timeentries/{e1}").json()["time_entry"]["invoice_id"] == invoice_id
    again = _act(books, "create_invoice", customer_id=books.ids.acme, line_items=[line])
    assert again.status_code == 400 and e1 in again.text
    edited = _act(books, "edit_invoice", invoice_id=invoice_id, line_items=[line | {"time_entry_ids": [e2]}])
    assert edited.status_code == 200, edited.text
    assert books.get(f"/projects/timeentries/{e1}").json()["time_entry"]["billed_status"] == "unbilled"
    assert books.get(f"/projects/timeentries/{e2}").json()["time_entry"]["invoice_id"] == invoice_id


def test_expense_and_quote(books: BooksClient) -> None:
    expense = _act(books, "create_expense", account_id="1", paid_through_account_id="2", date="2023-11-10",
                   amount=20, is_billable=True, customer_id=books.ids.acme, project_id=books.ids.project)  # fmt: skip
    assert expense.status_code == 200, expense.text
    assert books.get(f"/expenses/{expense.json()['expense_id']}").json()["expense"]["status"] == "unbilled"
    quote = _act(books, "create_quote", customer_id=books.ids.acme, line_items=[{"name": "Phase 2", "rate": 10}])
    assert quote.json()["estimate_number"] == "EST-00001"
    assert _act(books, "create_expense", amount=5).status_code == 400


def test_rename_and_recurrency_contact(books: BooksClient) -> None:
    renamed = _act(books, "rename_contact", contact_id=books.ids.acme, contact_name="Acme Holdings")
    assert renamed.json() == {"contact_id": books.ids.acme, "contact_name": "Acme Holdings"}
    assert books.get(f"/contacts/{books.ids.acme}").json()["contact"]["contact_name"] == "Acme Holdings"
    duplicate = _act(books, "rename_contact", contact_id=books.ids.acme, contact_name="globex")
    assert duplicate.status_code == 400 and "3062" in duplicate.text
    changed = _act(books, "change_contact_currency", contact_id=books.ids.acme, currency_code="EUR")
    assert changed.json()["currency_id"] == books.ids.eur
    assert _act(books, "change_contact_currency", contact_id=books.ids.acme, currency_code="JPY").status_code == 400
    assert _act(books, "rename_contact", contact_id="1", contact_name="X").status_code == 400
