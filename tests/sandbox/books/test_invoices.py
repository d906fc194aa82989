"""Invoices: numbering, billing time entries and expenses exactly once, and freeing them again."""

from __future__ import annotations

from typing import Any

from sandbox.books import rules
from tests.sandbox.books.conftest import ORG, BooksClient


def _time_line(books: BooksClient, *entries: str) -> dict[str, Any]:
    return {"name": "Website work", "rate": 100, "quantity": 1.5 * len(entries), "unit": "hrs",
            "project_id": books.ids.project, "time_entry_ids": list(entries)}  # fmt: skip


def _invoice(books: BooksClient, *lines: dict[str, Any], **params: Any) -> Any:
    return books.post("/invoices", {"customer_id": books.ids.acme, "line_items": list(lines)}, **params)


def _entry(books: BooksClient, entry_id: str) -> dict[str, Any]:
    return books.get(f"/projects/timeentries/{entry_id}").json()["time_entry"]


def test_invoices_are_numbered_in_sequence(books: BooksClient) -> None:
    first = _invoice(books, {"name": "A", "rate": 10, "quantity": 1})
    second = _invoice(books, {"name": "B", "rate": 10, "quantity": 2})
    assert first.status_code == 201 and first.json()["message"] == "The invoice has been created."
    assert first.json()["invoice"]["invoice_number"] == "INV-00001"
    assert second.json()["invoice"]["invoice_number"] == "INV-00002"
    assert second.json()["invoice"]["status"] == "draft"
    assert second.json()["invoice"]["total"] == 20


def test_own_number_only_with_ignore_auto_number_and_never_twice(books: BooksClient) -> None:
    body = {"customer_id": books.ids.acme, "invoice_number": "CUSTOM-7", "line_items": [{"name": "A", "rate": 1}]}
    assert books.post("/invoices", body).json()["invoice"]["invoice_number"] == "INV-00001"
    own = books.post("/invoices", body, ignore_auto_number_generation="true")
    assert own.json()["invoice"]["invoice_number"] == "CUSTOM-7"
    again = books.post("/invoices", body, ignore_auto_number_generation="true")
    assert again.status_code == 400
    assert again.json() == {"code": 1001, "message": 'Invoice "CUSTOM-7" already exists.'}


def test_billing_time_entries_marks_them_invoiced(books: BooksClient) -> None:
    e1, e2 = books.ids.entries[:2]
    invoice = _invoice(books, _time_line(books, e1, e2), reference_number="x").json()["invoice"]
    assert invoice["line_items"][0]["time_entry_ids"] == [e1, e2]
    for entry_id in (e1, e2):
        entry = _entry(books, entry_id)
        assert (entry["billed_status"], entry["invoice_id"]) == ("invoiced", invoice["invoice_id"])
    assert _entry(books, books.ids.entries[2])["billed_status"] == "unbilled"
    invoiced = books.get("/projects/timeentries", filter_by="Status.Invoiced").json()["time_entries"]
    assert {e["time_entry_id"] for e in invoiced} == {e1, e2}
    unbilled = books.get("/projects/timeentries", filter_by="Status.Unbilled").json()["time_entries"]
    assert {e["time_entry_id"] for e in unbilled} == set(books.ids.entries[2:])


def test_an_invoiced_time_entry_cannot_be_invoiced_again(books: BooksClient) -> None:
    e1, e2, e3 = books.ids.entries[:3]
    first = _invoice(books, _time_line(books, e1)).json()["invoice"]
    refused = _invoice(books, _time_line(books, e3), _time_line(books, e2, e1))
    assert refused.status_code == 400
    assert refused.json()["code"] == rules.CODE_ALREADY_INVOICED
    assert e1 in refused.json()["message"]
    # all or nothing: the refused invoice billed nothing and does not exist
    assert _entry(books, e3)["billed_status"] == "unbilled"
    assert _entry(books, e1)["invoice_id"] == first["invoice_id"]
    assert len(books.get("/invoices").json()["invoices"]) == 1
    twice = _invoice(books, _time_line(books, e3, e3))
    assert (twice.status_code, twice.json()["code"]) == (400, rules.CODE_ALREADY_INVOICED)


def test_deleting_an_invoice_frees_its_time_and_expenses(books: BooksClient) -> None:
    e1 = books.ids.entries[0]
    lines = [_time_line(books, e1), {"name": "Travel", "rate": 40, "expense_id": books.ids.expense}]
    invoice = _invoice(books, *lines).json()["invoice"]
    expense = books.get(f"/expenses/{books.ids.expense}").json()["expense"]
    assert (expense["status"], expense["invoice_id"], expense["invoice_number"]) == (
        "invoiced", invoice["invoice_id"], "INV-00001",
    )  # fmt: skip
    again = _invoice(books, {"name": "Travel", "rate": 40, "expense_id": books.ids.expense})
    assert (again.status_code, again.json()["code"]) == (400, rules.CODE_ALREADY_INVOICED)
    deleted = books.delete(f"/invoices/{invoice['invoice_id']}")
    assert deleted.json() == {"code": 0, "message": "The invoice has been deleted."}
    assert (_entry(books, e1)["billed_status"], _entry(books, e1)["invoice_id"]) == ("unbilled", "")
    assert books.get(f"/expenses/{books.ids.expense}").json()["expense"]["status"] == "unbilled"
    assert _invoice(books, *lines).status_code == 201


def test_voiding_frees_items_and_draft_bills_them_again(books: BooksClient) -> None:
    e1 = books.ids.entries[0]
    invoice_id = _invoice(books, _time_line(books, e1)).json()["invoice"]["invoice_id"]
    assert (
        books.post(f"/invoices/{invoice_id}/status/sent").json()["message"]
        == "Invoice status has been changed to Sent."
    )
    assert books.get(f"/invoices/{invoice_id}").json()["invoice"]["status"] == "sent"
    books.post(f"/invoices/{invoice_id}/status/void")
    assert _entry(books, e1)["billed_status"] == "unbilled"
    assert books.post(f"/invoices/{invoice_id}/status/sent").status_code == 400
    books.post(f"/invoices/{invoice_id}/status/draft")
    assert _entry(books, e1)["invoice_id"] == invoice_id


def test_editing_line_items_moves_the_billing(books: BooksClient) -> None:
    e1, e2 = books.ids.entries[:2]
    invoice_id = _invoice(books, _time_line(books, e1)).json()["invoice"]["invoice_id"]
    updated = books.put(f"/invoices/{invoice_id}", {"line_items": [_time_line(books, e2)], "reference_number": "R-9"})
    assert updated.json()["message"] == "Invoice information has been updated."
    assert updated.json()["invoice"]["reference_number"] == "R-9"
    assert _entry(books, e1)["billed_status"] == "unbilled"
    assert _entry(books, e2)["invoice_id"] == invoice_id
    other = _invoice(books, _time_line(books, e1)).json()["invoice"]["invoice_id"]
    refused = books.put(f"/invoices/{invoice_id}", {"line_items": [_time_line(books, e1)]})
    assert refused.status_code == 400
    assert _entry(books, e2)["invoice_id"] == invoice_id  # the refused edit changed nothing
    assert _entry(books, e1)["invoice_id"] == other


def test_items_must_belong_to_the_invoiced_customer_and_be_billable(books: BooksClient) -> None:
    other_customer = books.post(
        "/invoices", {"customer_id": books.ids.globex, "line_items": [_time_line(books, books.ids.entries[0])]}
    )
    assert other_customer.status_code == 400
    nonbillable = _invoice(books, {"name": "Snacks", "rate": 12.5, "expense_id": books.ids.nonbillable_expense})
    assert nonbillable.status_code == 400
    wrong_currency = books.post("/invoices", {"customer_id": books.ids.acme, "currency_id": books.ids.eur,
                                              "line_items": [{"name": "A", "rate": 1}]})  # fmt: skip
    assert (wrong_currency.status_code, wrong_currency.json()["code"]) == (400, 2)
    assert books.post("/invoices", {"customer_id": books.ids.acme}).status_code == 400
    assert books.post("/invoices", {"line_items": [{"name": "A"}]}).status_code == 400


def test_invoiced_entries_cannot_be_edited_or_deleted(books: BooksClient) -> None:
    e1, e2 = books.ids.entries[:2]
    _invoice(books, _time_line(books, e1))
    for response in (
        books.put(f"/projects/timeentries/{e1}", {"notes": "changed"}),
        books.delete(f"/projects/timeentries/{e1}"),
        books.delete("/projects/timeentries", time_entry_ids=f"{e2},{e1}"),
    ):
        assert (response.status_code, response.json()["code"]) == (400, rules.CODE_ALREADY_INVOICED)
    assert _entry(books, e2)["time_entry_id"] == e2  # the bulk delete was all or nothing


def test_list_filters_last_modified_status_and_customer(books: BooksClient) -> None:
    clock = {"now": 1_700_000_000.0}
    books.world.clock = lambda: clock["now"]
    old = _invoice(books, {"name": "Old", "rate": 1}).json()["invoice"]
    clock["now"] += 60  # well inside the token lifetime
    new = _invoice(books, {"name": "New", "rate": 1}).json()["invoice"]
    since = new["last_modified_time"]
    listed = books.get("/invoices", last_modified_time=since).json()
    assert [i["invoice_id"] for i in listed["invoices"]] == [new["invoice_id"]]
    assert listed["page_context"]["report_name"] == "Invoices"
    clock["now"] += 60  # well inside the token lifetime
    books.put(f"/invoices/{old['invoice_id']}", {"notes": "touched"})
    touched = books.get("/invoices", last_modified_time=since, sort_column="last_modified_time", sort_order="A")
    assert [i["invoice_id"] for i in touched.json()["invoices"]] == [new["invoice_id"], old["invoice_id"]]
    assert books.get("/invoices", last_modified_time="yesterday").status_code == 400
    books.post(f"/invoices/{old['invoice_id']}/status/sent")
    assert [i["invoice_id"] for i in books.get("/invoices", status="sent").json()["invoices"]] == [old["invoice_id"]]
    assert [i["invoice_id"] for i in books.get("/invoices", filter_by="Status.Draft").json()["invoices"]] == [
        new["invoice_id"]
    ]
    assert books.get("/invoices", customer_id=books.ids.globex).json()["invoices"] == []
    assert len(books.get("/invoices", reference_number="").json()["invoices"]) == 2
    assert books.get("/invoices", status="bogus").status_code == 400


def test_project_invoices_lists_invoices_billing_the_project(books: BooksClient) -> None:
    _invoice(books, {"name": "Unrelated", "rate": 5})
    billed = _invoice(books, _time_line(books, books.ids.entries[0])).json()["invoice"]
    listed = books.get(f"/projects/{books.ids.project}/invoices").json()["invoices"]
    assert [i["invoice_id"] for i in listed] == [billed["invoice_id"]]


def test_invoice_writes_emit_webhook_events(books: BooksClient) -> None:
    invoice_id = _invoice(books, _time_line(books, books.ids.entries[0])).json()["invoice"]["invoice_id"]
    books.post(f"/invoices/{invoice_id}/status/sent")
    books.delete(f"/invoices/{invoice_id}")
    assert books.post("/invoices", {"customer_id": "1", "line_items": [{"name": "x"}]}).status_code == 400
    events = [(e["event"], e["payload"]) for e in books.server.app.state.webhooks.emitted()]
    assert [name for name, _ in events] == ["invoice.created", "invoice.updated", "invoice.deleted"]
    assert events[0][1]["invoice"]["invoice_id"] == invoice_id
    assert events[2][1] == {"organization_id": ORG, "invoice_id": invoice_id}
