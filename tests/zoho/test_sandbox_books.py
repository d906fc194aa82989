"""BooksClient over real HTTP against the sandbox: page/per_page paging, parsing, the writes the product makes."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from sandbox.server import SandboxServer
from shared.zoho import AuthError, BooksClient, NotFound, ValidationFailed
from tests.zoho.conftest import books_client


def contact_requests(sb: SandboxServer) -> int:
    counts = requests.get(sb.base_url + "/_sandbox/requests", timeout=5).json()
    return sum(r["count"] for r in counts["requests"] if r["path"].endswith("/contacts") and r["method"] == "GET")


def test_contacts_page_until_has_more_page_is_false(sandbox: SandboxServer, books: BooksClient) -> None:
    truth = {c.contact_id for c in sandbox.world.contacts.values() if c.organization_id == books.organization_id}
    books.per_page = 5
    requests.delete(sandbox.base_url + "/_sandbox/requests", timeout=5)
    got = [c.contact_id for c in books.iter_contacts(filter_by="Status.All")]
    assert len(got) == len(truth) and set(got) == truth
    assert contact_requests(sandbox) == -(-len(truth) // 5)


def test_a_cursor_resumes_a_books_listing(books: BooksClient) -> None:
    from shared.zoho.books_api import RESOURCES
    from shared.zoho.books_models import Contact

    books.per_page = 4
    first = books.page(RESOURCES["contacts"], Contact)
    second = books.page(RESOURCES["contacts"], Contact, first.next_cursor)
    assert [c.contact_id for c in first.items + second.items] == [c.contact_id for c in books.iter_contacts()][:8]


def test_organization_users_and_currencies(sandbox: SandboxServer, books: BooksClient) -> None:
    assert books.organization_id in {o.organization_id for o in books.list_organizations()}
    org = books.get_organization()
    assert org.currency_code == sandbox.world.organizations[books.organization_id].currency_code
    bases = [c for c in books.iter_currencies() if c.is_base_currency]
    assert [c.currency_code for c in bases] == [org.currency_code]
    users = list(books.iter_users())
    assert users and all(u.user_id and u.status for u in users)


def test_find_create_and_reject_a_duplicate_contact(books: BooksClient) -> None:
    contact = books.create_contact({"contact_name": "Brand New Client Ltd", "contact_type": "customer"})
    assert [c.contact_id for c in books.find_contacts(name="Brand New Client Ltd")] == [contact.contact_id]
    with pytest.raises(ValidationFailed) as err:
        books.create_contact({"contact_name": "Brand New Client Ltd"})
    assert err.value.code and "already exists" in err.value.message.lower()
    updated = books.update_contact(contact.contact_id, {"company_name": "Brand New Client"})
    assert updated.company_name == "Brand New Client"


def test_project_task_user_and_time_entry_round_trip(sandbox: SandboxServer, books: BooksClient) -> None:
    customer = next(c for c in books.iter_contacts() if c.contact_type == "customer" and c.status == "active")
    admin = next(u for u in books.iter_users("Active") if u.user_role == "admin")
    staff = next(u for u in books.iter_users("Active") if u.user_id != admin.user_id)
    project = books.create_project(
        {
            "project_name": "Client Sync Test",
            "customer_id": customer.contact_id,
            "billing_type": "based_on_task_hours",
            "user_id": admin.user_id,
        }
    )
    assert books.get_project(project.project_id).project_name == "Client Sync Test"
    books.assign_project_users(project.project_id, [staff.user_id])
    assert {u.user_id for u in books.iter_project_users(project.project_id)} >= {admin.user_id, staff.user_id}
    task = books.create_project_task(project.project_id, {"task_name": "Design", "rate": 120})
    assert [t.task_id for t in books.iter_project_tasks(project.project_id)] == [task.task_id]
    day = sandbox.world.today() - dt.timedelta(days=2)
    entry = books.create_time_entry(
        {
            "project_id": project.project_id,
            "task_id": task.task_id,
            "user_id": staff.user_id,
            "log_date": day.isoformat(),
            "log_time": "01:30",
            "is_billable": True,
        }
    )
    assert (entry.minutes, entry.log_date, entry.billed_status) == (90, day, "unbilled")
    listed = list(books.iter_time_entries(project_id=project.project_id, from_date=day, to_date=day))
    assert [e.time_entry_id for e in listed] == [entry.time_entry_id]
    books.delete_time_entry(entry.time_entry_id)
    assert list(books.iter_time_entries(project_id=project.project_id, filter_by="Date.All")) == []


def test_invoice_created_then_found_by_reference_number(books: BooksClient) -> None:
    customer = next(c for c in books.iter_contacts() if c.contact_type == "customer" and c.status == "active")
    invoice = books.create_invoice(
        {
            "customer_id": customer.contact_id,
            "reference_number": "bpsync-test-1",
            "line_items": [{"name": "Consulting", "rate": 100, "quantity": 2}],
        }
    )
    assert invoice.invoice_number and invoice.status == "draft"
    found = list(books.iter_invoices(reference_number="bpsync-test-1"))
    assert [i.invoice_id for i in found] == [invoice.invoice_id]
    since = list(books.iter_invoices(last_modified_time=invoice.last_modified_time))
    assert invoice.invoice_id in {i.invoice_id for i in since}
    books.delete_invoice(invoice.invoice_id)
    with pytest.raises(NotFound) as err:
        books.get_invoice(invoice.invoice_id)
    assert err.value.code == 1002


def test_other_readers_parse(books: BooksClient) -> None:
    for reader in (books.iter_estimates, books.iter_expenses, books.iter_recurring_invoices, books.iter_projects):
        list(reader())  # every seeded record validates against the model


def test_a_foreign_organization_is_an_auth_error(sandbox: SandboxServer) -> None:
    client = books_client(sandbox, "999999999", rate_limits_enabled=False)
    with pytest.raises(AuthError) as err:
        list(client.iter_contacts())
    assert err.value.code == 6041 and "member" in err.value.hint
