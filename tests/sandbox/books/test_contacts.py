"""Contacts: unique display names, filters, currency, and what cannot be deleted."""

from __future__ import annotations

from sandbox.books import rules
from tests.sandbox.books.conftest import BooksClient


def test_create_needs_only_a_name_and_gets_the_base_currency(books: BooksClient) -> None:
    response = books.post("/contacts", {"contact_name": "Initech"})
    assert response.status_code == 201
    assert response.json()["message"] == "The contact has been created"
    contact = response.json()["contact"]
    assert (contact["contact_type"], contact["currency_code"], contact["status"]) == ("customer", "USD", "active")
    assert books.get(f"/contacts/{contact['contact_id']}").json()["contact"]["contact_name"] == "Initech"


def test_duplicate_display_name_is_refused_ignoring_case_but_near_names_are_not(books: BooksClient) -> None:
    for name in ("Acme Ltd", "ACME LTD", "  acme ltd "):
        response = books.post("/contacts", {"contact_name": name})
        assert response.status_code == 400
        assert response.json() == {
            "code": rules.CODE_DUPLICATE_CONTACT_NAME,
            "message": f'The customer "{name.strip()}" already exists.',
        }
    assert books.post("/contacts", {"contact_name": "ACME Ltd."}).status_code == 201
    rename = books.put(f"/contacts/{books.ids.globex}", {"contact_name": "acme ltd"})
    assert (rename.status_code, rename.json()["code"]) == (400, rules.CODE_DUPLICATE_CONTACT_NAME)
    same = books.put(f"/contacts/{books.ids.acme}", {"contact_name": "Acme Ltd", "notes": "kept"})
    assert same.json()["message"] == "Contact has been updated successfully"


def test_list_filters(books: BooksClient) -> None:
    books.post("/contacts", {"contact_name": "Acme Vendor", "contact_type": "vendor", "notes": "pays late"})

    def names(**params: str) -> list[str]:
        return [c["contact_name"] for c in books.get("/contacts", **params).json()["contacts"]]

    assert names() == ["Acme Ltd", "Acme Vendor", "Globex"]
    assert names(contact_name_startswith="acme") == ["Acme Ltd", "Acme Vendor"]
    assert names(contact_name_contains="lob") == ["Globex"]
    assert names(contact_name="globex") == ["Globex"]
    assert names(contact_type="vendor") == ["Acme Vendor"]
    assert names(search_text="late") == ["Acme Vendor"]
    assert names(email="ap@acme.test") == ["Acme Ltd"]
    assert books.get("/contacts", contact_type="partner").status_code == 400
    books.post(f"/contacts/{books.ids.globex}/inactive")
    assert names(filter_by="Status.Inactive") == ["Globex"]
    assert names(filter_by="Status.Active") == ["Acme Ltd", "Acme Vendor"]
    assert (
        books.post(f"/contacts/{books.ids.globex}/active").json()["message"] == "The contact has been marked as active."
    )


def test_currency_must_be_one_of_the_organization(books: BooksClient) -> None:
    changed = books.put(f"/contacts/{books.ids.acme}", {"currency_id": books.ids.eur}).json()["contact"]
    assert changed["currency_code"] == "EUR"
    assert books.put(f"/contacts/{books.ids.acme}", {"currency_id": "123"}).status_code == 400


def test_contact_with_transactions_cannot_be_deleted(books: BooksClient) -> None:
    refused = books.delete(f"/contacts/{books.ids.acme}")  # it has a project
    assert (refused.status_code, refused.json()["code"]) == (400, rules.CODE_NOT_ALLOWED_IN_STATE)
    created = books.post("/contacts", {"contact_name": "Short-lived"}).json()["contact"]
    assert books.delete(f"/contacts/{created['contact_id']}").json()["message"] == "The contact has been deleted."
    assert books.get(f"/contacts/{created['contact_id']}").status_code == 404


def test_primary_contact_person_gives_the_email(books: BooksClient) -> None:
    body = {"contact_name": "Umbrella", "email": "ignored@x.test",
            "contact_persons": [{"first_name": "Al", "email": "al@umbrella.test",
                                 "is_primary_contact": True}]}  # fmt: skip
    contact = books.post("/contacts", body).json()["contact"]
    assert contact["email"] == "al@umbrella.test"
    assert contact["contact_persons"][0]["is_primary_contact"] is True


def test_newest_first_by_last_modified_time_for_a_catch_up_read(books: BooksClient) -> None:
    ticks = iter(range(1_700_000_100, 1_700_001_000, 10))
    books.server.world.clock = lambda: float(next(ticks))
    books.put(f"/contacts/{books.ids.globex}", {"notes": "edited first"})
    books.put(f"/contacts/{books.ids.acme}", {"contact_name": "Acme Holdings"})
    rows = books.get("/contacts", contact_type="customer", sort_column="last_modified_time", sort_order="D").json()
    assert [c["contact_name"] for c in rows["contacts"]] == ["Acme Holdings", "Globex"]
    assert rows["contacts"][0]["last_modified_time"] > rows["contacts"][1]["last_modified_time"]
    assert (rows["page_context"]["sort_column"], rows["page_context"]["sort_order"]) == ("last_modified_time", "D")
