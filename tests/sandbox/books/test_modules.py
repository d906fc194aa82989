"""Users, currencies, expenses, estimates and recurring invoices."""

from __future__ import annotations

from sandbox.books import rules
from tests.sandbox.books.conftest import BooksClient


def test_users_list_filter_and_status(books: BooksClient) -> None:
    listed = books.get("/users").json()
    assert [u["name"] for u in listed["users"]] == ["Ada Admin", "Emil Employee"]
    assert [u["is_current_user"] for u in listed["users"]] == [True, False]
    assert (
        books.post(f"/users/{books.ids.member_user}/inactive").json()["message"]
        == "The user has been marked as inactive."
    )
    assert [u["name"] for u in books.get("/users", filter_by="Status.Inactive").json()["users"]] == ["Emil Employee"]
    assert [u["name"] for u in books.get("/users", filter_by="Status.Active").json()["users"]] == ["Ada Admin"]
    one = books.get(f"/users/{books.ids.member_user}").json()["user"]
    assert one["email_ids"] == [{"email": "emil@example.com", "is_selected": True}] and one["status"] == "inactive"
    assert books.get("/users/me").json()["user"]["user_id"] == books.ids.admin_user


def test_users_create_invites_and_refuses_duplicates(books: BooksClient) -> None:
    created = books.post("/users", {"name": "Nia New", "email": "nia@example.com"})
    assert created.status_code == 201 and created.json()["user"]["status"] == "invited"
    duplicate = books.post("/users", {"name": "Nia Again", "email": "NIA@example.com"})
    assert (duplicate.status_code, duplicate.json()["code"]) == (400, rules.CODE_DUPLICATE)
    assert books.post("/users", {"name": "No mail"}).status_code == 400
    user_id = created.json()["user"]["user_id"]
    assert books.put(f"/users/{user_id}", {"name": "Nia N."}).json()["user"]["name"] == "Nia N."


def test_currencies(books: BooksClient) -> None:
    listed = books.get("/settings/currencies").json()["currencies"]
    assert [(c["currency_code"], c["is_base_currency"]) for c in listed] == [("EUR", False), ("USD", True)]
    assert books.get(f"/settings/currencies/{books.ids.eur}").json()["currency"]["currency_symbol"] == "€"


def test_expenses_billable_needs_a_customer(books: BooksClient) -> None:
    base = {"account_id": "1", "paid_through_account_id": "2", "date": "2023-11-10", "amount": 99.5}
    refused = books.post("/expenses", base | {"is_billable": True})
    assert (refused.status_code, refused.json()["code"]) == (400, 2)
    wrong_project = books.post("/expenses", base | {"is_billable": True, "customer_id": books.ids.globex,
                                                    "project_id": books.ids.project})  # fmt: skip
    assert wrong_project.status_code == 400
    created = books.post(
        "/expenses", base | {"is_billable": True, "customer_id": books.ids.acme, "project_id": books.ids.project}
    )
    assert created.status_code == 201 and created.json()["message"] == "The expense has been recorded."
    expense = created.json()["expense"]
    assert (expense["status"], expense["project_name"], expense["total"]) == ("unbilled", "Website", 99.5)
    plain = books.post("/expenses", base).json()["expense"]
    assert plain["status"] == rules.EXPENSE_NONBILLABLE_STATUS
    for field in ("date", "account_id", "amount", "paid_through_account_id"):
        assert books.post("/expenses", {k: v for k, v in base.items() if k != field}).status_code == 400


def test_expense_filters_update_delete(books: BooksClient) -> None:
    def ids(**params: str) -> list[str]:
        return [e["expense_id"] for e in books.get("/expenses", **params).json()["expenses"]]

    assert ids(status="unbilled") == [books.ids.expense]
    assert ids(status="non-billable") == [books.ids.nonbillable_expense]
    assert ids(filter_by="Status.Billable") == [books.ids.expense]
    assert ids(customer_id=books.ids.acme) == [books.ids.expense]
    assert ids(date_before="2023-11-04") == [books.ids.expense]
    assert books.get("/expenses", status="paid").status_code == 400
    updated = books.put(f"/expenses/{books.ids.nonbillable_expense}", {"description": "Lunch"}).json()["expense"]
    assert updated["description"] == "Lunch"
    books.post(
        "/invoices",
        {"customer_id": books.ids.acme, "line_items": [{"name": "T", "rate": 40, "expense_id": books.ids.expense}]},
    )
    for response in (
        books.put(f"/expenses/{books.ids.expense}", {"amount": 1}),
        books.delete(f"/expenses/{books.ids.expense}"),
    ):
        assert (response.status_code, response.json()["code"]) == (400, rules.CODE_ALREADY_INVOICED)
    assert (
        books.delete(f"/expenses/{books.ids.nonbillable_expense}").json()["message"] == "The expense has been deleted."
    )


def test_estimates_number_status_and_conversion(books: BooksClient) -> None:
    body = {"customer_id": books.ids.acme, "line_items": [{"name": "Phase 1", "rate": 500, "quantity": 2}]}
    created = books.post("/estimates", body)
    assert created.status_code == 201
    estimate = created.json()["estimate"]
    assert (estimate["estimate_number"], estimate["status"], estimate["total"]) == ("EST-00001", "draft", 1000)
    path = f"/estimates/{estimate['estimate_id']}"
    assert books.post(f"{path}/status/accepted").status_code == 400  # not sent yet
    assert books.post(f"{path}/status/sent").json()["code"] == 0
    assert books.post(f"{path}/status/accepted").json()["code"] == 0
    assert [e["status"] for e in books.get("/estimates", filter_by="Status.Accepted").json()["estimates"]] == [
        "accepted"
    ]
    billed = {"name": "T", "rate": 1, "project_id": books.ids.project, "time_entry_ids": [books.ids.entries[0]]}
    assert books.post("/estimates", {**body, "line_items": [billed]}).status_code == 400  # quotes bill nothing
    books.post("/invoices", body | {"invoiced_estimate_id": estimate["estimate_id"]})
    assert books.get(path).json()["estimate"]["status"] == "invoiced"
    assert books.put(path, {"reference_number": "Q-1"}).json()["estimate"]["reference_number"] == "Q-1"
    assert books.delete(path).json()["message"] == "The estimate has been deleted."


def test_recurring_invoices_stop_and_resume(books: BooksClient) -> None:
    body = {"recurrence_name": "Retainer", "customer_id": books.ids.acme, "recurrence_frequency": "months",
            "start_date": "2023-10-20",
            "line_items": [{"name": "Support", "rate": 300, "project_id": books.ids.project}]}  # fmt: skip
    created = books.post("/recurringinvoices", body)
    assert created.status_code == 201
    profile = created.json()["recurring_invoice"]
    assert (profile["next_invoice_date"], profile["project_id"]) == ("2023-11-20", books.ids.project)
    path = f"/recurringinvoices/{profile['recurring_invoice_id']}"
    assert books.post(f"{path}/status/stop").json()["message"] == "The recurring invoice has been stopped."
    assert books.post(f"{path}/status/stop").status_code == 400
    assert [
        r["recurring_invoice_id"]
        for r in books.get("/recurringinvoices", filter_by="Status.Stopped").json()["recurring_invoices"]
    ] == [profile["recurring_invoice_id"]]
    assert books.post(f"{path}/status/resume").json()["code"] == 0
    assert books.post("/recurringinvoices", body | {"recurrence_frequency": "fortnights"}).status_code == 400
    assert (
        books.put(path, {"recurrence_name": "Retainer+"}).json()["recurring_invoice"]["recurrence_name"] == "Retainer+"
    )
    assert books.delete(path).json()["code"] == 0
