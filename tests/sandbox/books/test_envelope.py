"""Books-wide conventions: organization_id, error envelopes, request bodies, paging."""

from __future__ import annotations

import pytest
import requests

from sandbox.books import rules
from sandbox.world import Contact
from tests.sandbox.books.conftest import ORG, BooksClient
from tests.sandbox_fixtures import MINIMAL_MEMBER_ZUID


def test_missing_unknown_and_foreign_organization_are_6041(books: BooksClient) -> None:
    for org in (None, "", "99999999"):
        params = {} if org is None else {"organization_id": org}
        response = books.http.get(books.base + "/contacts", params=params, timeout=5)
        assert response.status_code == 400
        assert response.json()["code"] == 6041
        assert "not associated" in response.json()["message"]


def test_caller_outside_the_organization_is_refused(books: BooksClient, member_books: BooksClient) -> None:
    books.world.organizations[ORG].member_zuids.remove(MINIMAL_MEMBER_ZUID)
    assert member_books.get("/contacts").json()["code"] == 6041
    assert member_books.get("/organizations").json()["organizations"] == []
    assert books.get("/contacts").status_code == 200


def test_organizations_need_no_organization_id(books: BooksClient) -> None:
    body = books.get("/organizations", org=None).json()
    assert [o["organization_id"] for o in body["organizations"]] == [ORG]
    assert body["organizations"][0]["is_default_org"] is True
    one = books.get(f"/organizations/{ORG}", org=None).json()["organization"]
    assert one["name"] == "Zylker Books" and one["currency_code"] == "USD"


def test_unknown_ids_are_404_1002_with_the_resource_name(books: BooksClient) -> None:
    cases = {
        "/contacts/1": "Contact does not exist.",
        "/invoices/1": "Invoice does not exist.",
        "/projects/1": "Project does not exist.",
        "/projects/timeentries/1": "Time entry does not exist.",
        "/expenses/1": "Expense does not exist.",
        "/estimates/1": "Estimate does not exist.",
        "/users/1": "User does not exist.",
        f"/projects/{books.ids.project}/tasks/1": "Task does not exist.",
    }
    for path, message in cases.items():
        response = books.get(path)
        assert (response.status_code, response.json()) == (404, {"code": 1002, "message": message}), path


def test_wrong_method_is_405_in_the_books_envelope(books: BooksClient) -> None:
    response = books.call("PATCH", "/contacts")
    assert response.status_code == 405
    assert response.json()["code"] == rules.CODE_METHOD_NOT_ALLOWED
    assert books.delete("/organizations").status_code == 405


def test_unknown_path_is_404_invalid_url(books: BooksClient) -> None:
    response = books.get("/nosuchthing")
    assert (response.status_code, response.json()["code"]) == (404, rules.CODE_INVALID_URL)


def test_bad_token_gets_books_401(books: BooksClient) -> None:
    response = requests.get(
        books.base + "/contacts", params={"organization_id": ORG},
        headers={"Authorization": "Zoho-oauthtoken 1000.nope"}, timeout=5,
    )  # fmt: skip
    assert response.status_code == 401
    assert response.json()["code"] == 57


def test_malformed_body_is_code_4(books: BooksClient) -> None:
    response = books.http.post(
        books.base + "/contacts", params={"organization_id": ORG}, data="{not json",
        headers={"Content-Type": "application/json"}, timeout=5,
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, 4)
    response = books.post("/contacts", ["a", "list"])
    assert (response.status_code, response.json()["code"]) == (400, 4)


def test_legacy_jsonstring_form_field_is_accepted(books: BooksClient) -> None:
    response = books.http.post(
        books.base + "/contacts", params={"organization_id": ORG},
        data={"JSONString": '{"contact_name": "Form Co"}'}, timeout=5,
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["contact"]["contact_name"] == "Form Co"


def test_missing_required_field_is_code_2(books: BooksClient) -> None:
    response = books.post("/contacts", {"company_name": "No display name"})
    assert (response.status_code, response.json()["code"]) == (400, 2)
    assert "contact_name" in response.json()["message"]


# --------------------------------------------------------------------------------------------- paging
def _add_contacts(books: BooksClient, count: int) -> None:
    with books.world.lock:
        for i in range(count):
            contact_id = books.world.books_id()
            books.world.contacts[contact_id] = Contact(contact_id, ORG, f"Paged {i:03d}")


def _pages(books: BooksClient, per_page: int) -> list[tuple[list[str], bool]]:
    pages = []
    for page in range(1, 100):
        body = books.get("/contacts", page=page, per_page=per_page, contact_name_startswith="Paged").json()
        assert body["page_context"]["page"] == page and body["page_context"]["per_page"] == per_page
        names = [c["contact_name"] for c in body["contacts"]]
        pages.append((names, body["page_context"]["has_more_page"]))
        if not body["page_context"]["has_more_page"]:
            return pages
    raise AssertionError("has_more_page never became false")


def test_exact_multiple_of_per_page_ends_without_an_empty_page(books: BooksClient) -> None:
    _add_contacts(books, 6)
    pages = _pages(books, 3)
    assert [len(names) for names, _ in pages] == [3, 3]
    assert [more for _, more in pages] == [True, False]
    assert [n for names, _ in pages for n in names] == [f"Paged {i:03d}" for i in range(6)]


def test_last_partial_page_and_page_past_the_end(books: BooksClient) -> None:
    _add_contacts(books, 7)
    pages = _pages(books, 3)
    assert [len(names) for names, _ in pages] == [3, 3, 1]
    past = books.get("/contacts", page=9, per_page=3, contact_name_startswith="Paged").json()
    assert past["contacts"] == [] and past["page_context"]["has_more_page"] is False


def test_default_page_size_is_200_and_over_the_maximum_is_refused(books: BooksClient) -> None:
    _add_contacts(books, 201)
    body = books.get("/contacts").json()
    assert len(body["contacts"]) == 200 and body["page_context"]["has_more_page"] is True
    assert body["page_context"]["per_page"] == 200
    assert books.get("/contacts", per_page=200).status_code == 200
    over = books.get("/contacts", per_page=201)
    assert (over.status_code, over.json()["code"]) == (400, 2)


@pytest.mark.parametrize("params", [{"page": 0}, {"page": "x"}, {"per_page": 0}, {"sort_column": "nope"},
                                    {"sort_order": "X"}, {"filter_by": "Status.Nope"}])  # fmt: skip
def test_bad_list_parameters_are_refused(books: BooksClient, params: dict) -> None:
    response = books.get("/contacts", **params)
    assert (response.status_code, response.json()["code"]) == (400, 2)


def test_sort_order_and_ties_are_stable(books: BooksClient) -> None:
    names = [c["contact_name"] for c in books.get("/contacts", sort_order="D").json()["contacts"]]
    assert names == sorted(names, key=str.casefold, reverse=True)
